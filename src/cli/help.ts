import type { Command } from '@oclif/core/command';
import { Help } from '@oclif/core/help';
import { ExitCode } from './errors.js';
import { CoordinationExit } from './coordination/exit-codes.js';

/**
 * Our help: oclif's, plus an EXIT CODES section on every command. The codes
 * are etcdctl's and never change (scripts branch on them); the commands that
 * run something under a lock, a leadership or a lease have more, listed for
 * them. Registered in package.json under oclif.helpClass.
 */
export const etcdctlExitCodes: ReadonlyArray<[number, string]> = [
  [ExitCode.success, 'success'],
  [ExitCode.error, 'error: the request failed, or a flag value is bad'],
  [ExitCode.badConnection, 'bad connection: the client could not connect (or authenticate)'],
  [ExitCode.invalidInput, 'invalid input: input that does not parse (txn, a cluster folder)'],
  [ExitCode.badFeature, 'bad feature: an output format or option the command does not support'],
  [ExitCode.interrupted, 'interrupted: snapshot save failed or was interrupted'],
  [ExitCode.io, 'I/O error'],
  [ExitCode.badArgs, 'bad arguments: missing, extra or malformed arguments'],
];

const heldCommandCodes: ReadonlyArray<[number | string, string]> = [
  ['0-123', 'the command\'s own exit code, when one was given'],
  [CoordinationExit.lost, 'lost: the session\'s lease expired or could not be renewed'],
  [CoordinationExit.cannotExecute, 'the command could not be executed'],
  [CoordinationExit.commandNotFound, 'the command was not found'],
  ['128+n', 'the command died of signal n (or this command was interrupted by it)'],
];

/** Codes beyond etcdctl's, by command id. */
export const commandExitCodes: Readonly<Record<string, ReadonlyArray<[number | string, string]>>> = {
  lock: [heldCommandCodes[0]!, [CoordinationExit.lockTimeout, '--timeout passed before the lock was free'], ...heldCommandCodes.slice(1)],
  elect: heldCommandCodes,
  'lease:keep-alive': [[CoordinationExit.lost, 'the lease expired or was revoked']],
};

export function exitCodeRows(commandId: string): Array<[string, string]> {
  const rows: Array<[number | string, string]> = [...etcdctlExitCodes, ...(commandExitCodes[commandId] ?? [])];
  return rows.map(([code, meaning]) => [String(code), meaning]);
}

export default class EtcdtsHelp extends Help {
  protected override formatCommand(command: Command.Loadable): string {
    return `${super.formatCommand(command)}\n\n${this.section('EXIT CODES', exitCodeRows(command.id))}`;
  }
}
