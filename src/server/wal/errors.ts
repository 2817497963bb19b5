/**
 * Typed operating errors of the WAL and the snapshot store. Each message is a
 * single line naming the file (and offset) so an operator reading a refused
 * start knows exactly which file to inspect.
 */

export class WalError extends Error {
  override name = 'WalError';
}

/**
 * The WAL holds damage that is not a torn unsynced tail: refusing to start is
 * the only safe answer, since guessing could drop or invent acknowledged
 * writes. `offset` is the byte offset of the first bad record in `file`.
 */
export class WalCorruptError extends WalError {
  override name = 'WalCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt WAL file ${file} at offset ${offset}: ${oneLine(reason)}`);
  }
}

/** Wal.create on a directory that already holds a WAL. */
export class WalExistsError extends WalError {
  override name = 'WalExistsError';
  constructor(readonly dir: string) {
    super(`wal: a WAL already exists in ${dir}`);
  }
}

/** Wal.open on a directory without WAL segments, or none covering the requested snapshot. */
export class WalNotFoundError extends WalError {
  override name = 'WalNotFoundError';
  constructor(readonly dir: string, detail: string) {
    super(`wal: ${oneLine(detail)} in ${dir}`);
  }
}

/** The snapshot the caller recovers from has no matching marker record in the WAL. */
export class WalSnapshotNotFoundError extends WalError {
  override name = 'WalSnapshotNotFoundError';
  constructor(readonly dir: string, readonly index: bigint, readonly term: bigint, detail = '') {
    super(
      `wal: snapshot marker {index ${index}, term ${term}} not found in ${dir}` +
        (detail === '' ? '' : ` (${oneLine(detail)})`),
    );
  }
}

/** Another live process (or another Wal in this process) holds the WAL directory. */
export class WalLockedError extends WalError {
  override name = 'WalLockedError';
  constructor(readonly dir: string, readonly pid: number) {
    super(`wal: ${dir} is locked by process ${pid}`);
  }
}

/** A record too large for any reader to accept (walRecordBytesMax). Nothing was written. */
export class WalRecordTooLargeError extends WalError {
  override name = 'WalRecordTooLargeError';
  constructor(readonly bytes: number, readonly max: number) {
    super(`wal: record of ${bytes} bytes exceeds the limit of ${max} bytes`);
  }
}

/**
 * The WAL was closed, or an earlier write or fsync failed. After a failed
 * fsync the kernel may have dropped the dirty pages, so retrying could report
 * success for data that is gone: every later call fails with this error.
 */
export class WalClosedError extends WalError {
  override name = 'WalClosedError';
  constructor(readonly dir: string, readonly failure?: unknown) {
    super(
      failure === undefined
        ? `wal: ${dir} is closed`
        : `wal: ${dir} failed earlier and accepts no more writes: ${oneLine(String(failure))}`,
    );
  }
}

/** A snapshot file that cannot be trusted (bad CRC, truncated, wrong name). */
export class SnapshotCorruptError extends WalError {
  override name = 'SnapshotCorruptError';
  constructor(readonly file: string, readonly reason: string) {
    super(`snap: corrupt snapshot file ${file}: ${oneLine(reason)}`);
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
