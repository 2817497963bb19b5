import { goQuote } from './quote.js';

/**
 * Go's strconv number and boolean parsing, with its exact error texts:
 * etcdctl passes flag values through pflag, which uses these functions, and
 * prints their errors verbatim ("strconv.ParseInt: parsing "abc": invalid
 * syntax"). Scripts and our compatibility tests see these strings.
 */
export class GoSyntaxError extends Error {}

function syntaxError(fn: string, input: string): GoSyntaxError {
  return new GoSyntaxError(`strconv.${fn}: parsing ${goQuote(input)}: invalid syntax`);
}

function rangeError(fn: string, input: string): GoSyntaxError {
  return new GoSyntaxError(`strconv.${fn}: parsing ${goQuote(input)}: value out of range`);
}

const int64Max = (1n << 63n) - 1n;
const uint64Max = (1n << 64n) - 1n;

/** strconv.ParseInt(s, base, 64). Base 0 picks the base from a 0x / 0o / 0b / 0 prefix and allows underscores. */
export function goParseInt(s: string, base: number): bigint {
  if (s === '') throw syntaxError('ParseInt', s);
  let body = s;
  let negative = false;
  if (body[0] === '+' || body[0] === '-') {
    negative = body[0] === '-';
    body = body.slice(1);
  }
  let magnitude: bigint;
  try {
    magnitude = parseUnsigned(body, base, 'ParseInt');
  } catch (err) {
    if (err instanceof RangeOverflow) throw rangeError('ParseInt', s);
    throw syntaxError('ParseInt', s);
  }
  if (!negative && magnitude > int64Max) throw rangeError('ParseInt', s);
  if (negative && magnitude > int64Max + 1n) throw rangeError('ParseInt', s);
  return negative ? -magnitude : magnitude;
}

/** strconv.ParseUint(s, base, 64). */
export function goParseUint(s: string, base: number): bigint {
  try {
    return parseUnsigned(s, base, 'ParseUint');
  } catch (err) {
    if (err instanceof RangeOverflow) throw rangeError('ParseUint', s);
    throw syntaxError('ParseUint', s);
  }
}

class RangeOverflow extends Error {}
class BadSyntax extends Error {}

/** The digit loop of strconv.ParseUint; overflow is reported as soon as it happens, as Go does. */
function parseUnsigned(s0: string, base0: number, _fn: string): bigint {
  if (s0 === '') throw new BadSyntax();
  let s = s0;
  let base = base0;
  const autoBase = base0 === 0;
  if (autoBase) {
    base = 10;
    if (s[0] === '0') {
      const p = s.length >= 3 ? s[1]!.toLowerCase() : '';
      if (p === 'b') [base, s] = [2, s.slice(2)];
      else if (p === 'o') [base, s] = [8, s.slice(2)];
      else if (p === 'x') [base, s] = [16, s.slice(2)];
      else [base, s] = [8, s.slice(1)];
    }
  }
  const bigBase = BigInt(base);
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === '_' && autoBase) {
      underscores = true;
      continue;
    }
    const d = digitValue(c);
    if (d >= base) throw new BadSyntax();
    n = n * bigBase + BigInt(d);
    if (n > uint64Max) throw new RangeOverflow();
  }
  if (underscores && !underscoreOK(s0)) throw new BadSyntax();
  return n;
}

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x7a) return lower - 0x61 + 10;
  return 99;
}

/** Go's rule for digit-separating underscores: each one sits between digits (a base prefix counts as a digit). */
function underscoreOK(s0: string): boolean {
  let s = s0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let saw = '^';
  let i = 0;
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'box'.includes(s[1]!.toLowerCase())) {
    i = 2;
    saw = '0';
    hex = s[1]!.toLowerCase() === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    const lower = c.toLowerCase();
    if ((c >= '0' && c <= '9') || (hex && lower >= 'a' && lower <= 'f')) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseBool. */
export function goParseBool(s: string): boolean {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
  }
  throw syntaxError('ParseBool', s);
}
