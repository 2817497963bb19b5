import { Role, User } from '../../proto/gen/authpb/auth.js';
import { conversionError, decodeOrFail, type BucketConversion, type Pair } from './bucket-conversion.js';

/**
 * etcd's auth state in a snapshot, and what this module assumes of our auth
 * store's encoding (src/server/auth, written separately: keep the two in
 * step). Both sides use etcd's layout, so entries pass through unchanged once
 * they are checked to be what etcd writes (auth/store.go):
 *
 * - bucket `auth`: key `authEnabled` = one byte, 1 when auth is on and 0 when
 *   off; key `authRevision` = the auth revision, u64 big-endian. Other keys
 *   are left out.
 * - bucket `authUsers`: key = the user name, value = authpb.User (name equal
 *   to the key, bcrypt password hash as etcd writes it, role names, options).
 * - bucket `authRoles`: key = the role name, value = authpb.Role (name equal
 *   to the key, key permissions).
 *
 * If our store ever encodes differently, this is the one module to change.
 */
const enabledKey = 'authEnabled';
const revisionKey = 'authRevision';

function authFlags(bucket: string): (key: Buffer, value: Buffer) => Pair | undefined {
  return (key, value) => {
    switch (key.toString('latin1')) {
      case enabledKey:
        if (value.length !== 1 || value[0]! > 1) throw conversionError(bucket, key, `expected one byte 0 or 1, got ${value.length} bytes`);
        return [key, value];
      case revisionKey:
        if (value.length !== 8) throw conversionError(bucket, key, `expected a u64, got ${value.length} bytes`);
        return [key, value];
      default:
        return undefined;
    }
  };
}

function named<T extends { name: Buffer }>(bucket: string, what: string, decode: (bytes: Buffer) => T): (key: Buffer, value: Buffer) => Pair {
  return (key, value) => {
    const message = decodeOrFail(bucket, key, what, () => decode(value));
    if (!message.name.equals(key)) throw conversionError(bucket, key, `${what} is named ${JSON.stringify(message.name.toString())}, not its key`);
    return [key, value];
  };
}

export const authBucketConversions: readonly BucketConversion[] = [
  { etcd: 'auth', ours: 'auth', sameKeys: true, fromEtcd: authFlags('auth'), toEtcd: authFlags('auth') },
  { etcd: 'authRoles', ours: 'authRoles', sameKeys: true, fromEtcd: named('authRoles', 'authpb.Role', (b) => Role.decode(b)), toEtcd: named('authRoles', 'authpb.Role', (b) => Role.decode(b)) },
  { etcd: 'authUsers', ours: 'authUsers', sameKeys: true, fromEtcd: named('authUsers', 'authpb.User', (b) => User.decode(b)), toEtcd: named('authUsers', 'authpb.User', (b) => User.decode(b)) },
];
