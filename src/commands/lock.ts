import { constants } from 'node:os';
import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { CoordinationError, CoordinationExit } from '../cli/coordination/exit-codes.js';
import { lostMessage, runWhileHeld } from '../cli/coordination/held-command.js';
import { onStopSignal, type StopSignal } from '../cli/coordination/signals.js';
import { badArgs, CliError, ExitCode } from '../cli/errors.js';
import type { FlagSpec } from '../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { nanosToMs } from '../cli/global-flags.js';
import { goFormatDuration } from '../cli/go/duration.js';
import { goQuote } from '../cli/go/quote.js';
import type { Printer } from '../cli/printers/index.js';
import type { Client } from '../client/client.js';
import type { KeepAliveEnd } from '../client/lease.js';
import type { Mutex } from '../client/concurrency/mutex.js';

const lockFlagSpecs: readonly FlagSpec[] = [
  { name: 'ttl', kind: 'int64', defaultText: '10', description: 'timeout for session: seconds the lock outlives a holder that crashed or lost the cluster' },
  { name: 'timeout', kind: 'duration', defaultText: '0s', description: 'give up waiting for the lock after this long, with exit code 124 (0: wait forever)' },
  { name: 'kill-after', kind: 'duration', defaultText: '5s', description: 'when the lock is lost, SIGKILL the command this long after SIGTERM' },
];

