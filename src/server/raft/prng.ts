/**
 * The only source of randomness the Raft core sees (style.md §3). A seeded
 * generator makes every election timeout, and so every simulated run,
 * replayable from one number.
 *
 * The generator is xoshiro128** (Blackman and Vigna), seeded through
 * splitmix32 so that nearby seeds give unrelated streams. It works on 32-bit
 * integers with Math.imul, which is exact and fast in every JS engine.
 */
import assert from 'node:assert';

export interface Prng {
  /** A uniformly distributed integer in [0, n). */
  nextInt(n: number): number;
  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number;
  /** A float in [0, 1). */
  nextFloat(): number;
  /** A new generator whose stream is derived from (and advances) this one. */
  fork(): Prng;
}

const twoPow32 = 4294967296;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** One step of splitmix32: a good mixer to expand a seed into state words. */
function splitmix32(state: { a: number }): number {
  state.a = (state.a + 0x9e3779b9) | 0;
  let t = state.a ^ (state.a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return t >>> 0;
}

export class SeededPrng implements Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Any integer seed; bigints are folded to 64 bits, then both halves mixed in. */
  constructor(seed: number | bigint) {
    const wide = BigInt.asUintN(64, BigInt(seed));
    const mix = { a: Number(wide & 0xffffffffn) | 0 };
    const high = Number(wide >> 32n) | 0;
    this.s0 = splitmix32(mix);
    this.s1 = splitmix32(mix) ^ high;
    this.s2 = splitmix32(mix);
    this.s3 = splitmix32(mix);
    // xoshiro's state must not be all zero; splitmix32 makes that practically impossible.
    assert((this.s0 | this.s1 | this.s2 | this.s3) !== 0, 'prng state is zero');
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  nextFloat(): number {
    return this.nextUint32() / twoPow32;
  }

  nextInt(n: number): number {
    assert(Number.isInteger(n) && n > 0 && n <= twoPow32, `prng range ${n} is not a positive 32-bit integer`);
    return Math.floor(this.nextFloat() * n);
  }

  fork(): Prng {
    const lo = this.nextUint32();
    const hi = this.nextUint32();
    return new SeededPrng((BigInt(hi) << 32n) | BigInt(lo));
  }
}
