/**
 * Deliberate bugs in the shipped stores, switched on one at a time in the
 * simulation over them (SimOptions.realMutant), to show that it checks the
 * shipped code and not only the models: each replaces one method of one
 * member's watchable store or lessor, from the test side. Each names the
 * etcd issue of the same shape. The CI test asserts each is caught within
 * `seedsMax` seeds (mutants.test.ts).
 */
import { invalidWatchId, type Watcher, type WatchStream } from '../../src/server/mvcc/watchable-store.js';
import { replace } from './patch.js';
import type { RealStateMachine } from './real-state-machine.js';

export interface RealMutant {
  bug: string;
  /** Replaces methods of one member's stores; called whenever they are (re)built. */
  patch(sm: RealStateMachine): void;
  seedsMax: number;
}

/** The private parts of the watchable store a mutant replaces. */
interface WatchableInternals {
  makeVictim(w: Watcher, rev: bigint): void;
  maybeSendStreamProgress(s: WatchStream): void;
}

export const realMutants = {
  'restore-keeps-watchers-synced': {
    bug: 'installing a snapshot leaves synced watchers synced, so they never get the revisions the snapshot skipped (#15271)',
    patch(sm) {
      sm.watchable.onRestore = () => undefined;
    },
    seedsMax: 30,
  },
  'victim-skips-its-revision': {
    bug: 'a watcher whose stream is full resumes after the revision it could not queue instead of at it',
    patch(sm) {
      replace(sm.watchable as unknown as WatchableInternals, 'makeVictim', (original) => (w, rev) => original(w, rev + 1n));
    },
    seedsMax: 5,
  },
  'progress-while-catching-up': {
    bug: 'a progress request is answered at once, while a watcher of the stream may still be catching up (#15220)',
    patch(sm) {
      replace(sm.watchable as unknown as WatchableInternals, 'maybeSendStreamProgress', (original) => (s) => {
        if (!s.progressRequested || s.closed) return original(s);
        s.progressRequested = false;
        const revision = sm.store.currentRev;
        s.enqueue({
          header: { clusterId: 0n, memberId: 0n, revision, raftTerm: 0n }, watchId: invalidWatchId, created: false,
          canceled: false, compactRevision: 0n, cancelReason: '', fragment: false, events: [],
        }, false);
      });
    },
    seedsMax: 10,
  },
  'revoke-leaves-a-key': {
    bug: 'revoking a lease deletes all its keys but one, which outlives the lease',
    patch(sm) {
      const lessor = sm.lessor;
      replace(lessor, 'revoke', (original) => (id) => {
        const keys = [...(lessor.lookup(id)?.keys ?? [])].sort();
        if (keys.length > 1) lessor.detach(id, keys[keys.length - 1]!);
        original(id);
      });
    },
    seedsMax: 5,
  },
} satisfies Record<string, RealMutant>;

export type RealMutantName = keyof typeof realMutants;
