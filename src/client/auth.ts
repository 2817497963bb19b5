import { Permission_Type } from '../proto/gen/authpb/auth.js';
import {
  AuthDisableRequest,
  AuthEnableRequest,
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGrantPermissionRequest,
  AuthRoleListRequest,
  AuthRoleRevokePermissionRequest,
  AuthService,
  AuthStatusRequest,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserGrantRoleRequest,
  AuthUserListRequest,
  AuthUserRevokeRoleRequest,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthRoleAddResponse,
  type AuthRoleDeleteResponse,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionResponse,
  type AuthStatusResponse,
  type AuthUserAddResponse,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteResponse,
  type AuthUserGetResponse,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import type { UnaryInvoker } from './invoker.js';
import { toBuffer, type Bytes } from './keys.js';
import type { CallOptions } from './options.js';

export { Permission_Type as PermissionType };

export interface UserAddOptions extends CallOptions {
  /** A user that cannot authenticate with a password (TLS common-name authentication only). */
  noPassword?: boolean;
}

/**
 * The Auth service: enabling authentication, users, roles and the key
 * ranges roles may read or write. Administration calls need the root role
 * once authentication is enabled.
 *
 *   await client.auth.userAdd('root', 'secret');
 *   await client.auth.roleAdd('root');
 *   await client.auth.userGrantRole('root', 'root');
 *   await client.auth.authEnable();
 *   await client.auth.roleGrantPermission('app', PermissionType.READWRITE, 'app/', prefixEnd('app/'));
 *
 * A permission covers one key (`rangeEnd` empty), the range [key, rangeEnd),
 * or every key from `key` on (`rangeEnd` "\0"). As in clientv3, only the four
 * reads (UserGet, UserList, RoleGet, RoleList) are retried after a failure
 * that may have reached the server; every change is sent at most once.
 */
export class Auth {
  constructor(private readonly invoker: UnaryInvoker) {}

  authEnable(options: CallOptions = {}): Promise<AuthEnableResponse> {
    return this.invoker.unary(AuthService.authEnable, AuthEnableRequest.fromPartial({}), { ...options, retry: 'nonRepeatable' });
  }

  authDisable(options: CallOptions = {}): Promise<AuthDisableResponse> {
    return this.invoker.unary(AuthService.authDisable, AuthDisableRequest.fromPartial({}), { ...options, retry: 'nonRepeatable' });
  }

  /** Whether authentication is enabled, and the auth store's revision (etcd 3.5+; 3.4 answers UNIMPLEMENTED). */
  authStatus(options: CallOptions = {}): Promise<AuthStatusResponse> {
    return this.invoker.unary(AuthService.authStatus, AuthStatusRequest.fromPartial({}), { ...options, retry: 'repeatable' });
  }

  userAdd(name: string, password: string, options: UserAddOptions = {}): Promise<AuthUserAddResponse> {
    // clientv3 always sends the options message, so the request bytes match etcdctl's.
    const request = AuthUserAddRequest.fromPartial({ name, password, options: { noPassword: options.noPassword ?? false } });
    return this.invoker.unary(AuthService.userAdd, request, { ...options, retry: 'nonRepeatable' });
  }

  userGet(name: string, options: CallOptions = {}): Promise<AuthUserGetResponse> {
    return this.invoker.unary(AuthService.userGet, AuthUserGetRequest.fromPartial({ name }), { ...options, retry: 'repeatable' });
  }

  userList(options: CallOptions = {}): Promise<AuthUserListResponse> {
    return this.invoker.unary(AuthService.userList, AuthUserListRequest.fromPartial({}), { ...options, retry: 'repeatable' });
  }

  userDelete(name: string, options: CallOptions = {}): Promise<AuthUserDeleteResponse> {
    return this.invoker.unary(AuthService.userDelete, AuthUserDeleteRequest.fromPartial({ name }), { ...options, retry: 'nonRepeatable' });
  }

  userChangePassword(name: string, password: string, options: CallOptions = {}): Promise<AuthUserChangePasswordResponse> {
    const request = AuthUserChangePasswordRequest.fromPartial({ name, password });
    return this.invoker.unary(AuthService.userChangePassword, request, { ...options, retry: 'nonRepeatable' });
  }

  userGrantRole(user: string, role: string, options: CallOptions = {}): Promise<AuthUserGrantRoleResponse> {
    const request = AuthUserGrantRoleRequest.fromPartial({ user, role });
    return this.invoker.unary(AuthService.userGrantRole, request, { ...options, retry: 'nonRepeatable' });
  }

  userRevokeRole(name: string, role: string, options: CallOptions = {}): Promise<AuthUserRevokeRoleResponse> {
    const request = AuthUserRevokeRoleRequest.fromPartial({ name, role });
    return this.invoker.unary(AuthService.userRevokeRole, request, { ...options, retry: 'nonRepeatable' });
  }

  roleAdd(name: string, options: CallOptions = {}): Promise<AuthRoleAddResponse> {
    return this.invoker.unary(AuthService.roleAdd, AuthRoleAddRequest.fromPartial({ name }), { ...options, retry: 'nonRepeatable' });
  }

  roleGet(role: string, options: CallOptions = {}): Promise<AuthRoleGetResponse> {
    return this.invoker.unary(AuthService.roleGet, AuthRoleGetRequest.fromPartial({ role }), { ...options, retry: 'repeatable' });
  }

  roleList(options: CallOptions = {}): Promise<AuthRoleListResponse> {
    return this.invoker.unary(AuthService.roleList, AuthRoleListRequest.fromPartial({}), { ...options, retry: 'repeatable' });
  }

  roleDelete(role: string, options: CallOptions = {}): Promise<AuthRoleDeleteResponse> {
    return this.invoker.unary(AuthService.roleDelete, AuthRoleDeleteRequest.fromPartial({ role }), { ...options, retry: 'nonRepeatable' });
  }

  roleGrantPermission(
    name: string,
    permType: Permission_Type,
    key: Bytes,
    rangeEnd: Bytes = '',
    options: CallOptions = {},
  ): Promise<AuthRoleGrantPermissionResponse> {
    const perm = { permType, key: toBuffer(key), rangeEnd: toBuffer(rangeEnd) };
    const request = AuthRoleGrantPermissionRequest.fromPartial({ name, perm });
    return this.invoker.unary(AuthService.roleGrantPermission, request, { ...options, retry: 'nonRepeatable' });
  }

  /** Revokes the permission granted for exactly this key and range end (the type does not matter). */
  roleRevokePermission(role: string, key: Bytes, rangeEnd: Bytes = '', options: CallOptions = {}): Promise<AuthRoleRevokePermissionResponse> {
    const request = AuthRoleRevokePermissionRequest.fromPartial({ role, key: toBuffer(key), rangeEnd: toBuffer(rangeEnd) });
    return this.invoker.unary(AuthService.roleRevokePermission, request, { ...options, retry: 'nonRepeatable' });
  }
}
