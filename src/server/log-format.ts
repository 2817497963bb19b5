/**
 * The shape of etcd's log lines (zap, as etcd configures it in
 * pkg/logutil.DefaultZapLoggerConfig): `level` as a lowercase string, `ts`
 * in zap's ISO8601 encoding (millisecond precision, the local offset, "Z"
 * in UTC), `caller` as directory/file:line, `msg`, then the fields in the
 * order given. The console format is zap's console encoder: the same four
 * values tab-separated, then the fields as JSON. Pure functions: the logger
 * owns the clock, the call site and the outputs.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';

export type LogFields = object;

export interface LogRecord {
  level: LogLevel;
  time: Date;
  caller: string;
  msg: string;
  fields: LogFields;
}

export function formatJsonLine(r: LogRecord): string {
  let line = `{"level":"${r.level}","ts":"${zapTime(r.time)}","caller":${JSON.stringify(r.caller)},"msg":${JSON.stringify(r.msg)}`;
  for (const [key, value] of Object.entries(r.fields as Record<string, unknown>)) {
    const encoded = encodeField(value);
    if (encoded !== undefined) line += `,${JSON.stringify(fieldName(key))}:${encoded}`;
  }
  return `${line}}\n`;
}

export function formatConsoleLine(r: LogRecord): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(r.fields as Record<string, unknown>)) {
    const encoded = encodeField(value);
    if (encoded !== undefined) parts.push(`${JSON.stringify(fieldName(key))}: ${encoded}`);
  }
  const fields = parts.length === 0 ? '' : `\t{${parts.join(', ')}}`;
  return `${zapTime(r.time)}\t${r.level}\t${r.caller}\t${r.msg}${fields}\n`;
}

/** zap names an error field "error" (zap.Error); our call sites often say err. */
function fieldName(key: string): string {
  return key === 'err' ? 'error' : key;
}

/** A field as JSON: an error is its message (as zap.Error writes it), a bigint its exact digits. */
export function encodeField(value: unknown): string | undefined {
  if (value === undefined || typeof value === 'function') return undefined;
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v));
}

/** zapcore.ISO8601TimeEncoder: "2006-01-02T15:04:05.000Z0700" in local time. */
export function zapTime(t: Date): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const offsetMin = -t.getTimezoneOffset();
  const zone = offsetMin === 0 ? 'Z' : `${offsetMin > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offsetMin) / 60))}${pad(Math.abs(offsetMin) % 60)}`;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}${zone}`;
}

/**
 * zap's ShortCallerEncoder for a V8 stack frame: the file's directory and
 * name and the line ("etcdserver/server.js:301"), of the compiled file that
 * runs, since that is where the line number points.
 */
export function shortCaller(frame: string): string {
  const m = /\(?(?:file:\/\/)?([^\s()]+):(\d+):\d+\)?\s*$/.exec(frame);
  if (m === null) return 'unknown';
  const parts = m[1]!.split('/');
  return `${parts.slice(-2).join('/')}:${m[2]}`;
}
