import type { Client } from '../../client/client.js';
import type { ClientOptions } from '../../client/options.js';
import { clientOptionsWithPassword } from '../auth/ask-password.js';
import { CliError, ExitCode } from '../errors.js';
import type { FlagSpec } from '../flags/flag-spec.js';
import type { ParsedFlags } from '../flags/parser.js';

/**
 * Per-member commands (endpoint status/health/hashkv, defrag, move-leader)
 * talk to each endpoint on its own, as etcdctl does: one unreachable member
 * must show up as one failed line, not fail the whole command at connection
 * time. These helpers build the client options once (asking for the
 * password once) and open a lazily connecting client per endpoint.
 */
export function adminClientOptions(flags: ParsedFlags): Promise<ClientOptions> {
  return clientOptionsWithPassword(flags);
}

/**
 * A client of one endpoint that connects on first use: a call to an
 * unreachable member fails with "context deadline exceeded" when its command
 * timeout passes, which is what etcdctl reports for it.
 */
export async function endpointClient(options: ClientOptions, endpoint: string): Promise<Client> {
  const { Client } = await import('../../client/client.js');
  return Client.connect({ ...options, endpoints: [endpoint], dialTimeoutMs: 0 });
}

/** Runs `fn` with a client of one endpoint and closes it afterwards. */
export async function withEndpoint<T>(options: ClientOptions, endpoint: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await endpointClient(options, endpoint);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** etcdctl's --cluster of `endpoint` and `defrag`. */
export const clusterFlagSpec: FlagSpec = { name: 'cluster', kind: 'bool', defaultText: 'false', description: 'use all endpoints from the cluster member list' };

/**
 * etcdctl's endpointsFromCluster: the --endpoints as given, or with
 * --cluster the client URLs of every member in the member list (asked
 * without credentials, as MemberList needs none).
 */
export async function endpointsFromCluster(flags: ParsedFlags, options: ClientOptions, timeoutMs: number | undefined): Promise<string[]> {
  if (!flags.bool('cluster')) return flags.strings('endpoints');
  const { username: _u, password: _p, ...anonymous } = options;
  const { Client } = await import('../../client/client.js');
  const client = await Client.connect({ ...anonymous, dialTimeoutMs: 0 });
  try {
    const { members } = await client.cluster.memberList({ timeoutMs });
    return members.flatMap((m) => m.clientURLs);
  } catch (err) {
    throw new CliError(`failed to fetch endpoints from etcd cluster member list: ${(err as Error).message}`, ExitCode.error);
  } finally {
    client.close();
  }
}

/**
 * Ends a command with a failing exit code and nothing more on stderr, for
 * commands that already printed what failed (etcdctl's bare os.Exit).
 */
export function exitQuietly(code: number): void {
  process.exitCode = code;
}

/** The message etcdctl prints for a failed per-endpoint call: the error text alone. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
