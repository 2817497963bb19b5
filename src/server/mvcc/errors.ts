import { OperatingError } from '../operating-error.js';

/** Typed MVCC errors; src/server/api/grpc-errors.ts maps them to etcd's wire errors. */

export class CompactedError extends OperatingError {
  constructor() {
    super('mvcc: required revision has been compacted');
  }
}

export class FutureRevisionError extends OperatingError {
  constructor() {
    super('mvcc: required revision is a future revision');
  }
}

/** A compaction already happened at or above the requested revision. */
export class CompactedAlreadyError extends CompactedError {}
