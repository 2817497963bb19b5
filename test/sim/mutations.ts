/**
 * Bugs the watch/lease simulation can inject, one at a time, to show that
 * its checks catch them (SIM_WL_MUTATION=name). Each names the etcd issue it
 * imitates where there is one. A correct run uses none. Two are expected to
 * be harmless in this model, each for a stated reason; the mutation table
 * (mutants.test.ts) checks that they are not caught either (a catch would
 * refute the reason). One is real but its scenario is rare in the seeds; it
 * is listed, not run in CI.
 */
export interface MutationInfo {
  bug: string;
  /** For a bug the checks must catch: CI asserts they do within this many seeds (a margin above today's). */
  seedsMax?: number;
  /** Set for a bug the checks cannot catch because it is harmless here: why. */
  harmless?: string;
  /** Set for a real bug whose scenario the seeds almost never reach: what it needs. */
  rare?: string;
}

export const mutations = {
  // Watch delivery (the member's watchable store).
  'watch-reorder': { bug: 'a member swaps two queued event responses of a stream', seedsMax: 5 },
  'watch-drop-on-resume': { bug: 'a watch created at a past revision skips the first revision it should send', seedsMax: 5 },
  'watch-duplicate': { bug: 'a catch-up batch is sent twice', seedsMax: 5 },
  'watch-split-revision': { bug: 'a revision with several events is sent in two responses without the fragment flag', seedsMax: 5 },
  'progress-unsynced': { bug: 'a progress request is answered while the watcher is still catching up (#15220)', seedsMax: 5 },
  'restore-rewind': { bug: 'after a snapshot restore, watchers resume from the member\'s old revision (#15271)', seedsMax: 5 },
  'future-watch-old-events': { bug: 'a watch at a future revision starts at the member\'s next revision (#20221)', seedsMax: 5 },
  'compact-drops-delete': { bug: 'compaction at a delete\'s revision drops that delete from the history (#18089, #19179)', seedsMax: 15 },
  // Leases (the leader's lessor and the applied store).
  'lease-early-expiry': { bug: 'the leader expires leases after half their TTL', seedsMax: 5 },
  'lease-no-extension': {
    bug: 'a new leader does not extend leases by the election timeout (etcd Promote)',
    harmless: 'a renewal is confirmed by a ReadIndex quorum in the renewing leader\'s term, so any later leader was elected, and promoted, after the keep-alive was sent: its full TTL already covers it',
  },
  'lease-promote-at-election': {
    bug: 'a new leader becomes primary at election, before it applied the entries of earlier terms',
    harmless: 'the renewal waits for ReadIndex and for the apply up to it, so a revoke from an earlier term is applied before any renewal is answered',
  },
  'lease-renew-unconfirmed': { bug: 'a leader renews keep-alives without confirming its leadership through ReadIndex (etcd 3.4)', seedsMax: 40 },
  'lease-forward-unconfirmed': {
    bug: 'a keep-alive forwarded by a follower is renewed without that confirmation (etcd main\'s leasehttp handler)',
    rare: 'needs a follower that still follows a deposed leader (cut off together with it, or not yet told of the new one) for longer than an election timeout plus a TTL, with a client keeping its lease alive through that follower; first caught at seed 176 of 1000 (Lease early expiry); the same hole on the direct path (lease-renew-unconfirmed) is caught in CI',
  },
  'lease-revoke-unconfirmed': { bug: 'a primary lessor revokes expired leases without confirming its leadership (etcd 3.4, #15247)', seedsMax: 10 },
  'lease-server-model': { bug: 'renewals and revokes unconfirmed AND primary at election (what src/server did before it confirmed leadership)', seedsMax: 15 },
  'lease-revoke-split': { bug: 'a revoke deletes the attached keys in two revisions', seedsMax: 15 },
  'lease-revoke-keeps-key': { bug: 'a revoke forgets one attached key, which outlives its lease', seedsMax: 15 },
  'lease-put-unknown': { bug: 'a put with an unknown lease is accepted (as a put without lease)', seedsMax: 5 },
} satisfies Record<string, MutationInfo>;

export type Mutation = keyof typeof mutations;
