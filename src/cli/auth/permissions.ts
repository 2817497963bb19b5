import { Permission_Type } from '../../proto/gen/authpb/auth.js';
import { fromKeyEnd, prefixEnd } from '../../client/keys.js';
import { badArgs } from '../errors.js';
import type { FlagSpec } from '../flags/flag-spec.js';
import type { ParsedFlags } from '../flags/parser.js';

/**
 * The key ranges of `role grant-permission` and `role revoke-permission`,
 * as etcdctl 3.4 builds them from the arguments (role_command.go), and how
 * they read back. A permission is one key (empty range end), the range
 * [key, end), or every key from `key` on (range end "\0"). The empty key
 * stands for "\0", the first key there is: `--prefix ''` and `--from-key ''`
 * cover the whole key space.
 */
export interface PermissionRange {
  key: Buffer;
  rangeEnd: Buffer;
}

const empty = Buffer.alloc(0);

/** The --prefix and --from-key flags of `role grant-permission` and `role revoke-permission`. */
export function rangeFlagSpecs(verb: 'grant' | 'revoke'): readonly FlagSpec[] {
  return [
    { name: 'prefix', kind: 'bool', defaultText: 'false', description: `${verb} a prefix permission` },
    { name: 'from-key', kind: 'bool', defaultText: 'false', description: `${verb} a permission of keys that are greater than or equal to the given key using byte compare` },
  ];
}

export function rangeFlags(flags: ParsedFlags): { prefix: boolean; fromKey: boolean } {
  return { prefix: flags.bool('prefix'), fromKey: flags.bool('from-key') };
}

/** clientv3.StrToPermissionType: read, write or readwrite, in any case. */
export function parsePermissionType(text: string): Permission_Type {
  switch (text.toUpperCase()) {
    case 'READ': return Permission_Type.READ;
    case 'WRITE': return Permission_Type.WRITE;
    case 'READWRITE': return Permission_Type.READWRITE;
  }
  throw badArgs(`invalid permission type: ${text}`);
}

/**
 * etcdctl's permRange over `<key> [endkey]` (further arguments are ignored,
 * as etcdctl ignores them). Note its quirk, kept: with an empty key the end
 * key argument is ignored.
 */
export function permissionRange(args: readonly string[], flags: { prefix: boolean; fromKey: boolean }): PermissionRange {
  const key = Buffer.from(args[0] ?? '', 'utf8');
  if (key.length === 0) {
    if (flags.prefix && flags.fromKey) throw badArgs('--from-key and --prefix flags are mutually exclusive');
    return { key: fromKeyEnd, rangeEnd: flags.prefix || flags.fromKey ? fromKeyEnd : empty };
  }
  if (args.length === 1) {
    if (flags.prefix && flags.fromKey) throw badArgs('--from-key and --prefix flags are mutually exclusive');
    if (flags.prefix) return { key, rangeEnd: prefixEnd(key) };
    return { key, rangeEnd: flags.fromKey ? fromKeyEnd : empty };
  }
  if (flags.prefix) throw badArgs('unexpected endkey argument with --prefix flag');
  if (flags.fromKey) throw badArgs('unexpected endkey argument with --from-key flag');
  return { key, rangeEnd: Buffer.from(args[1]!, 'utf8') };
}

/** authpb.Permission_Type's Go name (a number for a value Go does not know). */
export function permissionTypeName(type: Permission_Type): string {
  switch (type) {
    case Permission_Type.READ: return 'READ';
    case Permission_Type.WRITE: return 'WRITE';
    case Permission_Type.READWRITE: return 'READWRITE';
    default: return String(type);
  }
}

export function grantsRead(type: Permission_Type): boolean {
  return type === Permission_Type.READ || type === Permission_Type.READWRITE;
}

export function grantsWrite(type: Permission_Type): boolean {
  return type === Permission_Type.WRITE || type === Permission_Type.READWRITE;
}

/** The range end is the prefix end of the key (etcdctl's "(prefix k)" note). */
export function isPrefixRange(range: PermissionRange): boolean {
  return range.rangeEnd.length > 0 && prefixEnd(range.key).equals(range.rangeEnd);
}

export function isOpenEnded(range: PermissionRange): boolean {
  return range.rangeEnd.equals(fromKeyEnd);
}

/**
 * One permission as `role get` prints it: `k`, `[k, end)`, `[k, <open ended>`
 * (etcdctl's unbalanced bracket), with " (prefix k)" when the range is a
 * prefix. Bytes as they are, as Go's %s prints them.
 */
export function permissionText(range: PermissionRange): Buffer {
  if (range.rangeEnd.length === 0) return range.key;
  const parts = isOpenEnded(range)
    ? [Buffer.from('['), range.key, Buffer.from(', <open ended>')]
    : [Buffer.from('['), range.key, Buffer.from(', '), range.rangeEnd, Buffer.from(')')];
  if (isPrefixRange(range)) parts.push(Buffer.from(' (prefix '), range.key, Buffer.from(')'));
  return Buffer.concat(parts);
}

/**
 * `role revoke-permission`'s confirmation. etcdctl prints the key argument
 * as typed (so the empty key shows empty although "\0" was revoked) and the
 * range end it computed.
 */
export function revokedText(role: string, keyArg: string, rangeEnd: Buffer): Buffer {
  const tail = Buffer.from(` is revoked from role ${role}`);
  if (rangeEnd.length === 0) return Buffer.concat([Buffer.from(`Permission of key ${keyArg}`), tail]);
  const range = rangeEnd.equals(fromKeyEnd)
    ? [Buffer.from(`Permission of range [${keyArg}, <open ended>`)]
    : [Buffer.from(`Permission of range [${keyArg}, `), rangeEnd, Buffer.from(')')];
  return Buffer.concat([...range, tail]);
}
