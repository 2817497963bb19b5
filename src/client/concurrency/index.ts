/** The concurrency recipes over KV, Lease and Watch: sessions, locks, elections. */
export { Session, defaultSessionTtl, type SessionOptions } from './session.js';
export { Mutex } from './mutex.js';
export { Election, type LeaderObservation } from './election.js';
export {
  ConcurrencyError,
  SessionExpiredError,
  LockedError,
  ElectionNotLeaderError,
  ElectionNoLeaderError,
  LostWatcherError,
} from './errors.js';
