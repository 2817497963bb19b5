import { randomBytes } from 'node:crypto';
import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import type {
  AuthenticateRequest, AuthenticateResponse, AuthRoleGetResponse, AuthRoleListResponse, AuthStatusResponse,
  AuthUserAddRequest, AuthUserChangePasswordRequest, AuthUserGetResponse, AuthUserListResponse, ResponseHeader,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { AuthThrottle, peerAddress } from '../auth/auth-throttle.js';
import type { PasswordHasher } from '../auth/bcrypt.js';
import { checkPasswordLength } from '../auth/bcrypt.js';
import { AuthFailedError, AuthNotEnabledError, AuthOldRevisionError, InvalidAuthTokenError, UserEmptyError } from '../auth/errors.js';
import { certificateUser, tokenOf, type CallCredentials } from '../auth/principal.js';
import type { AuthInfo, AuthStore } from '../auth/store.js';
import type { TokenProvider } from '../auth/token-provider.js';
import type { Clock } from '../lease/lessor.js';
import { applyCommitGapMax } from '../constants.js';
import type { Logger } from '../logger.js';
import type { ApplyResult } from './apply.js';
import type { ServerConfig } from './config.js';

/** What the auth requests need of the member. */
export interface AuthHost {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly committedIndex: bigint;
  propose(body: Omit<InternalRaftRequest, 'header'>, origin?: AuthInfo): Promise<ApplyResult>;
  linearizableReadBarrier(): Promise<void>;
  /** Resolves once `index` is applied here, or after `timeoutMs`; true when applied. */
  appliedWithin(index: bigint, timeoutMs: number): Promise<boolean>;
  fillHeader(h: ResponseHeader | undefined): ResponseHeader;
}

/** Marks a delegated token; no simple token (letters, a dot, digits) or JWT (three base64url parts) starts so. */
const delegatedTokenPrefix = 'etcdts-delegated:';

/** Password checks lost to a concurrent auth change are retried this many times (etcd retries without end). */
const authenticateAttemptsMax = 3;

/**
 * The member side of the Auth service and of every caller's identity
 * (etcd's v3_server.go auth half). Passwords are hashed here, on the member
 * that received them, before anything is proposed: the plain password never
 * reaches the log, a snapshot, the backend or a log line. Authenticate
 * checks the password here too, then proposes only the user name and the
 * token's random part. Reads of users and roles are answered locally after a
 * linearizable read barrier; everything that changes the store is proposed
 * with the caller's identity and authorized again at apply.
 */
export class AuthRequests {
  private readonly throttle: AuthThrottle;
  /** A hash to compare against when the user does not exist, so that a miss costs what a hit costs. */
  private decoyHash: Promise<string> | undefined;
  /** Tokens made by delegate() for callers known by certificate, alive for one Lock or Election call. */
  private readonly delegated = new Map<string, string>();

  constructor(
    private readonly host: AuthHost,
    readonly store: AuthStore,
    readonly tokens: TokenProvider,
    private readonly hasher: PasswordHasher,
    clock: Clock,
  ) {
    this.throttle = new AuthThrottle(clock);
  }

  /**
   * Who a call runs as (etcd's AuthInfoFromCtx): the user of its token,
   * else, under --client-cert-auth, the CN of its verified client
   * certificate; undefined for nobody. A token that is unknown, expired or
   * forged is UNAUTHENTICATED "invalid auth token", so that clients
   * authenticate again. While auth is off tokens are ignored.
   */
  async authInfo(call: CallCredentials): Promise<AuthInfo | undefined> {
    if (!this.store.enabled) return undefined;
    const token = tokenOf(call);
    const delegatedUser = token === undefined ? undefined : this.delegated.get(token);
    if (delegatedUser !== undefined) return { username: delegatedUser, revision: this.store.revision };
    if (token !== undefined) {
      // A simple token is known on this member once it has applied the entry that made it.
      const index = this.tokens.indexOf(token);
      if (index !== undefined) {
        // An index far past anything committed is forged: no need to wait for it.
        if (index > this.host.committedIndex + BigInt(applyCommitGapMax)) throw new InvalidAuthTokenError();
        await this.host.appliedWithin(index, 2 * this.host.config.electionTimeoutMs);
      }
      const info = this.tokens.info(token);
      if (info === undefined) throw new InvalidAuthTokenError();
      if (info.revision !== undefined) return { username: info.username, revision: info.revision, revisionPinned: true };
      return { username: info.username, revision: this.store.revision };
    }
    if (!this.host.config.clientCertAuth) return undefined;
    const cn = certificateUser(call);
    return cn === undefined ? undefined : { username: cn, revision: this.store.revision };
  }

  /**
   * A token under which the member's own client (the Lock and Election
   * services) acts as a caller: the caller's token, or, for a caller known
   * by its certificate alone, a token made for this one call and forgotten
   * when `release` is called. Undefined (no token) for auth off or nobody.
   */
  async delegate(call: CallCredentials): Promise<{ token: string | undefined; release(): void }> {
    const none = { token: undefined, release: () => undefined };
    if (!this.store.enabled) return none;
    const token = tokenOf(call);
    if (token !== undefined) return { token, release: () => undefined };
    const ai = await this.authInfo(call);
    if (ai === undefined) return none;
    const delegated = `${delegatedTokenPrefix}${randomBytes(24).toString('base64url')}`;
    this.delegated.set(delegated, ai.username);
    return { token: delegated, release: () => this.delegated.delete(delegated) };
  }

  async authenticate(r: AuthenticateRequest, peer: string): Promise<AuthenticateResponse> {
    await this.host.linearizableReadBarrier();
    const address = peerAddress(peer);
    for (let attempt = 1; ; attempt++) {
      if (!this.store.enabled) throw new AuthNotEnabledError();
      this.throttle.check(r.name, address);
      const checkedRevision = this.store.revision;
      if (!(await this.passwordMatches(r.name, r.password))) {
        this.throttle.failed(r.name, address);
        this.host.log.warn({ user: r.name, address }, 'invalid authentication was requested');
        throw new AuthFailedError();
      }
      this.throttle.succeeded(r.name, address);
      const result = await this.host.propose({ authenticate: { name: r.name, simpleToken: this.tokens.newPrefix() } });
      if (result.error !== undefined) throw result.error;
      // The password was checked against this revision; if the store moved on, check again (etcd does).
      if (checkedRevision !== this.store.revision) {
        if (attempt >= authenticateAttemptsMax) throw new AuthOldRevisionError();
        continue;
      }
      const applied = result.response as { header: ResponseHeader; token: string };
      const token = await this.tokens.issue(r.name, checkedRevision, applied.token);
      return { header: this.host.fillHeader(applied.header), token };
    }
  }

  /** bcrypt against the stored hash; a missing or password-less user is compared against a decoy and fails. */
  private async passwordMatches(name: string, password: string): Promise<boolean> {
    const user = this.store.user(name);
    const stored = user === undefined || user.options?.noPassword === true || user.password.length === 0 ? undefined : user.password.toString();
    if (stored === undefined) {
      this.decoyHash ??= this.hasher.hash(randomBytes(16).toString('hex'), this.host.config.bcryptCost);
      await this.hasher.compare(password, await this.decoyHash);
      return false;
    }
    return this.hasher.compare(password, stored);
  }

  async userAdd(r: AuthUserAddRequest, ai: AuthInfo | undefined): Promise<ApplyResult> {
    // Checked here too, before spending bcrypt on a caller that apply would refuse anyway.
    this.store.checkAdmin(ai);
    if (r.name === '') throw new UserEmptyError();
    const noPassword = r.options?.noPassword ?? false;
    const hashedPassword = noPassword ? '' : await this.hash(r.password);
    return this.host.propose({ authUserAdd: { name: r.name, password: '', hashedPassword, options: r.options } }, ai);
  }

  async userChangePassword(r: AuthUserChangePasswordRequest, ai: AuthInfo | undefined): Promise<ApplyResult> {
    this.store.checkAdmin(ai);
    const hashedPassword = await this.hash(r.password);
    return this.host.propose({ authUserChangePassword: { name: r.name, password: '', hashedPassword } }, ai);
  }

  private hash(password: string): Promise<string> {
    checkPasswordLength(password);
    return this.hasher.hash(password, this.host.config.bcryptCost);
  }

  async status(): Promise<AuthStatusResponse> {
    await this.host.linearizableReadBarrier();
    return { header: this.host.fillHeader(undefined), enabled: this.store.enabled, authRevision: this.store.revision };
  }

  /** A user may read its own roles; anything else is root's (etcd's authApplierV3.UserGet). */
  async userGet(name: string, ai: AuthInfo | undefined): Promise<AuthUserGetResponse> {
    await this.host.linearizableReadBarrier();
    if (!(ai !== undefined && ai.username === name)) this.store.checkAdmin(ai);
    return { header: this.host.fillHeader(undefined), roles: this.store.userRoles(name) };
  }

  async userList(ai: AuthInfo | undefined): Promise<AuthUserListResponse> {
    await this.host.linearizableReadBarrier();
    this.store.checkAdmin(ai);
    return { header: this.host.fillHeader(undefined), users: this.store.users().map((u) => u.name.toString()) };
  }

  /** A user may read the roles it holds; anything else is root's (etcd's authApplierV3.RoleGet). */
  async roleGet(role: string, ai: AuthInfo | undefined): Promise<AuthRoleGetResponse> {
    await this.host.linearizableReadBarrier();
    if (!(ai !== undefined && this.store.hasRole(ai.username, role))) this.store.checkAdmin(ai);
    return { header: this.host.fillHeader(undefined), perm: this.store.rolePermissions(role) };
  }

  async roleList(ai: AuthInfo | undefined): Promise<AuthRoleListResponse> {
    await this.host.linearizableReadBarrier();
    this.store.checkAdmin(ai);
    return { header: this.host.fillHeader(undefined), roles: this.store.roles().map((r) => r.name.toString()) };
  }
}
