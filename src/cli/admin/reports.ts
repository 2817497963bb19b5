import type {
  AlarmMember,
  AlarmResponse,
  HashKVResponse,
  Member,
  MemberAddResponse,
  MemberListResponse,
  MoveLeaderResponse,
  ResponseHeader,
  StatusResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { GoJsonObject } from '../go/json.js';
import { goJsonString } from '../go/quote.js';
import { goHex, humanizeBytes } from './go-format.js';

/**
 * What the cluster-administration commands hand to the printers, and the
 * shapes etcdctl 3.4 gives them: the rows of its tables (printer.go's
 * make*Table, which the simple format also prints, comma-separated) and the
 * JSON of its structs (printer_json.go's json.Marshal). Field order is the
 * order of the Go struct; omitempty exactly where the Go tag has it.
 */

/** etcdctl's epHealth. `took` is a Go duration string; `error` is empty when healthy. */
export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  took: string;
  error: string;
}

/** etcdctl's epStatus. */
export interface EndpointStatus {
  endpoint: string;
  status: StatusResponse;
}

/** etcdctl's epHashKV. */
export interface EndpointHashKV {
  endpoint: string;
  hashKV: HashKVResponse;
}

/** clientv3/snapshot.Status: what `snapshot status` reports about a file. */
export interface SnapshotStatus {
  hash: number;
  revision: bigint;
  totalKey: number;
  totalSize: number;
}

export interface Table {
  head: string[];
  rows: string[][];
}

export function memberListTable(r: MemberListResponse): Table {
  return {
    head: ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'],
    rows: r.members.map((m) => [
      goHex(m.ID),
      m.name === '' ? 'unstarted' : 'started',
      m.name,
      m.peerURLs.join(','),
      m.clientURLs.join(','),
      String(m.isLearner),
    ]),
  };
}

export function endpointHealthTable(list: readonly EndpointHealth[]): Table {
  return {
    head: ['endpoint', 'health', 'took', 'error'],
    rows: list.map((h) => [h.endpoint, String(h.health), h.took, h.error]),
  };
}

export function endpointStatusTable(list: readonly EndpointStatus[]): Table {
  return {
    head: ['endpoint', 'ID', 'version', 'db size', 'is leader', 'is learner', 'raft term', 'raft index', 'raft applied index', 'errors'],
    rows: list.map(({ endpoint, status: s }) => {
      const memberId = s.header?.memberId ?? 0n;
      return [
        endpoint,
        goHex(memberId),
        s.version,
        humanizeBytes(s.dbSize),
        String(s.leader === memberId),
        String(s.isLearner),
        BigInt.asUintN(64, s.raftTerm).toString(),
        BigInt.asUintN(64, s.raftIndex).toString(),
        BigInt.asUintN(64, s.raftAppliedIndex).toString(),
        s.errors.join(', '),
      ];
    }),
  };
}

export function endpointHashKVTable(list: readonly EndpointHashKV[]): Table {
  return { head: ['endpoint', 'hash'], rows: list.map((h) => [h.endpoint, String(h.hashKV.hash)]) };
}

export function snapshotStatusTable(s: SnapshotStatus): Table {
  return {
    head: ['hash', 'revision', 'total keys', 'total size'],
    rows: [[(s.hash >>> 0).toString(16), s.revision.toString(), String(s.totalKey), humanizeBytes(s.totalSize)]],
  };
}

/** Rows as the simple format prints them: cells joined by ", ". */
export function simpleLines(table: Table): string[] {
  return table.rows.map((row) => row.join(', '));
}

function header(h: ResponseHeader | undefined): string | undefined {
  if (h === undefined) return undefined;
  return new GoJsonObject().int('cluster_id', h.clusterId).int('member_id', h.memberId).int('revision', h.revision).int('raft_term', h.raftTerm).toString();
}

export function encodeMember(m: Member): string {
  return new GoJsonObject()
    .int('ID', BigInt.asUintN(64, m.ID))
    .string('name', m.name)
    .strings('peerURLs', m.peerURLs)
    .strings('clientURLs', m.clientURLs)
    .bool('isLearner', m.isLearner)
    .toString();
}

/** MemberAddResponse (member set) and the other member responses (header and members only). */
export function encodeMemberResponse(r: { header: ResponseHeader | undefined; members: Member[]; member?: Member | undefined }): string {
  const json = new GoJsonObject().message('header', header(r.header));
  if ('member' in r) json.message('member', r.member === undefined ? undefined : encodeMember(r.member));
  return json.messages('members', r.members, encodeMember).toString();
}

export function encodeMemberAddResponse(r: MemberAddResponse): string {
  return encodeMemberResponse(r);
}

export function encodeMemberListResponse(r: MemberListResponse): string {
  return encodeMemberResponse(r);
}

export function encodeStatusResponse(s: StatusResponse): string {
  // Only the fields of etcd 3.4's StatusResponse, so that the output matches etcdctl 3.4's.
  return new GoJsonObject()
    .message('header', header(s.header))
    .string('version', s.version)
    .int('dbSize', s.dbSize)
    .int('leader', BigInt.asUintN(64, s.leader))
    .int('raftIndex', BigInt.asUintN(64, s.raftIndex))
    .int('raftTerm', BigInt.asUintN(64, s.raftTerm))
    .int('raftAppliedIndex', BigInt.asUintN(64, s.raftAppliedIndex))
    .strings('errors', s.errors)
    .int('dbSizeInUse', s.dbSizeInUse)
    .bool('isLearner', s.isLearner)
    .toString();
}

export function encodeHashKVResponse(r: HashKVResponse): string {
  return new GoJsonObject().message('header', header(r.header)).int('hash', r.hash >>> 0).int('compact_revision', r.compactRevision).toString();
}

function encodeAlarmMember(m: AlarmMember): string {
  return new GoJsonObject().int('memberID', BigInt.asUintN(64, m.memberID)).int('alarm', m.alarm).toString();
}

export function encodeAlarmResponse(r: AlarmResponse): string {
  return new GoJsonObject().message('header', header(r.header)).messages('alarms', r.alarms, encodeAlarmMember).toString();
}

export function encodeMoveLeaderResponse(r: MoveLeaderResponse): string {
  return new GoJsonObject().message('header', header(r.header)).toString();
}

/** []epHealth: `health` and `took` have no omitempty in etcdctl's struct, `error` has. */
export function encodeEndpointHealth(list: readonly EndpointHealth[]): string {
  const items = list.map((h) => {
    const json = new GoJsonObject()
      .raw('endpoint', goJsonString(h.endpoint))
      .raw('health', String(h.health))
      .raw('took', goJsonString(h.took));
    return json.string('error', h.error).toString();
  });
  return `[${items.join(',')}]`;
}

export function encodeEndpointStatus(list: readonly EndpointStatus[]): string {
  const items = list.map((s) => new GoJsonObject().raw('Endpoint', goJsonString(s.endpoint)).raw('Status', encodeStatusResponse(s.status)).toString());
  return `[${items.join(',')}]`;
}

export function encodeEndpointHashKV(list: readonly EndpointHashKV[]): string {
  const items = list.map((h) => new GoJsonObject().raw('Endpoint', goJsonString(h.endpoint)).raw('HashKV', encodeHashKVResponse(h.hashKV)).toString());
  return `[${items.join(',')}]`;
}

/** snapshot.Status: no omitempty, so zeros are printed. */
export function encodeSnapshotStatus(s: SnapshotStatus): string {
  return `{"hash":${s.hash >>> 0},"revision":${s.revision},"totalKey":${s.totalKey},"totalSize":${s.totalSize}}`;
}
