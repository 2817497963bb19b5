import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';
import { loadHelpClass } from '@oclif/core/help';
import type * as Interfaces from '@oclif/core/interfaces';
import type { Client } from '../client/client.js';
import type { CallOptions } from '../client/options.js';
import { DeadlineExceededError, EtcdClientError, EtcdServerError } from '../client/errors.js';
import { CliError, ExitCode } from './errors.js';
import { connectionHint } from './connection-hint.js';
import type { FlagSpec } from './flags/flag-spec.js';
import { FlagParseError, parseCommandLine, type ParsedFlags } from './flags/parser.js';
import { clientOptionsWithPassword } from './auth/ask-password.js';
import { applyEnvironment, debugLines, globalFlagSpecs, nanosToMs } from './global-flags.js';
import { FdSink } from './output.js';
import { createPrinter, type Printer } from './printers/index.js';

/** oclif flag declarations for help output, generated from our flag specs. */
export function oclifFlags(specs: readonly FlagSpec[], helpGroup?: string): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {};
  for (const spec of specs) {
    const common = { description: spec.description, hidden: spec.hidden, helpGroup, char: spec.short };
    if (spec.kind === 'bool') {
      flags[spec.name] = Flags.boolean(common);
    } else {
      flags[spec.name] = Flags.string(spec.defaultText === '' ? common : { ...common, default: spec.defaultText });
    }
  }
  return flags;
}

/**
 * The base of every client command. It parses the command line itself, with
 * etcdctl's flag semantics and messages (oclif's declarations only feed the
 * help), applies the ETCDCTL_* variables, and turns every operating error
 * into one `Error: <message>` line on stderr and etcdctl's exit code. A
 * command implements execute(): validate its arguments, connect, call the
 * client, hand the response to the printer.
 */
export abstract class EtcdCommand extends Command {
  static override strict = false;
  static override baseFlags = oclifFlags(globalFlagSpecs, 'GLOBAL');
  /** This command's own flags (pflag semantics); the global ones are added. */
  static commandFlags: readonly FlagSpec[] = [];
  /** ETCDCTL_* variables this command reads besides the global flags (no "unrecognized" warning). */
  static extraEnv: readonly string[] = [];

  protected readonly stdout = new FdSink(1);
  protected readonly stderr = new FdSink(2);
  private client: Client | undefined;
  private debugEnabled = false;
  private parsedFlags: ParsedFlags | undefined;

  async run(): Promise<void> {
    this.parsed = true;
    // grpc-js passes IP addresses as TLS server names, which Node flags with a
    // deprecation warning on stderr; a CLI's stderr is for its own messages.
    (process as { noDeprecation?: boolean }).noDeprecation = true;
    const ctor = this.constructor as typeof EtcdCommand;
    const { flags, args, help } = parseCommandLine(this.argv, [...globalFlagSpecs, ...ctor.commandFlags]);
    if (help) {
      const Help = await loadHelpClass(this.config);
      await new Help(this.config).showHelp([this.id ?? '']);
      return;
    }
    this.parsedFlags = flags;
    const { warnings } = applyEnvironment(flags, process.env, ctor.extraEnv);
    for (const warning of warnings) this.stderr.write(`${warning}\n`);
    this.debugEnabled = flags.bool('debug');
    if (this.debugEnabled) for (const line of debugLines(flags)) this.stderr.write(`${line}\n`);
    this.stderr.flush();
    await this.execute(args, flags);
  }

  /** The command itself, with positional arguments and all flags parsed. */
  protected abstract execute(args: string[], flags: ParsedFlags): Promise<void>;

  /** The printer for -w/--write-out and --hex (etcdctl checks the format before connecting). */
  protected printer(flags: ParsedFlags): Promise<Printer> {
    return createPrinter(flags.string('write-out'), { hex: flags.bool('hex'), out: this.stdout });
  }

  /** Connects with the global flags (dial timeout, TLS, auth); the client is closed when the command ends. */
  protected async connect(flags: ParsedFlags): Promise<Client> {
    const options = await clientOptionsWithPassword(flags);
    const { Client } = await import('../client/client.js');
    try {
      this.client = await Client.connect(options);
    } catch (err) {
      // etcdctl exits with ExitBadConnection when creating its client fails.
      // clientv3 creates it without waiting for a connection, unless it must
      // authenticate first: then an unreachable cluster fails too. Without
      // credentials, an unreachable cluster only shows when the request
      // times out, and exits 1.
      const creating = err instanceof EtcdServerError || (options.username !== undefined && err instanceof EtcdClientError);
      if (creating) throw new CliError(describeError(err).message, ExitCode.badConnection);
      throw err;
    }
    return this.client;
  }

  /** Per-call options: the command timeout. */
  protected callOptions(flags: ParsedFlags): CallOptions {
    return { timeoutMs: nanosToMs(flags.bigint('command-timeout')) ?? 0 };
  }

  override async catch(err: Error & { exitCode?: number }): Promise<void> {
    this.stdout.flush();
    const { message, exitCode } = describeError(err);
    this.stderr.write(`Error: ${message}\n`);
    const flags = this.parsedFlags;
    const hint = flags === undefined ? undefined : connectionHint(err, flags.strings('endpoints'), flags.changed.has('endpoints') || (process.env.ETCDCTL_ENDPOINTS ?? '') !== '');
    if (hint !== undefined) this.stderr.write(`${hint}\n`);
    if (this.debugEnabled && err.stack !== undefined) this.stderr.write(`${err.stack}\n`);
    this.stderr.flush();
    process.exitCode = exitCode;
  }

  override async finally(err: Error | undefined): Promise<void> {
    this.client?.close();
    this.client = undefined;
    this.stdout.flush();
    this.stderr.flush();
    await super.finally(err);
  }
}

/** The message line and exit code for an error, by etcdctl's rules. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof FlagParseError) return { message: err.message, exitCode: ExitCode.error };
  if (err instanceof DeadlineExceededError && err.detail !== undefined && err.detail !== '') {
    return { message: `${err.message} (${err.detail})`, exitCode: ExitCode.error };
  }
  if (err instanceof EtcdClientError) return { message: err.message, exitCode: ExitCode.error };
  const message = err instanceof Error ? err.message : String(err);
  const exitCode = (err as { exitCode?: unknown }).exitCode;
  return { message, exitCode: typeof exitCode === 'number' && exitCode > 0 ? exitCode : ExitCode.error };
}
