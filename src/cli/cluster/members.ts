import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { clientUrl, peerUrl, type ClusterFolder, type ClusterLayout, type MemberLayout } from './layout.js';

/**
 * The member processes of a local cluster: real `etcdts server` processes,
 * started detached (their own session, output to the member's log) so they
 * outlive the command that started them. Each one's pid is kept in its
 * folder, and a pid is signalled only while /proc shows it is still that
 * member (an etcdts server on that data dir): a pid the system has since
 * given to another process is never touched. Never by name.
 */
export const memberStopGraceMs = 10_000;
const exitPollMs = 50;

/** The server's command line for one member: etcd's flags, the whole cluster in --initial-cluster. */
export function memberArgs(folder: ClusterFolder, layout: ClusterLayout, m: MemberLayout): string[] {
  const client = clientUrl(layout, m);
  const peer = peerUrl(layout, m);
  const args = [
    '--name', m.name,
    '--data-dir', folder.member(m.name).dataDir,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', layout.members.map((x) => `${x.name}=${peerUrl(layout, x)}`).join(','),
    '--initial-cluster-token', layout.token,
    '--initial-cluster-state', 'new',
  ];
  if (layout.tls) {
    const t = folder.tls;
    args.push(
      '--cert-file', t.serverCert, '--key-file', t.serverKey, '--trusted-ca-file', t.ca, '--client-cert-auth',
      '--peer-cert-file', t.peerCert, '--peer-key-file', t.peerKey, '--peer-trusted-ca-file', t.ca, '--peer-client-cert-auth',
    );
  }
  return args;
}

/**
 * Starts one member detached and records its pid. ETCD_* variables of the
 * caller's environment are left out: the server would read them as flags,
 * and the cluster's members must be what cluster.json says.
 */
export async function startMember(folder: ClusterFolder, layout: ClusterLayout, m: MemberLayout, runJs: string): Promise<number> {
  const paths = folder.member(m.name);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ETCD_')));
  const log = openSync(paths.log, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [runJs, 'server', ...memberArgs(folder, layout, m)], { detached: true, stdio: ['ignore', log, log], env, cwd: paths.dir });
    if (child.pid === undefined) throw new Error(`could not start member ${m.name}`);
    child.unref();
    await writeFile(paths.pid, `${child.pid}\n`, { mode: 0o600 });
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** The member's pid if it is running (and is still that member), else undefined. */
export function runningPid(folder: ClusterFolder, name: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(folder.member(name).pid, 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isSafeInteger(pid) && pid > 1 && isMemberProcess(pid, folder.member(name).dataDir) ? pid : undefined;
}

/** Whether pid is a live (not zombie) etcdts server on this data dir, from /proc. */
export function isMemberProcess(pid: number, dataDir: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = argv.indexOf('--data-dir');
    return argv.includes('server') && at >= 0 && argv[at + 1] === dataDir;
  } catch {
    return false;
  }
}

/** SIGKILL: the member dies at once, as in a crash. Returns the pid, or undefined when it was not running. */
export async function killMember(folder: ClusterFolder, name: string): Promise<number | undefined> {
  const pid = runningPid(folder, name);
  if (pid === undefined) return undefined;
  signal(pid, 'SIGKILL');
  await waitGone(pid, folder.member(name).dataDir, memberStopGraceMs);
  await rm(folder.member(name).pid, { force: true });
  return pid;
}

/**
 * Stops members gracefully: SIGTERM to each running one, then SIGKILL to
 * those still running after the grace period. Returns what happened to each.
 */
export async function stopMembers(folder: ClusterFolder, names: string[], graceMs = memberStopGraceMs): Promise<Map<string, 'stopped' | 'killed' | 'not running'>> {
  const outcome = new Map<string, 'stopped' | 'killed' | 'not running'>();
  const running: Array<{ name: string; pid: number }> = [];
  for (const name of names) {
    const pid = runningPid(folder, name);
    if (pid === undefined) outcome.set(name, 'not running');
    else {
      signal(pid, 'SIGTERM');
      running.push({ name, pid });
    }
  }
  await Promise.all(running.map(async ({ name, pid }) => {
    const dataDir = folder.member(name).dataDir;
    if (await waitGone(pid, dataDir, graceMs)) outcome.set(name, 'stopped');
    else {
      signal(pid, 'SIGKILL');
      await waitGone(pid, dataDir, graceMs);
      outcome.set(name, 'killed');
    }
  }));
  for (const name of names) await rm(folder.member(name).pid, { force: true });
  return outcome;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone in between: nothing to do.
  }
}

async function waitGone(pid: number, dataDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isMemberProcess(pid, dataDir)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, exitPollMs));
  }
  return true;
}

/** Free loopback ports from the system, or consecutive ones from a base (client, peer per member). */
export async function choosePorts(members: number, basePort: number | undefined): Promise<Array<[number, number]>> {
  const pairs: Array<[number, number]> = [];
  const taken = new Set<number>();
  for (let i = 0; i < members; i++) {
    if (basePort !== undefined) pairs.push([basePort + 2 * i, basePort + 2 * i + 1]);
    else pairs.push([await freePort(taken), await freePort(taken)]);
  }
  return pairs;
}

async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    if (port !== 0 && !taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}
