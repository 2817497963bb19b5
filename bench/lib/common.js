// Shared plumbing of the bench/ scripts: loading the compiled load generator,
// starting and always killing servers, reading a process's CPU time and RSS,
// options from argv/env, and printing/saving results. Plain Node ESM, no build
// step of its own: the load generator comes from dist/ (`npm run build`).

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const etcdBinary = process.env.ETCD_BIN ?? '/usr/bin/etcd';
/**
 * The etcdts server under test: bin/run.js of this checkout, or of another
 * build (ETCDTS_RUN_JS, e.g. a snapshot of a commit built elsewhere, so that
 * the figures do not follow a dist/ that is being rebuilt meanwhile).
 */
export const runJs = resolve(process.env.ETCDTS_RUN_JS ?? join(repoRoot, 'bin', 'run.js'));

/**
 * The compiled src/benchmark. ETCDTS_DIST points at another build output
 * (a directory holding src/benchmark/index.js), e.g. a private build.
 */
export async function loadBenchmarkLibrary() {
  const dist = resolve(process.env.ETCDTS_DIST ?? join(repoRoot, 'dist'));
  const entry = join(dist, 'src', 'benchmark', 'index.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` first (or set ETCDTS_DIST to a build output)`);
  }
  return import(pathToFileURL(entry).href);
}

// ---------------------------------------------------------------- options

/**
 * Options come from `--name value` / `--name=value` arguments or from
 * BENCH_NAME environment variables (argv wins). Lists are comma-separated.
 */
/**
 * `--name value` or `--name=value` over string defaults keyed by the option's own
 * kebab-case name (the Go-client scripts); anything unknown is refused.
 */
export function stringArgs(defaults, argv) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (m === null || !(m[1] in defaults)) throw new Error(`unknown argument ${argv[i]} (known: ${Object.keys(defaults).join(', ')})`);
    o[m[1]] = m[2] ?? argv[++i];
  }
  return o;
}

export function options(defaults) {
  const argv = process.argv.slice(2);
  const out = { ...defaults };
  const set = (name, raw) => {
    const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option --${name} (known: ${Object.keys(defaults).map(kebab).join(', ')})`);
    out[key] = parseLike(defaults[key], raw, name);
  };
  for (const key of Object.keys(defaults)) {
    const env = process.env[`BENCH_${kebab(key).replace(/-/g, '_').toUpperCase()}`];
    if (env !== undefined) set(kebab(key), env);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      console.log(`options (or BENCH_<NAME> environment variables):\n${Object.entries(defaults).map(([k, v]) => `  --${kebab(k)} ${Array.isArray(v) ? v.join(',') : v}`).join('\n')}`);
      process.exit(0);
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument ${arg}`);
    if (m[2] !== undefined) set(m[1], m[2]);
    else if (typeof defaults[m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())] === 'boolean') set(m[1], 'true');
    else set(m[1], argv[++i]);
  }
  return out;
}

function kebab(key) {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function parseLike(example, raw, name) {
  if (raw === undefined) throw new Error(`--${name} needs a value`);
  if (Array.isArray(example)) {
    const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return typeof example[0] === 'number' ? items.map(Number) : items;
  }
  if (typeof example === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number`);
    return n;
  }
  if (typeof example === 'boolean') return raw === 'true' || raw === '1' || raw === '';
  return raw;
}

// ---------------------------------------------------------------- processes

const children = new Set();
const tempDirs = new Set();

function killEverything() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

// Whatever happens (end, error, Ctrl-C, kill), no server outlives the script.
process.on('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every server this script started`);
    killEverything();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => {
  console.error(err);
  killEverything();
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  console.error(err);
  killEverything();
  process.exit(1);
});

/** A temporary directory on the same disk as the system temp dir, removed at exit. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Starts a process tracked for cleanup; its output is kept (last 64 KiB) for error messages. */
export function startProcess(command, args, env = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-65536);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve(code ?? signal);
  }));
  return { child, pid: child.pid, exited, output: () => output, running: () => child.exitCode === null && child.signalCode === null };
}

export async function stopProcess(proc) {
  if (!proc.running()) return;
  try {
    process.kill(proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await proc.exited;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Distinct free loopback ports (each bound once by the OS and released). */
export async function freePorts(count) {
  const ports = new Set();
  while (ports.size < count) {
    ports.add(await new Promise((resolve, reject) => {
      const server = createServer();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    }));
  }
  return [...ports];
}

export function portOpen(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------- /proc

const clockTicksPerSec = 100; // USER_HZ on Linux

/** User + system CPU time of a process in µs (from /proc/<pid>/stat). */
export function processCpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicksPerSec;
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in bytes (VmRSS in /proc/<pid>/status). */
export function processRssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function machineInfo() {
  let etcdVersion = 'unknown';
  try {
    etcdVersion = execFileSync(etcdBinary, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    // reported as unknown
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    node: process.version,
    etcd: etcdVersion,
    etcdtsServer: runJs,
    etcdtsGrpcServer: process.env.ETCDTS_GRPC_SERVER,
    loadavg: loadavg(),
  };
}

// ---------------------------------------------------------------- output

/** Prints rows (objects) as an aligned text table with the given columns. */
export function printTable(columns, rows) {
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => String(c.value(r)).length)));
  const line = (cells) => cells.map((cell, i) => (columns[i].left ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  console.log(line(columns.map((c) => c.title)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(columns.map((c) => c.value(row))));
}

/** The table every request benchmark prints: one row per scenario, client count and server. */
export function printRequestTable(rows, cpuTitle = 'server µs/req') {
  printTable([
    { title: 'scenario', value: (r) => r.scenario, left: true },
    { title: 'clients', value: (r) => r.clients },
    { title: 'server', value: (r) => r.server, left: true },
    { title: 'req/s', value: (r) => Math.round(r.requestsPerSec) },
    { title: 'p50 ms', value: (r) => ms(r.p50Ms) },
    { title: 'p90 ms', value: (r) => ms(r.p90Ms) },
    { title: 'p99 ms', value: (r) => ms(r.p99Ms) },
    { title: 'max ms', value: (r) => ms(r.maxMs) },
    { title: 'errors', value: (r) => r.errors },
    { title: 'client µs/req', value: (r) => r.clientCpuUsPerRequest.toFixed(1) },
    { title: cpuTitle, value: (r) => r.serverCpuUsPerRequest.toFixed(1) },
  ], rows);
}

/** etcdts's rows as ratios to etcd's row of the same scenario and client count, one line each. */
export function requestRatios(rows, { cpu = true } = {}) {
  const lines = [];
  for (const r of rows.filter((x) => x.server === 'etcdts')) {
    const ref = rows.find((x) => x.server === 'etcd' && x.scenario === r.scenario && x.clients === r.clients);
    if (ref === undefined) continue;
    const cpuRatio = cpu ? `, server CPU/req ${(r.serverCpuUsPerRequest / ref.serverCpuUsPerRequest).toFixed(2)}x` : '';
    lines.push(`  ${r.scenario} ${r.clients} clients: throughput ${(r.requestsPerSec / ref.requestsPerSec).toFixed(2)}x, p99 ${(r.p99Ms / ref.p99Ms).toFixed(2)}x${cpuRatio}`);
  }
  return lines;
}

export function ms(value) {
  return Number.isFinite(value) ? value.toFixed(2) : '-';
}

export function writeResults(name, data) {
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${stamp}-${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}
