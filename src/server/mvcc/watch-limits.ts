import assert from 'node:assert/strict';

/**
 * The limits of the watch machinery (style.md §12), kept beside it until the
 * lead folds them into src/server/constants.ts. Units are last in the names.
 */
export interface WatchLimits {
  /**
   * Bytes of responses a stream may have waiting for its client before the
   * store stops queueing live events for it: its watchers that would receive
   * more are moved to the unsynced group and catch up later from the backend.
   * This is what bounds server memory for a client that does not read.
   */
  streamQueueBytesMax: number;
  /**
   * A stream takes catch-up batches only while less than this much is queued,
   * so that a slow client alternates between draining and refilling instead
   * of flapping at the cap on every write.
   */
  streamCatchUpBelowBytes: number;
  /** Revisions read from the backend in one catch-up batch (etcd watchBatchMaxRevs). */
  catchUpRevisionsMax: number;
  /** Bytes of stored records read in one catch-up batch; a batch always ends on a revision boundary. */
  catchUpBytesMax: number;
  /**
   * Stored records read in one catch-up batch. A round runs on the event
   * loop between apply batches, so this bounds how long it can delay them
   * (about 20-60 µs per record with prev_kv on a 2-core machine).
   */
  catchUpRecordsMax: number;
  /** Unsynced watchers considered in one catch-up round (etcd maxWatchersPerSync). */
  syncWatchersMax: number;
}

export const watchLimitsDefault: Readonly<WatchLimits> = Object.freeze({
  streamQueueBytesMax: 8 * 1024 * 1024,
  streamCatchUpBelowBytes: 4 * 1024 * 1024,
  catchUpRevisionsMax: 1_000,
  catchUpBytesMax: 1024 * 1024,
  catchUpRecordsMax: 512,
  syncWatchersMax: 512,
});

/** etcd's default --experimental-watch-progress-notify-interval (10 minutes). */
export const watchProgressNotifyIntervalMsDefault = 10 * 60 * 1000;

/** etcd raises a shorter progress notify interval to this minimum. */
export const watchProgressNotifyIntervalMsMin = 100;

/** The relations between the limits that the design relies on. */
export function checkWatchLimits(limits: WatchLimits): void {
  assert.ok(limits.streamQueueBytesMax > 0, 'streamQueueBytesMax must be positive');
  assert.ok(limits.streamCatchUpBelowBytes > 0 && limits.streamCatchUpBelowBytes <= limits.streamQueueBytesMax,
    'a stream must be able to take catch-up batches below its queue cap');
  assert.ok(limits.catchUpRevisionsMax >= 1, 'a catch-up batch must cover at least one revision');
  assert.ok(limits.catchUpBytesMax >= 1, 'catchUpBytesMax must be positive');
  assert.ok(limits.catchUpRecordsMax >= 1, 'catchUpRecordsMax must be positive');
  assert.ok(limits.syncWatchersMax >= 1, 'a catch-up round must consider at least one watcher');
}

checkWatchLimits(watchLimitsDefault);
