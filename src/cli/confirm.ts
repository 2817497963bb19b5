import { isatty } from 'node:tty';
import { CliError, ExitCode } from './errors.js';
import type { FlagSpec } from './flags/flag-spec.js';
import type { ParsedFlags } from './flags/parser.js';

/**
 * Confirmation before a destructive command (deleting every key, removing
 * a member, restoring over a used data dir, turning auth off, defragmenting
 * every member at once). A question is asked only when a person can answer
 * it: stdin and stderr both terminals (the question goes to stderr, so that
 * `> file` keeps it out of the output), and never with --yes. Anywhere else
 * the command does what etcdctl does, so a script never waits on a
 * question nobody sees and keeps working as written for etcdctl.
 */
export const yesFlagSpec: FlagSpec = { name: 'yes', kind: 'bool', defaultText: 'false', description: 'do not ask for confirmation on a terminal' };

export function canAsk(): boolean {
  return isatty(0) && isatty(2);
}

/**
 * Whether to go ahead: true with --yes; on a terminal, the answer (No
 * unless the person types yes); off a terminal, `offTerminal` (what etcdctl
 * would do). Ctrl-C at the question is an interruption (exit 5, as at a
 * password prompt).
 */
export async function confirmed(flags: ParsedFlags, question: string, offTerminal: boolean): Promise<boolean> {
  if (flags.bool('yes')) return true;
  if (!canAsk()) return offTerminal;
  const { confirm } = await import('@inquirer/prompts');
  try {
    return await confirm({ message: question, default: false }, { output: process.stderr });
  } catch (err) {
    if (err instanceof Error && err.name === 'ExitPromptError') throw new CliError('interrupted', ExitCode.interrupted);
    throw err;
  }
}

/** For commands that etcdctl runs without asking: goes on off a terminal, and fails with one line when the person says no. */
export async function confirmOrStop(flags: ParsedFlags, question: string, whatIsKept: string): Promise<void> {
  if (!(await confirmed(flags, question, true))) throw new CliError(`not confirmed: ${whatIsKept}`, ExitCode.error);
}
