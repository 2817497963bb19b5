#!/usr/bin/env node
// CPU profiles of etcdts members under etcd's Go client: for each workload, a
// fresh cluster runs with `node --cpu-prof`, the Go
// load generator drives it, the members stop gracefully and write their
// profiles, and the leader's and a follower's are summarised (self time by
// function, idle and GC shares) into the "profile" section of
// bench/RESULTS.md. The .cpuprofile files stay in bench/results/ (load them
// in Chrome DevTools or speedscope for flame graphs).
//
//   node bench/profile.js --workloads put:1,put:256,keepalive:64@follower,watch:1
//
// Not a test: nothing here asserts timings.

import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo, repoRoot, tempDir, stringArgs } from './lib/common.js';
import { profileClockUs, summarizeProfile } from './lib/cpu-profile.js';
import { etcdLoad, makePki, memberEndpoint, runLoad, startCluster } from './lib/go-cluster.js';
import { writeSection } from './lib/results-file.js';

const defaults = {
  members: '3',
  tls: 'false',
  duration: '6s',
  workloads: 'put:1,put:256,keepalive:64@follower,watch:1',
  // Functions listed per profile.
  top: '12',
  out: join(repoRoot, 'bench', 'RESULTS.md'),
};

function parseArgs(argv) {
  return stringArgs(defaults, argv);
}

/** The one .cpuprofile a member wrote into its own directory. */
function profileOf(dir) {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  if (files.length !== 1) throw new Error(`expected one profile in ${dir}, found ${files.length}`);
  return join(dir, files[0]);
}

async function profileWorkload(o, spec, pki, dir) {
  const members = Number(o.members);
  const dirs = Array.from({ length: members }, (_, i) => join(dir, `member${i}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  // A directory per member, so that each profile is known to be that member's.
  const cluster = await startCluster('etcdts', members, pki, (i) => ['--cpu-prof', `--cpu-prof-dir=${dirs[i]}`]);
  let result;
  let roles;
  let window;
  try {
    const leaderUrl = memberEndpoint(cluster, 'leader');
    roles = cluster.members.map((m) => (m.clientUrl === leaderUrl ? 'leader' : 'follower'));
    const fromUs = profileClockUs();
    result = runLoad(cluster, spec, o.duration);
    window = { fromUs, toUs: profileClockUs() };
  } finally {
    await cluster.stop({ graceful: true });
  }
  const leader = roles.indexOf('leader');
  const follower = roles.indexOf('follower');
  const picked = [{ role: 'leader', i: leader }, ...(follower >= 0 ? [{ role: 'follower', i: follower }] : [])];
  return { spec, result, profiles: picked.map(({ role, i }) => ({ role, file: profileOf(dirs[i]), ...summarizeProfile(profileOf(dirs[i]), window) })) };
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

function report(o, info, runs) {
  const lines = [
    '# CPU profiles of etcdts under the Go client',
    '',
    `Run on ${new Date().toISOString()}: ${info.cpus} × ${info.cpuModel}, Node ${info.node}, load average before the run ${info.loadavg.map((l) => l.toFixed(2)).join(' ')}.`,
    `Command: \`node bench/profile.js --members ${o.members} --tls ${o.tls} --duration ${o.duration} --workloads ${o.workloads}\``,
    'Each workload on a fresh cluster whose members run with `node --cpu-prof`; self time by function (V8 sampling) while the load ran (start-up excluded), as a share of that time. `(program)` is native time V8 cannot attribute to a function (libuv, syscalls, the HTTP/2 and TLS layers).',
    '',
  ];
  for (const run of runs) {
    const r = run.result;
    lines.push(`## ${run.spec}: ${Math.round(r.opsPerSec)} ops/s, p99 ${r.p99Ms} ms`, '');
    for (const p of run.profiles) {
      lines.push(`${p.role} (${p.file.replace(`${repoRoot}/`, '')}): ${(p.totalMs / 1000).toFixed(1)} s profiled, idle ${pct(p.idleShare)}, GC ${pct(p.gcShare)}, busy ${pct(1 - p.idleShare)}`, '');
      lines.push('| self ms | share | function |', '| --- | --- | --- |');
      for (const t of p.top.slice(0, Number(o.top))) lines.push(`| ${t.ms.toFixed(0)} | ${pct(t.share)} | \`${t.fn}\` |`);
      lines.push('');
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(etcdLoad)) throw new Error(`${etcdLoad} is missing: run bench/go/build.sh`);
  const info = machineInfo();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const root = join(repoRoot, 'bench', 'results', `profiles-${stamp}`);
  const pki = o.tls === 'true' ? await makePki(tempDir('profile-pki-')) : undefined;
  const runs = [];
  for (const spec of o.workloads.split(',')) {
    const run = await profileWorkload(o, spec, pki, join(root, spec.replace(/[:@]/g, '-')));
    console.log(`${spec}: ${Math.round(run.result.opsPerSec)} ops/s; ${run.profiles.map((p) => `${p.role} idle ${pct(p.idleShare)}`).join(', ')}`);
    runs.push(run);
  }
  writeSection(o.out, 'profile', report(o, info, runs));
  console.log(`wrote ${o.out}; profiles in ${root}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
