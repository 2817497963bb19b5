import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import type { ResponseHeader } from '../../proto/gen/etcdserverpb/rpc.js';
import { AuthFailedError, AuthNotEnabledError, InvalidAuthMgmtError, PermissionNotGivenError } from '../auth/errors.js';
import type { AuthStore } from '../auth/store.js';
import type { TokenProvider } from '../auth/token-provider.js';

/**
 * The auth half of the apply layer: each committed auth request changes the
 * auth store the same way on every member (password hashes arrive already
 * made). Authenticate changes nothing in the backend: each member records
 * the new simple token in memory. Returns undefined for requests of other
 * kinds.
 */
export function applyAuthRequest(
  req: InternalRaftRequest,
  index: bigint,
  auth: AuthStore,
  tokens: TokenProvider,
  header: () => ResponseHeader,
): { response: { header: ResponseHeader; token?: string } } | undefined {
  if (req.authenticate !== undefined) {
    const { name, simpleToken } = req.authenticate;
    if (!auth.enabled) throw new AuthNotEnabledError();
    const user = auth.user(name);
    // The password was checked before proposing; the user may have gone, or lost its password, since.
    if (user === undefined || user.options?.noPassword === true) throw new AuthFailedError();
    return { response: { header: header(), token: tokens.applyAuthenticate(name, simpleToken, index) } };
  }
  if (req.authEnable !== undefined) auth.enable();
  else if (req.authDisable !== undefined) auth.disable();
  else if (req.authUserAdd !== undefined) {
    const r = req.authUserAdd;
    auth.userAdd(r.name, r.hashedPassword === '' ? undefined : r.hashedPassword, r.options);
  } else if (req.authUserDelete !== undefined) auth.userDelete(req.authUserDelete.name);
  else if (req.authUserChangePassword !== undefined) {
    const r = req.authUserChangePassword;
    auth.userChangePassword(r.name, r.hashedPassword);
  } else if (req.authUserGrantRole !== undefined) auth.userGrantRole(req.authUserGrantRole.user, req.authUserGrantRole.role);
  else if (req.authUserRevokeRole !== undefined) auth.userRevokeRole(req.authUserRevokeRole.name, req.authUserRevokeRole.role);
  else if (req.authRoleAdd !== undefined) auth.roleAdd(req.authRoleAdd.name);
  else if (req.authRoleDelete !== undefined) auth.roleDelete(req.authRoleDelete.role);
  else if (req.authRoleGrantPermission !== undefined) {
    const { name, perm } = req.authRoleGrantPermission;
    if (perm === undefined) throw new PermissionNotGivenError();
    if (!isValidPermissionRange(perm.key, perm.rangeEnd)) throw new InvalidAuthMgmtError();
    auth.roleGrantPermission(name, perm);
  } else if (req.authRoleRevokePermission !== undefined) {
    const r = req.authRoleRevokePermission;
    auth.roleRevokePermission(r.role, r.key, r.rangeEnd);
  } else {
    return undefined;
  }
  return { response: { header: header() } };
}

/**
 * A permission must cover at least one key: a range whose end is not after
 * its start grants nothing and is refused, as etcd 3.5 does (3.4.23 stored it).
 */
export function isValidPermissionRange(key: Buffer, rangeEnd: Buffer): boolean {
  if (rangeEnd.length === 0) return true;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return true;
  return Buffer.compare(rangeEnd, key) > 0;
}
