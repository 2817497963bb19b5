import assert from 'node:assert/strict';
import { runJs } from '../support/etcdts.js';
import { defaultPortNetwork } from '../support/netns.js';
import { run } from '../support/procs.js';

/**
 * Errors a person can act on, end to end: a mistyped command or subcommand
 * gets cobra's message with the command meant, and a command that finds
 * nothing at the default endpoint says how to start something there.
 */
describe('CLI errors', function () {
  this.timeout(30000);
  const ours = (args: string[], env: NodeJS.ProcessEnv = process.env): ReturnType<typeof run> => run(process.execPath, [runJs, ...args], { env });

  it('a mistyped command suggests the closest one, with etcdctl\'s layout and exit 1', async () => {
    const r = await ours(['gett', 'foo']);
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, {
      code: 1, stdout: '', stderr: 'Error: unknown command "gett" for "etcdts"\n\nDid you mean this?\n\tget\n\nRun \'etcdts --help\' for usage.\n',
    });
    const sub = await ours(['member', 'lst']);
    assert.deepEqual({ code: sub.code, stderr: sub.stderr }, {
      code: 1, stderr: 'Error: unknown command "lst" for "etcdts member"\n\nDid you mean this?\n\tlist\n\nRun \'etcdts member --help\' for usage.\n',
    });
  });

  it('nothing at the default endpoint: the endpoint tried and why, then how to start a member or a cluster', async () => {
    // Nothing may answer at the default port: see support/netns.ts.
    const net = await defaultPortNetwork();
    try {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCDCTL_')));
      const inNet = (args: string[]) => net.run(process.execPath, [runJs, ...args], { env });
      const r = await inNet(['get', 'foo', '--dial-timeout', '1s', '--command-timeout', '1s']);
      assert.equal(r.code, 1);
      const lines = r.stderr.split('\n');
      assert.match(lines[0]!, /^Error: context deadline exceeded \(127\.0\.0\.1:2379: connect ECONNREFUSED 127\.0\.0\.1:2379\)$/);
      assert.match(lines[1]!, /^Nothing answers at 127\.0\.0\.1:2379, the default endpoint: start a member with `etcdts server`, or a local cluster with `eval "\$\(etcdts cluster up\)"`/);
      const given = await inNet(['get', 'foo', '--endpoints', '127.0.0.1:2379', '--dial-timeout', '1s', '--command-timeout', '1s']);
      assert.equal(given.stderr.split('\n').length, 2, 'an endpoint the user gave gets the error line alone');
    } finally {
      await net.close();
    }
  });
});
