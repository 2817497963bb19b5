import { isatty } from 'node:tty';
import type { ClientOptions } from '../../client/options.js';
import { badArgs, CliError, ExitCode } from '../errors.js';
import type { FlagSpec } from '../flags/flag-spec.js';
import type { ParsedFlags } from '../flags/parser.js';
import { clientOptionsFromFlags, needsPasswordPrompt } from '../global-flags.js';
import { BufferBytes, FdBytes, goTrimSpace, readPasswordLine, scanPasswordWord } from './password-input.js';

/**
 * Where passwords come from when they are not on the command line. On a
 * terminal: a hidden prompt (@inquirer/prompts), written to stderr so that
 * `etcdts --user root get k > out` keeps the prompt out of `out` (etcdctl
 * writes it to stdout). Anywhere else: standard input, read as etcdctl reads
 * it (see password-input.ts), with no prompt, so a script never waits on a
 * question nobody sees. Like etcdctl, surrounding white space is dropped.
 */
export function stdinIsTerminal(): boolean {
  return isatty(0);
}

/** A password: asked on the terminal without echo, else the next line of standard input. */
export async function askPassword(message: string): Promise<string> {
  if (!stdinIsTerminal()) return readPasswordLine(new FdBytes(0));
  return goTrimSpace(Buffer.from(await promptHidden(message))).toString('utf8');
}

/** The hidden prompt. Nothing typed is shown, and it cannot be revealed (no ctrl+t toggle). */
async function promptHidden(message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  try {
    return await password({ message, mask: false, toggleMask: false }, { output: process.stderr });
  } catch (err) {
    if (err instanceof Error && err.name === 'ExitPromptError') throw new CliError('interrupted', ExitCode.interrupted);
    throw err;
  }
}

/**
 * etcdctl's readPasswordInteractive (`user add`, `user passwd`): the new
 * password twice. An empty password and two different ones are bad
 * arguments (exit 128), with etcdctl's messages.
 */
export async function askNewPassword(name: string): Promise<string> {
  const first = await askPassword(`Password of ${name}:`);
  if (first === '') throw badArgs('empty password');
  const second = await askPassword(`Type password of ${name} again for confirmation:`);
  if (first !== second) throw badArgs('given passwords are different');
  return first;
}

/**
 * `--interactive=false`: the first word of standard input (fmt.Scanf("%s")),
 * empty when there is none. On a terminal etcdctl would echo what is typed;
 * we ask once with the hidden prompt and take the first word of the answer.
 */
export async function readPasswordWord(name: string): Promise<string> {
  if (!stdinIsTerminal()) return scanPasswordWord(new FdBytes(0));
  return scanPasswordWord(new BufferBytes(Buffer.from(await promptHidden(`Password of ${name}:`))));
}

/** etcdctl's --interactive of `user add` and `user passwd`. */
export const interactiveFlagSpec: FlagSpec = {
  name: 'interactive',
  kind: 'bool',
  defaultText: 'true',
  description: 'Ask for the password twice (hidden on a terminal, a line each from stdin otherwise); false: read one word from stdin',
};

/** The new password of `user add` and `user passwd`: asked twice, or with `--interactive=false` one word of stdin. */
export function readNewPassword(name: string, interactive: boolean): Promise<string> {
  return interactive ? askNewPassword(name) : readPasswordWord(name);
}

/** The client options of the global flags, asking for the password of `--user name` when none is given. */
export async function clientOptionsWithPassword(flags: ParsedFlags): Promise<ClientOptions> {
  const password = needsPasswordPrompt(flags) ? await askPassword('Password:') : undefined;
  return clientOptionsFromFlags(flags, password);
}
