import { fork } from 'node:child_process';
import { open } from 'node:fs/promises';
import { CliError, ExitCode } from '../errors.js';
import type { SnapshotStatus } from './reports.js';

/**
 * The offline snapshot commands (status, restore, export) call the
 * server's snapshot-file functions, which open our databases with LMDB, a
 * native library: a file that is not an LMDB database, or one that was
 * damaged past the hash check (--skip-hash-check), can crash the process
 * instead of raising an error. So the file's first page is checked here,
 * and the work runs in a child process; a crash there becomes one error
 * line. etcd's (bbolt) files are read by our own code, which refuses a bad
 * file with an error, never a crash.
 */
const bboltMagic = 0xed0cdaed;
const lmdbMagic = 0xbeefc0de;

/** Which snapshot a file is: etcd's (bbolt) or ours (LMDB); anything else is refused with one line. */
export async function checkSnapshotKind(path: string): Promise<'etcd' | 'etcdts'> {
  const head = Buffer.alloc(32);
  const file = await open(path, 'r');
  let read: number;
  try {
    ({ bytesRead: read } = await file.read(head, 0, head.length, 0));
  } finally {
    await file.close();
  }
  if (read >= 20 && head.readUInt32LE(16) === bboltMagic) return 'etcd';
  if (read < 28 || head.readUInt32LE(24) !== lmdbMagic) throw new CliError(`${path} is not an etcd or etcdts snapshot (no database header)`, ExitCode.error);
  return 'etcdts';
}

export type OfflineRequest =
  | { kind: 'status'; path: string }
  | { kind: 'restore'; options: import('../../server/snapshot/snapshot-file.js').RestoreOptions }
  | { kind: 'export'; path: string; dest: string; skipHashCheck: boolean };

export type OfflineReply<K extends OfflineRequest['kind']> = K extends 'status'
  ? SnapshotStatus
  : K extends 'export'
    ? { bytes: number; revision: bigint }
    : import('../../server/snapshot/snapshot-file.js').RestoreResult;

/** Runs one snapshot-file function in a child process; its error, or its crash, is one CliError line. */
export function runOffline<R extends OfflineRequest>(request: R): Promise<OfflineReply<R['kind']>> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./offline-worker.js', import.meta.url), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    child.on('message', (reply: { ok?: OfflineReply<R['kind']>; error?: string }) => {
      settle(() => (reply.error !== undefined ? reject(new CliError(firstLine(reply.error), ExitCode.error)) : resolve(reply.ok!)));
    });
    child.on('error', (err) => settle(() => reject(err)));
    // 'close' comes after every message the child sent, unlike 'exit'.
    child.on('close', (code, signal) => {
      const how = signal !== null ? `crashed with ${signal}` : `exited with code ${code}`;
      settle(() => reject(new CliError(`the snapshot database could not be read (the reader ${how}): the file is corrupt`, ExitCode.error)));
    });
    child.send(request);
  });
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
