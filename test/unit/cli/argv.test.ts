import assert from 'node:assert/strict';
import { commandIdOf, reorderGlobalFlags, runKindOf } from '../../../src/cli/argv.js';

describe('global flags before the command (etcdctl --endpoints=$EP get foo)', () => {
  const cases: Array<[string[], string[]]> = [
    [['--endpoints', 'x:1', 'get', 'foo'], ['get', 'foo', '--endpoints', 'x:1']],
    [['--endpoints=x:1', '-w', 'json', 'get', 'foo', '--prefix'], ['get', 'foo', '--endpoints=x:1', '-w', 'json', '--prefix']],
    [['-wjson', '--hex', 'lease', 'grant', '10'], ['lease', 'grant', '10', '-wjson', '--hex']],
    [['--hex', 'put', '--', 'k', '-v'], ['put', '--hex', '--', 'k', '-v']],
    [['get', 'foo', '--endpoints', 'x:1'], ['get', 'foo', '--endpoints', 'x:1']],
    [['--name', 'n1', 'server'], ['--name', 'n1', 'server']],
    [['--help'], ['--help']],
    [['--version'], ['--version']],
    [['--endpoints', 'x:1'], ['--endpoints', 'x:1']],
  ];
  for (const [argv, expected] of cases) {
    it(`${argv.join(' ')} → ${expected.join(' ')}`, () => assert.deepEqual(reorderGlobalFlags(argv), expected));
  }
});

describe('what a command line runs (the code cache learns each kind of run once)', () => {
  const ids = new Set(['get', 'put', 'member:list', 'member:add', 'lock', 'server']);
  const cases: Array<[string[], string, string]> = [
    [['get', 'foo'], 'get', 'get'],
    [['--endpoints', 'x:1', 'get', 'foo', '-w', 'json'], 'get', 'get'],
    [['member', 'list', '-w', 'table'], 'member:list', 'member:list'],
    [['member'], '', ''],
    [['member', 'lst'], '', ''],
    [['lock', 'name', 'true'], 'lock', 'lock'],
    [['--version'], '', ''],
    [['get', '--help'], 'get', 'get --help'],
    [['-h'], '', ' --help'],
    [['put', '--', 'k', '-h'], 'put', 'put'],
  ];
  for (const [argv, id, kind] of cases) {
    it(`${argv.join(' ')} → ${JSON.stringify(kind)}`, () => {
      assert.equal(commandIdOf(reorderGlobalFlags(argv), ids), id);
      assert.equal(runKindOf(argv, ids), kind);
    });
  }
});
