import { goQuoteRune } from '../go/quote.js';
import {
  defaultValue,
  invalidArgumentMessage,
  parseFlagValue,
  type FlagSpec,
  type FlagValue,
} from './flag-spec.js';

/**
 * A command line parser with spf13/pflag's semantics, which etcdctl users
 * rely on: flags and arguments in any order, `--name value`, `--name=value`,
 * `-w json`, `-wjson`, `-w=json`, combined bool shorthands, `--` ending the
 * flags, a bool flag taking a value only as `--flag=false`, a value flag
 * taking the next word even when it starts with `-` (`--rev -1`), repeated
 * slice flags appending. Errors carry pflag's exact text.
 */
export class FlagParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagParseError';
  }
}

export class ParsedFlags {
  constructor(
    private readonly specs: ReadonlyMap<string, FlagSpec>,
    private readonly values: Map<string, FlagValue>,
    /** Names of flags given on the command line (pflag's Changed). */
    readonly changed: Set<string>,
  ) {}

  spec(name: string): FlagSpec {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new Error(`no flag --${name} defined`);
    return spec;
  }

  allSpecs(): FlagSpec[] {
    return [...this.specs.values()];
  }

  set(name: string, value: FlagValue): void {
    this.spec(name);
    this.values.set(name, value);
  }

  bool(name: string): boolean {
    return this.typed(name, 'boolean') as boolean;
  }

  string(name: string): string {
    return this.typed(name, 'string') as string;
  }

  /** An int64 flag, or a duration flag in nanoseconds. */
  bigint(name: string): bigint {
    return this.typed(name, 'bigint') as bigint;
  }

  strings(name: string): string[] {
    const value = this.values.get(name);
    if (!Array.isArray(value)) throw new Error(`flag --${name} is not a string slice`);
    return value;
  }

  private typed(name: string, type: string): FlagValue {
    this.spec(name);
    const value = this.values.get(name);
    if (typeof value !== type) throw new Error(`flag --${name} is not a ${type}`);
    return value as FlagValue;
  }
}

export interface ParsedCommandLine {
  flags: ParsedFlags;
  args: string[];
  /** -h or --help was given. */
  help: boolean;
}

export function parseCommandLine(argv: readonly string[], specList: readonly FlagSpec[]): ParsedCommandLine {
  const specs = new Map<string, FlagSpec>();
  const shorts = new Map<string, FlagSpec>();
  for (const spec of specList) {
    specs.set(spec.name, spec);
    if (spec.short !== undefined) shorts.set(spec.short, spec);
  }
  const values = new Map<string, FlagValue>();
  for (const spec of specList) values.set(spec.name, defaultValue(spec));
  const state: ParseState = { specs, shorts, values, changed: new Set(), args: [], help: false };
  const rest = [...argv];
  while (rest.length > 0) {
    const word = rest.shift()!;
    if (word.length < 2 || word[0] !== '-') {
      state.args.push(word);
    } else if (word === '--') {
      state.args.push(...rest);
      break;
    } else if (word[1] === '-') {
      parseLong(word, rest, state);
    } else {
      parseShorts(word, rest, state);
    }
  }
  return { flags: new ParsedFlags(specs, values, state.changed), args: state.args, help: state.help };
}

interface ParseState {
  specs: Map<string, FlagSpec>;
  shorts: Map<string, FlagSpec>;
  values: Map<string, FlagValue>;
  changed: Set<string>;
  args: string[];
  help: boolean;
}

function parseLong(word: string, rest: string[], state: ParseState): void {
  const body = word.slice(2);
  if (body.length === 0 || body[0] === '-' || body[0] === '=') throw new FlagParseError(`bad flag syntax: ${word}`);
  const eq = body.indexOf('=');
  const name = eq < 0 ? body : body.slice(0, eq);
  const spec = state.specs.get(name);
  if (spec === undefined) {
    if (name === 'help') {
      state.help = true;
      return;
    }
    throw new FlagParseError(`unknown flag: --${name}`);
  }
  let text: string;
  if (eq >= 0) text = body.slice(eq + 1);
  else if (spec.kind === 'bool') text = 'true';
  else if (rest.length > 0) text = rest.shift()!;
  else throw new FlagParseError(`flag needs an argument: ${word}`);
  setFlag(spec, text, state);
}

function parseShorts(word: string, rest: string[], state: ParseState): void {
  let shorthands = word.slice(1);
  while (shorthands.length > 0) {
    const c = String.fromCodePoint(shorthands.codePointAt(0)!);
    const spec = state.shorts.get(c);
    if (spec === undefined) {
      if (c === 'h') {
        state.help = true;
        shorthands = shorthands.slice(c.length);
        continue;
      }
      throw new FlagParseError(`unknown shorthand flag: ${goQuoteRune(c.codePointAt(0)!)} in -${shorthands}`);
    }
    const after = shorthands.slice(c.length);
    let text: string;
    if (after.length > 1 && after[0] === '=') {
      text = after.slice(1);
      shorthands = '';
    } else if (spec.kind === 'bool') {
      text = 'true';
      shorthands = after;
    } else if (after.length > 0) {
      text = after;
      shorthands = '';
    } else if (rest.length > 0) {
      text = rest.shift()!;
      shorthands = '';
    } else {
      throw new FlagParseError(`flag needs an argument: ${goQuoteRune(c.codePointAt(0)!)} in -${shorthands}`);
    }
    setFlag(spec, text, state);
  }
}

function setFlag(spec: FlagSpec, text: string, state: ParseState): void {
  const firstSet = !state.changed.has(spec.name);
  let value: FlagValue;
  try {
    value = parseFlagValue(spec, text, state.values.get(spec.name), firstSet);
  } catch (err) {
    throw new FlagParseError(invalidArgumentMessage(spec, text, err));
  }
  state.values.set(spec.name, value);
  state.changed.add(spec.name);
}
