import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  RequestOp,
  TxnRequest,
} from '../proto/gen/etcdserverpb/rpc.js';
import { CliError, ExitCode } from './errors.js';
import { FlagParseError, parseCommandLine } from './flags/parser.js';
import { RuneReader, ScanError, isScanSpace, scanQuoted, scanToken } from './go/scan.js';
import { goQuote } from './go/quote.js';
import { goParseInt } from './go/strconv.js';
import { buildDel, buildGet, buildPut, delFlagSpecs, getFlagSpecs, putFlagSpecs } from './kv-ops.js';
import { EndOfInputError, type LineSource } from './stdin.js';

/**
 * etcdctl's txn grammar (ctlv3/command/txn_command.go), read from stdin:
 *
 *   <compare>*          one per line, e.g.  mod("key") > "5"   value("k") = "v"
 *   <blank line>
 *   <request>*          put / get / del command lines run when all compares hold
 *   <blank line>
 *   <request>*          run otherwise
 *   <blank line>
 *
 * A compare is `<target>("<key>") <op> "<value>"` with target ver|version,
 * c|create, m|mod (decimal numbers), val|value (bytes), or lease (a lease ID
 * in hex), and op one of = != > <. Keys and values are Go quoted strings
 * (escapes like \x00 give any byte). Request lines use the put/get/del flags.
 * Every line is taken as bytes, so keys keep their exact bytes.
 *
 * Deviations from etcdctl 3.4.23, where it crashes or mangles input: an
 * unknown operator is an error (etcdctl panics); a `lease(...)` compare works
 * (etcdctl panics); a 'single-quoted' argument loses its quotes only (etcdctl
 * cuts it according to the number of arguments on the line); a put line
 * without a value is an argument error (etcdctl reads the rest of stdin).
 */
export interface TxnPrompts {
  (text: string): void;
}

export async function readTxn(lines: LineSource, prompt: TxnPrompts): Promise<TxnRequest> {
  prompt('compares:');
  const compare = await readSection(lines, parseCompare);
  prompt('success requests (get, put, del):');
  const success = await readSection(lines, parseRequestLine);
  prompt('failure requests (get, put, del):');
  const failure = await readSection(lines, parseRequestLine);
  return TxnRequest.fromPartial({ compare, success, failure });
}

async function readSection<T>(lines: LineSource, parse: (line: string) => T): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    let line: string;
    try {
      line = await lines.next();
    } catch (err) {
      if (err instanceof EndOfInputError) throw new CliError(err.message, ExitCode.invalidInput);
      throw err;
    }
    const trimmed = trimSpace(line);
    if (trimmed.length === 0) return items;
    items.push(parse(trimmed));
  }
}

/** strings.TrimSpace over a byte string: Unicode white space (fmt's and unicode.IsSpace's set agree) at both ends. */
function trimSpace(line: string): string {
  const reader = new RuneReader(line);
  let start = -1;
  let end = 0;
  while (!reader.atEnd()) {
    const before = reader.pos;
    if (!isScanSpace(reader.read())) {
      if (start < 0) start = before;
      end = reader.pos;
    }
  }
  return start < 0 ? '' : line.slice(start, end);
}

const operators = new Map<string, Compare_CompareResult>([
  ['=', Compare_CompareResult.EQUAL],
  ['!=', Compare_CompareResult.NOT_EQUAL],
  ['>', Compare_CompareResult.GREATER],
  ['<', Compare_CompareResult.LESS],
]);

const numericTargets = new Map<string, Compare_CompareTarget>([
  ['ver', Compare_CompareTarget.VERSION],
  ['version', Compare_CompareTarget.VERSION],
  ['c', Compare_CompareTarget.CREATE],
  ['create', Compare_CompareTarget.CREATE],
  ['m', Compare_CompareTarget.MOD],
  ['mod', Compare_CompareTarget.MOD],
]);

