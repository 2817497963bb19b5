import { Permission, Role, User, type UserAddOptions } from '../../proto/gen/authpb/auth.js';
import type { Backend } from '../mvcc/backend.js';
import { readU64, u64 } from '../mvcc/kvstore.js';
import {
  AuthOldRevisionError, InvalidAuthMgmtError, PermissionDeniedError, PermissionNotGrantedError, RoleAlreadyExistError,
  RoleEmptyError, RoleNotFoundError, RoleNotGrantedError, RootRoleNotExistError, RootUserNotExistError,
  UserAlreadyExistError, UserEmptyError, UserNotFoundError,
} from './errors.js';
import { mergePermissions, permits, type UserPermissions } from './range-perms.js';

/** Who a request runs as, and the auth store revision its credentials were checked at. */
export interface AuthInfo {
  username: string;
  revision: bigint;
  /** The revision came with the credentials (a JWT) rather than from the store when the call arrived. */
  revisionPinned?: boolean;
}

export const rootUser = 'root';
export const rootRole = 'root';

const enabledKey = Buffer.from('authEnabled');
const revisionKey = Buffer.from('authRevision');

/** What the store tells the token provider, which keeps tokens outside the backend. */
export interface AuthStoreListener {
  enabled(on: boolean): void;
  /** The user's password changed or the user is gone: its tokens end. */
  userInvalidated(name: string): void;
}

/**
 * The auth store (etcd's auth/store.go): users, roles and the enabled flag
 * in the backend's auth buckets, with etcd's layout (authUsers/<name> =
 * authpb.User, authRoles/<name> = authpb.Role, auth/authEnabled,
 * auth/authRevision), and the auth revision, which every change of users,
 * roles or permissions increments. Mutations run only while applying
 * committed entries, so every member holds the same store; password hashes
 * arrive already made (see etcdserver/auth-requests.ts). Permission checks
 * run against a cache of each user's merged permissions, rebuilt on every
 * change.
 */
export class AuthStore {
  private enabledFlag = false;
  private rev = 0n;
  /** Merged key permissions of every user without the root role. */
  private perms = new Map<string, UserPermissions>();
  /** Users holding the root role: every key, and administration. */
  private admins = new Set<string>();

  constructor(private backend: Backend, private readonly listener: AuthStoreListener) {
    this.load();
  }

  /** Reloads from another backend (a snapshot was installed). */
  reload(backend: Backend): void {
    this.backend = backend;
    this.load();
  }

  private load(): void {
    this.enabledFlag = this.backend.get('auth', enabledKey)?.[0] === 1;
    this.rev = readU64(this.backend.get('auth', revisionKey)) ?? 0n;
    // etcd starts every store at revision 1, so that 0 can mean "no credentials".
    if (this.rev === 0n) this.bumpRevision();
    this.refreshPermissions();
    this.listener.enabled(this.enabledFlag);
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }

  get revision(): bigint {
    return this.rev;
  }

  private bumpRevision(): void {
    this.rev += 1n;
    this.backend.put('auth', revisionKey, u64(this.rev));
  }

  /** After any change of users or roles: a new revision and a rebuilt permission cache. */
  private changed(): void {
    this.bumpRevision();
    this.refreshPermissions();
  }

  private refreshPermissions(): void {
    const perms = new Map<string, UserPermissions>();
    const admins = new Set<string>();
    for (const user of this.users()) {
      const name = user.name.toString();
      if (user.roles.includes(rootRole)) {
        admins.add(name);
        continue;
      }
      const granted = user.roles.flatMap((r) => this.role(r)?.keyPermission ?? []);
      perms.set(name, mergePermissions(granted));
    }
    this.perms = perms;
    this.admins = admins;
  }

  // ---- reads ----

  user(name: string): User | undefined {
    const raw = this.backend.get('authUsers', Buffer.from(name));
    return raw === undefined ? undefined : User.decode(raw);
  }

  role(name: string): Role | undefined {
    const raw = this.backend.get('authRoles', Buffer.from(name));
    return raw === undefined ? undefined : Role.decode(raw);
  }

