import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthThrottle, delayAfter, peerAddress } from '../../../src/server/auth/auth-throttle.js';
import { BcryptPool } from '../../../src/server/auth/bcrypt.js';
import { PasswordTooLongError } from '../../../src/server/auth/errors.js';
import { TooManyRequestsError } from '../../../src/server/etcdserver/errors.js';
import { authFailuresFree, authThrottleDelayMsBase, authThrottleDelayMsMax } from '../../../src/server/constants.js';
import { repoRoot } from '../../support/etcdts.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

/**
 * Hashes made by Go's golang.org/x/crypto/bcrypt, the code etcd hashes
 * passwords with (test/unit/auth/go-bcrypt: `hash etcd-go-secret 4|10`).
 */
const goHashes = [
  { cost: 4, hash: '$2a$04$V.NCFTyzH271ivDyWlcxOOUFONfDWaSgi61hQVTRGikOR116iXyNi' },
  { cost: 10, hash: '$2a$10$PO7LKw06OPCwpTzkiuI8meJsg1OteM2qPJDd7ufy39R.0AX4JdwJe' },
];
const goPassword = 'etcd-go-secret';

/** Go's bcrypt, from Debian's golang sources, when this machine has them. */
function goBcryptCheck(lines: Array<[string, string]>): boolean[] | undefined {
  const gocode = '/usr/share/gocode';
  if (spawnSync('go', ['version']).status !== 0 || !existsSync(join(gocode, 'src/golang.org/x/crypto/bcrypt'))) return undefined;
  const gopath = tempDir('go-bcrypt-');
  mkdirSync(join(gopath, 'src', 'bchash'), { recursive: true });
  copyFileSync(join(repoRoot, 'test/unit/auth/go-bcrypt/main.go'), join(gopath, 'src', 'bchash', 'main.go'));
  const r = spawnSync('go', ['run', './src/bchash', 'check'], {
    cwd: gopath,
    input: lines.map(([pw, h]) => `${pw} ${h}\n`).join(''),
    env: { ...process.env, GOPATH: `${gopath}:${gocode}`, GO111MODULE: 'off', GOCACHE: join(gopath, 'cache') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => l === 'true');
}

describe('bcrypt passwords', function () {
  this.timeout(120_000);
  const pool = new BcryptPool();
  after(async () => {
    await pool.close();
    removeTempDirs();
  });

  it('hashes in $2b$ form at the given cost, and checks passwords against it', async () => {
    const hash = await pool.hash('s3cret', 4);
    assert.match(hash, /^\$2b\$04\$[./A-Za-z0-9]{53}$/);
    assert.equal(await pool.compare('s3cret', hash), true);
    assert.equal(await pool.compare('s3cret!', hash), false);
    assert.notEqual(await pool.hash('s3cret', 4), hash, 'a new salt every time');
  });

  it('accepts the $2a$ hashes etcd\'s Go code makes', async () => {
    for (const { hash } of goHashes) {
      assert.equal(await pool.compare(goPassword, hash), true, hash);
      assert.equal(await pool.compare('not-it', hash), false, hash);
    }
  });

  it('makes hashes that Go\'s bcrypt (etcd\'s) accepts', async function () {
    const ours = [await pool.hash('from-etcdts', 4), await pool.hash('from-etcdts', 10)];
    const verdicts = goBcryptCheck([['from-etcdts', ours[0]!], ['from-etcdts', ours[1]!], ['wrong', ours[0]!]]);
    assert.ok(verdicts !== undefined, 'Go and its bcrypt sources are missing: apt-get install golang-go golang-etcd-server-dev');
    assert.deepEqual(verdicts, [true, true, false]);
  });

  it('refuses a password longer than the 72 bytes bcrypt reads, instead of cutting it', async () => {
    await assert.rejects(pool.hash('x'.repeat(73), 4), PasswordTooLongError);
    const hash = await pool.hash('x'.repeat(72), 4);
    assert.equal(await pool.compare(`${'x'.repeat(72)}tail`, hash), false);
  });

  it('runs off the event loop: a timer fires while a slow hash is in progress', async () => {
    const order: string[] = [];
    const hashing = pool.hash('slow', 12).then(() => order.push('hash'));
    await new Promise((resolve) => setTimeout(resolve, 1));
    order.push('timer');
    await hashing;
    assert.deepEqual(order, ['timer', 'hash']);
  });

  it('bounds the jobs waiting for a thread: past the bound, "too many requests"', async () => {
    const small = new BcryptPool(1, 2);
    try {
      const jobs = [small.hash('a', 4), small.hash('b', 4), small.hash('c', 4)];
      await assert.rejects(small.hash('d', 4), TooManyRequestsError);
      assert.equal((await Promise.all(jobs)).length, 3);
    } finally {
      await small.close();
    }
  });
});

describe('failed Authenticate throttling (per user and client address)', () => {
  class ManualClock {
    ms = 0;
    nowMs(): number {
      return this.ms;
    }
  }

  it('lets the free failures through, then doubles the wait up to the cap', () => {
    assert.equal(delayAfter(authFailuresFree), 0);
    assert.equal(delayAfter(authFailuresFree + 1), authThrottleDelayMsBase);
    assert.equal(delayAfter(authFailuresFree + 2), 2 * authThrottleDelayMsBase);
    assert.equal(delayAfter(authFailuresFree + 40), authThrottleDelayMsMax);
  });

  it('refuses an early attempt, only for that user from that address, and forgets on success', () => {
    const clock = new ManualClock();
    const throttle = new AuthThrottle(clock);
    for (let i = 0; i <= authFailuresFree; i++) {
      throttle.check('root', '10.0.0.9');
      throttle.failed('root', '10.0.0.9');
    }
    assert.throws(() => throttle.check('root', '10.0.0.9'), TooManyRequestsError);
    throttle.check('root', '127.0.0.1');
    throttle.check('alice', '10.0.0.9');
    clock.ms += authThrottleDelayMsBase;
    throttle.check('root', '10.0.0.9');
    throttle.succeeded('root', '10.0.0.9');
    throttle.failed('root', '10.0.0.9');
    throttle.check('root', '10.0.0.9');
  });

  it('reads the address out of a call peer', () => {
    assert.equal(peerAddress('127.0.0.1:5123'), '127.0.0.1');
    assert.equal(peerAddress('[::1]:5123'), '::1');
    assert.equal(peerAddress('::1:5123'), '::1');
    assert.equal(peerAddress('unknown'), 'unknown');
  });
});
