import assert from 'node:assert/strict';
import { applyEnvironment, FlagError, parseCommandLine } from '../../../src/server/etcdserver/go-flags.js';
import { valuesFromDocument } from '../../../src/server/etcdserver/config-file.js';
import { configFromFlags } from '../../../src/server/etcdserver/server-settings.js';
import { formatConsoleLine, formatJsonLine, shortCaller, zapTime } from '../../../src/server/log-format.js';

describe("etcd's server command line (Go's flag package)", () => {
  const cases: Array<[string, string[], string | RegExp]> = [
    ['a single dash', ['-snapshot-count', '7'], 'ok'],
    ['name=value', ['--snapshot-count=7'], 'ok'],
    ['a bool alone', ['--force-new-cluster'], 'ok'],
    ['a bool with =false', ['--strict-reconfig-check=false'], 'ok'],
    ['a bool followed by a word', ['--enable-v2', 'false'], "'false' is not a valid flag"],
    ['an unknown flag', ['--nope'], 'flag provided but not defined: -nope'],
    ['a bad number', ['--snapshot-count', 'x'], 'invalid value "x" for flag -snapshot-count: parse error'],
    ['a bad bool', ['--pre-vote=maybe'], 'invalid boolean value "maybe" for -pre-vote: parse error'],
    ['a bad duration', ['--grpc-keepalive-min-time', '5'], 'invalid value "5" for flag -grpc-keepalive-min-time: parse error'],
    ['a value missing', ['--name'], 'flag needs an argument: -name'],
    ['a value out of the choices', ['--initial-cluster-state', 'maybe'], 'invalid value "maybe" for flag -initial-cluster-state: invalid value'],
    ['triple dash', ['---name', 'x'], 'bad flag syntax: ---name'],
  ];
  for (const [what, argv, expected] of cases) {
    it(`${what}: ${argv.join(' ')}`, () => {
      if (expected === 'ok') assert.doesNotThrow(() => parseCommandLine(argv));
      else assert.throws(() => parseCommandLine(argv), (err: Error) => err instanceof FlagError && err.message === expected);
    });
  }

  it('reads durations as milliseconds, uints in any base, and 3.6 names into the same setting', () => {
    const p = parseCommandLine(['--grpc-keepalive-interval=1m30s', '--snapshot-count=0x10', '--corrupt-check-time', '2s']);
    assert.equal(p.values.get('grpc-keepalive-interval'), 90_000);
    assert.equal(p.values.get('snapshot-count'), 16);
    assert.equal(p.values.get('experimental-corrupt-check-time'), 2000);
  });

  it('takes ETCD_* variables for flags not given, refuses one shadowed by its flag, warns about unknown ones', () => {
    const p = parseCommandLine(['--name', 'n']);
    applyEnvironment(p, { ETCD_SNAPSHOT_COUNT: '9', ETCD_BOGUS: '1', ETCD_DATA_DIR: '' });
    assert.equal(p.values.get('snapshot-count'), 9);
    assert.deepEqual(p.notes.filter((n) => n.level === 'warn').map((n) => n.fields['environment-variable']), ['ETCD_BOGUS=1', 'ETCD_DATA_DIR=']);
    assert.throws(() => applyEnvironment(parseCommandLine(['--name', 'n']), { ETCD_NAME: 'm' }), /shadowed by corresponding command-line flag/);
  });

  it('turns etcd 3.6 feature gates into their flags and refuses unknown gates', () => {
    const p = parseCommandLine(['--feature-gates=InitialCorruptCheck=true,CompactHashCheck=true']);
    const { config } = configFromFlags(p);
    assert.equal(config.initialCorruptCheck, true);
    assert.equal(config.compactHashCheck, true);
    assert.throws(() => configFromFlags(parseCommandLine(['--feature-gates=Warp=true'])), /unrecognized feature gate: Warp/);
  });
});

describe("etcd's YAML config file", () => {
  it('maps the keys, the nested transport-security blocks, lists and nanosecond durations onto the flags', () => {
    const parsed = valuesFromDocument({
      name: 'a', 'snapshot-count': 5, 'listen-client-urls': 'https://127.0.0.1:1', 'advertise-client-urls': 'https://127.0.0.1:1',
      'experimental-corrupt-check-time': 3_000_000_000, 'grpc-keepalive-min-time': '7s', 'log-outputs': ['stdout', 'stderr'],
      'cipher-suites': ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], 'initial-cluster-state': '',
      'client-transport-security': { 'cert-file': '/c.crt', 'key-file': '/c.key', 'client-cert-auth': true, 'trusted-ca-file': '/ca.crt' },
      'peer-transport-security': { 'auto-tls': true, typo: 1 }, unknown: 1,
    });
    const v = parsed.values;
    assert.equal(v.get('name'), 'a');
    assert.equal(v.get('snapshot-count'), 5);
    assert.equal(v.get('experimental-corrupt-check-time'), 3000);
    assert.equal(v.get('grpc-keepalive-min-time'), 7000);
    assert.equal(v.get('log-outputs'), 'stdout,stderr');
    assert.equal(v.get('cert-file'), '/c.crt');
    assert.equal(v.get('client-cert-auth'), true);
    assert.equal(v.get('peer-auto-tls'), true);
    assert.equal(v.get('initial-cluster-state'), 'new');
    assert.deepEqual(parsed.notes.map((n) => n.fields['key']).sort(), ['peer-transport-security.typo', 'unknown']);
  });

  it('refuses a value of the wrong type', () => {
    assert.throws(() => valuesFromDocument({ 'snapshot-count': 'many' }), /snapshot-count: want an integer/);
    assert.throws(() => valuesFromDocument({ 'client-transport-security': { 'client-cert-auth': 'yes' } }), /want true or false/);
  });
});

describe("zap's line encoders", () => {
  const time = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
  const record = { level: 'info' as const, time, caller: 'etcdserver/server.js:12', msg: 'added member', fields: { 'added-peer-id': 'abc', revision: 5n, err: new Error('boom'), skipped: undefined } };

  it('writes level, ts, caller, msg, then the fields, errors as "error"', () => {
    if (time.getTimezoneOffset() !== 0) return;
    assert.equal(formatJsonLine(record), '{"level":"info","ts":"2026-01-02T03:04:05.006Z","caller":"etcdserver/server.js:12","msg":"added member","added-peer-id":"abc","revision":5,"error":"boom"}\n');
    assert.equal(formatConsoleLine(record), '2026-01-02T03:04:05.006Z\tinfo\tetcdserver/server.js:12\tadded member\t{"added-peer-id": "abc", "revision": 5, "error": "boom"}\n');
  });

  it('encodes the local offset as zap does and shortens callers to dir/file:line', () => {
    assert.match(zapTime(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$/);
    assert.equal(shortCaller('    at EtcdServer.start (file:///srv/etcdts/dist/src/server/etcdserver/server.js:301:9)'), 'etcdserver/server.js:301');
  });
});
