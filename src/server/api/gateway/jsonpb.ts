import { goJsonString, goQuote } from '../../../cli/go/quote.js';
import { goBase64Decode } from './go-base64.js';
import {
  GoJsonError, arrayElements, checkValid, kindOf, objectMembers, rawText, typeError, unquote, unquoteBytes, type RawValue,
} from './go-json.js';
import type { EnumSchema, FieldSchema, MessageSchema, OneofSchema, Scalar } from './schema.js';

/**
 * The gateway's JSON codec: golang/protobuf 1.3's jsonpb as grpc-gateway
 * runs it for etcd (JSONPb{OrigName: true}, unknown fields allowed), on the
 * objects the generated TypeScript uses.
 *
 * Reading is lenient where jsonpb is (proto or camelCase names, the camel
 * one winning when both are given; numbers as JSON numbers or quoted;
 * duplicate members, the last winning; unknown members ignored) and fails
 * where it fails, with its message. Writing uses the .proto names, 64-bit
 * integers quoted, bytes in standard base64, enums by name, and leaves out
 * every field at its default, as a message that crossed the wire has them.
 */

/** Message nesting a request may have; deeper input would only recurse (etcd refuses txns nested past 64 anyway). */
export const jsonMessageDepthMax = 100;

export class JsonDepthError extends GoJsonError {
  constructor() {
    super(`request nests messages deeper than ${jsonMessageDepthMax}`);
  }
}

type Obj = Record<string, unknown>;

/** A message with every field at its default, as the generated code's createBase makes it. */
export function defaultMessage(schema: MessageSchema): Obj {
  const obj: Obj = {};
  for (const f of schema.fields) obj[f.property] = f.oneof !== undefined ? undefined : defaultValue(f);
  return obj;
}

function defaultValue(f: FieldSchema): unknown {
  if (f.repeated) return [];
  if (f.kind === 'message') return undefined;
  if (f.kind === 'enum') return 0;
  return scalarDefault(f.scalar!);
}

function scalarDefault(s: Scalar): unknown {
  switch (s) {
    case 'int64': case 'uint64': return 0n;
    case 'bool': return false;
    case 'string': return '';
    case 'bytes': return Buffer.alloc(0);
    default: return 0;
  }
}

function isOneof(m: FieldSchema | OneofSchema): m is OneofSchema {
  return 'members' in m;
}

// ---------------------------------------------------------------------------
// Reading.

/** jsonpb's Unmarshal of one message from a value already scanned. */
export function unmarshalMessage(schema: MessageSchema, v: RawValue, depth = 0): Obj {
  if (depth > jsonMessageDepthMax) throw new JsonDepthError();
  const obj = defaultMessage(schema);
  const kind = kindOf(v);
  if (kind === 'null') return obj;
  if (kind !== 'object') throw typeError(kind, 'map[string]json.RawMessage');
  const members = new Map<string, RawValue>();
  for (const m of objectMembers(v)) members.set(m.name, m.value);
  const consume = (name: string, jsonName: string): RawValue | undefined => {
    let raw: RawValue | undefined;
    for (const key of name === jsonName ? [name] : [name, jsonName]) {
      const found = members.get(key);
      if (found === undefined) continue;
      raw = found;
      members.delete(key);
    }
    return raw;
  };
  // The fields of the Go struct, in its order: the first bad one is the error.
  for (const m of schema.members) {
    if (isOneof(m)) {
      const raw = consume(m.name, m.name);
      if (raw !== undefined && kindOf(raw) !== 'null') throw typeError(kindOf(raw), m.goType);
      continue;
    }
    const raw = consume(m.name, m.jsonName);
    if (raw !== undefined) readField(obj, m, raw, depth);
  }
  // Then the oneofs' members (jsonpb walks them in map order; we take the .proto order). The last one set wins.
  for (const oneof of schema.oneofs) {
    for (const f of oneof.members) {
      const raw = consume(f.name, f.jsonName);
      if (raw === undefined) continue;
      for (const other of oneof.members) obj[other.property] = undefined;
      // A null message member leaves the oneof set to nothing, which the wire cannot tell from unset.
      if (f.kind === 'message' && kindOf(raw) === 'null') continue;
      obj[f.property] = f.kind === 'message' ? unmarshalMessage(f.message!(), raw, depth + 1) : readSingle(f, raw);
    }
  }
  return obj;
}

