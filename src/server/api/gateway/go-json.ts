import { goQuoteRune } from '../../../cli/go/quote.js';
import { decodeRune, encodeRune } from '../../../cli/go/utf8.js';

/**
 * JSON the way Go's encoding/json reads it, for the gateway: etcd's gateway
 * (grpc-gateway over golang/protobuf's jsonpb) answers a malformed body with
 * encoding/json's own error text, and clients see it verbatim. This module
 * is a byte-level scanner with the same states as Go's (so the same byte gets
 * the same complaint), the two ways Go runs it (a stream Decoder, and
 * Unmarshal of a complete value), and the value readers jsonpb builds on:
 * object members as raw spans, string unquoting, numbers as exact text.
 * Nothing here goes through JSON.parse, which would round 64-bit numbers.
 */

/** Go's SyntaxError, UnmarshalTypeError and friends: the message is exactly Go's. */
export class GoJsonError extends Error {}

/** Go's maxNestingDepth: deeper input is a syntax error. */
export const jsonNestingDepthMax = 10_000;

const enum Parse {
  ObjectKey,
  ObjectValue,
  ArrayValue,
}

const enum Op {
  Continue,
  BeginLiteral,
  BeginObject,
  ObjectKey,
  ObjectValue,
  EndObject,
  BeginArray,
  ArrayValue,
  EndArray,
  SkipSpace,
  End,
  Error,
}

type Step = (s: Scanner, c: number) => Op;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * Go's scanner (encoding/json/scanner.go), state for state: step() takes one
 * byte and says what it was; the error text names the byte and the state.
 */
class Scanner {
  step: Step = stateBeginValue;
  parseState: Parse[] = [];
  endTop = false;
  err: GoJsonError | undefined;

  error(c: number, context: string): Op {
    this.step = stateError;
    this.err = new GoJsonError(`invalid character ${quoteChar(c)} ${context}`);
    return Op.Error;
  }

  push(c: number, state: Parse, success: Op): Op {
    this.parseState.push(state);
    return this.parseState.length <= jsonNestingDepthMax ? success : this.error(c, 'exceeded max depth');
  }

  pop(): Op {
    this.parseState.pop();
    if (this.parseState.length === 0) {
      this.step = stateEndTop;
      this.endTop = true;
    } else {
      this.step = stateEndValue;
    }
    return Op.Continue;
  }

  /** What the input ends as when no byte follows (Go's scanner.eof). */
  eof(): Op {
    if (this.err !== undefined) return Op.Error;
    if (this.endTop) return Op.End;
    this.step(this, 0x20);
    if (this.endTop) return Op.End;
    this.err ??= new GoJsonError('unexpected end of JSON input');
    return Op.Error;
  }
}

/** Go's quoteChar: the offending byte as Go quotes it in a syntax error. */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return '\'"\'';
  return goQuoteRune(c);
}

function stateBeginValueOrEmpty(s: Scanner, c: number): Op {
  if (isSpace(c)) return Op.SkipSpace;
  if (c === 0x5d) return stateEndValue(s, c);
  return stateBeginValue(s, c);
}

function stateBeginValue(s: Scanner, c: number): Op {
  if (isSpace(c)) return Op.SkipSpace;
  switch (c) {
    case 0x7b: // {
      s.step = stateBeginStringOrEmpty;
      return s.push(c, Parse.ObjectKey, Op.BeginObject);
    case 0x5b: // [
      s.step = stateBeginValueOrEmpty;
      return s.push(c, Parse.ArrayValue, Op.BeginArray);
    case 0x22: // "
      s.step = stateInString;
      return Op.BeginLiteral;
    case 0x2d: // -
      s.step = stateNeg;
      return Op.BeginLiteral;
    case 0x30:
      s.step = state0;
      return Op.BeginLiteral;
    case 0x74: // t
      s.step = literal('rue', 'true');
      return Op.BeginLiteral;
    case 0x66: // f
      s.step = literal('alse', 'false');
      return Op.BeginLiteral;
    case 0x6e: // n
      s.step = literal('ull', 'null');
      return Op.BeginLiteral;
  }
  if (c >= 0x31 && c <= 0x39) {
    s.step = state1;
    return Op.BeginLiteral;
  }
  return s.error(c, 'looking for beginning of value');
}

function stateBeginStringOrEmpty(s: Scanner, c: number): Op {
  if (isSpace(c)) return Op.SkipSpace;
  if (c === 0x7d) {
    s.parseState[s.parseState.length - 1] = Parse.ObjectValue;
    return stateEndValue(s, c);
  }
  return stateBeginString(s, c);
}

