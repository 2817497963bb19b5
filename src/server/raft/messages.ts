/**
 * Helpers over the generated wire types: constructors that fill every field
 * (ts-proto interfaces have no defaults), message classification, and the
 * size accounting used for flow control.
 */
import {
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../../proto/gen/etcdtspb/raft.js';

/** Node id 0 means "nobody": no leader, no vote. */
export const none = 0n;

/** The largest uint64: returned as the commit index of an empty quorum. */
export const maxUint64 = (1n << 64n) - 1n;

export const emptyBuffer: Buffer = Buffer.alloc(0);

export function newMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    to: none,
    from: none,
    term: 0n,
    logTerm: 0n,
    index: 0n,
    entries: [],
    commit: 0n,
    snapshot: undefined,
    reject: false,
    rejectHint: 0n,
    context: emptyBuffer,
    ...fields,
  };
}

export function newEntry(fields: Partial<Entry>): Entry {
  return { term: 0n, index: 0n, type: EntryType.EntryNormal, data: emptyBuffer, ...fields };
}

export function emptyHardState(): HardState {
  return { term: 0n, vote: none, commit: 0n };
}

export function emptyConfState(): ConfState {
  return { voters: [], learners: [] };
}

export function emptySnapshot(): Snapshot {
  return { data: emptyBuffer, metadata: { confState: emptyConfState(), index: 0n, term: 0n } };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0n && hs.vote === none && hs.commit === 0n;
}

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function snapshotIndex(s: Snapshot | undefined): bigint {
  return s?.metadata?.index ?? 0n;
}

export function snapshotTerm(s: Snapshot | undefined): bigint {
  return s?.metadata?.term ?? 0n;
}

export function snapshotConfState(s: Snapshot): ConfState {
  return s.metadata?.confState ?? emptyConfState();
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return snapshotIndex(s) === 0n;
}

/** Messages the node generates for itself; they never cross the network. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

export function voteResponseType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

/** Bytes an entry's payload adds to the uncommitted tail (what a client proposed). */
export function payloadSizeBytes(e: Entry): number {
  return e.data.length;
}

/**
 * Approximate encoded size of an entry, for message and Ready size limits:
 * the payload plus the varint-encoded fixed fields. Exactness does not
 * matter; the limits only keep messages from growing without bound.
 */
export function entrySizeBytes(e: Entry): number {
  return e.data.length + 24;
}

/**
 * Keeps the longest prefix of `ents` within `maxBytes`, but always at least
 * one entry so that a single large entry still makes progress.
 */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySizeBytes(ents[0]!);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySizeBytes(ents[limit]!);
    if (size > maxBytes) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Ids sorted ascending: every walk over peers goes in id order, so output is deterministic. */
export function sortedIds(ids: Iterable<bigint>): bigint[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
