import { describe, expect, it } from 'vitest';
import { createRandomPool, createRng } from '../src/random.js';

describe('createRng', () => {
  it('replays from a seed and differs between seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
  });

  it('below() stays in range and covers it', () => {
    const r = createRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const x = r.below(7);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(7);
      seen.add(x);
    }
    expect(seen.size).toBe(7);
    expect(() => r.below(0)).toThrow(/random bound 0/);
    const big = r.below(2 ** 40);
    expect(big).toBeLessThan(2 ** 40);
  });

  it('is roughly uniform', () => {
    const r = createRng(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[Math.floor(r.nextFloat() * 10)]!++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });

  it('forks independent generators deterministically', () => {
    const f1 = createRng(5).fork();
    const f2 = createRng(5).fork();
    expect(f1.nextU32()).toBe(f2.nextU32());
  });
});

describe('createRandomPool', () => {
  it('seeded pools replay', () => {
    const a = createRandomPool({ seed: 9 }).getRandomBytes(16);
    const b = createRandomPool({ seed: 9 }).getRandomBytes(16);
    expect(a).toEqual(b);
    expect(a.length).toBe(16);
  });

  it('crypto pools are cryptographic and vary', () => {
    const p = createRandomPool('crypto');
    expect(p.cryptographic).toBe(true);
    expect(p.getRandomBytes(32)).not.toEqual(p.getRandomBytes(32));
    expect(p.getRandomU32()).toBeGreaterThanOrEqual(0);
    expect(() => p.getRandomBytes(-1)).toThrow(/random byte count -1/);
  });
});
