import type { KVServer } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { unary } from './unary.js';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.js';

/**
 * The etcdserverpb.KV service: validate, resolve the caller, call the member
 * (which checks permissions: reads here, writes at apply), fill the header.
 */
export function kvService(server: EtcdServer): KVServer {
  const who = server.authRequests;
  return {
    range: unary(async (r, call) => {
      checkRangeRequest(r);
      const resp = await server.range(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    put: unary(async (r, call) => {
      checkPutRequest(r);
      const resp = await server.put(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    deleteRange: unary(async (r, call) => {
      checkDeleteRequest(r);
      const resp = await server.deleteRange(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    txn: unary(async (r, call) => {
      checkTxnRequest(r, server.config.maxTxnOps);
      const resp = await server.txn(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    compact: unary(async (r, call) => {
      const resp = await server.compact(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
  };
}
