import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Client } from '../../src/client/client.js';
import { op } from '../../src/client/txn.js';
import { etcdctlBinary, requireRealEtcd, startRealEtcd } from '../support/real-etcd.js';
import { startEtcdts } from '../support/etcdts.js';
import { killAll, removeTempDirs } from '../support/procs.js';
import { cleanEnv, normalise, normaliseIds, ourCliScript, runEtcdctl, runOurs, type CliRun } from './cli-harness.js';

/**
 * `watch` and `lease` through etcdctl 3.4.23 and the etcdts CLI, against
 * the real etcd and etcdts, the same way as cli-vs-etcdctl.test.ts: every
 * cell runs on its own fresh server that has seen exactly the same
 * requests, so revisions agree, and the reference cell is etcdctl against
 * etcd. Leases are granted with fixed ids through the client library, so
 * their ids print the same everywhere.
 *
 * Long-running commands (watch, keep-alive) run until their output shows
 * a sentinel, then get SIGTERM; their stdout is compared, not their exit
 * status (etcdctl dies of the signal, we exit 0).
 *
 * Where etcdts deliberately differs: `lease keep-alive` exits 125 when the
 * lease is lost (etcdctl exits 0, etcd#19261); the output is the same.
 *
 * ETCDTS_COMPAT_SERVER=etcd or =etcdts restricts the run to one server kind.
 */
const only = process.env.ETCDTS_COMPAT_SERVER;
const serverKinds: Array<'etcd' | 'etcdts'> = only === 'etcd' || only === 'etcdts' ? [only] : ['etcd', 'etcdts'];

interface Cell {
  name: string;
  tool: 'etcdctl' | 'ours';
  endpoint: string;
  client: Client;
}

interface Step {
  name: string;
  /** Requests made through the library on every cell's server before the command (identical everywhere). */
  setup?: (client: Client) => Promise<unknown>;
  /** The command line; may depend on the server's current revision (the same in every cell). */
  args: string[] | ((revision: bigint) => string[]);
  input?: string;
  env?: Record<string, string>;
  /** exact: stdout, stderr and exit code. stdout: same stdout and stderr, our exit code is `oursCode`. */
  compare?: 'exact' | 'stdout';
  oursCode?: number;
  /** Long-running: stop the command once its stdout satisfies this. */
  until?: (stdout: string) => boolean;
  /** Requests made while a long-running command runs. */
  during?: (client: Client) => Promise<unknown>;
  /** Output that may differ between cells for a reason outside the test (a remaining TTL read a second later). */
  normalise?: (text: string) => string;
}

/** The remaining TTL of a 1000 s lease, read some seconds after the grant (how many depends on the machine's load). */
const remainingTtl = (text: string): string =>
  text.replace(/remaining\(9\d\ds\)/g, 'remaining(9XXs)').replace(/"ttl":9\d\d/g, '"ttl":9XX').replace(/"TTL" : 9\d\d/g, '"TTL" : 9XX');
/** A lease id the server chose. */
const grantedId = (text: string): string =>
  text.replace(/lease [0-9a-f]{16} granted/g, 'lease <id> granted').replace(/"ID":\d+/g, '"ID":<id>').replace(/"ID" : \d+/g, '"ID" : <id>');
/** A protobuf response without its header (field 1), whose cluster and member ids differ between servers. */
const withoutHeader = (text: string): string => (text.charCodeAt(0) === 0x0a ? text.slice(2 + text.charCodeAt(1)) : text);

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const lease = (id: number, ttl: number) => (client: Client) => client.lease.grant(ttl, { id: BigInt(id) });
/** Revokes every lease: a server-chosen lease id (from `lease grant`) differs between servers. */
const revokeAll = async (client: Client): Promise<void> => {
  for (const { ID } of (await client.lease.leases()).leases) await client.lease.revoke(ID).catch(() => undefined);
};
const history = async (client: Client): Promise<void> => {
  await lease(0x1a, 1000)(client);
  await client.kv.put('w/a', '1');
  await client.kv.put('w/b', 'two words', { lease: 0x1an });
  await client.kv.put('w/a', '1b');
  await client.kv.delete('w/a');
  await client.kv.put('w/c', Buffer.from([0x00, 0xff, 0x0a, 0x22]));
  await client.kv.put('w/zz', 'end');
};
const seen = (...needles: string[]) => (out: string) => needles.every((n) => out.includes(n));
/**
 * `last` printed after `first`: the end of the last event, so that a watch is
 * stopped only once it printed all of it (etcdctl writes an event's lines one
 * by one, and stopping at the key would cut its value off).
 */
