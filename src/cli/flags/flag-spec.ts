import type * as Interfaces from '@oclif/core/interfaces';
import { goFormatDuration, goParseDuration } from '../go/duration.js';
import { goQuote } from '../go/quote.js';
import { goParseBool, goParseInt } from '../go/strconv.js';

/**
 * Flag definitions shared by our pflag-compatible parser (which gives
 * etcdctl's semantics and error texts) and by oclif's help output.
 *
 * Values: bool → boolean, string → string, int64 → bigint,
 * duration → bigint nanoseconds, stringSlice → string[].
 */
export type FlagKind = 'bool' | 'string' | 'int64' | 'duration' | 'stringSlice';
export type FlagValue = boolean | string | bigint | string[];

export interface FlagSpec {
  name: string;
  /** One-letter shorthand (`-w`). */
  short?: Interfaces.AlphabetLowercase | Interfaces.AlphabetUppercase;
  kind: FlagKind;
  /** The default as text, parsed like a command-line value (pflag's DefValue). */
  defaultText: string;
  description: string;
  /** Hidden from help. */
  hidden?: boolean;
}

/** Parses one textual value of a flag; throws with Go's error text. */
export function parseFlagValue(spec: FlagSpec, text: string, previous?: FlagValue, replaceSlice = true): FlagValue {
  switch (spec.kind) {
    case 'bool':
      return goParseBool(text);
    case 'string':
      return text;
    case 'int64':
      return goParseInt(text, 0);
    case 'duration':
      return goParseDuration(text);
    case 'stringSlice': {
      const items = readCsv(text);
      if (replaceSlice || !Array.isArray(previous)) return items;
      return [...previous, ...items];
    }
  }
}

export function defaultValue(spec: FlagSpec): FlagValue {
  return parseFlagValue(spec, spec.defaultText);
}

/** pflag's Value.String(), as etcdctl's --debug prints it. */
export function formatFlagValue(spec: FlagSpec, value: FlagValue): string {
  switch (spec.kind) {
    case 'duration':
      return goFormatDuration(value as bigint);
    case 'stringSlice':
      return `[${(value as string[]).join(',')}]`;
    default:
      return String(value);
  }
}

/** pflag reads string slices as one CSV record ("a,b", or quoted fields). */
function readCsv(text: string): string[] {
  if (text === '') return [];
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** How pflag names a flag in "invalid argument" errors: `--limit`, or `-w, --write-out`. */
export function flagDisplayName(spec: FlagSpec): string {
  return spec.short !== undefined ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

export function invalidArgumentMessage(spec: FlagSpec, text: string, err: unknown): string {
  const reason = err instanceof Error ? err.message : String(err);
  return `invalid argument ${goQuote(text)} for ${goQuote(flagDisplayName(spec))} flag: ${reason}`;
}
