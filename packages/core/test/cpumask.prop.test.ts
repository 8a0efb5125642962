import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Cpumask } from '../src/cpumask.js';

/** A mask size and a set of CPUs in it, biased toward runs so ranges get exercised. */
const maskArb = fc.integer({ min: 0, max: 300 }).chain((nr) =>
  fc
    .array(fc.tuple(fc.nat(Math.max(nr - 1, 0)), fc.integer({ min: 1, max: 40 })), {
      maxLength: nr === 0 ? 0 : 12,
    })
    .map((runs) => {
      const m = new Cpumask(nr);
      for (const [start, len] of runs) m.setRange(start, Math.min(len, nr - start));
      return m;
    }),
);

/** A reference model: the set of CPUs as a plain array of booleans. */
function model(m: Cpumask): boolean[] {
  return Array.from({ length: m.nrCpuIds }, (_, i) => m.test(i));
}

describe('Cpumask properties', () => {
  it('parseList(toList(m)) equals m', () => {
    fc.assert(
      fc.property(maskArb, (m) => {
        expect(Cpumask.parseList(m.toList(), m.nrCpuIds).equals(m)).toBe(true);
      }),
    );
  });

  it('parseHex(toHex(m)) equals m', () => {
    fc.assert(
      fc.property(maskArb, (m) => {
        expect(Cpumask.parseHex(m.toHex(), m.nrCpuIds).equals(m)).toBe(true);
      }),
    );
  });

  it('weight equals the number of CPUs iteration yields, and iteration ascends', () => {
    fc.assert(
      fc.property(maskArb, (m) => {
        const cpus = [...m];
        expect(m.weight()).toBe(cpus.length);
        for (let i = 1; i < cpus.length; i++) expect(cpus[i]!).toBeGreaterThan(cpus[i - 1]!);
        expect(cpus).toEqual(model(m).flatMap((b, i) => (b ? [i] : [])));
      }),
    );
  });

  it('next/nextZero/nth agree with the reference model', () => {
    fc.assert(
      fc.property(maskArb, fc.integer({ min: -1, max: 301 }), (m, from) => {
        const ref = model(m);
        const nr = m.nrCpuIds;
        const f = Math.min(from, nr);
        let nextSet = nr;
        let nextClear = nr;
        for (let i = f + 1; i < nr; i++) {
          if (ref[i] && nextSet === nr) nextSet = i;
          if (!ref[i] && nextClear === nr) nextClear = i;
        }
        expect(m.next(f)).toBe(nextSet);
        expect(m.nextZero(f)).toBe(nextClear);
        const set = ref.flatMap((b, i) => (b ? [i] : []));
        const k = Math.max(0, from);
        expect(m.nth(k)).toBe(set[k] ?? nr);
      }),
    );
  });

  it('set algebra matches the model: and/or/andNot/xor/complement', () => {
    const pair = fc
      .integer({ min: 1, max: 200 })
      .chain((nr) =>
        fc.tuple(
          fc.uniqueArray(fc.nat(nr - 1), { maxLength: nr }),
          fc.uniqueArray(fc.nat(nr - 1), { maxLength: nr }),
          fc.constant(nr),
        ),
      );
    fc.assert(
      fc.property(pair, ([xs, ys, nr]) => {
        const a = Cpumask.of(nr, xs);
        const b = Cpumask.of(nr, ys);
        const A = new Set(xs);
        const B = new Set(ys);
        const sorted = (s: Iterable<number>): number[] => [...s].sort((p, q) => p - q);
        expect(a.copy().and(b).toArray()).toEqual(sorted([...A].filter((x) => B.has(x))));
        expect(a.copy().or(b).toArray()).toEqual(sorted(new Set([...A, ...B])));
        expect(a.copy().andNot(b).toArray()).toEqual(sorted([...A].filter((x) => !B.has(x))));
        expect(a.copy().xor(b).weight()).toBe(
          [...A].filter((x) => !B.has(x)).length + [...B].filter((x) => !A.has(x)).length,
        );
        expect(a.copy().complement().weight()).toBe(nr - A.size);
        expect(a.intersects(b)).toBe([...A].some((x) => B.has(x)));
        expect(a.isSubset(b)).toBe([...A].every((x) => B.has(x)));
      }),
    );
  });
});