  /** Every user, in key (byte) order as etcd lists them. */
  users(): User[] {
    const out: User[] = [];
    this.backend.scan('authUsers', undefined, undefined, (_k, v) => {
      out.push(User.decode(v));
    });
    return out;
  }

  roles(): Role[] {
    const out: Role[] = [];
    this.backend.scan('authRoles', undefined, undefined, (_k, v) => {
      out.push(Role.decode(v));
    });
    return out;
  }

  userRoles(name: string): string[] {
    const user = this.user(name);
    if (user === undefined) throw new UserNotFoundError();
    return [...user.roles];
  }

  rolePermissions(name: string): Permission[] {
    const role = this.role(name);
    if (role === undefined) throw new RoleNotFoundError();
    return role.keyPermission;
  }

  hasRole(user: string, role: string): boolean {
    return this.user(user)?.roles.includes(role) ?? false;
  }

  // ---- mutations (apply only) ----

  enable(): void {
    if (this.enabledFlag) return;
    const root = this.user(rootUser);
    if (root === undefined) throw new RootUserNotExistError();
    if (!root.roles.includes(rootRole)) throw new RootRoleNotExistError();
    this.backend.put('auth', enabledKey, Buffer.from([1]));
    this.enabledFlag = true;
    this.refreshPermissions();
    this.listener.enabled(true);
  }

  disable(): void {
    if (!this.enabledFlag) return;
    this.backend.put('auth', enabledKey, Buffer.from([0]));
    this.bumpRevision();
    this.enabledFlag = false;
    this.listener.enabled(false);
  }

  /** Adds a user; `passwordHash` is the bcrypt hash, absent for a user that authenticates only by certificate. */
  userAdd(name: string, passwordHash: string | undefined, options: UserAddOptions | undefined): void {
    if (name === '') throw new UserEmptyError();
    if (this.user(name) !== undefined) throw new UserAlreadyExistError();
    const noPassword = options?.noPassword ?? false;
    this.putUser({
      name: Buffer.from(name),
      password: noPassword || passwordHash === undefined ? Buffer.alloc(0) : Buffer.from(passwordHash),
      roles: [],
      options: { noPassword },
    });
    this.changed();
  }

  userDelete(name: string): void {
    if (this.enabledFlag && name === rootUser) throw new InvalidAuthMgmtError();
    if (this.user(name) === undefined) throw new UserNotFoundError();
    this.backend.delete('authUsers', Buffer.from(name));
    this.changed();
    this.listener.userInvalidated(name);
  }

  userChangePassword(name: string, passwordHash: string): void {
    const user = this.user(name);
    if (user === undefined) throw new UserNotFoundError();
    this.putUser({ ...user, password: Buffer.from(passwordHash) });
    this.changed();
    this.listener.userInvalidated(name);
  }

  userGrantRole(name: string, role: string): void {
    const user = this.user(name);
    if (user === undefined) throw new UserNotFoundError();
    // The root role need not exist as a role record (etcd: it is built in).
    if (role !== rootRole && this.role(role) === undefined) throw new RoleNotFoundError();
    if (user.roles.includes(role)) return;
    this.putUser({ ...user, roles: [...user.roles, role].sort(compareStrings) });
    this.changed();
  }

  userRevokeRole(name: string, role: string): void {
    if (this.enabledFlag && name === rootUser && role === rootRole) throw new InvalidAuthMgmtError();
    const user = this.user(name);
    if (user === undefined) throw new UserNotFoundError();
    if (!user.roles.includes(role)) throw new RoleNotGrantedError();
    this.putUser({ ...user, roles: user.roles.filter((r) => r !== role) });
    this.changed();
  }

  roleAdd(name: string): void {
    if (name === '') throw new RoleEmptyError();
    if (this.role(name) !== undefined) throw new RoleAlreadyExistError();
    this.putRole({ name: Buffer.from(name), keyPermission: [] });
    this.changed();
  }