const seenAfter = (first: string, last: string) => (out: string) => out.includes(first) && out.slice(out.indexOf(first)).includes(last);
const watchCmd = 'echo "rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE"';

const steps: Step[] = [
  // lease
  { name: 'lease grant', args: ['lease', 'grant', '100'], normalise: grantedId },
  { name: 'lease grant -w json', setup: revokeAll, args: ['lease', 'grant', '100', '-w', 'json'], normalise: grantedId },
  { name: 'lease grant -w fields', setup: revokeAll, args: ['lease', 'grant', '50', '-w', 'fields'], normalise: grantedId },
  { name: 'lease grant 0 (raised to the minimum TTL)', setup: revokeAll, args: ['lease', 'grant', '0'], normalise: grantedId },
  { name: 'lease grant -w table (unsupported, after granting)', setup: revokeAll, args: ['lease', 'grant', '10', '-w', 'table'] },
  { name: 'lease grant a TTL that is too large', setup: revokeAll, args: ['lease', 'grant', '9000000001'] },
  { name: 'lease grant without TTL', args: ['lease', 'grant'] },
  { name: 'lease grant abc', args: ['lease', 'grant', 'abc'] },
  { name: 'lease list (empty)', setup: revokeAll, args: ['lease', 'list'] },
  { name: 'lease list -w json (empty)', args: ['lease', 'list', '-w', 'json'] },
  { name: 'lease list', setup: async (c) => { await lease(0x100, 1000)(c); await lease(0x200, 1000)(c); }, args: ['lease', 'list'] },
  { name: 'lease list -w json', args: ['lease', 'list', '-w', 'json'] },
  { name: 'lease list -w fields', args: ['lease', 'list', '-w', 'fields'] },
  { name: 'lease timetolive', setup: lease(0x300, 1000), args: ['lease', 'timetolive', '300'], normalise: remainingTtl },
  { name: 'lease timetolive --keys', setup: (c) => c.kv.put('lk1', 'v', { lease: 0x300n }), args: ['lease', 'timetolive', '300', '--keys'], normalise: remainingTtl },
  { name: 'lease timetolive --keys -w json', args: ['lease', 'timetolive', '300', '--keys', '-w', 'json'], normalise: remainingTtl },
  { name: 'lease timetolive -w json', args: ['lease', 'timetolive', '300', '-w', 'json'], normalise: remainingTtl },
  { name: 'lease timetolive --keys -w fields', args: ['lease', 'timetolive', '--keys', '300', '-w', 'fields'], normalise: remainingTtl },
  { name: 'lease timetolive of an unknown lease', args: ['lease', 'timetolive', '1234'] },
  { name: 'lease timetolive of an unknown lease -w json', args: ['lease', 'timetolive', '1234', '-w', 'json'] },
  { name: 'lease timetolive without an id', args: ['lease', 'timetolive'] },
  { name: 'lease timetolive of a bad id', args: ['lease', 'timetolive', 'xyz'] },
  { name: 'lease keep-alive --once', args: ['lease', 'keep-alive', '--once', '300'] },
  { name: 'lease keep-alive --once -w json', args: ['lease', 'keep-alive', '--once', '300', '-w', 'json'] },
  { name: 'lease keep-alive --once -w fields', args: ['lease', 'keep-alive', '--once', '300', '-w', 'fields'] },
  { name: 'lease keep-alive --once of an unknown lease', args: ['lease', 'keep-alive', '--once', '1234'] },
  { name: 'lease keep-alive of an unknown lease (exit 125: lost)', args: ['lease', 'keep-alive', '1234'], compare: 'stdout', oursCode: 125 },
  { name: 'lease keep-alive without an id', args: ['lease', 'keep-alive'] },
  { name: 'lease revoke', args: ['lease', 'revoke', '300'] },
  { name: 'lease revoke -w json', setup: lease(0x301, 1000), args: ['lease', 'revoke', '301', '-w', 'json'] },
  { name: 'lease revoke -w fields', setup: lease(0x302, 1000), args: ['lease', 'revoke', '302', '-w', 'fields'] },
  { name: 'lease revoke of an unknown lease', args: ['lease', 'revoke', '300'] },
  { name: 'lease revoke of a bad id', args: ['lease', 'revoke', 'zz'] },
  { name: 'lease revoke without an id', args: ['lease', 'revoke'] },
  { name: 'lease timetolive of a revoked lease', args: ['lease', 'timetolive', '300', '--keys'] },
  // watch over history
  { name: 'watch --rev 1 --prefix', setup: history, args: ['watch', '--rev', '1', '--prefix', 'w/'], until: seen('w/zz\nend\n') },
  { name: 'watch --rev 1 --prefix --prev-kv', args: ['watch', '--rev', '1', '--prefix', 'w/', '--prev-kv'], until: seen('w/zz\nend\n') },
  { name: 'watch --prev-kv -w json', args: ['watch', '--rev', '1', '--prefix', 'w/', '--prev-kv', '-w', 'json'], until: seen(b64('w/zz')) },
  { name: 'watch -w fields', args: ['watch', '--rev', '1', '--prefix', 'w/', '-w', 'fields', '--prev-kv'], until: seenAfter('"Key" : "w/zz"', '"Lease" : 0\n') },
  { name: 'watch --hex', args: ['watch', '--rev', '1', '--prefix', 'w/', '--hex'], until: seen('\\x77\\x2f\\x7a\\x7a\n\\x65\\x6e\\x64\n') },
  { name: 'watch a range', args: ['watch', '--rev', '1', 'w/a', 'w/c'], until: seen('DELETE\nw/a\n\n') },
  { name: 'watch a key from a revision -w protobuf', args: ['watch', '--rev', '2', 'w/b', '-w', 'protobuf'], until: seen('two words'), normalise: withoutHeader },
  {
    name: 'watch -- command: ETCD_WATCH_* per event',
    args: ['watch', '--rev', '1', '--prefix', 'w/', '--', 'sh', '-c', watchCmd],
    until: seen('key="w/zz" value="end"'),
  },
  {
    name: 'watch with ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END',
    args: ['watch', '--rev', '1'],
    env: { ETCDCTL_WATCH_KEY: 'w/b', ETCDCTL_WATCH_RANGE_END: 'w/d' },
    until: seen('w/c\n\x00\xff\n"\n'),
  },
  // live watch
  {
    name: 'watch live events',
    args: (rev) => ['watch', '--rev', String(rev + 1n), 'live', '--prev-kv'],
    during: async (c) => {
      await c.kv.put('live', 'v1');
      await c.kv.put('live', 'v2');
      await c.kv.delete('live');
    },
    // The delete with its previous value is the last thing printed: DELETE, the previous key-value, the key with no value.
    until: seen('DELETE\nlive\nv2\nlive\n\n'),
  },
  {
    // ETCD_WATCH_REVISION is the revision of the response, which depends on how the server batched the events:
    // written before the watch starts, they all come in the first response, in every cell.
    name: 'watch -- command: a txn\'s events share a revision',
    setup: async (c) => {
      await c.kv.txn({ success: [op.put('txn1', 'a'), op.put('txn2', 'b')] });
      await c.kv.delete('txn', { prefix: true });
    },
    args: (rev) => ['watch', '--rev', String(rev - 1n), '--prefix', 'txn', '--', 'sh', '-c', watchCmd],
    until: (out) => out.split('"DELETE"').length === 3,
  },
  // errors
  { name: 'watch without a key', args: ['watch'] },
  { name: 'watch with flags but no key', args: ['watch', '--prefix'] },
  { name: 'watch with a range and --prefix', args: ['watch', 'a', 'b', '--prefix'] },
  { name: 'watch with -- but no command', args: ['watch', 'a', '--'] },
  { name: 'watch with ETCDCTL_WATCH_KEY and a key', args: ['watch', 'a'], env: { ETCDCTL_WATCH_KEY: 'a' } },
  { name: 'watch with ETCDCTL_WATCH_RANGE_END only', args: ['watch', 'a'], env: { ETCDCTL_WATCH_RANGE_END: 'b' } },
  { name: 'watch -i: bad lines, then the end of input', args: ['watch', '-i'], input: 'bogus line\n\nwatch\nwatch a b --prefix\n' },
  { name: 'watch -i: a bad flag in a line', args: ['watch', '-i'], input: 'watch a --bogus\n' },
  // compaction
  { name: 'watch from a compacted revision', setup: (c) => c.kv.compact(4n), args: ['watch', '--rev', '2', 'w/a'] },
  { name: 'watch from a compacted revision -w json', args: ['watch', '--rev', '2', 'w/a', '-w', 'json'] },
];

