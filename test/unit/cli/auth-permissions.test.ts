import assert from 'node:assert/strict';
import { Permission_Type } from '../../../src/proto/gen/authpb/auth.js';
import {
  parsePermissionType,
  permissionRange,
  permissionText,
  revokedText,
} from '../../../src/cli/auth/permissions.js';
import { CliError } from '../../../src/cli/errors.js';

const none = { prefix: false, fromKey: false };
const prefix = { prefix: true, fromKey: false };
const fromKey = { prefix: false, fromKey: true };
const both = { prefix: true, fromKey: true };

describe('role permissions: arguments to key ranges (etcdctl role_command.go)', () => {
  const ranges: Array<[name: string, args: string[], flags: typeof none, key: string, rangeEnd: string]> = [
    ['one key', ['k1'], none, 'k1', ''],
    ['a range', ['k2', 'k5'], none, 'k2', 'k5'],
    ['a prefix', ['p/'], prefix, 'p/', 'p0'],
    ['from a key on', ['z'], fromKey, 'z', '\0'],
    ['the empty prefix: every key', [''], prefix, '\0', '\0'],
    ['from the empty key: every key', [''], fromKey, '\0', '\0'],
    ['the empty key alone: the key "\\0"', [''], none, '\0', ''],
    ['the empty key ignores its end key (etcdctl\'s quirk)', ['', 'b'], none, '\0', ''],
    ['arguments after the end key are ignored', ['a', 'b', 'c'], none, 'a', 'b'],
  ];
  for (const [name, args, flags, key, rangeEnd] of ranges) {
    it(`${name}: ${JSON.stringify(args)}`, () => {
      assert.deepEqual(permissionRange(args, flags), { key: Buffer.from(key, 'latin1'), rangeEnd: Buffer.from(rangeEnd, 'latin1') });
    });
  }

  it('a prefix ending in a multi-byte character increments its last byte (bytes, not characters)', () => {
    // "é" is c3 a9; its prefix end is c3 aa ("ê"). "ÿ" is c3 bf; its prefix end c3 c0 is not UTF-8.
    assert.deepEqual(permissionRange(['é'], prefix).rangeEnd, Buffer.from([0xc3, 0xaa]));
    assert.deepEqual(permissionRange(['ÿ'], prefix).rangeEnd, Buffer.from([0xc3, 0xc0]));
  });

  const errors: Array<[args: string[], flags: typeof none, message: string]> = [
    [['a', 'b'], prefix, 'unexpected endkey argument with --prefix flag'],
    [['a', 'b'], fromKey, 'unexpected endkey argument with --from-key flag'],
    [['a'], both, '--from-key and --prefix flags are mutually exclusive'],
    [[''], both, '--from-key and --prefix flags are mutually exclusive'],
  ];
  for (const [args, flags, message] of errors) {
    it(`refuses ${JSON.stringify(args)} ${JSON.stringify(flags)}: ${message} (exit 128)`, () => {
      assert.throws(() => permissionRange(args, flags), (err: unknown) => err instanceof CliError && err.message === message && err.exitCode === 128);
    });
  }

  it('reads the permission type in any case, and refuses others with exit 128', () => {
    assert.equal(parsePermissionType('read'), Permission_Type.READ);
    assert.equal(parsePermissionType('WRITE'), Permission_Type.WRITE);
    assert.equal(parsePermissionType('ReadWrite'), Permission_Type.READWRITE);
    assert.throws(() => parsePermissionType('rw'), (err: unknown) => err instanceof CliError && err.message === 'invalid permission type: rw' && err.exitCode === 128);
  });
});

describe('role permissions: how they print (as etcdctl 3.4.23 printed them)', () => {
  const text = (key: string, rangeEnd: string): string => permissionText({ key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd) }).toString('latin1');

  it('one key, a range, a prefix, an open end, every key', () => {
    assert.equal(text('k1', ''), 'k1');
    assert.equal(text('k2', 'k5'), '[k2, k5)');
    assert.equal(text('p/', 'p0'), '[p/, p0) (prefix p/)');
    assert.equal(text('z', '\0'), '[z, <open ended>');
    assert.equal(text('\0', '\0'), '[\0, <open ended>');
  });

  it('a prefix of 0xff bytes ends at "\\0": open ended and a prefix at once', () => {
    const range = { key: Buffer.from([0xff]), rangeEnd: Buffer.from([0]) };
    assert.equal(permissionText(range).toString('latin1'), '[\xff, <open ended> (prefix \xff)');
  });

  it('a revoked permission names the key as typed and the computed end', () => {
    const revoked = (key: string, rangeEnd: string): string => revokedText('r1', key, Buffer.from(rangeEnd)).toString('latin1');
    assert.equal(revoked('k1', ''), 'Permission of key k1 is revoked from role r1');
    assert.equal(revoked('k2', 'k5'), 'Permission of range [k2, k5) is revoked from role r1');
    assert.equal(revoked('z', '\0'), 'Permission of range [z, <open ended> is revoked from role r1');
    assert.equal(revoked('', '\0'), 'Permission of range [, <open ended> is revoked from role r1');
    assert.equal(revoked('', ''), 'Permission of key  is revoked from role r1');
  });
});
