import assert from 'node:assert/strict';
import type { FlagSpec } from '../../../src/cli/flags/flag-spec.js';
import { parseCommandLine } from '../../../src/cli/flags/parser.js';
import { applyEnvironment, clientOptionsFromFlags, debugLines, globalFlagSpecs } from '../../../src/cli/global-flags.js';
import { getFlagSpecs } from '../../../src/cli/kv-ops.js';
import { CliError } from '../../../src/cli/errors.js';

const specs: FlagSpec[] = [...globalFlagSpecs, ...getFlagSpecs, { name: 'interactive', short: 'i', kind: 'bool', defaultText: 'false', description: '' }];
const parse = (...argv: string[]) => parseCommandLine(argv, specs);

describe('command line parsing (pflag semantics)', () => {
  it('takes flags and arguments in any order', () => {
    const { flags, args } = parse('a', '--prefix', 'b', '--limit', '3');
    assert.deepEqual(args, ['a', 'b']);
    assert.equal(flags.bool('prefix'), true);
    assert.equal(flags.bigint('limit'), 3n);
  });

  it('reads --name=value, -w value, -wvalue and -w=value', () => {
    assert.equal(parse('--write-out=json').flags.string('write-out'), 'json');
    assert.equal(parse('-w', 'json').flags.string('write-out'), 'json');
    assert.equal(parse('-wjson').flags.string('write-out'), 'json');
    assert.equal(parse('-w=json').flags.string('write-out'), 'json');
  });

  it('gives a value flag the next word even when it starts with a dash', () => {
    assert.equal(parse('--rev', '-1').flags.bigint('rev'), -1n);
  });

  it('lets a bool flag take a value only with =', () => {
    const { flags, args } = parse('--prefix', 'false');
    assert.equal(flags.bool('prefix'), true);
    assert.deepEqual(args, ['false']);
    assert.equal(parse('--prefix=false').flags.bool('prefix'), false);
  });

  it('ends flags at --', () => {
    const { flags, args } = parse('--', '-k', '--prefix');
    assert.deepEqual(args, ['-k', '--prefix']);
    assert.equal(flags.bool('prefix'), false);
  });

  it('treats a lone dash as an argument', () => assert.deepEqual(parse('-').args, ['-']));

  it('combines bool shorthands with a value shorthand', () => {
    const { flags } = parse('-iwjson');
    assert.equal(flags.bool('interactive'), true);
    assert.equal(flags.string('write-out'), 'json');
  });

  it('reads Go durations and int64 in any base', () => {
    const { flags } = parse('--dial-timeout', '1m30s', '--limit', '0x10');
    assert.equal(flags.bigint('dial-timeout'), 90_000_000_000n);
    assert.equal(flags.bigint('limit'), 16n);
  });

  it('appends repeated slice flags and splits them at commas', () => {
    assert.deepEqual(parse('--endpoints', 'a:1,b:2', '--endpoints', 'c:3').flags.strings('endpoints'), ['a:1', 'b:2', 'c:3']);
    assert.deepEqual(parse().flags.strings('endpoints'), ['127.0.0.1:2379']);
  });

  it('records which flags were given', () => {
    const { flags } = parse('--hex');
    assert.ok(flags.changed.has('hex'));
    assert.ok(!flags.changed.has('prefix'));
  });

  it('notices -h and --help', () => {
    assert.equal(parse('-h').help, true);
    assert.equal(parse('--help').help, true);
  });

  const errors: Array<[string[], string]> = [
    [['--bogus'], 'unknown flag: --bogus'],
    [['-x'], "unknown shorthand flag: 'x' in -x"],
    [['-5'], "unknown shorthand flag: '5' in -5"],
    [['--limit'], 'flag needs an argument: --limit'],
    [['-w'], "flag needs an argument: 'w' in -w"],
    [['--limit', 'abc'], 'invalid argument "abc" for "--limit" flag: strconv.ParseInt: parsing "abc": invalid syntax'],
    [['--prefix=maybe'], 'invalid argument "maybe" for "--prefix" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
    [['-i=maybe'], 'invalid argument "maybe" for "-i, --interactive" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
    [['--dial-timeout', '5'], 'invalid argument "5" for "--dial-timeout" flag: time: missing unit in duration "5"'],
    [['---x'], 'bad flag syntax: ---x'],
  ];
  for (const [argv, message] of errors) {
    it(`fails on ${argv.join(' ')} with pflag's message`, () => assert.throws(() => parse(...argv), { message }));
  }
});

describe('ETCDCTL_* environment variables', () => {
  it('fill global flags that were not given', () => {
    const { flags } = parse();
    applyEnvironment(flags, { ETCDCTL_ENDPOINTS: 'a:1,b:2', ETCDCTL_DIAL_TIMEOUT: '500ms', ETCDCTL_HEX: 'true', ETCDCTL_WRITE_OUT: 'json' });
    assert.deepEqual(flags.strings('endpoints'), ['a:1', 'b:2']);
    assert.equal(flags.bigint('dial-timeout'), 500_000_000n);
    assert.equal(flags.bool('hex'), true);
    assert.equal(flags.string('write-out'), 'json');
  });

  it('ignore empty values', () => {
    const { flags } = parse();
    applyEnvironment(flags, { ETCDCTL_WRITE_OUT: '' });
    assert.equal(flags.string('write-out'), 'simple');
  });

  it('conflict with the same flag on the command line', () => {
    const { flags } = parse('--endpoints', 'x:1');
    assert.throws(() => applyEnvironment(flags, { ETCDCTL_ENDPOINTS: 'y:2' }), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.equal(err.exitCode, 1);
      assert.match(err.message, /^conflicting environment variable "ETCDCTL_ENDPOINTS" is shadowed/);
      return true;
    });
  });

  it('report a bad value with the variable\'s name', () => {
    const { flags } = parse();
    assert.throws(() => applyEnvironment(flags, { ETCDCTL_DIAL_TIMEOUT: 'abc' }), {
      message: 'invalid value "abc" for ETCDCTL_DIAL_TIMEOUT: time: invalid duration "abc"',
    });
  });

  it('warn about unknown ETCDCTL_ variables, except ETCDCTL_API and local flags are not read', () => {
    const { flags } = parse();
    const { warnings } = applyEnvironment(flags, { ETCDCTL_API: '3', ETCDCTL_PREFIX: 'true', OTHER: 'x' });
    assert.deepEqual(warnings, ['Warning: unrecognized environment variable ETCDCTL_PREFIX=true']);
    assert.equal(flags.bool('prefix'), false);
  });

  it('--debug lists every global flag as its variable, sorted', () => {
    const lines = debugLines(parse('--endpoints', 'a:1,b:2').flags);
    assert.equal(lines[0], 'ETCDCTL_CACERT=');
    assert.ok(lines.includes('ETCDCTL_ENDPOINTS=[a:1,b:2]'));
    assert.ok(lines.includes('ETCDCTL_DIAL_TIMEOUT=2s'));
    assert.equal(lines.at(-1), 'ETCDCTL_WRITE_OUT=simple');
  });
});

describe('client options from the global flags', () => {
  it('converts timeouts and trims endpoints', () => {
    const options = clientOptionsFromFlags(parse('--endpoints', ' a:1 ,b:2', '--dial-timeout', '1500ms').flags, undefined);
    assert.deepEqual(options.endpoints, ['a:1', 'b:2']);
    assert.equal(options.dialTimeoutMs, 1500);
    assert.equal(options.tls, undefined);
  });

  it('reads --user name:password', () => {
    const options = clientOptionsFromFlags(parse('--user', 'root:secret').flags, undefined);
    assert.equal(options.username, 'root');
    assert.equal(options.password, 'secret');
  });

  it('rejects an empty --cacert like etcdctl (exit 128)', () => {
    assert.throws(() => clientOptionsFromFlags(parse('--cacert=').flags, undefined), (err: unknown) => err instanceof CliError && err.exitCode === 128 && err.message === 'empty string is passed to --cacert option');
  });

  it('rejects an empty endpoint list (exit 2)', () => {
    assert.throws(() => clientOptionsFromFlags(parse('--endpoints=').flags, undefined), (err: unknown) => err instanceof CliError && err.exitCode === 2);
  });
});
