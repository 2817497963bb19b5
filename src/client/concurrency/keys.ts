import { RangeRequest_SortOrder, RangeRequest_SortTarget } from '../../proto/gen/etcdserverpb/rpc.js';
import type { ResponseHeader } from '../../proto/gen/etcdserverpb/rpc.js';
import type { Client } from '../client.js';
import { CanceledError, CompactedError } from '../errors.js';
import { toBuffer, type Bytes } from '../keys.js';
import type { GetOptions } from '../kv.js';
import { Event_EventType } from '../../proto/gen/mvccpb/kv.js';
import { LostWatcherError } from './errors.js';

/** `<prefix>/`: the directory of a lock's or election's keys. */
export function keyDirectory(name: Bytes): Buffer {
  return Buffer.concat([toBuffer(name), Buffer.from('/')]);
}

/** A session's key in a directory: the lease id in hex, as Go's %x prints an int64. */
export function sessionKey(directory: Buffer, lease: bigint): Buffer {
  return Buffer.concat([directory, Buffer.from(BigInt.asIntN(64, lease).toString(16))]);
}

/** The oldest key of a directory (clientv3's WithFirstCreate). */
export const firstCreate: GetOptions = {
  prefix: true,
  sortTarget: RangeRequest_SortTarget.CREATE,
  sortOrder: RangeRequest_SortOrder.ASCEND,
  limit: 1n,
};

/** The newest key of a directory (clientv3's WithLastCreate). */
export const lastCreate: GetOptions = {
  prefix: true,
  sortTarget: RangeRequest_SortTarget.CREATE,
  sortOrder: RangeRequest_SortOrder.DESCEND,
  limit: 1n,
};

/**
 * Waits until no key of `directory` created at or before `maxCreateRevision`
 * remains: the waiters ahead in the queue. It watches only the newest of
 * them, the one just ahead, so a release wakes exactly one waiter (no
 * thundering herd); when that key goes, it looks again, because the one
 * ahead of it may still be there. Resolves with the header of the last look.
 */
export async function waitDeletes(
  client: Client,
  directory: Buffer,
  maxCreateRevision: bigint,
  signal?: AbortSignal,
): Promise<ResponseHeader> {
  for (;;) {
    const response = await client.kv.get(directory, { ...lastCreate, maxCreateRevision, signal });
    const ahead = response.kvs[0];
    if (ahead === undefined) return response.header!;
    await waitDelete(client, ahead.key, response.header!.revision, signal);
  }
}

/** Waits for a delete of `key` at or after `revision`. */
async function waitDelete(client: Client, key: Buffer, revision: bigint, signal?: AbortSignal): Promise<void> {
  const watcher = client.watch(key, { startRevision: revision, signal });
  try {
    for (;;) {
      const response = await watcher.next();
      if (response === undefined) break;
      if (response.events.some((e) => e.type === Event_EventType.DELETE)) return;
    }
  } catch (err) {
    // The revision was compacted before the watch began: look again instead.
    if (err instanceof CompactedError) return;
    throw err;
  } finally {
    watcher.cancel();
  }
  if (signal?.aborted === true) throw new CanceledError();
  throw new LostWatcherError();
}