describe(`watch and lease: etcdctl and the etcdts CLI against ${serverKinds.join('+')}`, function () {
  this.timeout(300000);
  const cells: Cell[] = [];

  before(async function () {
    requireRealEtcd();
    for (const kind of serverKinds) {
      for (const tool of ['etcdctl', 'ours'] as const) {
        const endpoint = kind === 'etcdts' ? (await startEtcdts()).endpoint : (await startRealEtcd()).endpoint;
        cells.push({ name: `${tool === 'ours' ? 'etcdts CLI' : 'etcdctl'} -> ${kind}`, tool, endpoint, client: await Client.connect({ endpoints: [endpoint] }) });
      }
    }
  });

  after(async () => {
    for (const cell of cells) cell.client.close();
    await killAll();
    removeTempDirs();
  });

  for (const step of steps) {
    const shown = typeof step.args === 'function' ? step.args(0n).join(' ') : step.args.join(' ');
    it(`${step.name}: ${shown}`, async () => {
      // Setup runs cell by cell so that every server sees the same requests in the same order.
      for (const cell of cells) await step.setup?.(cell.client);
      const results = await Promise.all(cells.map(async (cell) => {
        const run = normalise(await runStep(cell, step));
        const extra = step.normalise ?? ((text: string) => text);
        return { cell, run: { ...run, stdout: extra(run.stdout) } };
      }));
      const [reference, ...others] = results;
      for (const { cell, run } of others) {
        if (step.compare === 'stdout' && cell.tool === 'ours') {
          assert.equal(run.stdout, reference!.run.stdout, `${cell.name}: stdout`);
          assert.equal(run.code, step.oursCode, `${cell.name}: exit code`);
        } else {
          assert.deepEqual(run, reference!.run, `${cell.name} differs from ${reference!.cell.name}`);
        }
      }
    });
  }

  it('keep-alive renews until the lease is revoked, then says so (etcdctl exit 0, ours 125)', async () => {
    for (const cell of cells) await cell.client.lease.grant(3, { id: 0x400n });
    const runs = await Promise.all(cells.map((cell) => runLong(cell, ['lease', 'keep-alive', '400'], {
      readyWhen: (out) => out.includes('keepalived'),
      during: (client) => client.lease.revoke(0x400n),
    })));
    for (const [i, run] of runs.entries()) {
      const lines = run.stdout.trimEnd().split('\n');
      assert.equal(lines.at(-1), 'lease 0000000000000400 expired or revoked.', cells[i]!.name);
      for (const line of lines.slice(0, -1)) assert.equal(line, 'lease 0000000000000400 keepalived with TTL(3)', cells[i]!.name);
      if (cells[i]!.tool === 'ours') {
        assert.equal(run.code, 125);
        assert.equal(run.stderr, 'Error: lease 0000000000000400 expired or was revoked\n');
      } else {
        assert.equal(run.code, 0);
      }
    }
  });

  it('watch -i serves several watches from stdin lines (stdin left open)', async () => {
    // After the compaction at revision 4.
    const input = 'watch --rev 5 w/zz\nwatch --rev 5 --prefix w/ -- sh -c "echo cmd $ETCD_WATCH_KEY"\n';
    const runs = await Promise.all(cells.map((cell) => runLong(cell, ['watch', '-i'], {
      input,
      stopWhen: (out) => out.includes('cmd "w/zz"\n') && out.split('w/zz\nend\n').length === 3,
    })));
    const sorted = runs.map((r) => normaliseIds(r.stdout).split('\n').sort().join('\n'));
    for (let i = 1; i < cells.length; i++) assert.equal(sorted[i], sorted[0], `${cells[i]!.name} differs`);
  });

  describe('where etcdts goes beyond etcdctl 3.4', () => {
    it('watch --progress-notify prints the progress notifications the server sends (etcdctl 3.5 has the flag)', async () => {
      const servers = [];
      for (const kind of serverKinds) {
        servers.push(kind === 'etcd'
          ? await startRealEtcd(['--experimental-watch-progress-notify-interval', '1s'])
          : await startEtcdts({ env: { ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL: '1s' } }));
      }
      for (const { endpoint } of servers) {
        const client = await Client.connect({ endpoints: [endpoint] });
        try {
          const cell: Cell = { name: `etcdts CLI -> ${endpoint}`, tool: 'ours', endpoint, client };
          const run = await runLong(cell, ['watch', '--progress-notify', 'nothing-here', '-w', 'json'], {
            stopWhen: (out) => /progress notify: \d+\n.*\n/.test(out),
          });
          assert.match(run.stdout, /^progress notify: (\d+)\n\{"Header":\{"cluster_id":\d+,"member_id":\d+,"revision":\1,"raft_term":\d+\},"Events":\[\],"CompactRevision":0,"Canceled":false,"Created":false\}\n/);
        } finally {
          client.close();
        }
      }
    });
  });
});

