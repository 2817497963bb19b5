/**
 * Stable, compact text for messages, entries and Readies, so that a test
 * failure (or a simulator trace) reads like a protocol transcript:
 *
 *   1->2 MsgApp Term:2 Log:1/3 Commit:3 Entries:[2/4 EntryNormal "put a=1"]
 *
 * The format is part of the test contract: golden traces and trace hashes
 * depend on it, so change it deliberately.
 */
import {
  ConfChange as ConfChangeCodec,
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../../proto/gen/etcdtspb/raft.js';
import { snapshotConfState, snapshotIndex, snapshotTerm } from './messages.js';
import type { Ready } from './rawnode.js';
import type { SoftState } from './raft.js';

/** Printable ASCII payloads are quoted; anything else is shown as hex. */
export function describeData(data: Uint8Array): string {
  if (data.length === 0) return '';
  const printable = data.every((b) => b >= 0x20 && b < 0x7f);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return printable ? JSON.stringify(buf.toString('latin1')) : `0x${buf.toString('hex')}`;
}

export function describeConfChange(data: Uint8Array): string {
  const cc = ConfChangeCodec.decode(data);
  const kind: Record<number, string> = {
    [ConfChangeType.ConfChangeAddNode]: 'v',
    [ConfChangeType.ConfChangeAddLearnerNode]: 'l',
    [ConfChangeType.ConfChangeRemoveNode]: 'r',
    [ConfChangeType.ConfChangeUpdateNode]: 'u',
  };
  return `${kind[cc.type] ?? '?'}${cc.nodeId}`;
}

export function describeEntry(e: Entry): string {
  const body = e.type === EntryType.EntryConfChange ? describeConfChange(e.data) : describeData(e.data);
  const kind = EntryType[e.type] ?? `EntryType(${e.type})`;
  return `${e.term}/${e.index} ${kind}${body === '' ? '' : ` ${body}`}`;
}

export function describeEntries(ents: Entry[]): string {
  return ents.map(describeEntry).join('\n');
}

export function describeConfState(cs: ConfState): string {
  const learners = cs.learners.length > 0 ? ` Learners:[${cs.learners.join(' ')}]` : '';
  return `Voters:[${cs.voters.join(' ')}]${learners}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `Index:${snapshotIndex(s)} Term:${snapshotTerm(s)} ConfState:${describeConfState(snapshotConfState(s))}`;
}

export function describeHardState(hs: HardState): string {
  return `Term:${hs.term} Vote:${hs.vote} Commit:${hs.commit}`;
}

export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead} State:${ss.raftState}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type] ?? `MessageType(${m.type})`} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0n) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.snapshot !== undefined && snapshotIndex(m.snapshot) !== 0n) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  if (m.context.length > 0) s += ` Context:${describeData(m.context)}`;
  return s;
}

/** A multi-line rendering of a Ready, one field per line, empty fields omitted. */
export function describeReady(rd: Ready): string {
  const lines: string[] = [];
  if (rd.softState !== undefined) lines.push(describeSoftState(rd.softState));
  if (rd.hardState !== undefined) lines.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.readStates.length > 0) {
    lines.push(`ReadStates: ${rd.readStates.map((r) => `${r.index} ${describeData(r.requestCtx)}`).join(', ')}`);
  }
  if (rd.entries.length > 0) lines.push('Entries:', ...rd.entries.map(describeEntry));
  if (rd.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) lines.push('CommittedEntries:', ...rd.committedEntries.map(describeEntry));
  if (rd.messages.length > 0) lines.push('Messages:', ...rd.messages.map(describeMessage));
  if (rd.mustSync) lines.push('MustSync');
  return lines.length === 0 ? '<empty Ready>' : lines.join('\n');
}
