import assert from 'node:assert/strict';
import { Config, type Command } from '@oclif/core';
import EtcdtsHelp, { exitCodeRows } from '../../../src/cli/help.js';
import { suggestionsFor, levenshtein } from '../../../src/cli/suggest.js';
import { connectionHint } from '../../../src/cli/connection-hint.js';
import { DeadlineExceededError } from '../../../src/client/errors.js';
import { CliError, ExitCode } from '../../../src/cli/errors.js';
import { repoRoot } from '../../support/etcdts.js';

class ExposedHelp extends EtcdtsHelp {
  commandHelp(command: Command.Loadable): string {
    return this.formatCommand(command);
  }
}

describe('errors a person can act on', () => {
  it('suggests commands by cobra\'s rule: within 2 edits, or starting with what was typed, closest first', () => {
    const names = ['get', 'put', 'del', 'member', 'make-mirror', 'move-leader', 'snapshot', 'lease', 'lock'];
    const cases: Array<[string, string[]]> = [
      ['gett', ['get']],
      ['membr', ['member']],
      ['ma', ['make-mirror']],
      ['snap', ['snapshot']],
      ['leas', ['lease']],
      ['LOCK', ['lock']],
      ['xyzzy', []],
    ];
    for (const [typed, expected] of cases) assert.deepEqual(suggestionsFor(typed, names), expected, typed);
    assert.equal(levenshtein('kitten', 'sitting'), 3);
  });

  it('hints at `etcdts server` and `cluster up` only when nothing answers at the default endpoint', () => {
    const refused = new DeadlineExceededError('127.0.0.1:2379: connect ECONNREFUSED 127.0.0.1:2379');
    assert.match(connectionHint(refused, ['127.0.0.1:2379'], false) ?? '', /^Nothing answers at 127\.0\.0\.1:2379, the default endpoint: start a member with `etcdts server`, or a local cluster with `eval "\$\(etcdts cluster up\)"`/);
    assert.equal(connectionHint(refused, ['127.0.0.1:2379'], true), undefined, 'endpoints the user chose: the error line says enough');
    assert.equal(connectionHint(new DeadlineExceededError('timed out waiting for a leader'), ['127.0.0.1:2379'], false), undefined);
    assert.ok(connectionHint(new CliError('dial tcp: connect ECONNREFUSED', ExitCode.badConnection), ['127.0.0.1:2379'], false) !== undefined);
    assert.equal(connectionHint(new CliError('etcdserver: permission denied'), ['127.0.0.1:2379'], false), undefined);
  });

  it('every command\'s help lists etcdctl\'s exit codes, and the extra ones where a command has them', async () => {
    const config = await Config.load(repoRoot);
    const help = new ExposedHelp(config);
    const commands = config.commands.filter((c) => c.hidden !== true);
    assert.ok(commands.length >= 40);
    for (const command of commands) {
      const text = help.commandHelp(command);
      assert.match(text, /\nEXIT CODES\n {2}0 +success\n {2}1 +error: [^\n]+\n {2}2 +bad connection[^\n]+\n {2}3 +invalid input[^\n]+\n {2}4 +bad feature[^\n]+\n {2}5 +interrupted[^\n]+\n {2}6 +I\/O error\n {2}128 +bad arguments/, command.id);
    }
    assert.deepEqual(exitCodeRows('lock').map(([code]) => code), ['0', '1', '2', '3', '4', '5', '6', '128', '0-123', '124', '125', '126', '127', '128+n']);
    assert.deepEqual(exitCodeRows('lease:keep-alive').at(-1), ['125', 'the lease expired or was revoked']);
  });
});