/** One step in one cell: a short command, or a long-running one stopped at its sentinel. */
async function runStep(cell: Cell, step: Step): Promise<CliRun> {
  const revision = (await cell.client.kv.get('any')).header!.revision;
  const args = typeof step.args === 'function' ? step.args(revision) : step.args;
  const env = { ETCDCTL_ENDPOINTS: cell.endpoint, ...step.env };
  if (step.until === undefined) {
    return cell.tool === 'ours' ? runOurs(args, { env, input: step.input }) : runEtcdctl(args, { env, input: step.input });
  }
  const run = await runLong(cell, args, { env: step.env, stopWhen: step.until, during: step.during, input: step.input });
  return { ...run, code: 0 };
}

interface LongRun {
  env?: Record<string, string>;
  input?: string;
  /** Run `during` once stdout satisfies this (right away when absent). */
  readyWhen?: (stdout: string) => boolean;
  during?: (client: Client) => Promise<unknown>;
  /** Stop the command with SIGTERM once stdout satisfies this; without it, the command must exit by itself. */
  stopWhen?: (stdout: string) => boolean;
  timeoutMs?: number;
}

/** Runs a long-running command with its stdin kept open, makes requests while it runs, and stops it when its output is complete. */
function runLong(cell: Cell, args: string[], options: LongRun): Promise<CliRun> {
  const command = cell.tool === 'ours' ? process.execPath : etcdctlBinary;
  const argv = cell.tool === 'ours' ? [ourCliScript, ...args] : args;
  const child = spawn(command, argv, { env: cleanEnv({ ETCDCTL_ENDPOINTS: cell.endpoint, ...options.env }), stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  if (options.input !== undefined) child.stdin.write(options.input);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let ready = false;
  const check = (text: string): void => {
    if (!ready && options.during !== undefined && (options.readyWhen === undefined || options.readyWhen(text))) {
      ready = true;
      void options.during(cell.client);
    }
    if (options.stopWhen?.(text) === true) child.kill('SIGTERM');
  };
  check('');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cell.name}: ${args.join(' ')} did not print what was expected:\n${Buffer.concat(out).toString('latin1')}\n${Buffer.concat(err).toString()}`));
    }, options.timeoutMs ?? 30000);
    child.stdout.on('data', (chunk: Buffer) => {
      out.push(chunk);
      check(Buffer.concat(out).toString('latin1'));
    });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') });
    });
  });
}