export default class Lock extends EtcdCommand {
  static override summary = 'Acquires a named lock';
  static override description = `Acquires the lock <lockname>, then either prints the lock's key and holds the lock until
interrupted (SIGINT/SIGTERM release it, exit 0), or runs the command while holding it.

The command runs without a shell, with ETCD_LOCK_KEY (the lock's key) and ETCD_LOCK_REV (the
fencing token: the revision at which the lock was acquired, higher than every earlier holder's)
in its environment. When it exits the lock is released and lock exits with the command's exit
code. SIGINT and SIGTERM are passed on to the command.

The lock is held under a session: a lease of --ttl seconds (default 10) kept alive in the
background. If the session is lost (the lease expired, or could not be renewed within its TTL
because the cluster was unreachable), others may take the lock: the command gets SIGTERM
(SIGKILL after --kill-after), a one-line "Error: lock lost: ..." goes to stderr, and lock
exits 125. A protected resource must still check the fencing token: a lock based on a lease
cannot stop a holder that was paused past its TTL.

Exit codes: the command's own; 124 gave up waiting (--timeout); 125 lock lost; 126 the command
could not be executed; 127 command not found; 128+n the command died of signal n (or lock was
interrupted by signal n while waiting); 1 and 2 errors before the lock was held; 128 bad usage.`;
  static override usage = 'lock <lockname> [exec-command arg1 arg2 ...]';
  static override examples = [
    '<%= config.bin %> lock backup -- /usr/local/bin/backup.sh',
    '<%= config.bin %> lock --ttl 30 --timeout 10m nightly-report -- sh -c \'report --fencing-token "$ETCD_LOCK_REV"\'',
    '<%= config.bin %> lock maintenance    # prints the lock key, holds it until Ctrl-C',
  ];
  static override commandFlags = lockFlagSpecs;
  static override flags = oclifFlags(lockFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length === 0) throw badArgs('lock takes a lock name argument and an optional command to execute');
    const [name, ...command] = args as [string, ...string[]];
    const ttl = flags.bigint('ttl');
    if (ttl <= 0n || ttl > 9_000_000_000n) throw badArgs(`--ttl must be a positive number of seconds, got ${ttl}`);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const { Session } = await import('../client/concurrency/session.js');
    const { Mutex } = await import('../client/concurrency/mutex.js');
    const session = await Session.create(client, { ttl: Number(ttl) });
    const mutex = new Mutex(session, name);
    const acquired = await this.acquire(mutex, name, flags);
    if (typeof acquired === 'string') {
      await this.release(mutex, flags);
      process.exitCode = CoordinationExit.signalBase + (constants.signals[acquired] ?? 0);
      return;
    }
    if (command.length === 0) await this.hold(client, mutex, printer, flags);
    else await this.runHolding(mutex, command, flags);
  }

  /**
   * Waits for the lock, until it is ours, --timeout passes, a stop signal
   * arrives (resolves with its name) or the session is lost while waiting.
   * Whatever ends the wait early, our place in the queue is given up.
   */
  private async acquire(mutex: Mutex, name: string, flags: ParsedFlags): Promise<true | StopSignal> {
    const controller = new AbortController();
    let why: StopSignal | 'timeout' | 'lost' | undefined;
    const stop = (reason: typeof why): void => {
      why ??= reason;
      controller.abort();
    };
    const timeoutMs = nanosToMs(flags.bigint('timeout'));
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), timeoutMs);
    const dispose = onStopSignal((signal) => stop(signal));
    void mutex.session.done.then((end) => end.reason !== 'closed' && stop('lost'));
    try {
      await mutex.lock({ signal: controller.signal });
      return true;
    } catch (err) {
      await this.release(mutex, flags);
      if (why === 'timeout') {
        const waited = goFormatDuration(flags.bigint('timeout'));
        throw new CoordinationError(`timed out after ${waited} waiting for lock ${goQuote(name)}`, CoordinationExit.lockTimeout);
      }
      if (why === 'SIGINT' || why === 'SIGTERM') return why;
      if (why === 'lost') throw new CliError(`session expired while waiting for lock ${goQuote(name)}`, ExitCode.error);
      throw err;
    } finally {
      clearTimeout(timer);
      dispose();
    }
  }

  /** No command: print the key, hold the lock until a stop signal (release, exit 0) or its loss (exit 125). */
  private async hold(client: Client, mutex: Mutex, printer: Printer, flags: ParsedFlags): Promise<void> {
    let dispose = (): void => undefined;
    const stopped = new Promise<StopSignal>((resolve) => {
      dispose = onStopSignal(resolve);
    });
    let outcome: StopSignal | KeepAliveEnd;
    try {
      const key = await client.kv.get(mutex.key!, this.callOptions(flags));
      if (key.kvs.length === 0) throw new CliError('lock lost on init', ExitCode.error);
      printer.get(key);
      this.stdout.flush();
      outcome = await Promise.race([stopped, mutex.session.done]);
    } finally {
      dispose();
    }
    if (typeof outcome === 'string' || outcome.reason === 'closed') {
      await this.release(mutex, flags, true);
      return;
    }
    void mutex.session.close({ timeoutMs: 1000 }).catch(() => undefined);
    throw new CoordinationError(lostMessage('lock', mutex.session, outcome), CoordinationExit.lost);
  }

  /** Runs the command while holding the lock; releases the lock when it exits and passes on its exit code. */
  private async runHolding(mutex: Mutex, command: string[], flags: ParsedFlags): Promise<void> {
    this.stdout.flush();
    const { end, lost } = await runWhileHeld({
      session: mutex.session,
      command,
      env: { ETCD_LOCK_KEY: mutex.key!.toString('utf8'), ETCD_LOCK_REV: mutex.header!.revision.toString() },
      killAfterMs: nanosToMs(flags.bigint('kill-after')) ?? 0,
      what: 'lock',
      report: (line) => {
        this.stderr.write(`${line}\n`);
        this.stderr.flush();
      },
    });
    if (lost) {
      void mutex.session.close({ timeoutMs: 1000 }).catch(() => undefined);
      process.exitCode = CoordinationExit.lost;
      return;
    }
    if (end.exitCode === CoordinationExit.commandNotFound || end.exitCode === CoordinationExit.cannotExecute) {
      this.stderr.write(`Error: ${end.description}\n`);
    }
    await this.release(mutex, flags, end.exitCode === 0);
    process.exitCode = end.exitCode;
  }

  /** Deletes the lock key and revokes the session; failures matter only when `strict` (then the lease's TTL frees the lock). */
  private async release(mutex: Mutex, flags: ParsedFlags, strict = false): Promise<void> {
    const options = this.callOptions(flags);
    try {
      await mutex.unlock(options);
      await mutex.session.close(options);
    } catch (err) {
      mutex.session.orphan();
      if (strict) throw err;
    }
  }
}

