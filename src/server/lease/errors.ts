import { OperatingError } from '../operating-error.js';

/** Typed lease errors; mapped to etcd's wire errors in src/server/api/grpc-errors.ts. */

export class LeaseNotFoundError extends OperatingError {
  constructor() {
    super('requested lease not found');
  }
}

export class LeaseExistsError extends OperatingError {
  constructor() {
    super('lease already exists');
  }
}

export class LeaseTtlTooLargeError extends OperatingError {
  constructor() {
    super('too large lease TTL');
  }
}

/** Only the leader keeps lease expiry; renewals elsewhere must be forwarded. */
export class NotPrimaryError extends OperatingError {
  constructor() {
    super('not a primary lessor');
  }
}
