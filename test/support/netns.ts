import type { SpawnOptions } from 'node:child_process';
import { portOpen } from './etcdts.js';
import { kill9, run, start, waitFor, type RunResult, type Spawned } from './procs.js';

/**
 * A place where 127.0.0.1:2379, etcd's default client port, is certainly
 * ours: tests of what etcdts does with no flags at all must not depend on
 * whether something on the machine already serves that port.
 *
 * As root, a private network namespace (`unshare -n`, loopback brought up
 * with `ip`) holds the test's processes, entered with `nsenter`; nothing
 * else can be listening there. Without root, the host's network is used if
 * the port is free, and the test fails, saying why, if it is not: a test
 * that cannot run must not pass as skipped.
 */
export interface DefaultPortNetwork {
  /** Where the processes run: "a private network namespace" or "the host network". */
  readonly where: string;
  start(command: string, args: string[], options?: SpawnOptions): Spawned;
  run(command: string, args: string[], options?: SpawnOptions & { input?: string; timeoutMs?: number }): Promise<RunResult>;
  portOpen(port: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function defaultPortNetwork(): Promise<DefaultPortNetwork> {
  if (process.getuid?.() === 0) return privateNamespace();
  if (await portOpen(2379)) {
    throw new Error('127.0.0.1:2379 is in use on this machine and the test is not root, so it cannot get a private network namespace (unshare -n): stop what serves 2379, or run the tests as root');
  }
  return {
    where: 'the host network',
    start: (command, args, options) => start(command, args, options),
    run: (command, args, options) => run(command, args, options),
    portOpen,
    close: async () => undefined,
  };
}

async function privateNamespace(): Promise<DefaultPortNetwork> {
  // The holder keeps the namespace alive while the test enters it; `ip link set lo up` gives it 127.0.0.1.
  const holder = start('unshare', ['-n', 'sh', '-c', 'ip link set lo up && echo ready && exec sleep 3600']);
  await waitFor('a private network namespace', () => {
    if (holder.child.exitCode !== null) throw new Error(`unshare -n failed: ${holder.output()}`);
    return holder.output().includes('ready');
  }, 10_000, 20);
  const enter = (command: string, args: string[]): [string, string[]] => ['nsenter', ['-t', String(holder.pid), '-n', command, ...args]];
  const probe = `require('net').connect(Number(process.argv[1]), '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`;
  return {
    where: 'a private network namespace',
    start: (command, args, options) => start(...enter(command, args), options),
    run: (command, args, options) => run(...enter(command, args), options),
    portOpen: async (port) => (await run(...enter(process.execPath, ['-e', probe, String(port)]), { timeoutMs: 10_000 })).code === 0,
    close: () => kill9(holder),
  };
}
