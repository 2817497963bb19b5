#!/usr/bin/env node
// How long one CLI call takes as a whole process, etcdts against etcdctl, on
// one etcdts member on loopback: `get foo`, `put foo bar`, `--version`, and
// `put` and `lock` called 100 times from a shell loop, as scripts do. Bare
// `node -e 0` is measured in the same rounds: it is the floor of any Node
// CLI on this machine. Commands alternate within each round, so a change in
// the machine's load touches all of them alike. When NODE_EXTRA_CA_CERTS is
// set (Node then reads and parses that bundle before it runs anything) the
// Node commands are measured with it and without it.
//
//   npm run build && node bench/cli-startup.js
//   node bench/cli-startup.js --runs 50 --loop 100
//
// The figures go to the "CLI start-up" section of bench/RESULTS.md (other
// sections are kept). Not a test: nothing here asserts timings.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePorts, options, portOpen, removeTempDir, repoRoot, runJs, sleep, startProcess, stopProcess, tempDir } from './lib/common.js';
import { writeSection } from './lib/results-file.js';

// runs: calls of each command, alternating; loop: iterations of each shell loop; out: the results file;
// baseline: another build's bin/run.js (e.g. an older commit's), measured in the same rounds,
// named in the table by baseline-name.
const o = options({ runs: 30, loop: 100, out: join(repoRoot, 'bench', 'RESULTS.md'), baseline: '', baselineName: 'baseline' });
const etcdctl = '/usr/bin/etcdctl';
const startupTimeoutMs = 30_000;

/** One process's wall time in ms; a failure stops the script (a figure of a failing call means nothing). */
function timeOnce(argv, env) {
  const start = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status}: ${result.stderr}`);
  return ms;
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), min: sorted[0], p90: at(0.9) };
}

async function startMember() {
  const [client, peer] = await freePorts(2);
  const dir = tempDir('cli-startup-');
  const url = (port) => `http://127.0.0.1:${port}`;
  const proc = startProcess(process.execPath, [runJs, 'server', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url(client), '--advertise-client-urls', url(client),
    '--listen-peer-urls', url(peer), '--initial-advertise-peer-urls', url(peer),
    '--initial-cluster', `default=${url(peer)}`, '--log-level', 'error']);
  const deadline = Date.now() + startupTimeoutMs;
  while (!(await portOpen(client))) {
    if (!proc.running() || Date.now() > deadline) throw new Error(`the member did not start:\n${proc.output()}`);
    await sleep(50);
  }
  return { endpoint: `127.0.0.1:${client}`, stop: async () => { await stopProcess(proc); removeTempDir(dir); } };
}

async function main() {
  const member = await startMember();
  const withCerts = { ...process.env };
  const withoutCerts = { ...process.env };
  delete withoutCerts.NODE_EXTRA_CA_CERTS;
  const envs = process.env.NODE_EXTRA_CA_CERTS === undefined ? [['', withCerts]] : [['with NODE_EXTRA_CA_CERTS', withCerts], ['without NODE_EXTRA_CA_CERTS', withoutCerts]];
  const builds = o.baseline === '' ? [['', runJs]] : [['', runJs], [o.baselineName, o.baseline]];
  const named = (what, ...notes) => (notes.some(Boolean) ? `${what} (${notes.filter(Boolean).join(', ')})` : what);
  const ep = ['--endpoints', member.endpoint];
  const commands = [];
  for (const [envName, env] of envs) {
    commands.push({ label: named('node -e 0', envName), argv: [process.execPath, '-e', '0'], env });
    for (const [buildName, bin] of builds) {
      commands.push(
        { label: named('etcdts get foo', envName, buildName), argv: [bin, ...ep, 'get', 'foo'], env },
        { label: named('etcdts put foo bar', envName, buildName), argv: [bin, ...ep, 'put', 'foo', 'bar'], env },
        { label: named('etcdts --version', envName, buildName), argv: [bin, '--version'], env },
      );
    }
  }
  commands.push(
    { label: 'etcdctl get foo', argv: [etcdctl, ...ep, 'get', 'foo'], env: withCerts },
    { label: 'etcdctl put foo bar', argv: [etcdctl, ...ep, 'put', 'foo', 'bar'], env: withCerts },
    { label: 'etcdctl version', argv: [etcdctl, 'version'], env: withCerts },
  );
  const before = loadavg();
  try {
    // The first calls after a build teach the code cache (bin/run.js) each kind of run.
    for (const c of commands) for (let i = 0; i < 3; i++) timeOnce(c.argv, c.env);
    const samples = new Map(commands.map((c) => [c.label, []]));
    for (let round = 0; round < o.runs; round++) {
      for (const c of commands) samples.get(c.label).push(timeOnce(c.argv, c.env));
    }
    const loops = [];
    for (const what of ['put loop-key v', 'lock loop-lock true']) {
      for (const [envName, env] of envs) {
        for (const [buildName, bin] of builds) loops.push({ label: named(`etcdts ${what}`, envName, buildName), bin, what, env });
      }
      loops.push({ label: `etcdctl ${what}`, bin: etcdctl, what, env: withCerts });
    }
    for (const l of loops) l.script = `for i in $(seq ${o.loop}); do ${l.bin} ${ep.join(' ')} ${l.what} >/dev/null || exit 1; done`;
    for (const l of loops) l.ms = timeOnce(['bash', '-c', l.script], l.env);
    const after = loadavg();
    const markdown = report({ commands, samples, loops, before, after, endpoint: member.endpoint });
    writeSection(o.out, 'cli-startup', markdown);
    console.log(markdown);
    console.log(`wrote the CLI start-up section of ${o.out}`);
  } finally {
    await member.stop();
  }
}

function report({ commands, samples, loops, before, after }) {
  const f = (ms) => ms.toFixed(1);
  const nodeVersion = process.version;
  const lines = [
    '## CLI start-up',
    '',
    `Run on ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model}, Node ${nodeVersion}, ${execFileSync(etcdctl, ['version'], { encoding: 'utf8' }).split('\n')[0]}, ` +
      `load average ${before.map((l) => l.toFixed(2)).join(' ')} before and ${after.map((l) => l.toFixed(2)).join(' ')} after (the machine is shared).`,
    `One etcdts member on loopback; each call is a whole process, \`etcdts\` being \`bin/run.js\` run through its shebang as npm's link runs it, ${o.runs} calls of each, the commands alternating.`,
    `Command: \`node bench/cli-startup.js --runs ${o.runs} --loop ${o.loop}${o.baseline === '' ? '' : ` --baseline <that build>/bin/run.js --baseline-name '${o.baselineName}'`}\``,
    '',
    '| command | median ms | min ms | p90 ms |',
    '| --- | --- | --- | --- |',
    ...commands.map((c) => {
      const s = stats(samples.get(c.label));
      return `| \`${c.label}\` | ${f(s.median)} | ${f(s.min)} | ${f(s.p90)} |`;
    }),
    '',
    `Shell loops: the total wall time of \`bash -c 'for i in $(seq ${o.loop}); do etcdts --endpoints $EP put loop-key v >/dev/null || exit 1; done'\`, and the same with \`lock loop-lock true\` (take the lock, run \`true\`, release it) and with etcdctl:`,
    '',
    '| loop | total s | per call ms |',
    '| --- | --- | --- |',
    ...loops.map((l) => `| \`${l.label}\` | ${(l.ms / 1000).toFixed(2)} | ${f(l.ms / o.loop)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