  roleDelete(name: string): void {
    if (this.enabledFlag && name === rootRole) throw new InvalidAuthMgmtError();
    if (this.role(name) === undefined) throw new RoleNotFoundError();
    this.backend.delete('authRoles', Buffer.from(name));
    for (const user of this.users()) {
      if (user.roles.includes(name)) this.putUser({ ...user, roles: user.roles.filter((r) => r !== name) });
    }
    this.changed();
  }

  /** Grants (or changes the type of) a permission on one key or range; permissions stay sorted by key. */
  roleGrantPermission(name: string, perm: Permission): void {
    const role = this.role(name);
    if (role === undefined) throw new RoleNotFoundError();
    const same = role.keyPermission.find((p) => p.key.equals(perm.key) && p.rangeEnd.equals(perm.rangeEnd));
    if (same !== undefined) same.permType = perm.permType;
    else role.keyPermission.push({ permType: perm.permType, key: Buffer.from(perm.key), rangeEnd: Buffer.from(perm.rangeEnd) });
    // By key only, as etcd's permSlice; the sort is stable, so permissions on one key keep the order
    // they were granted in, as Go's insertion sort keeps them in etcd's short lists.
    role.keyPermission.sort((a, b) => Buffer.compare(a.key, b.key));
    this.putRole(role);
    this.changed();
  }

  roleRevokePermission(name: string, key: Buffer, rangeEnd: Buffer): void {
    const role = this.role(name);
    if (role === undefined) throw new RoleNotFoundError();
    const kept = role.keyPermission.filter((p) => !(p.key.equals(key) && p.rangeEnd.equals(rangeEnd)));
    if (kept.length === role.keyPermission.length) throw new PermissionNotGrantedError();
    this.putRole({ ...role, keyPermission: kept });
    this.changed();
  }

  private putUser(user: User): void {
    this.backend.put('authUsers', Buffer.from(user.name), Buffer.from(User.encode(user).finish()));
  }

  private putRole(role: Role): void {
    this.backend.put('authRoles', Buffer.from(role.name), Buffer.from(Role.encode(role).finish()));
  }

  // ---- checks (etcd's IsRangePermitted, IsPutPermitted, IsAdminPermitted) ----

  /** Read permission on [key, rangeEnd) in etcd's request encoding. */
  checkRead(ai: AuthInfo | undefined, key: Buffer, rangeEnd: Buffer): void {
    this.checkKeys(ai, key, rangeEnd, 'read');
  }

  /** Write permission on [key, rangeEnd) (a put is the one key: rangeEnd empty). */
  checkWrite(ai: AuthInfo | undefined, key: Buffer, rangeEnd: Buffer): void {
    this.checkKeys(ai, key, rangeEnd, 'write');
  }

  private checkKeys(ai: AuthInfo | undefined, key: Buffer, rangeEnd: Buffer, kind: 'read' | 'write'): void {
    if (!this.enabledFlag) return;
    if (ai === undefined || ai.username === '') throw new UserEmptyError();
    // Credentials checked against an older store may grant what was revoked since.
    if (ai.revision < this.rev) throw new AuthOldRevisionError();
    if (this.admins.has(ai.username)) return;
    const perms = this.perms.get(ai.username);
    if (perms === undefined || !permits(perms[kind], key, rangeEnd)) throw new PermissionDeniedError();
  }

  /** The root role: auth administration, membership and maintenance. */
  checkAdmin(ai: AuthInfo | undefined): void {
    if (!this.enabledFlag) return;
    this.checkAuthenticated(ai);
    if (!this.admins.has(ai!.username)) throw new PermissionDeniedError();
  }

  /**
   * Any existing user: what etcd 3.4.23 left open to anyone (member list,
   * alarms, leases, status: GHSA-q8m4-xhhv-38mg) needs at least this.
   */
  checkAuthenticated(ai: AuthInfo | undefined): void {
    if (!this.enabledFlag) return;
    if (ai === undefined || ai.username === '') throw new UserEmptyError();
    if (!this.perms.has(ai.username) && !this.admins.has(ai.username)) throw new UserNotFoundError();
  }

  isAdmin(ai: AuthInfo | undefined): boolean {
    return !this.enabledFlag || (ai !== undefined && this.admins.has(ai.username));
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
