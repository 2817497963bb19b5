/** The etcdts client library: `import { Client } from 'etcdts/client'` style entry point. */
export { Client, RawClients } from './client.js';
export * from './errors.js';
export type { ClientOptions, CallOptions, TlsOptions } from './options.js';
export type { RetryPolicy, UnaryMethod, UnaryOptions, UnaryInvoker } from './invoker.js';
export { KV, rangeOf, rangeRequest, putRequest, txnWrites, type GetOptions, type PutOptions, type DeleteOptions, type RangeOptions } from './kv.js';
export { Maintenance, type EndpointCallOptions } from './maintenance.js';
export { Cluster } from './cluster.js';
export { Auth, PermissionType, type UserAddOptions } from './auth.js';
export { Watcher, WatchManager, WatchCompactedError, WatchCanceledByServerError, watchCreateRequest, type WatchOptions } from './watch.js';
export { Lease, LeaseKeepAlive, type KeepAliveEnd, type KeepAliveOptions } from './lease.js';
export { Session, Mutex, Election, SessionExpiredError, LockedError, ElectionNotLeaderError, ElectionNoLeaderError, type SessionOptions } from './concurrency/index.js';
export { compare, op, isCompareOperator, type CompareOperator } from './txn.js';
export { prefixEnd, fromKeyEnd, toBuffer, type Bytes } from './keys.js';
export { parseEndpoint, type ParsedEndpoint } from './endpoints.js';
