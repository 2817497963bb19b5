import { goJsonString } from './quote.js';

/**
 * A writer for JSON objects the way Go's encoding/json writes a protobuf
 * response struct: fields in declaration order, `omitempty` on every field
 * (zero numbers, false, empty strings/bytes/lists and nil messages are left
 * out), 64-bit integers as exact decimal numbers (never through a JS number),
 * bytes as standard base64. Each printer lists the fields of its message in
 * the order of etcd's generated Go struct.
 */
export class GoJsonObject {
  private readonly parts: string[] = [];

  /** An integer field (int64, uint64, int32, enum), omitted when zero. */
  int(name: string, value: bigint | number | undefined): this {
    if (value !== undefined && value !== 0 && value !== 0n) this.parts.push(`${key(name)}${formatInt(value)}`);
    return this;
  }

  bool(name: string, value: boolean | undefined): this {
    if (value === true) this.parts.push(`${key(name)}true`);
    return this;
  }

  /** A []byte field: base64, omitted when empty. */
  bytes(name: string, value: Uint8Array | undefined): this {
    if (value !== undefined && value.length > 0) {
      this.parts.push(`${key(name)}"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"`);
    }
    return this;
  }

  string(name: string, value: string | undefined): this {
    if (value !== undefined && value !== '') this.parts.push(`${key(name)}${goJsonString(value)}`);
    return this;
  }

  strings(name: string, values: readonly string[] | undefined): this {
    if (values !== undefined && values.length > 0) {
      this.parts.push(`${key(name)}[${values.map((v) => goJsonString(v)).join(',')}]`);
    }
    return this;
  }

  /** A pointer-to-message field: omitted when nil; `encoded` is the message's JSON text. */
  message(name: string, encoded: string | undefined): this {
    if (encoded !== undefined) this.parts.push(`${key(name)}${encoded}`);
    return this;
  }

  /** A repeated message field, omitted when empty. */
  messages<T>(name: string, values: readonly T[] | undefined, encode: (v: T) => string): this {
    if (values !== undefined && values.length > 0) this.parts.push(`${key(name)}[${values.map(encode).join(',')}]`);
    return this;
  }

  /** A field without omitempty (for example a oneof interface, which Go writes as null when unset). */
  raw(name: string, encoded: string): this {
    this.parts.push(`${key(name)}${encoded}`);
    return this;
  }

  toString(): string {
    return `{${this.parts.join(',')}}`;
  }
}

function key(name: string): string {
  return `${goJsonString(name)}:`;
}

function formatInt(value: bigint | number): string {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isSafeInteger(value)) throw new Error(`integer ${value} cannot be printed exactly`);
  return value.toString();
}
