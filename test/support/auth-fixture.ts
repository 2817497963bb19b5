import { generateKeyPairSync, sign, createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Permission_Type } from '../../src/proto/gen/authpb/auth.js';
import { AuthClient, ClusterClient, KVClient, LeaseClient, MaintenanceClient, WatchClient } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { LockClient } from '../../src/proto/gen/v3lockpb/v3lock.js';
import { ElectionClient } from '../../src/proto/gen/v3electionpb/v3election.js';
import { tempDir } from './procs.js';

/**
 * Raw gRPC access to a member (etcdts or the real etcd) for the auth tests:
 * every call takes the token to send (or none) and resolves to its outcome,
 * "ok" or "<CODE>: <message>", so that expected tables read like etcd's wire
 * answers and compare across servers.
 */
export type Outcome = string;
export const OK = 'ok';

export function outcomeOf(err: ServiceError | null | undefined): Outcome {
  if (err === null || err === undefined) return OK;
  return `${status[err.code]}: ${err.details}`;
}

type Unary = (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => unknown;

export class AuthWire {
  readonly kv: KVClient;
  readonly lease: LeaseClient;
  readonly cluster: ClusterClient;
  readonly maintenance: MaintenanceClient;
  readonly auth: AuthClient;
  readonly watchClient: WatchClient;
  readonly lock: LockClient;
  readonly election: ElectionClient;

  constructor(endpoint: string, private readonly deadlineMs = 15_000) {
    const target = endpoint.replace(/^https?:\/\//, '');
    const options = { 'grpc.use_local_subchannel_pool': 1 };
    const insecure = credentials.createInsecure();
    this.kv = new KVClient(target, insecure, options);
    this.lease = new LeaseClient(target, insecure, options);
    this.cluster = new ClusterClient(target, insecure, options);
    this.maintenance = new MaintenanceClient(target, insecure, options);
    this.auth = new AuthClient(target, insecure, options);
    this.watchClient = new WatchClient(target, insecure, options);
    this.lock = new LockClient(target, insecure, options);
    this.election = new ElectionClient(target, insecure, options);
  }

  static metadata(token: string | undefined): Metadata {
    const md = new Metadata();
    if (token !== undefined) md.set('token', token);
    return md;
  }

  /** One unary call: its response, or the error. */
  call<Res>(client: object, method: string, req: unknown, token?: string): Promise<{ outcome: Outcome; response?: Res }> {
    const fn = (client as Record<string, Unary>)[method]!;
    return new Promise((resolve) => {
      fn.call(client, req, AuthWire.metadata(token), { deadline: Date.now() + this.deadlineMs }, (err, res) => {
        resolve(err ? { outcome: outcomeOf(err) } : { outcome: OK, response: res as Res });
      });
    });
  }

  /** A call that must succeed (setup); its response. */
  async must<Res>(client: object, method: string, req: unknown, token?: string): Promise<Res> {
    const { outcome, response } = await this.call<Res>(client, method, req, token);
    if (outcome !== OK) throw new Error(`${method} failed: ${outcome}`);
    return response!;
  }

  async authenticate(name: string, password: string): Promise<string> {
    return (await this.must<{ token: string }>(this.auth, 'authenticate', { name, password })).token;
  }

  /**
   * Opens a watch for one create request and resolves with its first answer:
   * "created" or "canceled: <reason>", or the stream's error.
   */
  watch(create: { key: Buffer; rangeEnd?: Buffer }, token?: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const stream = this.watchClient.watch(AuthWire.metadata(token));
      const done = (outcome: Outcome): void => {
        resolve(outcome);
        stream.cancel();
      };
      const timer = setTimeout(() => done('no answer'), this.deadlineMs);
      stream.on('data', (r: { created: boolean; canceled: boolean; cancelReason: string }) => {
        clearTimeout(timer);
        done(r.canceled ? `canceled: ${r.cancelReason}` : r.created ? 'created' : 'event');
      });
      stream.on('error', (err: ServiceError) => {
        clearTimeout(timer);
        if (err.code !== status.CANCELLED) done(outcomeOf(err));
      });
      stream.write({ createRequest: { key: create.key, rangeEnd: create.rangeEnd ?? Buffer.alloc(0), startRevision: 0n, progressNotify: false, filters: [], prevKv: false, watchId: 0n, fragment: false } });
    });
  }

  /** Sends one keep-alive on a new stream: "ok" with a TTL answer, or the stream's error. */
  keepAlive(id: bigint, token?: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const stream = this.lease.leaseKeepAlive(AuthWire.metadata(token));
      const timer = setTimeout(() => finish('no answer'), this.deadlineMs);
      const finish = (outcome: Outcome): void => {
        clearTimeout(timer);
        resolve(outcome);
        stream.cancel();
      };
      stream.on('data', () => finish(OK));
      stream.on('error', (err: ServiceError) => {
        if (err.code !== status.CANCELLED) finish(outcomeOf(err));
      });
      stream.write({ ID: id });
    });
  }

  /** The first message of a snapshot stream ("ok"), or its error. */
  snapshot(token?: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const stream = this.maintenance.snapshot({}, AuthWire.metadata(token));
      let settled = false;
      const finish = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
        stream.cancel();
      };
      stream.on('data', () => finish(OK));
      stream.on('error', (err: ServiceError) => finish(err.code === status.CANCELLED ? OK : outcomeOf(err)));
    });
  }

  close(): void {
    for (const c of [this.kv, this.lease, this.cluster, this.maintenance, this.auth, this.watchClient, this.lock, this.election]) c.close();
  }
}

