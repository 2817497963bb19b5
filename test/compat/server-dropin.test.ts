import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyEnvironment, parseCommandLine } from '../../src/server/etcdserver/go-flags.js';
import { flagToEnv, serverFlag, type FlagDef } from '../../src/server/etcdserver/server-flags.js';
import { portOpen, runJs } from '../support/etcdts.js';
import { TestPki } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, run, start, tempDir, waitFor, type Spawned } from '../support/procs.js';
import { etcdBinary, etcdctlBinary, requireRealEtcd } from '../support/real-etcd.js';

/** The flags `etcd --help` of the installed etcd lists (it prints its help on stderr). */
function etcdHelpFlags(): string[] {
  const help = spawnSync(etcdBinary, ['--help'], { encoding: 'utf8' });
  const text = `${help.stdout}${help.stderr}`;
  const names = new Set([...text.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
  names.delete('help');
  return [...names].sort();
}

/** A value of the flag's type that passes parsing (its default, or a stand-in for an empty one). */
function sampleValue(def: FlagDef): string {
  if (def.kind === 'duration') return `${def.defaultValue}ms`;
  const text = String(def.defaultValue);
  return text !== '' ? text : def.kind === 'list' ? 'x,y' : 'x';
}

describe('etcdts server as a drop-in for the etcd binary', function () {
  this.timeout(120000);
  before(function () {
    requireRealEtcd();
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it("recognises every flag of `etcd --help` and its ETCD_* variable, with etcd's type", () => {
    const flags = etcdHelpFlags();
    assert.ok(flags.length > 80, `etcd --help listed ${flags.length} flags`);
    for (const name of flags) {
      const def = serverFlag(name);
      assert.ok(def !== undefined, `--${name} is not recognised`);
      const value = sampleValue(def);
      assert.doesNotThrow(() => parseCommandLine([`--${name}=${value}`]), `--${name}=${value}`);
      const fromEnv = parseCommandLine([]);
      applyEnvironment(fromEnv, { [flagToEnv(name)]: value });
      assert.ok(fromEnv.notes.some((n) => n.msg === 'recognized and used environment variable' && n.fields['variable-name'] === flagToEnv(name)), flagToEnv(name));
      assert.ok(!fromEnv.notes.some((n) => n.msg === 'unrecognized environment variable'), flagToEnv(name));
    }
  });

  async function ports(): Promise<{ client: string; peer: string; port: number }> {
    const port = await freePort();
    return { client: `http://127.0.0.1:${port}`, peer: `http://127.0.0.1:${await freePort()}`, port };
  }

  it('starts with every flag of `etcd --help` given at once, on the command line or as ETCD_* variables', async () => {
    const given = new Map<string, string>();
    for (const name of etcdHelpFlags()) {
      const def = serverFlag(name)!;
      if (name === 'version' || name === 'config-file') continue;
      given.set(name, def.kind === 'duration' ? `${def.defaultValue}ms` : String(def.defaultValue));
    }
    for (const [how, index] of [['flags', 0], ['environment', 1]] as const) {
      const p = await ports();
      const own: Record<string, string> = {
        name: `walk${index}`, 'data-dir': join(tempDir('walk-'), 'd'), 'listen-client-urls': p.client, 'advertise-client-urls': p.client,
        'listen-peer-urls': p.peer, 'initial-advertise-peer-urls': p.peer, 'initial-cluster': `walk${index}=${p.peer}`, 'log-level': 'info',
      };
      const settings = new Map([...given, ...Object.entries(own)]);
      let proc: Spawned;
      if (how === 'flags') {
        proc = start(process.execPath, [runJs, 'server', ...[...settings].map(([k, v]) => `--${k}=${v}`)]);
      } else {
        // An empty ETCD_* variable counts as unset (and etcd warns about it): only values are passed.
        const env = Object.fromEntries([...settings].filter(([, v]) => v !== '').map(([k, v]) => [flagToEnv(k), v]));
        proc = start(process.execPath, [runJs, 'server'], { env: { ...process.env, ...env } });
      }
      await waitFor(`the member started with every flag as ${how}`, async () => {
        if (proc.child.exitCode !== null) throw new Error(proc.output());
        return portOpen(p.port);
      }, 30000, 100);
      const health = await run(etcdctlBinary, ['--endpoints', p.client, 'endpoint', 'health']);
      assert.equal(health.code, 0, health.stderr);
      assert.ok(!proc.output().includes('unrecognized environment variable'), proc.output());
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0);
    }
  });

  it('refuses what it does not serve with a one-line error, as etcd refuses its own unsupported settings', async () => {
    for (const [args, message] of [
      [['--enable-v2'], /the v2 API is not supported/],
      [['--proxy', 'on'], /proxy mode is not supported/],
      [['--discovery', 'https://discovery.etcd.io/abc'], /discovery service is not supported/],
      [['--log-outputs', 'systemd/journal'], /systemd\/journal is not supported/],
      [['--no-such-flag'], /flag provided but not defined: -no-such-flag/],
      [['--enable-v2', 'false'], /'false' is not a valid flag/],
    ] as Array<[string[], RegExp]>) {
      const r = await run(process.execPath, [runJs, 'server', '--data-dir', join(tempDir('refuse-'), 'd'), ...args]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const conflict = await run(process.execPath, [runJs, 'server', '--name', 'a'], { env: { ...process.env, ETCD_NAME: 'b' } });
    assert.match(conflict.stderr, /conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag/);
  });

  it("a config file written for etcd starts etcd and etcdts alike; other flags and variables are then ignored", async () => {
    const pki = new TestPki();
    const server = pki.issue('server');
    const client = pki.issue('client');
    for (const binary of ['etcd', 'etcdts'] as const) {
      const port = await freePort();
      const peer = `http://127.0.0.1:${await freePort()}`;
      const dir = tempDir(`conf-${binary}-`);
      const file = join(dir, 'etcd.conf.yml');
      writeFileSync(file, [
        `name: 'conf-${binary}'`,
        `data-dir: ${join(dir, 'data')}`,
        'snapshot-count: 10000',
        'heartbeat-interval: 100',
        'election-timeout: 1000',
        `listen-peer-urls: ${peer}`,
        `listen-client-urls: https://127.0.0.1:${port}`,
        `initial-advertise-peer-urls: ${peer}`,
        `advertise-client-urls: https://127.0.0.1:${port}`,
        `initial-cluster: conf-${binary}=${peer}`,
        "initial-cluster-token: 'etcd-cluster'",
        "initial-cluster-state: 'new'",
        'logger: zap',
        'log-level: info',
        'experimental-watch-progress-notify-interval: 5000000000',
        'client-transport-security:',
        `  cert-file: ${server.cert}`,
        `  key-file: ${server.key}`,
        '  client-cert-auth: true',
        `  trusted-ca-file: ${pki.caFile}`,
        '',
      ].join('\n'));
      const cmd = binary === 'etcd' ? [etcdBinary] : [process.execPath, runJs, 'server'];
      const proc = start(cmd[0]!, [...cmd.slice(1), '--config-file', file, '--name', 'ignored'], { env: { ...process.env, ETCD_SNAPSHOT_COUNT: 'ignored too' } });
      await waitFor(`${binary} to serve with its config file`, async () => {
        if (proc.child.exitCode !== null) throw new Error(proc.output());
        return portOpen(port);
      }, 30000, 100);
      const endpoint = `https://127.0.0.1:${port}`;
      const tls = ['--cacert', pki.caFile, '--cert', client.cert, '--key', client.key];
      await waitFor(`${binary} to answer over TLS`, async () => (await run(etcdctlBinary, ['--endpoints', endpoint, ...tls, 'put', 'k', 'v'])).code === 0, 20000, 200);
      const members = await run(etcdctlBinary, ['--endpoints', endpoint, ...tls, 'member', 'list']);
      assert.match(members.stdout, new RegExp(`, started, conf-${binary}, ${peer}, ${endpoint}, false`));
      const untrusted = await run(etcdctlBinary, ['--endpoints', endpoint, '--cacert', pki.caFile, '--dial-timeout', '2s', 'get', 'k']);
      assert.notEqual(untrusted.code, 0, 'a client without a certificate is refused (client-cert-auth from the file)');
      if (binary === 'etcdts') assert.match(proc.output(), /"msg":"loaded server configuration, other configuration command line flags and environment variables will be ignored if provided"/);
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });

  it("kubeadm's static-pod command line starts a three-member TLS cluster that the real etcdctl uses", async () => {
    const pki = new TestPki();
    const names = ['node1', 'node2', 'node3'];
    const nodes = await Promise.all(names.map(async (name) => ({
      name, client: await freePort(), local: await freePort(), peer: await freePort(), metrics: await freePort(),
      server: pki.issue(`${name}-server`, { hosts: ['127.0.0.1', '127.0.0.2', 'localhost'] }),
      peerCert: pki.issue(`${name}-peer`, { hosts: ['127.0.0.1', '127.0.0.2', 'localhost'] }),
    })));
    const initialCluster = nodes.map((n) => `${n.name}=https://127.0.0.2:${n.peer}`).join(',');
    const procs = nodes.map((n) => start(process.execPath, [runJs, 'server',
      // cmd/kubeadm/app/phases/etcd/local.go: getEtcdCommand, with 127.0.0.2 as the node's address.
      `--advertise-client-urls=https://127.0.0.2:${n.client}`,
      `--cert-file=${n.server.cert}`,
      '--client-cert-auth=true',
      `--data-dir=${join(tempDir('kubeadm-'), 'etcd')}`,
      '--experimental-initial-corrupt-check=true',
      '--experimental-watch-progress-notify-interval=5s',
      `--initial-advertise-peer-urls=https://127.0.0.2:${n.peer}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--key-file=${n.server.key}`,
      `--listen-client-urls=https://127.0.0.1:${n.local},https://127.0.0.2:${n.client}`,
      `--listen-metrics-urls=http://127.0.0.1:${n.metrics}`,
      `--listen-peer-urls=https://127.0.0.2:${n.peer}`,
      `--name=${n.name}`,
      `--peer-cert-file=${n.peerCert.cert}`,
      '--peer-client-cert-auth=true',
      `--peer-key-file=${n.peerCert.key}`,
      `--peer-trusted-ca-file=${pki.caFile}`,
      '--snapshot-count=10000',
      `--trusted-ca-file=${pki.caFile}`,
    ]));
    const endpoints = nodes.map((n) => `https://127.0.0.2:${n.client}`).join(',');
    // kube-apiserver's client certificate, as kubeadm makes it.
    const apiserver = pki.issue('kube-apiserver-etcd-client');
    const tls = ['--cacert', pki.caFile, '--cert', apiserver.cert, '--key', apiserver.key];
    await waitFor('the cluster to be healthy', async () => {
      for (const p of procs) if (p.child.exitCode !== null) throw new Error(p.output());
      return (await run(etcdctlBinary, ['--endpoints', endpoints, ...tls, 'endpoint', 'health'])).code === 0;
    }, 60000, 500);
    const put = await run(etcdctlBinary, ['--endpoints', endpoints, ...tls, 'put', '/registry/pods/default/p1', 'spec']);
    assert.equal(put.code, 0, put.stderr);
    const get = await run(etcdctlBinary, [`--endpoints=https://127.0.0.1:${nodes[2]!.local}`, ...tls, 'get', '/registry/pods/default/p1', '--print-value-only']);
    assert.equal(get.stdout, 'spec\n', get.stderr);
    const list = await run(etcdctlBinary, ['--endpoints', endpoints, ...tls, 'member', 'list', '-w', 'table']);
    assert.equal((list.stdout.match(/started/g) ?? []).length, 3, list.stdout);
    for (const n of nodes) {
      assert.equal((await fetch(`http://127.0.0.1:${n.metrics}/health`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${n.metrics}/metrics`)).text(), /^etcd_server_has_leader 1$/m);
    }
    for (const p of procs) assert.match(p.output(), /initial corruption checking passed; no corruption/);
  });
});