function readField(obj: Obj, f: FieldSchema, raw: RawValue, depth: number): void {
  if (f.repeated) {
    const kind = kindOf(raw);
    if (kind === 'null') return;
    if (kind !== 'array') throw typeError(kind, '[]json.RawMessage');
    obj[f.property] = arrayElements(raw).map((e) => readElement(f, e, depth));
    return;
  }
  if (f.kind === 'message') {
    if (kindOf(raw) !== 'null') obj[f.property] = unmarshalMessage(f.message!(), raw, depth + 1);
    return;
  }
  obj[f.property] = readSingle(f, raw);
}

function readElement(f: FieldSchema, raw: RawValue, depth: number): unknown {
  if (f.kind !== 'message') return readSingle(f, raw);
  // jsonpb leaves a nil element for null, and proto.Marshal writes nil elements as empty messages.
  return unmarshalMessage(f.message!(), raw, depth + 1);
}

/** One enum or scalar value. */
function readSingle(f: FieldSchema, raw: RawValue): unknown {
  if (f.kind === 'enum') return readEnum(f.enum!, raw);
  const s = f.scalar!;
  switch (s) {
    case 'bool': return readBool(raw);
    case 'string': return readString(raw);
    case 'bytes': return readBytes(raw);
    default: return readNumber(s, raw);
  }
}

/** An enum by name (quoted, taken as written, without unescaping) or by number. */
function readEnum(e: EnumSchema, raw: RawValue): number {
  if (kindOf(raw) === 'string') {
    const name = raw.buf.subarray(raw.start + 1, raw.end - 1);
    const n = e.byName.get(Buffer.from(name).toString('latin1'));
    if (n === undefined) throw new GoJsonError(`unknown value ${goQuote(name)} for enum ${e.goName}`);
    return n;
  }
  return Number(unmarshalInteger(raw, 32, true, e.goName));
}

function readBool(raw: RawValue): boolean {
  const kind = kindOf(raw);
  if (kind === 'null') return false;
  if (kind !== 'bool') throw typeError(kind, 'bool');
  return raw.buf[raw.start] === 0x74;
}

function readString(raw: RawValue): string {
  const kind = kindOf(raw);
  if (kind === 'null') return '';
  if (kind !== 'string') throw typeError(kind, 'string');
  return unquote(raw);
}

/** encoding/json into a []byte: a base64 string, or an array of numbers each a byte. */
function readBytes(raw: RawValue): Buffer {
  const kind = kindOf(raw);
  if (kind === 'null') return Buffer.alloc(0);
  if (kind === 'string') return goBase64Decode(unquoteBytes(raw));
  if (kind !== 'array') throw typeError(kind, '[]uint8');
  // Go decodes every element and reports the first error.
  let first: GoJsonError | undefined;
  const bytes = arrayElements(raw).map((e) => {
    try {
      return Number(unmarshalIntegerValue(e, 8, false, 'uint8'));
    } catch (err) {
      first ??= err as GoJsonError;
      return 0;
    }
  });
  if (first !== undefined) throw first;
  return Buffer.from(bytes);
}

/**
 * A number field: jsonpb strips the quotes of a quoted number as they are
 * (no unescaping) and hands the rest to json.Unmarshal, so `"x"` fails as
 * the bare text x would.
 */
function readNumber(s: Scalar, raw: RawValue): unknown {
  const inner = kindOf(raw) === 'string' ? { buf: raw.buf, start: raw.start + 1, end: raw.end - 1 } : raw;
  switch (s) {
    case 'int64': return unmarshalInteger(inner, 64, true, 'int64');
    case 'uint64': return unmarshalInteger(inner, 64, false, 'uint64');
    case 'int32': return Number(unmarshalInteger(inner, 32, true, 'int32'));
    case 'uint32': return Number(unmarshalInteger(inner, 32, false, 'uint32'));
    default: return unmarshalFloat(inner, s === 'double' ? 'float64' : 'float32');
  }
}

