/**
 * Typed client errors: the reverse of the server's error table. etcd answers
 * a failed request with a gRPC status code and one of a fixed set of
 * messages (etcdserver/api/v3rpc/rpctypes/error.go); clients branch on those
 * messages, so we look the message up here and raise the matching class.
 * Every error's `message` is etcd's own text, which is what etcdctl prints.
 *
 * This module has no runtime dependency on grpc-js, so the CLI can use it
 * (instanceof checks, exit codes) without loading gRPC.
 */

/** gRPC status codes (the numbers are the wire values). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** grpc-go's names for the codes, as they appear in "rpc error: code = ... desc = ...". */
export const goCodeNames = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists',
  'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange',
  'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];

/** Base of every error the client raises for a failed call. */
export class EtcdClientError extends Error {
  constructor(message: string, readonly code: GrpcCode) {
    super(message);
    this.name = 'EtcdClientError';
  }
}

/** An error etcd reports with one of its fixed messages. */
export class EtcdServerError extends EtcdClientError {
  constructor(message: string, code: GrpcCode) {
    super(message, code);
    this.name = 'EtcdServerError';
  }
}

/** A gRPC failure that is not one of etcd's errors: printed as grpc-go prints it. */
export class GrpcError extends EtcdClientError {
  constructor(code: GrpcCode, readonly details: string) {
    super(`rpc error: code = ${goCodeNames[code] ?? `Code(${code})`} desc = ${details}`, code);
    this.name = 'GrpcError';
  }
}

/** The call's deadline passed (the command timeout, or the dial timeout while connecting). */
export class DeadlineExceededError extends EtcdClientError {
  /** What the client saw of the endpoints, when it could not reach any. */
  readonly detail: string | undefined;

  constructor(detail?: string) {
    super('context deadline exceeded', GrpcCode.DEADLINE_EXCEEDED);
    this.name = 'DeadlineExceededError';
    this.detail = detail;
  }
}

export class CanceledError extends EtcdClientError {
  constructor() {
    super('context canceled', GrpcCode.CANCELLED);
    this.name = 'CanceledError';
  }
}

export class NoAvailableEndpointsError extends EtcdClientError {
  constructor() {
    super('etcdclient: no available endpoints', GrpcCode.UNAVAILABLE);
    this.name = 'NoAvailableEndpointsError';
  }
}

export class ClientClosedError extends EtcdClientError {
  constructor() {
    super('grpc: the client connection is closing', GrpcCode.CANCELLED);
    this.name = 'ClientClosedError';
  }
}

type ServerErrorClass = new () => EtcdServerError;

export interface EtcdErrorEntry {
  name: string;
  code: GrpcCode;
  message: string;
  errorClass: ServerErrorClass;
}

const byMessage = new Map<string, EtcdErrorEntry>();

/** Every error of etcd's table, for tests and for the server's forward table. */
export const etcdErrorTable: EtcdErrorEntry[] = [];

function etcdError(name: string, code: GrpcCode, message: string): ServerErrorClass {
  const errorClass = class extends EtcdServerError {
    constructor() {
      super(message, code);
      this.name = name;
    }
  };
  Object.defineProperty(errorClass, 'name', { value: name });
  const entry = { name, code, message, errorClass };
  assertUnique(message);
  byMessage.set(message, entry);
  etcdErrorTable.push(entry);
  return errorClass;
}

function assertUnique(message: string): void {
  if (byMessage.has(message)) throw new Error(`duplicate etcd error message ${message}`);
}

