import { constants } from 'node:os';
import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { CoordinationError, CoordinationExit } from '../cli/coordination/exit-codes.js';
import { splitExecArgs } from '../cli/coordination/exec-args.js';
import { lostMessage, runWhileHeld } from '../cli/coordination/held-command.js';
import { onStopSignal, type StopSignal } from '../cli/coordination/signals.js';
import { badArgs, CliError, ExitCode } from '../cli/errors.js';
import type { FlagSpec } from '../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { nanosToMs } from '../cli/global-flags.js';
import type { Printer } from '../cli/printers/index.js';
import type { Client } from '../client/client.js';
import type { Election } from '../client/concurrency/election.js';
import type { KeepAliveEnd } from '../client/lease.js';

const electFlagSpecs: readonly FlagSpec[] = [
  { name: 'listen', short: 'l', kind: 'bool', defaultText: 'false', description: 'observation mode' },
  { name: 'ttl', kind: 'int64', defaultText: '60', description: 'timeout for session: seconds the leadership outlives a leader that crashed or lost the cluster' },
  { name: 'kill-after', kind: 'duration', defaultText: '5s', description: 'when leadership is lost, SIGKILL the command this long after SIGTERM' },
];

export default class Elect extends EtcdCommand {
  static override summary = 'Observes and participates in leader election';
  static override description = `Campaigns in the election <election-name> with <proposal> as the value, prints the leader
key and value once elected, and stays leader until interrupted (SIGINT/SIGTERM resign, exit 0).
With -l, prints the leader and then every change of leader or proclamation, in order.

With "-- command args" the command runs while this process is the leader, with ETCD_LEADER_KEY
and ETCD_LEADER_REV (the leader key's create revision, higher for every later leader: a fencing
token) in its environment; when it exits, elect resigns and exits with its exit code.

Leadership is held under a session: a lease of --ttl seconds (default 60, as etcdctl) kept alive
in the background. If it is lost (expired, or not renewed within its TTL because the cluster was
unreachable), a one-line "Error: leadership lost: ..." goes to stderr, the command (if any) gets
SIGTERM (SIGKILL after --kill-after), and elect exits 125. Other exit codes as for lock.`;
  static override usage = 'elect <election-name> [proposal] [-- command args...]';
  static override examples = [
    '<%= config.bin %> elect scheduler "$(hostname)"',
    '<%= config.bin %> elect -l scheduler',
    '<%= config.bin %> elect --ttl 10 scheduler "$(hostname)" -- /usr/local/bin/scheduler --active',
  ];
  static override commandFlags = electFlagSpecs;
  static override flags = oclifFlags(electFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    const { own, exec } = splitExecArgs(this.argv, args);
    if (own.length !== 1 && own.length !== 2) throw badArgs('elect takes one election name argument and an optional proposal argument');
    const listen = flags.bool('listen');
    if (own.length === 1 && !listen) throw badArgs('no proposal argument but -l not set');
    if (own.length === 2 && listen) throw badArgs('proposal given but -l is set');
    const ttl = flags.bigint('ttl');
    if (ttl <= 0n || ttl > 9_000_000_000n) throw badArgs(`--ttl must be a positive number of seconds, got ${ttl}`);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const { Election } = await import('../client/concurrency/election.js');
    if (listen) {
      await this.observe(new Election(client, own[0]!), printer);
      return;
    }
    const { Session } = await import('../client/concurrency/session.js');
    const session = await Session.create(client, { ttl: Number(ttl) });
    const election = new Election(session, own[0]!);
    const stopped = await this.campaign(election, own[1]!, flags);
    if (stopped !== undefined) {
      process.exitCode = CoordinationExit.signalBase + (constants.signals[stopped] ?? 0);
      return;
    }
    if (exec.length === 0) await this.lead(client, election, printer, flags);
    else await this.runLeading(client, election, printer, exec, flags);
  }

