import { AlarmType, type AlarmMember } from '../../proto/gen/etcdserverpb/rpc.js';

/**
 * The few Go formatting rules the cluster-administration output depends on,
 * reproduced exactly because `simple` output must be byte-identical to
 * etcdctl 3.4's: fmt's `%16x` (hex padded with spaces), go-humanize's
 * Bytes (`20 kB`), fmt's `%.Nf` rounding, and the protobuf compact text that
 * `%+v` prints for an AlarmMember.
 */

/** fmt.Sprintf("%x", id): lower-case hex of the unsigned 64-bit value. */
export function goHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** fmt.Sprintf("%16x", id): hex, right-aligned in 16 columns with spaces (not zeros). */
export function goHexWidth16(id: bigint): string {
  return goHex(id).padStart(16, ' ');
}

/**
 * fmt's `%.Nf` for the values humanize produces. JavaScript's toFixed rounds
 * an exact tie away from zero; Go rounds the exact binary value half to
 * even, which only differs when the value is exactly representable with a
 * 5 right after the last kept digit.
 */
export function goFixed(value: number, digits: number): string {
  const scale = 10 ** digits;
  const scaled = value * scale;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && Number.isSafeInteger(floor) && scaled / scale === value) {
    const even = floor % 2 === 0 ? floor : floor + 1;
    return (even / scale).toFixed(digits);
  }
  return value.toFixed(digits);
}

const siSizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** github.com/dustin/go-humanize.Bytes: SI units, one decimal below 10 (`8.2 kB`, `20 kB`, `1.0 MB`). */
export function humanizeBytes(size: bigint | number): string {
  const s = typeof size === 'bigint' ? BigInt.asUintN(64, size) : BigInt(size);
  if (s < 10n) return `${s} B`;
  const n = Number(s);
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const value = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${goFixed(value, value < 10 ? 1 : 0)} ${siSizes[e]}`;
}

const alarmNames = new Map<number, string>([
  [AlarmType.NONE, 'NONE'],
  [AlarmType.NOSPACE, 'NOSPACE'],
  [AlarmType.CORRUPT, 'CORRUPT'],
]);

/** AlarmType.String(): the enum name, or the number for a value this build does not know. */
export function alarmTypeName(alarm: AlarmType | number): string {
  return alarmNames.get(alarm) ?? String(alarm);
}

/**
 * An AlarmMember as `fmt.Printf("%+v", m)` prints it, which is gogoproto's
 * compact text: each non-default field as `name:value` followed by a space
 * (`memberID:13195394291058371180 alarm:NOSPACE `, trailing space included).
 */
export function alarmMemberText(m: AlarmMember): string {
  let text = '';
  if (m.memberID !== 0n) text += `memberID:${BigInt.asUintN(64, m.memberID)} `;
  if (m.alarm !== AlarmType.NONE) text += `alarm:${alarmTypeName(m.alarm)} `;
  return text;
}

/** fmt.Sprint of a []string: `[a b c]`. */
export function goStringSlice(values: readonly string[]): string {
  return `[${values.join(' ')}]`;
}

/** fmt.Sprintf("%f", seconds): six decimals. */
export function goFloat6(value: number): string {
  return value.toFixed(6);
}
