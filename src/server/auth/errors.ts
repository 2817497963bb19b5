import { OperatingError } from '../operating-error.js';

/**
 * Typed errors of authentication and authorization (etcd's auth package).
 * Each maps to one etcd wire error in src/server/api/grpc-errors.ts; the
 * messages here are etcd's internal ones, for logs.
 */

export class RootUserNotExistError extends OperatingError {
  constructor() { super('auth: root user does not exist'); }
}

export class RootRoleNotExistError extends OperatingError {
  constructor() { super('auth: root user does not have root role'); }
}

export class UserAlreadyExistError extends OperatingError {
  constructor() { super('auth: user already exists'); }
}

/** No user name: also what an unauthenticated request gets when auth is on (etcd's ErrUserEmpty). */
export class UserEmptyError extends OperatingError {
  constructor() { super('auth: user name is empty'); }
}

export class UserNotFoundError extends OperatingError {
  constructor() { super('auth: user not found'); }
}

export class RoleAlreadyExistError extends OperatingError {
  constructor() { super('auth: role already exists'); }
}

export class RoleNotFoundError extends OperatingError {
  constructor() { super('auth: role not found'); }
}

export class RoleEmptyError extends OperatingError {
  constructor() { super('auth: role name is empty'); }
}

export class AuthFailedError extends OperatingError {
  constructor() { super('auth: authentication failed, invalid user ID or password'); }
}

export class PermissionDeniedError extends OperatingError {
  constructor() { super('auth: permission denied'); }
}

export class RoleNotGrantedError extends OperatingError {
  constructor() { super('auth: role is not granted to the user'); }
}

export class PermissionNotGrantedError extends OperatingError {
  constructor() { super('auth: permission is not granted to the role'); }
}

export class AuthNotEnabledError extends OperatingError {
  constructor() { super('auth: authentication is not enabled'); }
}

/** The request was authorized against an auth store revision older than the applied one. */
export class AuthOldRevisionError extends OperatingError {
  constructor() { super('auth: revision in header is old'); }
}

export class InvalidAuthTokenError extends OperatingError {
  constructor() { super('auth: invalid auth token'); }
}

/** Deleting root, the root role, or taking root's root role while auth is on. */
export class InvalidAuthMgmtError extends OperatingError {
  constructor() { super('auth: invalid auth management'); }
}

/** Authenticate on a member whose JWT configuration has only the public key. */
export class VerifyOnlyError extends OperatingError {
  constructor() { super('auth: token signing attempted with verify-only key'); }
}

/** A password longer than bcrypt reads (it would be cut silently; Go's bcrypt refuses it too). */
export class PasswordTooLongError extends OperatingError {
  constructor() { super('bcrypt: password length exceeds 72 bytes'); }
}

/** RoleGrantPermission without a permission (etcd 3.5's ErrPermissionNotGiven; 3.4.23 crashed on it). */
export class PermissionNotGivenError extends OperatingError {
  constructor() { super('auth: permission not given'); }
}