function stateBeginString(s: Scanner, c: number): Op {
  if (isSpace(c)) return Op.SkipSpace;
  if (c === 0x22) {
    s.step = stateInString;
    return Op.BeginLiteral;
  }
  return s.error(c, 'looking for beginning of object key string');
}

function stateEndValue(s: Scanner, c: number): Op {
  const n = s.parseState.length;
  if (n === 0) {
    s.step = stateEndTop;
    s.endTop = true;
    return stateEndTop(s, c);
  }
  if (isSpace(c)) {
    s.step = stateEndValue;
    return Op.SkipSpace;
  }
  switch (s.parseState[n - 1]) {
    case Parse.ObjectKey:
      if (c === 0x3a) {
        s.parseState[n - 1] = Parse.ObjectValue;
        s.step = stateBeginValue;
        return Op.ObjectKey;
      }
      return s.error(c, 'after object key');
    case Parse.ObjectValue:
      if (c === 0x2c) {
        s.parseState[n - 1] = Parse.ObjectKey;
        s.step = stateBeginString;
        return Op.ObjectValue;
      }
      if (c === 0x7d) {
        s.pop();
        return Op.EndObject;
      }
      return s.error(c, 'after object key:value pair');
    default:
      if (c === 0x2c) {
        s.step = stateBeginValue;
        return Op.ArrayValue;
      }
      if (c === 0x5d) {
        s.pop();
        return Op.EndArray;
      }
      return s.error(c, 'after array element');
  }
}

function stateEndTop(s: Scanner, c: number): Op {
  // Go complains about the byte here but ends the value first; a Decoder never sees the complaint.
  if (!isSpace(c)) s.error(c, 'after top-level value');
  return Op.End;
}

function stateInString(s: Scanner, c: number): Op {
  if (c === 0x22) {
    s.step = stateEndValue;
    return Op.Continue;
  }
  if (c === 0x5c) {
    s.step = stateInStringEsc;
    return Op.Continue;
  }
  if (c < 0x20) return s.error(c, 'in string literal');
  return Op.Continue;
}

function stateInStringEsc(s: Scanner, c: number): Op {
  switch (c) {
    case 0x62: case 0x66: case 0x6e: case 0x72: case 0x74: case 0x5c: case 0x2f: case 0x22:
      s.step = stateInString;
      return Op.Continue;
    case 0x75:
      s.step = hexEscape(4);
      return Op.Continue;
  }
  return s.error(c, 'in string escape code');
}

function hexEscape(left: number): Step {
  return (s, c) => {
    if (!isHex(c)) return s.error(c, 'in \\u hexadecimal character escape');
    s.step = left === 1 ? stateInString : hexEscape(left - 1);
    return Op.Continue;
  };
}

function stateNeg(s: Scanner, c: number): Op {
  if (c === 0x30) {
    s.step = state0;
    return Op.Continue;
  }
  if (c >= 0x31 && c <= 0x39) {
    s.step = state1;
    return Op.Continue;
  }
  return s.error(c, 'in numeric literal');
}

function state1(s: Scanner, c: number): Op {
  if (isDigit(c)) return Op.Continue;
  return state0(s, c);
}

function state0(s: Scanner, c: number): Op {
  if (c === 0x2e) {
    s.step = stateDot;
    return Op.Continue;
  }
  if (c === 0x65 || c === 0x45) {
    s.step = stateE;
    return Op.Continue;
  }
  return stateEndValue(s, c);
}

function stateDot(s: Scanner, c: number): Op {
  if (isDigit(c)) {
    s.step = stateDot0;
    return Op.Continue;
  }
  return s.error(c, 'after decimal point in numeric literal');
}

function stateDot0(s: Scanner, c: number): Op {
  if (isDigit(c)) return Op.Continue;
  if (c === 0x65 || c === 0x45) {
    s.step = stateE;
    return Op.Continue;
  }
  return stateEndValue(s, c);
}

function stateE(s: Scanner, c: number): Op {
  if (c === 0x2b || c === 0x2d) {
    s.step = stateESign;
    return Op.Continue;
  }
  return stateESign(s, c);
}

function stateESign(s: Scanner, c: number): Op {
  if (isDigit(c)) {
    s.step = stateE0;
    return Op.Continue;
  }
  return s.error(c, 'in exponent of numeric literal');
}

function stateE0(s: Scanner, c: number): Op {
  if (isDigit(c)) return Op.Continue;
  return stateEndValue(s, c);
}

