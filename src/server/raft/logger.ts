/**
 * The Raft core logs through an injected logger so that it stays free of I/O.
 * Messages are complete sentences built by the caller; a missing logger costs
 * nothing because call sites use optional chaining (`logger?.info(...)`), which
 * skips building the string.
 */
export interface RaftLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
