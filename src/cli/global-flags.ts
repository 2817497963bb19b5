import { readFileSync } from 'node:fs';
import type { ClientOptions } from '../client/options.js';
import { CliError, ExitCode } from './errors.js';
import { formatFlagValue, parseFlagValue, type FlagSpec } from './flags/flag-spec.js';
import { goQuote } from './go/quote.js';
import type { ParsedFlags } from './flags/parser.js';

/**
 * etcdctl's global flags (ctlv3/ctl.go), with the same names, shorthands,
 * defaults and meaning. Every one of them can also come from an environment
 * variable ETCDCTL_<FLAG_IN_UPPER_SNAKE> (ETCDCTL_ENDPOINTS,
 * ETCDCTL_DIAL_TIMEOUT, ETCDCTL_WRITE_OUT, ETCDCTL_HEX, ...).
 */
export const globalFlagSpecs: readonly FlagSpec[] = [
  { name: 'endpoints', kind: 'stringSlice', defaultText: '127.0.0.1:2379', description: 'gRPC endpoints' },
  { name: 'debug', kind: 'bool', defaultText: 'false', description: 'enable client-side debug logging' },
  { name: 'write-out', short: 'w', kind: 'string', defaultText: 'simple', description: 'set the output format (fields, json, protobuf, simple, table)' },
  { name: 'hex', kind: 'bool', defaultText: 'false', description: 'print byte strings as hex encoded strings' },
  { name: 'dial-timeout', kind: 'duration', defaultText: '2s', description: 'dial timeout for client connections' },
  { name: 'command-timeout', kind: 'duration', defaultText: '5s', description: 'timeout for short running command (excluding dial timeout)' },
  { name: 'keepalive-time', kind: 'duration', defaultText: '2s', description: 'keepalive time for client connections' },
  { name: 'keepalive-timeout', kind: 'duration', defaultText: '6s', description: 'keepalive timeout for client connections' },
  { name: 'insecure-transport', kind: 'bool', defaultText: 'true', description: 'disable transport security for client connections' },
  { name: 'insecure-discovery', kind: 'bool', defaultText: 'true', description: 'accept insecure SRV records describing cluster endpoints' },
  { name: 'insecure-skip-tls-verify', kind: 'bool', defaultText: 'false', description: 'skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)' },
  { name: 'cert', kind: 'string', defaultText: '', description: 'identify secure client using this TLS certificate file' },
  { name: 'key', kind: 'string', defaultText: '', description: 'identify secure client using this TLS key file' },
  { name: 'cacert', kind: 'string', defaultText: '', description: 'verify certificates of TLS-enabled secure servers using this CA bundle' },
  { name: 'user', kind: 'string', defaultText: '', description: 'username[:password] for authentication (prompt if password is not supplied)' },
  { name: 'password', kind: 'string', defaultText: '', description: 'password for authentication (if this option is used, --user option shouldn\'t include password)' },
  { name: 'discovery-srv', short: 'd', kind: 'string', defaultText: '', description: 'domain name to query for SRV records describing cluster endpoints' },
  { name: 'discovery-srv-name', kind: 'string', defaultText: '', description: 'service name to query when using DNS discovery' },
];

export const envPrefix = 'ETCDCTL';

/** pkg/flags.FlagToEnv: dial-timeout → ETCDCTL_DIAL_TIMEOUT. */
export function flagToEnv(name: string): string {
  return `${envPrefix}_${name.replace(/-/g, '_').toUpperCase()}`;
}

/**
 * Variables that are not flags but that etcdctl users set anyway: ETCDCTL_API
 * selects etcdctl's v3 API (the only one we have), and the watch variables
 * belong to `watch`.
 */
const knownNonFlagEnv = new Set(['ETCDCTL_API']);

export interface EnvResult {
  /** Lines to print on stderr (unrecognised variables). */
  warnings: string[];
}

/**
 * Applies ETCDCTL_* variables to the global flags not given on the command
 * line, with etcdctl's rules (pkg/flags.SetPflagsFromEnv): an empty variable
 * is ignored; a variable for a flag that is also given on the command line is
 * an error; an unknown ETCDCTL_ variable is a warning. Unlike etcdctl, which
 * silently ignores a bad value, a bad value is an error naming the variable.
 */
