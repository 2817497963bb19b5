/**
 * Exit codes of the long-running coordination commands (lock, elect,
 * lease keep-alive), beyond etcdctl's (see ../errors.ts). A script can tell
 * "my command failed" from "the lock machinery failed":
 *
 *   0..123  lock/elect with a command: the command's own exit code
 *   124     lock --timeout: gave up waiting for the lock (as timeout(1) does)
 *   125     lost: the session's lease expired or could not be renewed in
 *           time while the lock or leadership was held (the command, if any,
 *           was sent SIGTERM, then SIGKILL after --kill-after); for
 *           lease keep-alive: the lease expired or was revoked
 *   126     the command could not be executed (permission denied, ...)
 *   127     the command was not found
 *   128+n   the command was killed by signal n
 *   1, 2, 128  etcdctl's codes for errors before the lock was held
 *           (request failed, cannot connect, bad arguments)
 */
export const CoordinationExit = {
  lockTimeout: 124,
  lost: 125,
  cannotExecute: 126,
  commandNotFound: 127,
  signalBase: 128,
} as const;

/** A failure of a coordination command with one of the codes above: printed as one `Error: <message>` line. */
export class CoordinationError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CoordinationError';
  }
}
