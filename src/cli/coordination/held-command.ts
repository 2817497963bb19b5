import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Session } from '../../client/concurrency/session.js';
import type { KeepAliveEnd } from '../../client/lease.js';
import { leaseIdHex } from '../printers/simple.js';
import { CoordinationExit } from './exit-codes.js';
import { onStopSignal } from './signals.js';

/** How a command ended: the exit code to pass on, and Go's description of it (as etcdctl prints errors). */
export interface CommandEnd {
  exitCode: number;
  /** "exit status 3", "signal: terminated", `exec: "x": executable file not found in $PATH`; empty for success. */
  description: string;
}

/** Go's names for the signals a command is likely to die of (syscall.Signal.String()). */
const goSignalNames: Partial<Record<NodeJS.Signals, string>> = {
  SIGHUP: 'hangup',
  SIGINT: 'interrupt',
  SIGQUIT: 'quit',
  SIGILL: 'illegal instruction',
  SIGABRT: 'aborted',
  SIGKILL: 'killed',
  SIGSEGV: 'segmentation fault',
  SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock',
  SIGTERM: 'terminated',
  SIGUSR1: 'user defined signal 1',
  SIGUSR2: 'user defined signal 2',
};

/**
 * A command run on the user's behalf (`lock name -- cmd`, `elect name prop
 * -- cmd`, `watch key -- cmd`): its own argv (no shell), our stdout and
 * stderr, no stdin (as etcdctl, so a command inside a `while read` loop
 * cannot eat the loop's input), and the caller's environment plus `env`.
 */
export class HeldCommand {
  readonly ended: Promise<CommandEnd>;
  private readonly child: ChildProcess;
  private exited = false;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(argv: readonly string[], env: Record<string, string>) {
    const [file, ...args] = argv;
    this.child = spawn(file!, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    this.ended = new Promise((resolve) => {
      this.child.once('error', (err: NodeJS.ErrnoException) => {
        this.exited = true;
        resolve(spawnFailure(file!, err));
      });
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        clearTimeout(this.killTimer);
        resolve(exitOf(code, signal));
      });
    });
  }

  /** Passes a signal on (SIGINT, SIGTERM sent to us). */
  signal(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** SIGTERM now, SIGKILL after `killAfterMs` if the command is still running. */
  terminate(killAfterMs: number): void {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    this.killTimer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, killAfterMs);
  }
}

function exitOf(code: number | null, signal: NodeJS.Signals | null): CommandEnd {
  if (signal !== null) {
    const number = constants.signals[signal] ?? 0;
    return { exitCode: CoordinationExit.signalBase + number, description: `signal: ${goSignalNames[signal] ?? signal}` };
  }
  const exitCode = code ?? 0;
  return { exitCode, description: exitCode === 0 ? '' : `exit status ${exitCode}` };
}

function spawnFailure(file: string, err: NodeJS.ErrnoException): CommandEnd {
  if (err.code === 'ENOENT') {
    const description = file.includes('/')
      ? `fork/exec ${file}: no such file or directory`
      : `exec: ${JSON.stringify(file)}: executable file not found in $PATH`;
    return { exitCode: CoordinationExit.commandNotFound, description };
  }
  const reason = err.code === 'EACCES' ? 'permission denied' : err.message;
  return { exitCode: CoordinationExit.cannotExecute, description: `fork/exec ${file}: ${reason}` };
}

/** What runWhileHeld needs: the session the lock or leadership is held under, and where to report its loss. */
export interface HoldingRun {
  session: Session;
  command: readonly string[];
  env: Record<string, string>;
  /** After SIGTERM on loss, SIGKILL the command this much later. */
  killAfterMs: number;
  /** "lock" or "leadership": what is lost when the session is. */
  what: string;
  /** Writes one line to stderr at once (the loss is reported as it happens). */
  report(line: string): void;
}

/**
 * Runs a command while something is held under a session. Stop signals
 * (SIGINT, SIGTERM) are passed on to the command. If the session is lost
 * first, the loss is reported on the spot and the command is terminated;
 * `lost` then says the command's result cannot be trusted to have run under
 * the lock.
 */
export async function runWhileHeld(run: HoldingRun): Promise<{ end: CommandEnd; lost: boolean }> {
  const child = new HeldCommand(run.command, run.env);
  const dispose = onStopSignal((signal) => child.signal(signal));
  let lost = false;
  void run.session.done.then((end) => {
    if (end.reason === 'closed') return;
    lost = true;
    run.report(`Error: ${lostMessage(run.what, run.session, end)}; sent SIGTERM to the command`);
    child.terminate(run.killAfterMs);
  });
  try {
    const end = await child.ended;
    return { end, lost };
  } finally {
    dispose();
  }
}

/** The one line that tells a script what it lost, and why. */
export function lostMessage(what: string, session: Session, end: KeepAliveEnd): string {
  const lease = leaseIdHex(session.lease);
  const why = end.reason === 'expired'
    ? `the session's lease ${lease} expired or was revoked`
    : `the session's lease ${lease} could not be renewed within its TTL (${session.ttl}s): the cluster did not answer`;
  return `${what} lost: ${why}`;
}
