import { spawn } from 'node:child_process';
import { etcdctlBinary } from '../support/real-etcd.js';
import { runJs } from '../support/etcdts.js';

/**
 * Running etcdctl and the etcdts CLI side by side, and the normalisation that
 * makes their outputs comparable byte for byte. Outputs are kept as byte
 * strings (latin1) so that binary keys and values compare exactly.
 *
 * Which etcdts CLI runs: ETCDTS_CLI (a run.js path), else bin/run.js of the
 * repository (which needs the main build in dist/ and its manifest).
 */
export const ourCliScript = process.env.ETCDTS_CLI ?? runJs;

export interface CliRun {
  code: number;
  /** Byte strings: one char per byte. */
  stdout: string;
  stderr: string;
}

/** One command of a compatibility scenario, run by both tools. */
export interface Step {
  name: string;
  args: string[];
  input?: string | Buffer;
  env?: Record<string, string>;
  /**
   * exact: everything equal. usage: etcdctl also dumps its usage text (cobra,
   * for flag errors); the exit code and the `Error:` lines must match, and we
   * print nothing else. prompts: passwords come from stdin; etcdctl's prompts
   * and stty noise are left out (see withoutPasswordPrompts), the rest equal.
   */
  compare?: 'exact' | 'usage' | 'prompts';
  /**
   * What etcdts prints on stderr instead of etcd's, where it is stricter on
   * purpose (the step's comment says why); the rest must still match.
   */
  etcdtsStderr?: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** The environment both tools run in: the caller's, without any ETCDCTL_* variable, plus `env`. */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ETCDCTL_')) base[key] = value;
  }
  return { ...base, ...env };
}

export function runProcess(command: string, args: string[], options: RunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out`));
    }, options.timeoutMs ?? 30000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal === null ? -1 : 128 + 9),
        stdout: Buffer.concat(out).toString('latin1'),
        stderr: Buffer.concat(err).toString('latin1'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function runEtcdctl(args: string[], options: RunOptions = {}): Promise<CliRun> {
  return runProcess(etcdctlBinary, args, options);
}

export function runOurs(args: string[], options: RunOptions = {}): Promise<CliRun> {
  return runProcess(process.execPath, [ourCliScript, ...args], options);
}

/**
 * Replaces the identifiers that differ between two clusters (cluster ID,
 * member ID, raft term) in json and fields output; zeros (the headers nested
 * in txn responses) are left alone, they must match.
 */
export function normaliseIds(text: string): string {
  return text
    .replace(/"(cluster_id|member_id|raft_term)":[1-9][0-9]*/g, '"$1":<$1>')
    .replace(/"(ClusterID|MemberID|RaftTerm)" : [1-9][0-9]*/g, '"$1" : <$1>');
}

/**
 * etcdctl's stderr, reduced to what it means to say: clientv3's retry
 * interceptor logs a JSON warning line before most errors (a known wart,
 * etcd#12234), cobra prints a flag error twice around a blank line and adds
 * "Run 'etcdctl --help' for usage." We print the error line once.
 */
export function normaliseStderr(text: string): string {
  const lines = text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('{"level":') && !line.startsWith("Run '"));
  const deduped = lines.filter((line, i) => i === 0 || line !== lines[i - 1]);
  return deduped.map((line) => `${line}\n`).join('');
}

/**
 * etcdctl's password prompts read stdin even when it is not a terminal, and
 * then echo the prompt and a newline to stdout ("Password: \n", "Password of
 * bob: \n", ...) while stty complains on stderr that stdin is no terminal.
 * We read the same input without printing prompts nobody sees; this removes
 * those lines from etcdctl's output so that the rest can be compared.
 */
export function withoutPasswordPrompts(run: CliRun): CliRun {
  return {
    code: run.code,
    stdout: run.stdout.replace(/^(Password: |Password of .*: |Type password of .* again for confirmation: )\n/gm, ''),
    stderr: run.stderr.replace(/^stty: 'standard input': Inappropriate ioctl for device\n/gm, ''),
  };
}

/**
 * The same for `-w protobuf` output: each ResponseHeader (field 1: cluster
 * ID, member ID, revision, raft term as varints) becomes a marker that keeps
 * only the revision. Headers nested deeper or absent are left alone.
 */
export function normaliseProtobufHeaders(text: string): string {
  const varint = '[\\x80-\\xff]*[\\x00-\\x7f]';
  const header = new RegExp(`\\n[\\s\\S]\\x08${varint}\\x10${varint}(?:\\x18(${varint}))?(?:\\x20${varint})?`, 'g');
  return text.replace(header, (_all, revision: string | undefined) => `<header revision=${JSON.stringify(revision ?? '')}>`);
}

export function normalise(run: CliRun): CliRun {
  return { code: run.code, stdout: normaliseIds(run.stdout), stderr: normaliseStderr(run.stderr) };
}

/** normalise() for the output of `args`: protobuf headers too when they ask for -w protobuf. */
export function normaliseFor(args: readonly string[], run: CliRun): CliRun {
  const normalised = normalise(run);
  return args.includes('protobuf') ? { ...normalised, stdout: normaliseProtobufHeaders(run.stdout) } : normalised;
}
