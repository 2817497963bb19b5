import { OperatingError } from '../operating-error.js';

/**
 * Typed errors of the member and its request validation. Each maps to exactly
 * one etcd wire error in src/server/api/grpc-errors.ts; the message here is
 * for logs, the wire message comes from that table.
 */

export class EmptyKeyError extends OperatingError {
  constructor() {
    super('key is not provided');
  }
}

/** Put with ignore_value/ignore_lease on a missing key; also an empty op in a txn. */
export class KeyNotFoundError extends OperatingError {
  constructor() {
    super('key not found');
  }
}

export class ValueProvidedError extends OperatingError {
  constructor() {
    super('value is provided');
  }
}

export class LeaseProvidedError extends OperatingError {
  constructor() {
    super('lease is provided');
  }
}

export class TooManyOpsError extends OperatingError {
  constructor() {
    super('too many operations in txn request');
  }
}

export class DuplicateKeyError extends OperatingError {
  constructor() {
    super('duplicate key given in txn request');
  }
}

export class RequestTooLargeError extends OperatingError {
  constructor() {
    super('request is too large');
  }
}

export class TooManyRequestsError extends OperatingError {
  constructor() {
    super('too many requests');
  }
}

export class NoSpaceError extends OperatingError {
  constructor() {
    super('mvcc: database space exceeded');
  }
}

export class NoLeaderError extends OperatingError {
  constructor() {
    super('no leader');
  }
}

export class NotLeaderError extends OperatingError {
  constructor() {
    super('not leader');
  }
}

export class LeaderChangedError extends OperatingError {
  constructor() {
    super('leader changed');
  }
}

export class StoppedError extends OperatingError {
  constructor() {
    super('server stopped');
  }
}

export class TimeoutError extends OperatingError {
  constructor() {
    super('request timed out');
  }
}

export class TimeoutDueToLeaderFailError extends OperatingError {
  constructor() {
    super('request timed out, possibly due to previous leader failure');
  }
}

export class TimeoutDueToConnectionLostError extends OperatingError {
  constructor() {
    super('request timed out, possibly due to connection lost');
  }
}

export class UnhealthyError extends OperatingError {
  constructor() {
    super('unhealthy cluster');
  }
}

export class CorruptError extends OperatingError {
  constructor() {
    super('corrupt cluster');
  }
}

export class NotCapableError extends OperatingError {
  constructor() {
    super('not capable');
  }
}

export class NotSupportedForLearnerError extends OperatingError {
  constructor() {
    super('rpc not supported for learner');
  }
}

export class BadLeaderTransfereeError extends OperatingError {
  constructor() {
    super('bad leader transferee');
  }
}

export class TimeoutLeaderTransferError extends OperatingError {
  constructor() {
    super('request timed out, leader transfer took too long');
  }
}