/** json.Unmarshal of a complete text into an integer of the given width. */
function unmarshalInteger(v: RawValue, bits: number, signed: boolean, goType: string): bigint {
  checkValid(v.buf.subarray(v.start, v.end));
  return unmarshalIntegerValue(trimmed(v), bits, signed, goType);
}

function unmarshalIntegerValue(v: RawValue, bits: number, signed: boolean, goType: string): bigint {
  const kind = kindOf(v);
  if (kind === 'null') return 0n;
  if (kind !== 'number') throw typeError(kind, goType);
  const text = rawText(v);
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  // strconv.ParseInt/ParseUint: decimal digits only (no fraction, no exponent), and in range.
  const ok = signed ? /^-?[0-9]+$/.test(text) : /^[0-9]+$/.test(text);
  const n = ok ? BigInt(text) : undefined;
  if (n === undefined || n < min || n > max) throw typeError(`number ${text}`, goType);
  return n;
}

function unmarshalFloat(v: RawValue, goType: string): number {
  checkValid(v.buf.subarray(v.start, v.end));
  const value = trimmed(v);
  const kind = kindOf(value);
  if (kind === 'null') return 0;
  if (kind !== 'number') throw typeError(kind, goType);
  return Number(rawText(value));
}

/** A checked text without its surrounding space. */
function trimmed(v: RawValue): RawValue {
  let { start, end } = v;
  const space = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  while (start < end && space(v.buf[start])) start++;
  while (end > start && space(v.buf[end - 1])) end--;
  return { buf: v.buf, start, end };
}

// ---------------------------------------------------------------------------
// Writing.

/** jsonpb's Marshal with OrigName and without defaults. */
export function marshalMessage(schema: MessageSchema, obj: Obj): string {
  const parts: string[] = [];
  for (const m of schema.members) {
    if (isOneof(m)) {
      // A set oneof member is written whatever its value, as jsonpb does.
      const f = m.members.find((x) => obj[x.property] !== undefined && obj[x.property] !== null);
      if (f !== undefined) parts.push(`"${f.name}":${writeValue(f, obj[f.property])}`);
      continue;
    }
    const value = obj[m.property];
    if (isDefault(m, value)) continue;
    parts.push(`"${m.name}":${m.repeated ? writeList(m, value as unknown[]) : writeValue(m, value)}`);
  }
  return `{${parts.join(',')}}`;
}

function isDefault(f: FieldSchema, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (f.repeated) return (value as unknown[]).length === 0;
  if (f.kind === 'message') return false;
  if (f.kind === 'enum') return value === 0;
  switch (f.scalar) {
    case 'bool': return value === false;
    case 'string': return value === '';
    case 'bytes': return (value as Uint8Array).length === 0;
    default: return value === 0 || value === 0n;
  }
}

function writeList(f: FieldSchema, values: unknown[]): string {
  return `[${values.map((v) => (v === undefined || v === null ? 'null' : writeValue(f, v))).join(',')}]`;
}

function writeValue(f: FieldSchema, value: unknown): string {
  if (f.kind === 'message') return marshalMessage(f.message!(), value as Obj);
  if (f.kind === 'enum') {
    const name = f.enum!.byNumber.get(value as number);
    // An unknown value is written as its number, unquoted, so that it reads back as a number.
    return name === undefined ? String(value) : `"${name}"`;
  }
  switch (f.scalar) {
    case 'int64': case 'uint64': return `"${String(value)}"`;
    case 'bool': return value === true ? 'true' : 'false';
    case 'string': return goJsonString(value as string);
    case 'bytes': {
      const b = value as Uint8Array;
      return `"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"`;
    }
    default: return String(value);
  }
}
