import { fork } from 'node:child_process';
import { open } from 'node:fs/promises';
import { CliError, ExitCode } from '../errors.js';
import type { SnapshotStatus } from './reports.js';

/**
 * The offline snapshot commands (status, restore) call the server's
 * snapshot-file functions, which open the database with LMDB, a native
 * library: a file that is not an LMDB database, or one that was damaged
 * past the hash check (--skip-hash-check), can crash the process instead
 * of raising an error. So the file's first page is checked here, and the
 * work runs in a child process; a crash there becomes one error line.
 */
const bboltMagic = 0xed0cdaed;
const lmdbMagic = 0xbeefc0de;

/** Refuses a file that is not an etcdts (LMDB) snapshot, naming what it is when we know. */
export async function checkSnapshotKind(path: string): Promise<void> {
  const head = Buffer.alloc(32);
  const file = await open(path, 'r');
  let read: number;
  try {
    ({ bytesRead: read } = await file.read(head, 0, head.length, 0));
  } finally {
    await file.close();
  }
  if (read >= 20 && head.readUInt32LE(16) === bboltMagic) {
    throw new CliError(`${path} is an etcd (bbolt) snapshot, not an etcdts one: to move data from etcd to etcdts, use make-mirror`, ExitCode.error);
  }
  if (read < 28 || head.readUInt32LE(24) !== lmdbMagic) throw new CliError(`${path} is not an etcdts snapshot (no database header)`, ExitCode.error);
}

export type OfflineRequest =
  | { kind: 'status'; path: string }
  | { kind: 'restore'; options: import('../../server/snapshot/snapshot-file.js').RestoreOptions };

export type OfflineReply<K extends OfflineRequest['kind']> = K extends 'status'
  ? SnapshotStatus
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
