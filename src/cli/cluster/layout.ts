import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CliError, ExitCode } from '../errors.js';

/**
 * A local cluster's folder (`cluster up --data-dir`, default ./cluster):
 *
 *   cluster.json          the members' names and ports, the token, TLS or not
 *   tls/                  with --tls: ca.crt, server.*, peer.*, client.* (PEM)
 *   <name>/data/          the member's data dir
 *   <name>/member.log     its stdout and stderr
 *   <name>/member.pid     its pid while `cluster` commands know it to run
 *
 * The layout is the whole state: every `cluster` command reads it, so a
 * cluster outlives the command that started it and `cluster up` on the
 * folder again brings back the same members with their data.
 */
export const layoutFormat = 1;
export const defaultClusterDir = './cluster';

export interface MemberLayout {
  name: string;
  clientPort: number;
  peerPort: number;
}

export interface ClusterLayout {
  format: number;
  token: string;
  tls: boolean;
  members: MemberLayout[];
}

export interface MemberPaths {
  dir: string;
  dataDir: string;
  log: string;
  pid: string;
}

export interface TlsPaths {
  ca: string;
  serverCert: string;
  serverKey: string;
  peerCert: string;
  peerKey: string;
  clientCert: string;
  clientKey: string;
}

/** A cluster folder: where everything is, given its (absolute) path. */
export class ClusterFolder {
  readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  get layoutFile(): string {
    return join(this.root, 'cluster.json');
  }

  exists(): boolean {
    return existsSync(this.layoutFile);
  }

  member(name: string): MemberPaths {
    const dir = join(this.root, name);
    return { dir, dataDir: join(dir, 'data'), log: join(dir, 'member.log'), pid: join(dir, 'member.pid') };
  }

  get tls(): TlsPaths {
    const t = (file: string): string => join(this.root, 'tls', file);
    return {
      ca: t('ca.crt'), serverCert: t('server.crt'), serverKey: t('server.key'), peerCert: t('peer.crt'), peerKey: t('peer.key'),
      clientCert: t('client.crt'), clientKey: t('client.key'),
    };
  }

  /** Reads cluster.json; a folder without one is not a cluster (exit 1, says how to make one). */
  read(): ClusterLayout {
    if (!this.exists()) throw new CliError(`no cluster in ${this.root} (no cluster.json): start one with \`etcdts cluster up --data-dir ${this.root}\``, ExitCode.error);
    let layout: ClusterLayout;
    try {
      layout = JSON.parse(readFileSync(this.layoutFile, 'utf8')) as ClusterLayout;
    } catch (err) {
      throw new CliError(`${this.layoutFile}: ${(err as Error).message}`, ExitCode.invalidInput);
    }
    if (layout.format !== layoutFormat || !Array.isArray(layout.members) || layout.members.length === 0) {
      throw new CliError(`${this.layoutFile}: not a cluster layout of format ${layoutFormat}`, ExitCode.invalidInput);
    }
    return layout;
  }

  async write(layout: ClusterLayout): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const tmp = `${this.layoutFile}.tmp`;
    await writeFile(tmp, `${JSON.stringify(layout, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.layoutFile);
  }

  /** The member named `name`, or a bad-arguments error listing the names there are. */
  find(layout: ClusterLayout, name: string): MemberLayout {
    const member = layout.members.find((m) => m.name === name);
    if (member === undefined) throw new CliError(`no member "${name}" in ${this.root} (members: ${layout.members.map((m) => m.name).join(', ')})`, ExitCode.badArgs);
    return member;
  }
}

export function newLayout(ports: Array<[client: number, peer: number]>, tls: boolean): ClusterLayout {
  return {
    format: layoutFormat,
    token: `etcdts-cluster-${randomBytes(4).toString('hex')}`,
    tls,
    members: ports.map(([clientPort, peerPort], i) => ({ name: `m${i + 1}`, clientPort, peerPort })),
  };
}

export function scheme(layout: ClusterLayout): 'http' | 'https' {
  return layout.tls ? 'https' : 'http';
}

export function clientUrl(layout: ClusterLayout, m: MemberLayout): string {
  return `${scheme(layout)}://127.0.0.1:${m.clientPort}`;
}

export function peerUrl(layout: ClusterLayout, m: MemberLayout): string {
  return `${scheme(layout)}://127.0.0.1:${m.peerPort}`;
}