/** One compare line, scanned the way fmt.Sscanf(rest, "%q) %s %q") scans it. */
export function parseCompare(line: string): Compare {
  const shown = display(line);
  const paren = line.indexOf('(');
  if (paren < 0) throw invalidInput(`malformed comparison: ${shown}`);
  const target = line.slice(0, paren);
  const scanned = scanCompare(line.slice(paren + 1));
  if (scanned.count !== 3) {
    const got = `${display(target)}(${goQuote(bytes(scanned.key))}) ${display(scanned.op)} ${goQuote(bytes(scanned.value))}`;
    throw invalidInput(`malformed comparison: ${shown}; got ${got}`);
  }
  const key = bytes(scanned.key);
  const compare = Compare.fromPartial({ key, result: operators.get(scanned.op) });
  const numeric = numericTargets.get(target);
  if (numeric !== undefined) {
    const n = parseNumber(scanned.value, 10, shown);
    compare.target = numeric;
    if (numeric === Compare_CompareTarget.VERSION) compare.version = n;
    else if (numeric === Compare_CompareTarget.CREATE) compare.createRevision = n;
    else compare.modRevision = n;
  } else if (target === 'val' || target === 'value') {
    compare.target = Compare_CompareTarget.VALUE;
    compare.value = bytes(scanned.value);
  } else if (target === 'lease') {
    compare.target = Compare_CompareTarget.LEASE;
    compare.lease = parseNumber(scanned.value, 16, shown);
  } else {
    throw invalidInput(`malformed comparison: ${shown} (unknown target ${display(target)})`);
  }
  if (!operators.has(scanned.op)) throw invalidInput(`malformed comparison: ${shown} (unknown operator ${display(scanned.op)})`);
  return compare;
}

function parseNumber(text: string, base: number, shown: string): bigint {
  try {
    return goParseInt(text, base);
  } catch {
    throw invalidInput(`invalid txn compare request: ${shown}`);
  }
}

interface ScannedCompare {
  count: number;
  key: string;
  op: string;
  value: string;
}

function scanCompare(rest: string): ScannedCompare {
  const scanned: ScannedCompare = { count: 0, key: '', op: '', value: '' };
  const reader = new RuneReader(rest);
  try {
    scanned.key = scanQuoted(reader);
    scanned.count = 1;
    if (reader.read() !== 0x29) return scanned;
    // A space in the format wants at least one space in the input (or its end).
    if (!reader.atEnd() && !isScanSpace(reader.peek())) return scanned;
    scanned.op = scanToken(reader);
    scanned.count = 2;
    scanned.value = scanQuoted(reader);
    scanned.count = 3;
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
  }
  return scanned;
}

/**
 * Splits a request line into arguments like etcdctl's argify: "double
 * quoted" (Go escapes), 'single quoted', or bare words.
 */
export function argify(line: string): string[] {
  const pattern = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;
  const args: string[] = [];
  for (const match of line.matchAll(pattern)) {
    const word = match[0];
    if (word.startsWith("'")) args.push(word.slice(1, -1));
    else if (word.startsWith('"')) args.push(unquoteArg(word));
    else args.push(word);
  }
  return args;
}

function unquoteArg(word: string): string {
  try {
    return scanQuoted(new RuneReader(word));
  } catch (err) {
    if (err instanceof ScanError) throw invalidInput(err.message);
    throw err;
  }
}

const requestCommands = [
  { name: 'put', specs: putFlagSpecs },
  { name: 'get', specs: getFlagSpecs },
  { name: 'del', specs: delFlagSpecs },
] as const;

/** One request line: a put, get or del command line (cobra's prefix matching included: `p k v`). */
export function parseRequestLine(line: string): RequestOp {
  const shown = display(line);
  const args = argify(line);
  if (args.length < 2) throw invalidInput(`invalid txn compare request: ${shown}`);
  const name = args[0]!;
  const matches = requestCommands.filter((c) => c.name === name || (name !== '' && c.name.startsWith(name)));
  const command = matches.find((c) => c.name === name) ?? (matches.length === 1 ? matches[0] : undefined);
  if (command === undefined) throw invalidInput(`invalid txn request: ${shown}`);
  let parsed;
  try {
    parsed = parseCommandLine(args.slice(1), command.specs);
  } catch (err) {
    if (err instanceof FlagParseError) throw invalidInput(`invalid txn request: ${shown}`);
    throw err;
  }
  if (parsed.help) throw invalidInput(`invalid txn request: ${shown}`);
  const opArgs = parsed.args.map(bytes);
  switch (command.name) {
    case 'put':
      return RequestOp.fromPartial({ requestPut: buildPut(opArgs, parsed.flags, () => undefined) });
    case 'get':
      return RequestOp.fromPartial({ requestRange: buildGet(opArgs, parsed.flags) });
    case 'del':
      return RequestOp.fromPartial({ requestDeleteRange: buildDel(opArgs, parsed.flags) });
  }
}

function invalidInput(message: string): CliError {
  return new CliError(message, ExitCode.invalidInput);
}

/** A byte string as the bytes it stands for. */
function bytes(byteString: string): Buffer {
  return Buffer.from(byteString, 'latin1');
}

/** A byte string as text for a message. */
function display(byteString: string): string {
  return bytes(byteString).toString('utf8');
}