/** The states inside true, false and null: each expects the next letter of the word. */
function literal(rest: string, word: string): Step {
  return (s, c) => {
    const want = rest.charCodeAt(0);
    if (c !== want) return s.error(c, `in literal ${word} (expecting '${rest[0]}')`);
    s.step = rest.length === 1 ? stateEndValue : literal(rest.slice(1), word);
    return Op.Continue;
  };
}

function stateError(): Op {
  return Op.Error;
}

// ---------------------------------------------------------------------------
// The two ways Go runs the scanner.

/** What Decoder.Decode found: a value (a copy of its bytes), the end of the stream, or a need for more bytes. */
export type NextValue = { kind: 'value'; value: RawValue } | { kind: 'eof' } | { kind: 'more' };

/**
 * Go's json.Decoder reading json.RawMessage values off a stream, as
 * grpc-gateway reads request bodies: leading space is skipped, one value is
 * scanned and returned, and whatever follows is left for the next call
 * (garbage included). Bytes arrive with push(); each byte is scanned once,
 * however the stream is split. With `final` false, running out of bytes
 * asks for more; with `final` true it is io.EOF when only space was left,
 * and "unexpected EOF" when a value was started (a number still ends
 * there, as Go feeds it one space).
 */
export class JsonStreamDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private length = 0;
  private pos = 0;
  /** Where the value being scanned starts; -1 while skipping space before one. */
  private start = -1;
  private scanner = new Scanner();

  push(chunk: Uint8Array): void {
    const keep = this.start === -1 ? this.pos : this.start;
    if (this.length + chunk.length > this.buf.length) {
      // Drop what was consumed, and grow by doubling so that a value arriving in many chunks costs linear time.
      const next = Buffer.allocUnsafe(Math.max(2 * (this.length - keep + chunk.length), 4096));
      this.buf.copy(next, 0, keep, this.length);
      this.length -= keep;
      this.pos -= keep;
      if (this.start !== -1) this.start -= keep;
      this.buf = next;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** Bytes received and not yet returned as part of a value. */
  get buffered(): number {
    return this.length - (this.start === -1 ? this.pos : this.start);
  }

  next(final: boolean): NextValue {
    const s = this.scanner;
    const buf = this.buf;
    for (; this.pos < this.length; this.pos++) {
      const c = buf[this.pos]!;
      if (this.start === -1) {
        if (isSpace(c)) continue;
        this.start = this.pos;
      }
      const op = s.step === stateInString && c >= 0x20 && c !== 0x22 && c !== 0x5c ? Op.Continue : s.step(s, c);
      if (op === Op.End) return this.take(this.pos);
      if (op === Op.Error) throw s.err!;
      if ((op === Op.EndObject || op === Op.EndArray) && s.parseState.length === 0) return this.take(++this.pos);
    }
    if (!final) return { kind: 'more' };
    if (this.start === -1) return { kind: 'eof' };
    // At the end of the stream Go feeds one space: that completes a number and nothing else.
    if (s.step(s, 0x20) === Op.End) return this.take(this.length);
    throw new GoJsonError('unexpected EOF');
  }

  private take(end: number): NextValue {
    const value = Buffer.from(this.buf.subarray(this.start, end));
    this.start = -1;
    this.scanner = new Scanner();
    return { kind: 'value', value: { buf: value, start: 0, end: value.length } };
  }
}

/** Go's checkValid, as json.Unmarshal runs it first: the whole input must be one value and space. */
export function checkValid(buf: Uint8Array): void {
  const s = new Scanner();
  for (let i = 0; i < buf.length; i++) {
    if (s.step(s, buf[i]!) === Op.Error) throw s.err!;
  }
  if (s.eof() === Op.Error) throw s.err!;
}

// ---------------------------------------------------------------------------
// Reading values that were already scanned (so they are well-formed).

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'bool' | 'null';

/** A value inside a buffer: what Go keeps as a json.RawMessage. */
export interface RawValue {
  buf: Uint8Array;
  start: number;
  end: number;
}

export function kindOf(v: RawValue): JsonKind {
  switch (v.buf[v.start]) {
    case 0x7b: return 'object';
    case 0x5b: return 'array';
    case 0x22: return 'string';
    case 0x74: case 0x66: return 'bool';
    case 0x6e: return 'null';
    default: return 'number';
  }
}

export function rawText(v: RawValue): string {
  return Buffer.from(v.buf.buffer, v.buf.byteOffset + v.start, v.end - v.start).toString('latin1');
}

function skipSpace(buf: Uint8Array, i: number): number {
  while (i < buf.length && isSpace(buf[i]!)) i++;
  return i;
}

/** The end of the well-formed value starting at i. */
function valueEnd(buf: Uint8Array, i: number): number {
  const c = buf[i]!;
  if (c === 0x22) return stringEnd(buf, i);
  if (c !== 0x7b && c !== 0x5b) {
    let j = i + 1;
    while (j < buf.length && !isSpace(buf[j]!) && buf[j] !== 0x2c && buf[j] !== 0x7d && buf[j] !== 0x5d && buf[j] !== 0x3a) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < buf.length; j++) {
    const b = buf[j]!;
    if (b === 0x22) {
      j = stringEnd(buf, j) - 1;
    } else if (b === 0x7b || b === 0x5b) {
      depth++;
    } else if (b === 0x7d || b === 0x5d) {
      if (--depth === 0) return j + 1;
    }
  }
  throw new Error('valueEnd: value is not well-formed');
}

function stringEnd(buf: Uint8Array, i: number): number {
  for (let j = i + 1; j < buf.length; j++) {
    const b = buf[j]!;
    if (b === 0x5c) j++;
    else if (b === 0x22) return j + 1;
  }
  throw new Error('stringEnd: string is not terminated');
}

/** The members of a well-formed object, in order (a repeated name appears twice). */
export function objectMembers(v: RawValue): Array<{ name: string; value: RawValue }> {
  const { buf } = v;
  const members: Array<{ name: string; value: RawValue }> = [];
  let i = skipSpace(buf, v.start + 1);
  if (buf[i] === 0x7d) return members;
  for (;;) {
    const keyEnd = stringEnd(buf, i);
    const name = unquote({ buf, start: i, end: keyEnd });
    i = skipSpace(buf, skipSpace(buf, keyEnd) + 1);
    const end = valueEnd(buf, i);
    members.push({ name, value: { buf, start: i, end } });
    i = skipSpace(buf, end);
    if (buf[i] === 0x7d) return members;
    i = skipSpace(buf, i + 1);
  }
}

/** The elements of a well-formed array. */
export function arrayElements(v: RawValue): RawValue[] {
  const { buf } = v;
  const elements: RawValue[] = [];
  let i = skipSpace(buf, v.start + 1);
  if (buf[i] === 0x5d) return elements;
  for (;;) {
    const end = valueEnd(buf, i);
    elements.push({ buf, start: i, end });
    i = skipSpace(buf, end);
    if (buf[i] === 0x5d) return elements;
    i = skipSpace(buf, i + 1);
  }
}

/**
 * The bytes of a well-formed string literal, unquoted as Go does: escapes
 * decoded (a lone or broken surrogate becomes U+FFFD), and invalid UTF-8
 * coerced to U+FFFD byte by byte.
 */
export function unquoteBytes(v: RawValue): Buffer {
  const { buf } = v;
  const out: number[] = [];
  for (let i = v.start + 1; i < v.end - 1;) {
    const c = buf[i]!;
    if (c === 0x5c) {
      const e = buf[i + 1]!;
      i += 2;
      switch (e) {
        case 0x62: out.push(0x08); break;
        case 0x66: out.push(0x0c); break;
        case 0x6e: out.push(0x0a); break;
        case 0x72: out.push(0x0d); break;
        case 0x74: out.push(0x09); break;
        case 0x75: {
          let r = hex4(buf, i);
          i += 4;
          if (r >= 0xd800 && r < 0xe000) {
            const lo = buf[i] === 0x5c && buf[i + 1] === 0x75 ? hex4(buf, i + 2) : -1;
            if (r < 0xdc00 && lo >= 0xdc00 && lo < 0xe000) {
              r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
              i += 6;
            } else {
              r = 0xfffd;
            }
          }
          out.push(...encodeRune(r));
          break;
        }
        default: out.push(e);
      }
    } else if (c < 0x80) {
      out.push(c);
      i++;
    } else {
      const [r, width] = decodeRune(buf.subarray(0, v.end - 1), i);
      out.push(...encodeRune(r));
      i += width;
    }
  }
  return Buffer.from(out);
}

function hex4(buf: Uint8Array, i: number): number {
  return Number.parseInt(Buffer.from(buf.subarray(i, i + 4)).toString('latin1'), 16);
}

export function unquote(v: RawValue): string {
  return unquoteBytes(v).toString('utf8');
}

/**
 * Go's UnmarshalTypeError text, as json.Unmarshal reports a value that does
 * not fit its destination ("number 5.5" names the number, others the kind).
 */
export function typeError(value: string, goType: string): GoJsonError {
  return new GoJsonError(`json: cannot unmarshal ${value} into Go value of type ${goType}`);
}

/** The kind word Go's UnmarshalTypeError uses for a value. */
export function kindWord(v: RawValue): string {
  const kind = kindOf(v);
  return kind === 'bool' ? 'bool' : kind;
}
