import { CliError, ExitCode } from '../errors.js';

/**
 * `--initial-cluster name=url,name=url,...` and peer URL lists as etcd reads
 * them (pkg/types.NewURLsMap / NewURLs): a name may appear several times,
 * once per peer URL; every URL needs an http, https, unix or unixs scheme,
 * a host:port and no path. Errors carry etcd's texts.
 */
export function parseInitialCluster(text: string): Map<string, string[]> {
  const cluster = new Map<string, string[]>();
  if (text === '') return cluster;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const url = eq < 0 ? '' : pair.slice(eq + 1);
    const urls = cluster.get(name) ?? [];
    urls.push(url);
    cluster.set(name, urls);
  }
  for (const urls of cluster.values()) {
    checkPeerUrls(urls);
    urls.sort();
  }
  return cluster;
}

export function checkPeerUrls(urls: readonly string[]): void {
  for (const text of urls) {
    const fail = (message: string): never => {
      throw new CliError(message, ExitCode.error);
    };
    const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(text);
    if (match === null) fail(`URL scheme must be http, https, unix, or unixs: ${text}`);
    const [, scheme, host, path] = match!;
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme!.toLowerCase())) fail(`URL scheme must be http, https, unix, or unixs: ${text}`);
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(host!)) fail(`URL address does not have the form "host:port": ${text}`);
    if (path !== '') fail(`URL must not contain a path: ${text}`);
  }
}

/**
 * The member's own entry must be in --initial-cluster and list exactly its
 * --initial-advertise-peer-urls, or the restored member would not recognise
 * itself (etcd refuses to start such a member; we refuse before writing).
 */
export function checkOwnEntry(cluster: ReadonlyMap<string, string[]>, name: string, advertise: readonly string[]): void {
  const own = cluster.get(name);
  if (own === undefined) throw new CliError(`couldn't find local name "${name}" in the initial cluster configuration`, ExitCode.error);
  const advertised = [...advertise].sort();
  const missing = own.filter((url) => !advertised.includes(url));
  const extra = advertised.filter((url) => !own.includes(url));
  if (missing.length > 0 || extra.length > 0) {
    const has = own.map((url) => `${name}=${url}`).join(',');
    throw new CliError(`--initial-cluster has ${has} but --initial-advertise-peer-urls is ${advertised.join(',')}: they must match`, ExitCode.error);
  }
}
