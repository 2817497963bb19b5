import { OperatingError } from '../operating-error.js';

/** Typed membership errors; mapped to etcd's wire errors in src/server/api/grpc-errors.ts. */

export class MemberIdRemovedError extends OperatingError {
  constructor() {
    super('membership: ID removed');
  }
}

export class MemberIdExistsError extends OperatingError {
  constructor() {
    super('membership: ID exists');
  }
}

export class MemberNotFoundError extends OperatingError {
  constructor() {
    super('membership: ID not found');
  }
}

export class PeerUrlExistsError extends OperatingError {
  constructor() {
    super('membership: peerURL exists');
  }
}

export class MemberNotLearnerError extends OperatingError {
  constructor() {
    super('membership: can only promote a learner member');
  }
}

export class TooManyLearnersError extends OperatingError {
  constructor() {
    super('membership: too many learner members in cluster');
  }
}

export class NotEnoughStartedMembersError extends OperatingError {
  constructor() {
    super('re-configuration failed due to not enough started members');
  }
}

export class LearnerNotReadyError extends OperatingError {
  constructor() {
    super('can only promote a learner member which is in sync with leader');
  }
}

export class MemberBadUrlsError extends OperatingError {
  constructor() {
    super('given member URLs are invalid');
  }
}
