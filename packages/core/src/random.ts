/**
 * Randomness: a seeded generator for everything a simulation does (so runs replay), and
 * a random pool that is seeded in simulation and drawn from `node:crypto` where security
 * depends on it (file-handle keys, AT_RANDOM of a real process).
 *
 * @see drivers/char/random.c (get_random_bytes), lib/random32.c
 */

import { randomFillSync } from 'node:crypto';
import { KernelError } from './errno.js';
import { describeValue, shown } from './describe.js';

/**
 * A deterministic pseudo-random generator (xoshiro128**, seeded through splitmix32).
 * @see lib/random32.c (prandom_u32_state, the kernel's own seeded generator)
 */
export interface Rng {
  /** The seed it was made with, printed by failing tests so they can be replayed. */
  readonly seed: number;
  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number;
  /** A float in [0, 1). */
  nextFloat(): number;
  /** An integer in [0, n). @throws KernelError EINVAL if n is not a positive safe integer. */
  below(n: number): number;
  /** Fills `bytes` and returns it. @throws KernelError EINVAL if `bytes` is not a Uint8Array. */
  fill(bytes: Uint8Array): Uint8Array;
  /** An independent generator derived from this one (for a sub-system or CPU). */
  fork(): Rng;
}

function splitmix32(x: number): () => number {
  let s = x >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function checkBytes(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array))
    throw new KernelError(
      'EINVAL',
      `random bytes go into a Uint8Array, got ${describeValue(bytes)}`,
    );
  return bytes;
}

/**
 * Creates a seeded generator; the same seed gives the same sequence.
 * @throws KernelError EINVAL if `seed` is not a safe integer.
 * @see lib/random32.c: prandom_seed_state
 */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed))
    throw new KernelError('EINVAL', `random seed ${shown(seed)} is not a safe integer`);
  // Both 32-bit halves of the seed feed the state, so no two safe integers collide.
  const lo = splitmix32(seed >>> 0);
  const hi = splitmix32((Math.floor(seed / 0x1_0000_0000) ^ 0x5bd1e995) >>> 0);
  const s = new Uint32Array([lo() ^ hi(), lo() ^ hi(), lo() ^ hi(), lo() ^ hi()]);
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  };
  const rng: Rng = {
    seed,
    nextU32,
    nextFloat: () => nextU32() / 0x1_0000_0000,
    below(n) {
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new KernelError('EINVAL', `random bound ${shown(n)} is not a positive safe integer`);
      if (n <= 0x1_0000_0000) {
        // Lemire-free rejection sampling keeps the result unbiased.
        const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
        for (;;) {
          const x = nextU32();
          if (x < limit) return x % n;
        }
      }
      // 64 random bits scaled; rounding can reach n itself, so draw again then.
      for (;;) {
        const x = Math.floor(((nextU32() * 0x1_0000_0000 + nextU32()) / 2 ** 64) * n);
        if (x < n) return x;
      }
    },
    fill(bytes) {
      checkBytes(bytes);
      let i = 0;
      for (; i + 4 <= bytes.length; i += 4) {
        const x = nextU32();
        bytes[i] = x;
        bytes[i + 1] = x >>> 8;
        bytes[i + 2] = x >>> 16;
        bytes[i + 3] = x >>> 24;
      }
      if (i < bytes.length) {
        let x = nextU32();
        for (; i < bytes.length; i++, x >>>= 8) bytes[i] = x;
      }
      return bytes;
    },
    fork: () => createRng(nextU32() * 0x200000 + (nextU32() & 0x1fffff)),
  };
  return rng;
}

/**
 * Where a {@link RandomPool} draws from: a seed (simulation: the same seed gives the
 * same bytes) or `'crypto'` (the host's CSPRNG, for keys).
 */
export type RandomSource = { seed: number } | 'crypto';

/**
 * The kernel's entropy pool as kern models it.
 * @see drivers/char/random.c
 */
export interface RandomPool {
  /** Whether the bytes come from `node:crypto` (true) or a seed (false). */
  readonly cryptographic: boolean;
  /** `n` random bytes (`get_random_bytes`). @throws KernelError EINVAL on a bad length. */
  getRandomBytes(n: number): Uint8Array;
  /** Fills `buf` with random bytes and returns it. @see drivers/char/random.c: get_random_bytes */
  fillRandomBytes(buf: Uint8Array): Uint8Array;
  /** A random unsigned 32-bit integer (`get_random_u32`). */
  getRandomU32(): number;
}

/**
 * Creates a random pool; see {@link RandomSource}.
 * @throws KernelError EINVAL if `source` is neither `'crypto'` nor `{ seed }` with a safe
 *   integer seed. The pool's `fillRandomBytes` and the Rng's `fill` throw EINVAL if not
 *   given a Uint8Array.
 * @see drivers/char/random.c: get_random_bytes, get_random_u32
 */
export function createRandomPool(source: RandomSource): RandomPool {
  if (source !== 'crypto' && (typeof source !== 'object' || source === null || !('seed' in source)))
    throw new KernelError(
      'EINVAL',
      `random source must be 'crypto' or { seed: <safe integer> }, got ${describeValue(source)}`,
    );
  const fill =
    source === 'crypto'
      ? (buf: Uint8Array): Uint8Array => randomFillSync(checkBytes(buf))
      : (
          (rng) => (buf: Uint8Array) =>
            rng.fill(buf)
        )(createRng(source.seed));
  return {
    cryptographic: source === 'crypto',
    getRandomBytes(n) {
      if (!Number.isSafeInteger(n) || n < 0)
        throw new KernelError(
          'EINVAL',
          `random byte count ${shown(n)} is not a non-negative integer`,
        );
      return fill(new Uint8Array(n));
    },
    fillRandomBytes: fill,
    getRandomU32() {
      const b = fill(new Uint8Array(4));
      return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    },
  };
}
