/**
 * Raft's safety properties (paper, Figure 3), checked while the simulation
 * runs. Every check throws a SafetyViolation naming the property, so a
 * failing seed says what broke, and where.
 *
 * - Election Safety: at most one leader per term (checked after every
 *   input a member handles, so even a leadership that lasts one message is seen).
 * - Log Matching: every (index, term) names one entry, always preceded by
 *   the same (index-1, term'). By induction two logs that share an entry
 *   share the whole prefix before it. Checked on every persisted entry, and
 *   pairwise over the live logs from time to time.
 * - Leader Completeness: a new leader of term T holds every entry that was
 *   committed in a term before T.
 * - State Machine Safety: no two members apply different entries at one
 *   index, and the state after applying index i is the same everywhere
 *   (which also checks snapshots).
 * - Monotonicity: commit and applied indexes never go back, also across
 *   crashes (from the durable state).
 */
import { EntryType, type Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import type { RaftLog } from '../../src/server/raft/raft-log.js';

export class SafetyViolation extends Error {
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property} violated: ${detail}`);
    this.name = 'SafetyViolation';
  }
}

function contentOf(e: Entry): string {
  return `${e.type === EntryType.EntryConfChange ? 'cc' : 'n'}:${e.data.toString('latin1')}`;
}

interface Committed {
  term: bigint;
  content: string;
  /** The lowest term of a member that saw it committed: the term it was committed in. */
  commitTerm: bigint;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<bigint, bigint>();
  private readonly entries = new Map<string, { prevTerm: bigint; content: string }>();
  private readonly committed = new Map<bigint, Committed>();
  private readonly applied = new Map<bigint, string>();
  private readonly stateAt = new Map<bigint, string>();
  maxCommitted = 0n;
  /** Checks run, by property, for the report. */
  readonly counts = { roles: 0, entries: 0, commits: 0, applies: 0, leaders: 0, pairwise: 0 };

  /** Records a member's role; returns true when it is a leader not seen before. */
  observeRole(id: bigint, state: string, term: bigint): boolean {
    this.counts.roles++;
    if (state !== 'leader') return false;
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      return true;
    }
    if (known !== id) throw new SafetyViolation('Election Safety', `members ${known} and ${id} are both leaders of term ${term}`);
    return false;
  }

  get termsWithLeader(): number {
    return this.leaderOfTerm.size;
  }

  /** Entries a member persists, after the entry at `first.index - 1` of term `prevTerm`. */
  onPersist(id: bigint, ents: Entry[], prevTerm: bigint): void {
    let prev = prevTerm;
    for (const e of ents) {
      this.counts.entries++;
      const key = `${e.index}:${e.term}`;
      const content = contentOf(e);
      const known = this.entries.get(key);
      if (known === undefined) {
        this.entries.set(key, { prevTerm: prev, content });
      } else if (known.content !== content || known.prevTerm !== prev) {
        throw new SafetyViolation(
          'Log Matching',
          `member ${id} has entry ${e.index}/${e.term} after term ${prev} with ${content}; elsewhere it follows term ${known.prevTerm} with ${known.content}`,
        );
      }
      prev = e.term;
    }
  }

  /** Entries (from, to] that member `id` (in term `term`) now knows are committed. */
  onCommitted(id: bigint, term: bigint, log: RaftLog, from: bigint, to: bigint): void {
    const first = log.firstIndex();
    for (let i = from + 1n > first ? from + 1n : first; i <= to; i++) {
      this.counts.commits++;
      const e = log.slice(i, i + 1n, Infinity)[0]!;
      const content = contentOf(e);
      const known = this.committed.get(i);
      if (known === undefined) {
        this.committed.set(i, { term: e.term, content, commitTerm: term });
      } else if (known.term !== e.term || known.content !== content) {
        throw new SafetyViolation('State Machine Safety', `member ${id} committed ${i}/${e.term} but ${i}/${known.term} was committed before`);
      } else if (term < known.commitTerm) {
        known.commitTerm = term;
      }
    }
    if (to > this.maxCommitted) this.maxCommitted = to;
  }

  /** A member just became leader of `term`: it must hold everything committed in earlier terms. */
  checkLeaderCompleteness(id: bigint, term: bigint, log: RaftLog): void {
    this.counts.leaders++;
    const first = log.firstIndex();
    const last = log.lastIndex();
    for (let i = first; i <= this.maxCommitted; i++) {
      const c = this.committed.get(i);
      if (c === undefined || c.commitTerm >= term) continue;
      if (i > last) {
        throw new SafetyViolation('Leader Completeness', `leader ${id} of term ${term} ends at ${last} but ${i} was committed in term ${c.commitTerm}`);
      }
      const t = log.termOrZero(i);
      if (t !== c.term) {
        throw new SafetyViolation('Leader Completeness', `leader ${id} of term ${term} has ${i}/${t}, committed entry is ${i}/${c.term}`);
      }
    }
  }

  /** Member `id` applied entry `e`; `fingerprint` is its state afterwards. */
  onApplied(id: bigint, e: Entry, fingerprint: string): void {
    this.counts.applies++;
    const content = `${e.term}|${contentOf(e)}`;
    const known = this.applied.get(e.index);
    if (known === undefined) this.applied.set(e.index, content);
    else if (known !== content) throw new SafetyViolation('State Machine Safety', `member ${id} applied ${content} at ${e.index}, another member applied ${known}`);
    this.checkState(id, e.index, fingerprint);
  }

  /** Member `id` replaced its state with a snapshot at `index`. */
  onSnapshotRestored(id: bigint, index: bigint, fingerprint: string): void {
    this.checkState(id, index, fingerprint);
  }

  private checkState(id: bigint, index: bigint, fingerprint: string): void {
    const known = this.stateAt.get(index);
    if (known === undefined) this.stateAt.set(index, fingerprint);
    else if (known !== fingerprint) {
      throw new SafetyViolation('State Machine Safety', `member ${id} has state ${fingerprint} at ${index}, another member had ${known}`);
    }
  }

  /** Compares live logs pairwise on their overlap: equal terms at i imply equal terms below i. */
  checkLogsPairwise(logs: Array<{ id: bigint; log: RaftLog }>): void {
    this.counts.pairwise++;
    const terms = logs.map(({ id, log }) => {
      const first = log.firstIndex() - 1n;
      return { id, first, terms: log.allEntries().map((e) => e.term), boundary: log.termOrZero(first) };
    });
    for (let a = 0; a < terms.length; a++) {
      for (let b = a + 1; b < terms.length; b++) comparePair(terms[a]!, terms[b]!);
    }
  }
}

interface TermView {
  id: bigint;
  /** Index of the boundary entry (the snapshot's), whose term is `boundary`. */
  first: bigint;
  boundary: bigint;
  /** Terms of entries first+1, first+2, ... */
  terms: bigint[];
}

function termAt(v: TermView, i: bigint): bigint {
  return i === v.first ? v.boundary : v.terms[Number(i - v.first - 1n)]!;
}

function comparePair(x: TermView, y: TermView): void {
  const lo = x.first > y.first ? x.first : y.first;
  const xLast = x.first + BigInt(x.terms.length);
  const yLast = y.first + BigInt(y.terms.length);
  const hi = xLast < yLast ? xLast : yLast;
  let agreedFrom: bigint | undefined;
  for (let i = hi; i >= lo; i--) {
    const same = termAt(x, i) === termAt(y, i);
    if (agreedFrom === undefined && same) agreedFrom = i;
    else if (agreedFrom !== undefined && !same) {
      throw new SafetyViolation('Log Matching', `members ${x.id} and ${y.id} agree at ${agreedFrom} but differ at ${i}`);
    }
  }
}
