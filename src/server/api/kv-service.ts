import type { KVServer } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { unary } from './unary.js';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './validate.js';

/** The etcdserverpb.KV service: validate, call the member, fill the header. */
export function kvService(server: EtcdServer): KVServer {
  return {
    range: unary(async (r) => {
      checkRangeRequest(r);
      const resp = await server.range(r);
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    put: unary(async (r) => {
      checkPutRequest(r);
      const resp = await server.put(r);
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    deleteRange: unary(async (r) => {
      checkDeleteRequest(r);
      const resp = await server.deleteRange(r);
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    txn: unary(async (r) => {
      checkTxnRequest(r, server.config.maxTxnOps);
      const resp = await server.txn(r);
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    compact: unary(async (r) => {
      const resp = await server.compact(r);
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
  };
}
