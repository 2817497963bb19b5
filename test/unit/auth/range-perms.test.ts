import assert from 'node:assert/strict';
import { Permission_Type, type Permission } from '../../../src/proto/gen/authpb/auth.js';
import { mergePermissions, permits, union } from '../../../src/server/auth/range-perms.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const fromKey = Buffer.from([0]);
const none = Buffer.alloc(0);
const perm = (permType: Permission_Type, key: string, rangeEnd: string | Buffer = none): Permission =>
  ({ permType, key: b(key), rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd });
const { READ, WRITE, READWRITE } = Permission_Type;

describe('key permissions (ranges, prefixes, from-key, merged across roles)', () => {
  // Roles as a user might hold them: a single key, a range, a prefix (app/ -> app0), a from-key grant.
  const merged = mergePermissions([
    perm(READ, 'k1'),
    perm(READ, 'a', 'c'),
    perm(READWRITE, 'c'),
    perm(READ, 'app/', 'app0'),
    perm(WRITE, 'w/', 'w0'),
    perm(READ, 'x', fromKey),
  ]);

  const cases: Array<[string, 'read' | 'write', string, string | Buffer, boolean]> = [
    ['the one granted key', 'read', 'k1', none, true],
    ['a key next to it', 'read', 'k10', none, false],
    ['a range over the single key alone', 'read', 'k1', 'k1\0', true],
    ['a range one byte wider than the single key', 'read', 'k1', 'k1\0\0', false],
    ['inside a granted range', 'read', 'b', none, true],
    ['a range ending at the granted end', 'read', 'a', 'c', true],
    ['a range joined with the adjacent key grant', 'read', 'a', 'c\0', true],
    ['past the joined grants', 'read', 'a', 'd', false],
    ['a range starting before the grant', 'read', '0', 'b', false],
    ['a prefix read of the granted prefix', 'read', 'app/', 'app0', true],
    ['a key under the prefix', 'read', 'app/x/y', none, true],
    ['the prefix of a longer prefix', 'read', 'app/x', 'app/y', true],
    ['a wider prefix than a single-key grant', 'read', 'k', 'l', false],
    ['from-key on a from-key grant', 'read', 'y', fromKey, true],
    ['from-key from the grant start', 'read', 'x', fromKey, true],
    ['from-key before the grant start', 'read', 'w', fromKey, false],
    ['from-key on a prefix grant (GHSA-xg4h-6gfc-h4m8)', 'read', 'app/', fromKey, false],
    ['from-key on a single-key grant (GHSA-xg4h-6gfc-h4m8)', 'read', 'k1', fromKey, false],
    ['the whole keyspace', 'read', '', fromKey, false],
    ['write on a write-only prefix', 'write', 'w/1', none, true],
    ['read on a write-only prefix', 'read', 'w/1', none, false],
    ['write on a read-only range', 'write', 'b', none, false],
    ['write on the read-write key', 'write', 'c', none, true],
    ['an empty range inside a grant is the key itself', 'read', 'b', 'a', true],
    ['an empty range outside every grant', 'write', 'b', 'a', false],
  ];
  for (const [what, kind, key, end, allowed] of cases) {
    it(`${allowed ? 'permits' : 'refuses'} ${kind} of ${what}`, () => {
      assert.equal(permits(merged[kind], b(key), typeof end === 'string' ? b(end) : end), allowed);
    });
  }

  it('merges overlapping and touching intervals and drops empty ones', () => {
    assert.deepEqual(union([
      { start: 'c', end: 'e' }, { start: 'a', end: 'c' }, { start: 'd', end: 'f' }, { start: 'q', end: 'p' }, { start: 'x', end: null }, { start: 'y', end: 'z' },
    ]), [{ start: 'a', end: 'f' }, { start: 'x', end: null }]);
  });

  it('grants nothing to a user without roles', () => {
    const empty = mergePermissions([]);
    assert.equal(permits(empty.read, b('a'), none), false);
    assert.equal(permits(empty.write, b(''), fromKey), false);
  });

  it('grants everything with READWRITE from the empty key', () => {
    const all = mergePermissions([perm(READWRITE, '', fromKey)]);
    assert.equal(permits(all.read, b(''), fromKey), true);
    assert.equal(permits(all.write, b('\xff\xff'), none), true);
  });
});
