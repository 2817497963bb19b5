import { DeadlineExceededError } from '../client/errors.js';
import { CliError, ExitCode } from './errors.js';

/**
 * A second stderr line for a command that reached nothing at the default
 * endpoint: most likely no member runs on this machine yet, so say how to
 * start one. The `Error:` line before it stays etcdctl's (with the
 * endpoints tried and why each failed, which the client puts in it).
 */
const unreachable = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|No connection established/;

export function connectionHint(err: unknown, endpoints: readonly string[], endpointsGiven: boolean): string | undefined {
  if (endpointsGiven) return undefined;
  const detail = err instanceof DeadlineExceededError ? err.detail ?? '' : err instanceof CliError && err.exitCode === ExitCode.badConnection ? err.message : '';
  if (!unreachable.test(detail)) return undefined;
  return `Nothing answers at ${endpoints.join(',')}, the default endpoint: start a member with \`etcdts server\`, or a local cluster with \`eval "$(etcdts cluster up)"\`, or point --endpoints (or ETCDCTL_ENDPOINTS) at your cluster.`;
}
