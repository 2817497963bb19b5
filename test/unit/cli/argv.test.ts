import assert from 'node:assert/strict';
import { reorderGlobalFlags } from '../../../src/cli/argv.js';

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
