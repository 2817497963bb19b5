import { goParseDuration } from '../../cli/go/duration.js';
import { goQuote } from '../../cli/go/quote.js';
import { goParseBool, goParseInt, goParseUint } from '../../cli/go/strconv.js';
import { canonicalName, flagToEnv, serverFlag, serverFlags, type FlagDef, type FlagValue } from './server-flags.js';

/**
 * etcd's command line as Go's `flag` package reads it (etcd uses that
 * package, not pflag): `-flag` and `--flag` alike, `--flag=value` or
 * `--flag value`, a bool only as `--flag` or `--flag=false` (so `--flag
 * false` leaves "false" as a stray argument, which etcd refuses), parsing
 * stops at the first argument that is not a flag. Error texts are Go's,
 * since scripts and people search for them.
 */
export class FlagError extends Error {}

/** A line for the log, written once the logger exists (etcd logs these while parsing). */
export interface LogNote {
  level: 'info' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

export interface ParsedFlags {
  /** Every setting by its canonical flag name: the default unless given. */
  values: Map<string, FlagValue>;
  /** Canonical names of the settings given on the command line, in the environment or in the config file. */
  changed: Set<string>;
  help: boolean;
  notes: LogNote[];
}

export function defaultValues(): Map<string, FlagValue> {
  const values = new Map<string, FlagValue>();
  for (const def of serverFlags) if (def.aliasOf === undefined) values.set(def.name, def.defaultValue);
  return values;
}

/** Parses `argv` (the words after `server`). */
export function parseCommandLine(argv: readonly string[]): ParsedFlags & { given: Set<string> } {
  const parsed = { values: defaultValues(), changed: new Set<string>(), help: false, notes: [] as LogNote[], given: new Set<string>() };
  const rest = [...argv];
  while (rest.length > 0) {
    const word = rest[0]!;
    if (word.length < 2 || word[0] !== '-') break;
    let body = word.slice(1);
    if (body[0] === '-') {
      body = body.slice(1);
      if (body === '') {
        rest.shift();
        break;
      }
    }
    rest.shift();
    if (body === '' || body[0] === '-' || body[0] === '=') throw new FlagError(`bad flag syntax: ${word}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const def = serverFlag(name);
    if (def === undefined) {
      if (name === 'help' || name === 'h') {
        parsed.help = true;
        continue;
      }
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    let text: string;
    if (eq >= 0) text = body.slice(eq + 1);
    else if (def.kind === 'bool' || def.kind === 'ignored') text = 'true';
    else if (rest.length > 0) text = rest.shift()!;
    else throw new FlagError(`flag needs an argument: -${name}`);
    setFlag(parsed, def, text, (err) => def.kind === 'bool'
      ? `invalid boolean value ${goQuote(text)} for -${name}: ${err}`
      : `invalid value ${goQuote(text)} for flag -${name}: ${err}`);
    parsed.given.add(name);
  }
  // etcdmain/config.go: anything left over is refused, with this message.
  if (rest.length > 0) throw new FlagError(`'${rest[0]}' is not a valid flag`);
  return parsed;
}

/**
 * The ETCD_* variables, as etcd's pkg/flags.SetFlagsFromEnv applies them: a
 * variable sets its flag unless the flag was given on the command line
 * (then both together are an error), an empty one counts as unset, and any
 * other ETCD_* variable is reported as unrecognized.
 */
export function applyEnvironment(parsed: ParsedFlags & { given: Set<string> }, env: NodeJS.ProcessEnv): void {
  const used = new Set<string>();
  for (const def of [...serverFlags].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const key = flagToEnv(def.name);
    const value = env[key];
    if (parsed.given.has(def.name) || value === undefined || value === '') continue;
    used.add(key);
    setFlag(parsed, def, value, (err) => `invalid value ${goQuote(value)} for ${key}: ${err}`);
    parsed.notes.push({ level: 'info', msg: 'recognized and used environment variable', fields: { 'variable-name': key, 'variable-value': value } });
  }
  const shadowed = new Set([...parsed.given].map(flagToEnv));
  for (const [key, value] of Object.entries(env)) {
    if (used.has(key)) continue;
    if (shadowed.has(key)) {
      throw new FlagError(`conflicting environment variable "${key}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`);
    }
    if (key.startsWith('ETCD_')) parsed.notes.push({ level: 'warn', msg: 'unrecognized environment variable', fields: { 'environment-variable': `${key}=${value ?? ''}` } });
  }
}

function setFlag(parsed: ParsedFlags, def: FlagDef, text: string, describe: (err: string) => string): void {
  let value: FlagValue;
  try {
    value = parseFlagText(def, text);
  } catch (err) {
    throw new FlagError(describe((err as Error).message));
  }
  if (def.kind === 'ignored') {
    parsed.notes.push({ level: 'warn', msg: `flag "-${def.name}" is no longer supported - ignoring.`, fields: {} });
    return;
  }
  const name = canonicalName(def.name);
  parsed.values.set(name, value);
  parsed.changed.add(name);
}

/** One flag value from its text, with Go's flag package's errors ("parse error", "value out of range"). */
export function parseFlagText(def: FlagDef, text: string): FlagValue {
  switch (def.kind) {
    case 'string':
    case 'list':
    case 'ignored':
      return text;
    case 'bool':
      return numeric(() => goParseBool(text));
    case 'uint':
      return Number(numeric(() => goParseUint(text, 0)));
    case 'int':
      return Number(numeric(() => goParseInt(text, 0)));
    case 'uint32': {
      // etcd's Uint32Value passes strconv's own error through.
      const n = goParseUint(text, 0);
      if (n > 0xffffffffn) throw new Error(`strconv.ParseUint: parsing ${goQuote(text)}: value out of range`);
      return Number(n);
    }
    case 'duration':
      return Number(numeric(() => goParseDuration(text))) / 1e6;
    case 'choice':
      if (!def.choices!.includes(text)) throw new Error('invalid value');
      return text;
  }
}

/** Go's flag package reduces strconv's errors to two words. */
function numeric<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new Error(/out of range/.test((err as Error).message) ? 'value out of range' : 'parse error');
  }
}