/** An ES256 key pair in PEM files, for `--auth-token jwt,...` on etcdts and on the real etcd alike. */
export function jwtKeys(): { priv: string; pub: string; flag: string } {
  const dir = tempDir('jwt-');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const priv = join(dir, 'priv.pem');
  const pub = join(dir, 'pub.pem');
  writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { priv, pub, flag: `jwt,pub-key=${pub},priv-key=${priv},sign-method=ES256` };
}

/** A token as either server would sign it, with the claims given (an expired one, for instance). */
export function signJwt(privPath: string, claims: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signed = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(signed), { key: createPrivateKey(readFileSync(privPath)), dsaEncoding: 'ieee-p1363' });
  return `${signed}.${signature.toString('base64url')}`;
}

/** Whole requests, as the generated encoders want them (every field set). */
export const putRequest = (key: string, extra: object = {}) => ({ key: Buffer.from(key), value: Buffer.from('v'), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false, ...extra });
export const rangeRequest = (key: string, rangeEnd: Buffer = Buffer.alloc(0), extra: object = {}) => ({
  key: Buffer.from(key), rangeEnd, limit: 0n, revision: 0n, sortOrder: 0, sortTarget: 0, serializable: false, keysOnly: false, countOnly: false,
  minModRevision: 0n, maxModRevision: 0n, minCreateRevision: 0n, maxCreateRevision: 0n, ...extra,
});

export const prefixEnd = (prefix: string): Buffer => {
  const b = Buffer.from(prefix);
  b[b.length - 1]! += 1;
  return b;
};

/** The users of the matrix: name -> [password, roles]. */
export const matrixUsers: Record<string, { password: string; perms: Array<[Permission_Type, string, Buffer | string]> | 'root' }> = {
  root: { password: 'root-pw', perms: 'root' },
  reader: { password: 'reader-pw', perms: [[Permission_Type.READ, 'app/', prefixEnd('app/')]] },
  writer: { password: 'writer-pw', perms: [[Permission_Type.WRITE, 'app/', prefixEnd('app/')]] },
  keyUser: { password: 'key-pw', perms: [[Permission_Type.READWRITE, 'k', '']] },
  rangeUser: { password: 'range-pw', perms: [[Permission_Type.READWRITE, 'r1', 'r5']] },
  noRole: { password: 'norole-pw', perms: [] },
};

/** Creates the matrix users, one role each (role-<user>), and enables auth, on a member without auth. */
export async function provisionUsers(wire: AuthWire): Promise<void> {
  for (const [name, { password, perms }] of Object.entries(matrixUsers)) {
    await wire.must(wire.auth, 'userAdd', { name, password, options: { noPassword: false } });
    if (perms === 'root') {
      await wire.must(wire.auth, 'roleAdd', { name: 'root' });
      await wire.must(wire.auth, 'userGrantRole', { user: name, role: 'root' });
      continue;
    }
    if (perms.length === 0) continue;
    await wire.must(wire.auth, 'roleAdd', { name: `role-${name}` });
    for (const [permType, key, rangeEnd] of perms) {
      await wire.must(wire.auth, 'roleGrantPermission', { name: `role-${name}`, perm: { permType, key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd) } });
    }
    await wire.must(wire.auth, 'userGrantRole', { user: name, role: `role-${name}` });
  }
  await wire.must(wire.auth, 'authEnable', {});
}
