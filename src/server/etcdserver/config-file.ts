import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { goParseDuration } from '../../cli/go/duration.js';
import { defaultValues, FlagError, parseFlagText, type LogNote, type ParsedFlags } from './go-flags.js';
import { canonicalName, serverFlags, type FlagDef, type FlagValue } from './server-flags.js';

/**
 * etcd's YAML configuration file (embed.ConfigFromFile, etcdmain's
 * configFromFile): the keys are the flag names (embed.Config's json tags),
 * TLS sits in the nested `client-transport-security` and
 * `peer-transport-security` blocks, lists of URLs are comma-separated
 * strings, `cipher-suites` and `log-outputs` are YAML lists, and durations
 * are integers of nanoseconds (how Go decodes a time.Duration from JSON; a Go
 * duration string such as "5s" is accepted too). When a file is given, etcd
 * ignores every other flag and ETCD_* variable: so do we.
 *
 * Unknown keys do not stop etcd; we warn about them, since a misspelt key is
 * otherwise a setting silently not applied.
 */
export function loadConfigFile(path: string): ParsedFlags {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlagError(`open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new FlagError(`error converting YAML to JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc) || doc === null) throw new FlagError(`config file ${path}: want a YAML mapping of settings`);
  return valuesFromDocument(doc as Record<string, unknown>);
}

/** The settings of a parsed YAML document, over the defaults. */
export function valuesFromDocument(doc: Record<string, unknown>): ParsedFlags {
  const values = defaultValues();
  const changed = new Set<string>();
  const notes: LogNote[] = [];
  const known = new Set<string>();
  for (const def of serverFlags) {
    if (def.yaml === false || def.kind === 'ignored') continue;
    const key = def.yaml ?? def.name;
    known.add(key);
    const raw = lookup(doc, key);
    if (raw === undefined || raw === null) continue;
    let value: FlagValue;
    try {
      value = fromYaml(def, raw);
    } catch (err) {
      throw new FlagError(`config file: ${key}: ${(err as Error).message}`);
    }
    values.set(canonicalName(def.name), value);
    changed.add(canonicalName(def.name));
  }
  for (const key of unknownKeys(doc, known)) notes.push({ level: 'warn', msg: 'ignored unknown key in the configuration file', fields: { key } });
  return { values, changed, help: false, notes };
}

function lookup(doc: Record<string, unknown>, key: string): unknown {
  let at: unknown = doc;
  for (const part of key.split('.')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

function unknownKeys(doc: Record<string, unknown>, known: Set<string>, prefix = ''): string[] {
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(doc)) {
    const path = prefix + key;
    if (known.has(path)) continue;
    const nested = [...known].some((k) => k.startsWith(`${path}.`));
    if (nested && typeof value === 'object' && value !== null && !Array.isArray(value)) unknown.push(...unknownKeys(value as Record<string, unknown>, known, `${path}.`));
    else unknown.push(path);
  }
  return unknown;
}

/** A YAML value as the JSON decoder of embed.Config would take it for this flag's Go type. */
function fromYaml(def: FlagDef, raw: unknown): FlagValue {
  switch (def.kind) {
    case 'bool':
      if (typeof raw !== 'boolean') throw new Error(`want true or false, not ${JSON.stringify(raw)}`);
      return raw;
    case 'uint':
    case 'int':
    case 'uint32':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) throw new Error(`want an integer, not ${JSON.stringify(raw)}`);
      return parseFlagText(def, String(raw));
    case 'duration':
      if (typeof raw === 'number' && Number.isInteger(raw)) return raw / 1e6;
      if (typeof raw === 'string') return Number(goParseDuration(raw)) / 1e6;
      throw new Error(`want a duration (integer nanoseconds, or a string such as "5s"), not ${JSON.stringify(raw)}`);
    case 'list':
      if (Array.isArray(raw)) return raw.map(String).join(',');
      return String(raw);
    default:
      // An empty choice is the default (an empty initial-cluster-state means "new").
      if (def.kind === 'choice' && raw === '') return def.defaultValue;
      if (typeof raw === 'object') throw new Error(`want a string, not ${JSON.stringify(raw)}`);
      return parseFlagText(def, String(raw));
  }
}
