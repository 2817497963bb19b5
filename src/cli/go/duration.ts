/**
 * Go's time.ParseDuration and Duration.String, exact to the nanosecond and to
 * the error text, because etcdctl's timeout flags and ETCDCTL_*_TIMEOUT
 * variables take Go durations ("2s", "500ms", "1m30s", "1.5h").
 * Durations are bigint nanoseconds.
 */
export class GoDurationError extends Error {}

const unitNanos: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n,
  '\u03bcs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const limit = 1n << 63n;

export function goParseDuration(orig: string): bigint {
  const invalid = (): GoDurationError => new GoDurationError(`time: invalid duration ${timeQuote(orig)}`);
  let s = orig;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]!))) throw invalid();
    const int = leadingInt(s);
    if (int === undefined) throw invalid();
    const consumedInt = int.rest.length !== s.length;
    let value = int.value;
    s = int.rest;
    let fraction = { value: 0n, scale: 1, rest: s };
    let consumedFraction = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      fraction = leadingFraction(s);
      consumedFraction = fraction.rest.length !== s.length;
      s = fraction.rest;
    }
    if (!consumedInt && !consumedFraction) throw invalid();
    let i = 0;
    while (i < s.length && !(s[i] === '.' || isDigit(s[i]!))) i++;
    if (i === 0) throw new GoDurationError(`time: missing unit in duration ${timeQuote(orig)}`);
    const unitName = s.slice(0, i);
    s = s.slice(i);
    const unit = unitNanos[unitName];
    if (unit === undefined) {
      throw new GoDurationError(`time: unknown unit ${timeQuote(unitName)} in duration ${timeQuote(orig)}`);
    }
    if (value > limit / unit) throw invalid();
    value *= unit;
    if (fraction.value > 0n) {
      // Go computes the fractional part in float64; so do we, to round identically.
      value += BigInt(Math.trunc(Number(fraction.value) * (Number(unit) / fraction.scale)));
      if (value > limit) throw invalid();
    }
    total += value;
    if (total > limit) throw invalid();
  }
  if (negative) return -total;
  if (total > limit - 1n) throw invalid();
  return total;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function leadingInt(s: string): { value: bigint; rest: string } | undefined {
  let i = 0;
  let x = 0n;
  for (; i < s.length && isDigit(s[i]!); i++) {
    if (x > limit / 10n) return undefined;
    x = x * 10n + BigInt(s.charCodeAt(i) - 0x30);
    if (x > limit) return undefined;
  }
  return { value: x, rest: s.slice(i) };
}

function leadingFraction(s: string): { value: bigint; scale: number; rest: string } {
  let i = 0;
  let x = 0n;
  let scale = 1;
  let overflow = false;
  for (; i < s.length && isDigit(s[i]!); i++) {
    if (overflow) continue;
    if (x > (limit - 1n) / 10n) {
      overflow = true;
      continue;
    }
    const y = x * 10n + BigInt(s.charCodeAt(i) - 0x30);
    if (y > limit) {
      overflow = true;
      continue;
    }
    x = y;
    scale *= 10;
  }
  return { value: x, scale, rest: s.slice(i) };
}

/** The time package's own quoting: non-ASCII and control bytes as \x escapes. */
function timeQuote(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte >= 0x80 || byte < 0x20) out += `\\x${byte.toString(16).padStart(2, '0')}`;
    else {
      const c = String.fromCharCode(byte);
      out += c === '"' || c === '\\' ? `\\${c}` : c;
    }
  }
  return out + '"';
}

/** Duration.String: "2s", "500ms", "1m30s", "1h0m0s", "1.5µs". */
export function goFormatDuration(d: bigint): string {
  if (d === 0n) return '0s';
  const negative = d < 0n;
  let u = negative ? -d : d;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) out = `${fraction(u, 3)}µs`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    const seconds = fraction(u % 60_000_000_000n, 9);
    out = `${seconds}s`;
    u /= 60_000_000_000n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return negative ? `-${out}` : out;
}

/** v / 10^digits printed with the fraction's trailing zeros dropped. */
function fraction(v: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = v / scale;
  const frac = (v % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac === '' ? `${whole}` : `${whole}.${frac}`;
}