const C = GrpcCode;
export const KeyNotProvidedError = etcdError('KeyNotProvidedError', C.INVALID_ARGUMENT, 'etcdserver: key is not provided');
export const KeyNotFoundError = etcdError('KeyNotFoundError', C.INVALID_ARGUMENT, 'etcdserver: key not found');
export const ValueProvidedError = etcdError('ValueProvidedError', C.INVALID_ARGUMENT, 'etcdserver: value is provided');
export const LeaseProvidedError = etcdError('LeaseProvidedError', C.INVALID_ARGUMENT, 'etcdserver: lease is provided');
export const TooManyOpsError = etcdError('TooManyOpsError', C.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request');
export const DuplicateKeyError = etcdError('DuplicateKeyError', C.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request');
export const CompactedError = etcdError('CompactedError', C.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
export const FutureRevisionError = etcdError('FutureRevisionError', C.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
export const NoSpaceError = etcdError('NoSpaceError', C.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded');

export const LeaseNotFoundError = etcdError('LeaseNotFoundError', C.NOT_FOUND, 'etcdserver: requested lease not found');
export const LeaseExistError = etcdError('LeaseExistError', C.FAILED_PRECONDITION, 'etcdserver: lease already exists');
export const LeaseTTLTooLargeError = etcdError('LeaseTTLTooLargeError', C.OUT_OF_RANGE, 'etcdserver: too large lease TTL');

export const WatchCanceledError = etcdError('WatchCanceledError', C.CANCELLED, 'etcdserver: watch canceled');

export const MemberExistError = etcdError('MemberExistError', C.FAILED_PRECONDITION, 'etcdserver: member ID already exist');
export const PeerURLExistError = etcdError('PeerURLExistError', C.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists');
export const MemberNotEnoughStartedError = etcdError('MemberNotEnoughStartedError', C.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members');
export const MemberBadURLsError = etcdError('MemberBadURLsError', C.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid');
export const MemberNotFoundError = etcdError('MemberNotFoundError', C.NOT_FOUND, 'etcdserver: member not found');
export const MemberNotLearnerError = etcdError('MemberNotLearnerError', C.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member');
export const LearnerNotReadyError = etcdError('LearnerNotReadyError', C.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader');
export const TooManyLearnersError = etcdError('TooManyLearnersError', C.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster');

export const RequestTooLargeError = etcdError('RequestTooLargeError', C.INVALID_ARGUMENT, 'etcdserver: request is too large');
export const TooManyRequestsError = etcdError('TooManyRequestsError', C.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');

export const RootUserNotExistError = etcdError('RootUserNotExistError', C.FAILED_PRECONDITION, 'etcdserver: root user does not exist');
export const RootRoleNotExistError = etcdError('RootRoleNotExistError', C.FAILED_PRECONDITION, 'etcdserver: root user does not have root role');
export const UserAlreadyExistError = etcdError('UserAlreadyExistError', C.FAILED_PRECONDITION, 'etcdserver: user name already exists');
export const UserEmptyError = etcdError('UserEmptyError', C.INVALID_ARGUMENT, 'etcdserver: user name is empty');
export const UserNotFoundError = etcdError('UserNotFoundError', C.FAILED_PRECONDITION, 'etcdserver: user name not found');
export const RoleAlreadyExistError = etcdError('RoleAlreadyExistError', C.FAILED_PRECONDITION, 'etcdserver: role name already exists');
export const RoleNotFoundError = etcdError('RoleNotFoundError', C.FAILED_PRECONDITION, 'etcdserver: role name not found');
export const RoleEmptyError = etcdError('RoleEmptyError', C.INVALID_ARGUMENT, 'etcdserver: role name is empty');
export const AuthFailedError = etcdError('AuthFailedError', C.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password');
export const PermissionDeniedError = etcdError('PermissionDeniedError', C.PERMISSION_DENIED, 'etcdserver: permission denied');
export const RoleNotGrantedError = etcdError('RoleNotGrantedError', C.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user');
export const PermissionNotGrantedError = etcdError('PermissionNotGrantedError', C.FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role');
export const AuthNotEnabledError = etcdError('AuthNotEnabledError', C.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled');
export const InvalidAuthTokenError = etcdError('InvalidAuthTokenError', C.UNAUTHENTICATED, 'etcdserver: invalid auth token');
export const InvalidAuthMgmtError = etcdError('InvalidAuthMgmtError', C.INVALID_ARGUMENT, 'etcdserver: invalid auth management');
export const AuthOldRevisionError = etcdError('AuthOldRevisionError', C.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old');

export const NoLeaderError = etcdError('NoLeaderError', C.UNAVAILABLE, 'etcdserver: no leader');
export const NotLeaderError = etcdError('NotLeaderError', C.FAILED_PRECONDITION, 'etcdserver: not leader');
export const LeaderChangedError = etcdError('LeaderChangedError', C.UNAVAILABLE, 'etcdserver: leader changed');
export const NotCapableError = etcdError('NotCapableError', C.UNAVAILABLE, 'etcdserver: not capable');
export const StoppedError = etcdError('StoppedError', C.UNAVAILABLE, 'etcdserver: server stopped');
export const RequestTimeoutError = etcdError('RequestTimeoutError', C.UNAVAILABLE, 'etcdserver: request timed out');
export const TimeoutDueToLeaderFailError = etcdError('TimeoutDueToLeaderFailError', C.UNAVAILABLE, 'etcdserver: request timed out, possibly due to previous leader failure');
export const TimeoutDueToConnectionLostError = etcdError('TimeoutDueToConnectionLostError', C.UNAVAILABLE, 'etcdserver: request timed out, possibly due to connection lost');
export const TimeoutWaitAppliedIndexError = etcdError('TimeoutWaitAppliedIndexError', C.UNAVAILABLE, 'etcdserver: request timed out, waiting for the applied index took too long');
export const UnhealthyError = etcdError('UnhealthyError', C.UNAVAILABLE, 'etcdserver: unhealthy cluster');
export const CorruptError = etcdError('CorruptError', C.DATA_LOSS, 'etcdserver: corrupt cluster');
export const NotSupportedForLearnerError = etcdError('NotSupportedForLearnerError', C.UNAVAILABLE, 'etcdserver: rpc not supported for learner');
export const BadLeaderTransfereeError = etcdError('BadLeaderTransfereeError', C.FAILED_PRECONDITION, 'etcdserver: bad leader transferee');

/** The shape of a grpc-js ServiceError that matters here. */
export interface GrpcStatusLike {
  code: number;
  details?: string;
  message?: string;
}

/**
 * Turns a failed call's status into a typed error. Like etcd's
 * rpctypes.Error, the lookup is by message; like clientv3's toErr, deadline
 * and cancellation become the context errors. grpc-js's own texts for
 * message size limits are rewritten to grpc-go's, which is what etcdctl shows.
 */
export function fromGrpcStatus(status: GrpcStatusLike): EtcdClientError {
  const details = status.details ?? status.message ?? '';
  const entry = byMessage.get(details);
  if (entry !== undefined) return new entry.errorClass();
  switch (status.code) {
    case GrpcCode.DEADLINE_EXCEEDED:
      return new DeadlineExceededError();
    case GrpcCode.CANCELLED:
      return new CanceledError();
  }
  const sent = /^Sent message larger than max \((\d+) vs\. (\d+)\)$/.exec(details);
  if (sent !== null) return new GrpcError(status.code as GrpcCode, `trying to send message larger than max (${sent[1]} vs. ${sent[2]})`);
  const received = /^Received message larger than max \((\d+) vs\. (\d+)\)$/.exec(details);
  if (received !== null) return new GrpcError(status.code as GrpcCode, `grpc: received message larger than max (${received[1]} vs. ${received[2]})`);
  return new GrpcError(status.code as GrpcCode, details);
}

/** True for an error that etcd (or gRPC) raised as UNAVAILABLE: a transient failure of one member. */
export function isUnavailable(err: unknown): boolean {
  return err instanceof EtcdClientError && err.code === GrpcCode.UNAVAILABLE;
}
