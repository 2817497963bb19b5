import { EtcdClientError, GrpcCode } from '../errors.js';

/**
 * Errors of the lock and election recipes, with the texts etcd's
 * concurrency package uses (clientv3/concurrency), which etcd's Lock and
 * Election services send as UNKNOWN errors and etcd clients match on.
 */
export class ConcurrencyError extends EtcdClientError {
  constructor(message: string) {
    super(message, GrpcCode.UNKNOWN);
    this.name = 'ConcurrencyError';
  }
}

/** The session's lease ended (expired, revoked, or unconfirmed past its TTL): nothing it held is held any more. */
export class SessionExpiredError extends ConcurrencyError {
  constructor() {
    super('mutex: session is expired');
    this.name = 'SessionExpiredError';
  }
}

/** tryLock found the lock held by another session. */
export class LockedError extends ConcurrencyError {
  constructor() {
    super('mutex: Locked by another session');
    this.name = 'LockedError';
  }
}

export class ElectionNotLeaderError extends ConcurrencyError {
  constructor() {
    super('election: not leader');
    this.name = 'ElectionNotLeaderError';
  }
}

export class ElectionNoLeaderError extends ConcurrencyError {
  constructor() {
    super('election: no leader');
    this.name = 'ElectionNoLeaderError';
  }
}

/** The watch that waited for a key's deletion ended without seeing it (clientv3's text). */
export class LostWatcherError extends ConcurrencyError {
  constructor() {
    super('lost watcher waiting for delete');
    this.name = 'LostWatcherError';
  }
}