  /** Prints every leadership until interrupted. */
  private async observe(election: Election, printer: Printer): Promise<void> {
    const controller = new AbortController();
    const dispose = onStopSignal(() => controller.abort());
    try {
      for await (const { header, kv } of election.observe({ signal: controller.signal })) {
        printer.get({ header, kvs: [kv], more: false, count: 0n });
        this.stdout.flush();
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    } finally {
      dispose();
    }
    if (!controller.signal.aborted) throw new CliError('elect: observer lost', ExitCode.error);
  }

  /** Campaigns until elected (undefined) or interrupted (the signal); a lost session while campaigning is an error. */
  private async campaign(election: Election, proposal: string, flags: ParsedFlags): Promise<StopSignal | undefined> {
    const session = election.session!;
    const controller = new AbortController();
    let why: StopSignal | 'lost' | undefined;
    const dispose = onStopSignal((signal) => {
      why ??= signal;
      controller.abort();
    });
    void session.done.then((end) => {
      if (end.reason === 'closed') return;
      why ??= 'lost';
      controller.abort();
    });
    try {
      await election.campaign(proposal, { signal: controller.signal });
      return undefined;
    } catch (err) {
      await session.close(this.callOptions(flags)).catch(() => session.orphan());
      if (why === 'SIGINT' || why === 'SIGTERM') return why;
      if (why === 'lost') throw new CliError('elect: session expired', ExitCode.error);
      throw err;
    } finally {
      dispose();
    }
  }

  /** Prints the leader key and value, then leads until a stop signal (resign, exit 0) or the session's loss (exit 125). */
  private async lead(client: Client, election: Election, printer: Printer, flags: ParsedFlags): Promise<void> {
    const session = election.session!;
    let dispose = (): void => undefined;
    const stopped = new Promise<StopSignal>((resolve) => {
      dispose = onStopSignal(resolve);
    });
    let outcome: StopSignal | KeepAliveEnd;
    try {
      await this.printLeader(client, election, printer, flags);
      outcome = await Promise.race([stopped, session.done]);
    } finally {
      dispose();
    }
    if (typeof outcome === 'string' || outcome.reason === 'closed') {
      await this.resign(election, flags, true);
      return;
    }
    throw new CoordinationError(lostMessage('leadership', session, outcome), CoordinationExit.lost);
  }

  private async runLeading(client: Client, election: Election, printer: Printer, command: string[], flags: ParsedFlags): Promise<void> {
    await this.printLeader(client, election, printer, flags);
    const { end, lost } = await runWhileHeld({
      session: election.session!,
      command,
      env: { ETCD_LEADER_KEY: election.key!.toString('utf8'), ETCD_LEADER_REV: election.revision.toString() },
      killAfterMs: nanosToMs(flags.bigint('kill-after')) ?? 0,
      what: 'leadership',
      report: (line) => {
        this.stderr.write(`${line}\n`);
        this.stderr.flush();
      },
    });
    if (lost) {
      process.exitCode = CoordinationExit.lost;
      return;
    }
    if (end.exitCode === CoordinationExit.commandNotFound || end.exitCode === CoordinationExit.cannotExecute) {
      this.stderr.write(`Error: ${end.description}\n`);
    }
    await this.resign(election, flags, end.exitCode === 0);
    process.exitCode = end.exitCode;
  }

  private async printLeader(client: Client, election: Election, printer: Printer, flags: ParsedFlags): Promise<void> {
    const leader = await client.kv.get(election.key!, this.callOptions(flags));
    printer.get(leader);
    this.stdout.flush();
  }

  /** Resigns and revokes the session; failures matter only when `strict` (then the lease's TTL ends the leadership). */
  private async resign(election: Election, flags: ParsedFlags, strict: boolean): Promise<void> {
    const options = this.callOptions(flags);
    try {
      await election.resign(options);
      await election.session!.close(options);
    } catch (err) {
      election.session?.orphan();
      if (strict) throw err;
    }
  }
}