export function applyEnvironment(
  flags: ParsedFlags,
  env: NodeJS.ProcessEnv,
  extraKnown: readonly string[] = [],
): EnvResult {
  const used = new Set<string>();
  const shadowed = new Set<string>();
  for (const spec of globalFlagSpecs) {
    const key = flagToEnv(spec.name);
    if (flags.changed.has(spec.name)) {
      shadowed.add(key);
      continue;
    }
    const text = env[key];
    if (text === undefined || text === '') continue;
    used.add(key);
    try {
      flags.set(spec.name, parseFlagValue(spec, text));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new CliError(`invalid value ${goQuote(text)} for ${key}: ${reason}`, ExitCode.error);
    }
  }
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (used.has(key) || !key.startsWith(`${envPrefix}_`)) continue;
    if (shadowed.has(key) && value !== undefined && value !== '') {
      throw new CliError(
        `conflicting environment variable "${key}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
        ExitCode.error,
      );
    }
    if (shadowed.has(key) || knownNonFlagEnv.has(key) || extraKnown.includes(key)) continue;
    warnings.push(`Warning: unrecognized environment variable ${key}=${value ?? ''}`);
  }
  return { warnings };
}

/** etcdctl --debug: every global flag as the variable that would set it, sorted by flag name. */
export function debugLines(flags: ParsedFlags): string[] {
  return [...globalFlagSpecs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((spec) => `${flagToEnv(spec.name)}=${formatFlagValue(spec, readValue(flags, spec))}`);
}

function readValue(flags: ParsedFlags, spec: FlagSpec): boolean | string | bigint | string[] {
  switch (spec.kind) {
    case 'bool': return flags.bool(spec.name);
    case 'string': return flags.string(spec.name);
    case 'stringSlice': return flags.strings(spec.name);
    default: return flags.bigint(spec.name);
  }
}

/** Nanoseconds to milliseconds for timers; negative and zero durations mean "none". */
export function nanosToMs(nanos: bigint): number | undefined {
  if (nanos <= 0n) return undefined;
  const ms = nanos / 1_000_000n;
  return Number(ms === 0n ? 1n : ms);
}

/**
 * Client options from the global flags, with etcdctl's checks and exit codes:
 * an empty --cert/--key/--cacert is a bad argument (128), so is an unreadable
 * TLS file; no endpoint at all is a bad connection (2).
 */
export function clientOptionsFromFlags(flags: ParsedFlags, password: string | undefined): ClientOptions {
  if (flags.string('discovery-srv') !== '') {
    throw new CliError('DNS discovery (--discovery-srv) is not supported yet; list the members with --endpoints', ExitCode.badFeature);
  }
  const endpoints = flags.strings('endpoints').map((e) => e.trim());
  if (endpoints.length === 0 || endpoints.every((e) => e === '')) {
    throw new CliError('etcdclient: no available endpoints', ExitCode.badConnection);
  }
  const options: ClientOptions = {
    endpoints,
    dialTimeoutMs: nanosToMs(flags.bigint('dial-timeout')) ?? 0,
    keepAliveTimeMs: nanosToMs(flags.bigint('keepalive-time')),
    keepAliveTimeoutMs: nanosToMs(flags.bigint('keepalive-timeout')),
    insecureTransport: flags.bool('insecure-transport'),
  };
  const tls = tlsFromFlags(flags);
  if (tls !== undefined) options.tls = tls;
  const user = userFromFlags(flags, password);
  if (user !== undefined) {
    options.username = user.username;
    options.password = user.password;
  }
  return options;
}

function tlsFromFlags(flags: ParsedFlags): ClientOptions['tls'] {
  const files: Record<'cert' | 'key' | 'cacert', Buffer | undefined> = { cert: undefined, key: undefined, cacert: undefined };
  for (const name of ['cert', 'key', 'cacert'] as const) {
    const path = flags.string(name);
    if (path === '' && flags.changed.has(name)) throw new CliError(`empty string is passed to --${name} option`, ExitCode.badArgs);
    if (path === '') continue;
    try {
      files[name] = readFileSync(path);
    } catch {
      throw new CliError(`open ${path}: no such file or directory`, ExitCode.badArgs);
    }
  }
  const skipVerify = flags.bool('insecure-skip-tls-verify');
  if (files.cert === undefined && files.key === undefined && files.cacert === undefined && !skipVerify) return undefined;
  return { ca: files.cacert, cert: files.cert, key: files.key, insecureSkipVerify: skipVerify };
}

/**
 * --user name[:password] and --password, as etcdctl reads them: with
 * --password, the whole of --user is the name (colons included); without,
 * the name ends at the first colon, and with no colon the password is the
 * one `prompted` for. No credentials when --user is empty, and none either
 * when the password is: clientv3 authenticates only when both are set.
 */
export function userFromFlags(flags: ParsedFlags, prompted: string | undefined): { username: string; password: string } | undefined {
  const user = flags.string('user');
  if (user === '') return undefined;
  let credentials: { username: string; password: string };
  const password = flags.string('password');
  const colon = user.indexOf(':');
  if (password !== '') credentials = { username: user, password };
  else if (colon >= 0) credentials = { username: user.slice(0, colon), password: user.slice(colon + 1) };
  else if (prompted !== undefined) credentials = { username: user, password: prompted };
  else throw new Error('userFromFlags: the password of --user was not asked for');
  return credentials.username === '' || credentials.password === '' ? undefined : credentials;
}

/** The --user flag names a user without a password, so one must be asked for. */
export function needsPasswordPrompt(flags: ParsedFlags): boolean {
  const user = flags.string('user');
  return user !== '' && flags.string('password') === '' && !user.includes(':');
}

export { formatFlagValue };
