import type { AuthServer } from '../../proto/gen/etcdserverpb/rpc.js';
import type { ApplyResult } from '../etcdserver/apply.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { unary } from './unary.js';

/**
 * The etcdserverpb.Auth service: who calls is resolved from the call (token
 * or client certificate), then the member does the rest (hashing, the
 * proposal, the checks at apply; see etcdserver/auth-requests.ts).
 */
export function authService(server: EtcdServer): AuthServer {
  const auth = server.authRequests;
  return {
    authEnable: unary(async (_r, call) => finish(server, await server.propose({ authEnable: {} }, await auth.authInfo(call)))),
    authDisable: unary(async (_r, call) => finish(server, await server.propose({ authDisable: {} }, await auth.authInfo(call)))),
    authStatus: unary(async () => auth.status()),
    authenticate: unary(async (r, call) => {
      // As etcd: a call that carries a token must carry a valid one, Authenticate included.
      await auth.authInfo(call);
      return auth.authenticate(r, call.getPeer());
    }),
    userAdd: unary(async (r, call) => finish(server, await auth.userAdd(r, await auth.authInfo(call)))),
    userGet: unary(async (r, call) => auth.userGet(r.name, await auth.authInfo(call))),
    userList: unary(async (_r, call) => auth.userList(await auth.authInfo(call))),
    userDelete: unary(async (r, call) => finish(server, await server.propose({ authUserDelete: r }, await auth.authInfo(call)))),
    userChangePassword: unary(async (r, call) => finish(server, await auth.userChangePassword(r, await auth.authInfo(call)))),
    userGrantRole: unary(async (r, call) => finish(server, await server.propose({ authUserGrantRole: r }, await auth.authInfo(call)))),
    userRevokeRole: unary(async (r, call) => finish(server, await server.propose({ authUserRevokeRole: r }, await auth.authInfo(call)))),
    roleAdd: unary(async (r, call) => finish(server, await server.propose({ authRoleAdd: r }, await auth.authInfo(call)))),
    roleGet: unary(async (r, call) => auth.roleGet(r.role, await auth.authInfo(call))),
    roleList: unary(async (_r, call) => auth.roleList(await auth.authInfo(call))),
    roleDelete: unary(async (r, call) => finish(server, await server.propose({ authRoleDelete: r }, await auth.authInfo(call)))),
    roleGrantPermission: unary(async (r, call) => finish(server, await server.propose({ authRoleGrantPermission: r }, await auth.authInfo(call)))),
    roleRevokePermission: unary(async (r, call) => finish(server, await server.propose({ authRoleRevokePermission: r }, await auth.authInfo(call)))),
  };
}

/** The answer to an applied auth change: its error, or an empty response with the header filled. */
function finish(server: EtcdServer, result: ApplyResult): { header: ReturnType<EtcdServer['fillHeader']> } {
  if (result.error !== undefined) throw result.error;
  return { header: server.fillHeader((result.response as { header?: ReturnType<EtcdServer['fillHeader']> } | undefined)?.header) };
}
