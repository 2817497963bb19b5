import { status as Status, Metadata, type ServiceError } from '@grpc/grpc-js';
import * as server from '../etcdserver/errors.js';
import * as mvcc from '../mvcc/errors.js';
import { ForwardedError } from '../operating-error.js';
import * as lease from '../lease/errors.js';
import * as membership from '../membership/errors.js';
import * as auth from '../auth/errors.js';
import { goCodeNames } from '../../client/errors.js';

/**
 * The one table from our typed errors to etcd's wire errors: the gRPC status
 * code and the exact message etcd 3.4 sends (etcdserver/api/v3rpc/rpctypes),
 * which clients match on. Anything unmapped becomes UNKNOWN with its own
 * message, as etcd's togRPCError does.
 */
type ErrorClass = abstract new (...args: never[]) => Error;

interface WireError {
  code: Status;
  message: string;
}

const table = new Map<ErrorClass, WireError>();
function wire(cls: ErrorClass, code: Status, message: string): void {
  table.set(cls, { code, message });
}

wire(server.EmptyKeyError, Status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
wire(server.KeyNotFoundError, Status.INVALID_ARGUMENT, 'etcdserver: key not found');
wire(server.ValueProvidedError, Status.INVALID_ARGUMENT, 'etcdserver: value is provided');
wire(server.LeaseProvidedError, Status.INVALID_ARGUMENT, 'etcdserver: lease is provided');
wire(server.TooManyOpsError, Status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request');
wire(server.DuplicateKeyError, Status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request');
wire(mvcc.CompactedError, Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted');
wire(mvcc.FutureRevisionError, Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision');
wire(server.NoSpaceError, Status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded');
wire(server.RequestTooLargeError, Status.INVALID_ARGUMENT, 'etcdserver: request is too large');
wire(server.TooManyRequestsError, Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests');
wire(lease.LeaseNotFoundError, Status.NOT_FOUND, 'etcdserver: requested lease not found');
wire(lease.LeaseExistsError, Status.FAILED_PRECONDITION, 'etcdserver: lease already exists');
wire(lease.LeaseTtlTooLargeError, Status.OUT_OF_RANGE, 'etcdserver: too large lease TTL');
wire(lease.NotPrimaryError, Status.FAILED_PRECONDITION, 'etcdserver: not leader');
wire(membership.MemberIdRemovedError, Status.NOT_FOUND, 'etcdserver: member not found');
wire(membership.MemberNotFoundError, Status.NOT_FOUND, 'etcdserver: member not found');
wire(membership.MemberIdExistsError, Status.FAILED_PRECONDITION, 'etcdserver: member ID already exist');
wire(membership.PeerUrlExistsError, Status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists');
wire(membership.MemberNotLearnerError, Status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member');
wire(membership.TooManyLearnersError, Status.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster');
wire(membership.NotEnoughStartedMembersError, Status.FAILED_PRECONDITION, 'etcdserver: re-configuration failed due to not enough started members');
wire(membership.LearnerNotReadyError, Status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader');
wire(membership.MemberBadUrlsError, Status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid');
wire(server.NoLeaderError, Status.UNAVAILABLE, 'etcdserver: no leader');
wire(server.NotLeaderError, Status.FAILED_PRECONDITION, 'etcdserver: not leader');
wire(server.LeaderChangedError, Status.UNAVAILABLE, 'etcdserver: leader changed');
wire(server.NotCapableError, Status.UNAVAILABLE, 'etcdserver: not capable');
wire(server.StoppedError, Status.UNAVAILABLE, 'etcdserver: server stopped');
wire(server.TimeoutError, Status.UNAVAILABLE, 'etcdserver: request timed out');
wire(server.TimeoutDueToLeaderFailError, Status.UNAVAILABLE, 'etcdserver: request timed out, possibly due to previous leader failure');
wire(server.TimeoutDueToConnectionLostError, Status.UNAVAILABLE, 'etcdserver: request timed out, possibly due to connection lost');
wire(server.TimeoutLeaderTransferError, Status.UNAVAILABLE, 'etcdserver: request timed out, leader transfer took too long');
wire(server.UnhealthyError, Status.UNAVAILABLE, 'etcdserver: unhealthy cluster');
wire(server.CorruptError, Status.DATA_LOSS, 'etcdserver: corrupt cluster');
wire(server.NotSupportedForLearnerError, Status.UNAVAILABLE, 'etcdserver: rpc not supported for learner');
wire(server.BadLeaderTransfereeError, Status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee');
wire(auth.RootUserNotExistError, Status.FAILED_PRECONDITION, 'etcdserver: root user does not exist');
wire(auth.RootRoleNotExistError, Status.FAILED_PRECONDITION, 'etcdserver: root user does not have root role');
wire(auth.UserAlreadyExistError, Status.FAILED_PRECONDITION, 'etcdserver: user name already exists');
wire(auth.UserEmptyError, Status.INVALID_ARGUMENT, 'etcdserver: user name is empty');
wire(auth.UserNotFoundError, Status.FAILED_PRECONDITION, 'etcdserver: user name not found');
wire(auth.RoleAlreadyExistError, Status.FAILED_PRECONDITION, 'etcdserver: role name already exists');
wire(auth.RoleNotFoundError, Status.FAILED_PRECONDITION, 'etcdserver: role name not found');
wire(auth.RoleEmptyError, Status.INVALID_ARGUMENT, 'etcdserver: role name is empty');
wire(auth.AuthFailedError, Status.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password');
wire(auth.PermissionDeniedError, Status.PERMISSION_DENIED, 'etcdserver: permission denied');
wire(auth.RoleNotGrantedError, Status.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user');
wire(auth.PermissionNotGrantedError, Status.FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role');
wire(auth.AuthNotEnabledError, Status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled');
wire(auth.InvalidAuthTokenError, Status.UNAUTHENTICATED, 'etcdserver: invalid auth token');
wire(auth.InvalidAuthMgmtError, Status.INVALID_ARGUMENT, 'etcdserver: invalid auth management');
wire(auth.AuthOldRevisionError, Status.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old');
wire(auth.PermissionNotGivenError, Status.INVALID_ARGUMENT, 'etcdserver: permission not given');
// Not in etcd's table, so etcd sends them as UNKNOWN with the auth package's text; so do we.
wire(auth.VerifyOnlyError, Status.UNKNOWN, 'auth: token signing attempted with verify-only key');
wire(auth.PasswordTooLongError, Status.UNKNOWN, 'bcrypt: password length exceeds 72 bytes');

/** Lets later modules (lease, auth, membership) register their errors in this same table. */
export function registerWireError(cls: ErrorClass, code: Status, message: string): void {
  wire(cls, code, message);
}

export function wireErrorOf(err: unknown): WireError {
  if (err instanceof ForwardedError) return { code: err.code, message: err.details };
  if (err instanceof Error) {
    // Walk up the prototype chain so subclasses map like their parents.
    let proto: unknown = Object.getPrototypeOf(err);
    while (proto !== null && proto !== Error.prototype) {
      const mapped = table.get((proto as { constructor: ErrorClass }).constructor);
      if (mapped !== undefined) return mapped;
      proto = Object.getPrototypeOf(proto);
    }
    return { code: Status.UNKNOWN, message: err.message };
  }
  return { code: Status.UNKNOWN, message: String(err) };
}

/**
 * An error as grpc-go's status error prints it ("rpc error: code =
 * PermissionDenied desc = etcdserver: permission denied"): etcd puts this
 * text in a refused watch's cancel_reason.
 */
export function goStatusText(err: unknown): string {
  const { code, message } = wireErrorOf(err);
  return `rpc error: code = ${goCodeNames[code] ?? `Code(${code})`} desc = ${message}`;
}

/** The error object grpc-js sends: a numeric code and the details string. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const { code, message } = wireErrorOf(err);
  return { code, details: message, message, metadata: new Metadata() };
}
