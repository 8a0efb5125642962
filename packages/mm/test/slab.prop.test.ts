import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, __GFP_RECLAIMABLE, __GFP_ZERO } from '../src/gfp.js';
import { P_PRIVATE } from '../src/layout.js';
import type { Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { PG_head, PG_slab } from '../src/page-flags.js';
import { createSlabAllocator, type KmemCache, type SlabDebugBreak } from '../src/slab.js';

interface CacheSpec {
  size: number;
  align: number;
  reclaimable: boolean;
  ctor: boolean;
}

type Op =
  | { kind: 'kmalloc'; size: number; zero: boolean; rcl: boolean }
  | { kind: 'cache'; which: number; zero: boolean }
  | { kind: 'free'; pick: number; viaKfree: boolean }
  | { kind: 'shrink' };

const cacheSpec: fc.Arbitrary<CacheSpec> = fc.record({
  size: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 301, max: 5000 })),
  align: fc.constantFrom(0, 8, 16, 64, 256, 4096),
  reclaimable: fc.boolean(),
  ctor: fc.boolean(),
});

const kmallocSize = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 256 }) },
  { weight: 3, arbitrary: fc.integer({ min: 257, max: 8192 }) },
  { weight: 1, arbitrary: fc.integer({ min: 8193, max: 40000 }) },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('kmalloc' as const),
      size: kmallocSize,
      zero: fc.boolean(),
      rcl: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('cache' as const),
      which: fc.nat(),
      zero: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('free' as const),
      pick: fc.nat(),
      viaKfree: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'shrink' as const }) },
);

const scenario = fc.record({
  caches: fc.array(cacheSpec, { minLength: 1, maxLength: 3 }),
  ops: fc.array(op, { maxLength: 160 }),
});

/** What each object holds: a byte pattern of its own. */
const patternByte = (seed: number, i: number): number => (seed * 131 + i * 7 + (i >>> 8)) & 0xff;
const CTOR_BYTE = 0xc7;

interface Live {
  paddr: number;
  /** Bytes asked for (what the pattern covers). */
  len: number;
  /** Bytes the allocation really spans (ksize). */
  span: number;
  cache: KmemCache | null;
  seed: number;
  ctor: boolean;
}

/**
 * Runs a scenario on a fresh machine and checks, after every step: no two live objects
 * overlap, every object lies in PG_slab pages recording its cache (or in a large kmalloc's
 * compound page), every live object still holds its pattern, the caches count exactly the
 * live objects; at the end, with everything freed and caches destroyed, every page is
 * back with the page allocator and the slab counters are zero.
 */
function run(
  s: { caches: CacheSpec[]; ops: Op[] },
  debugBreak: SlabDebugBreak = 'none',
  /** For negative controls: damage done behind the allocator's back before the final checks. */
  sabotage?: (mem: Memory, live: readonly Live[]) => void,
): void {
  const mem = createMemory({ size: '64M', sectionSize: '16M' });
  mem.drainAllPages();
  const start = mem.nrFreePages();
  const sa = createSlabAllocator(mem);
  sa.debugBreak = debugBreak;
  const caches = s.caches.map((spec, i) =>
    sa.kmemCacheCreate(`prop_cache_${i}`, spec.size, {
      ...(spec.align ? { align: spec.align } : {}),
      reclaimable: spec.reclaimable,
      ...(spec.ctor ? { ctor: (b: Uint8Array) => void b.fill(CTOR_BYTE) } : {}),
    }),
  );
  const live: Live[] = [];
  let seed = 0;

  const checkPattern = (o: Live): void => {
    const b = sa.bytes(o.paddr, o.len);
    for (let i = 0; i < o.len; i++)
      if (b[i] !== patternByte(o.seed, i))
        throw new Error(
          `object ${o.paddr.toString(16)} (${o.cache?.name ?? 'large'}) byte ${i} is ${b[i]}, wrote ${patternByte(o.seed, i)}`,
        );
  };

  const placed = (
    paddr: number | null,
    len: number,
    cache: KmemCache | null,
    zero: boolean,
    ctor: boolean,
  ): void => {
    if (paddr === null) throw new Error(`allocation of ${len} bytes failed`);
    const info = sa.objInfo(paddr);
    if (!info || !info.allocated || info.objectPaddr !== paddr)
      throw new Error(`${paddr.toString(16)} is not a live object start`);
    const span = sa.ksize(paddr);
    expect(span).toBeGreaterThanOrEqual(len);
    if (cache) expect(info.cache).toBe(cache);
    const slabby = info.cache !== null;
    for (
      let pfn = Math.floor(paddr / PAGE_SIZE);
      pfn <= Math.floor((paddr + span - 1) / PAGE_SIZE);
      pfn++
    )
      expect(mem.testPageFlag(pfn, PG_slab)).toBe(slabby);
    if (slabby) expect(mem.pageField(info.slabPfn, P_PRIVATE)).toBe(info.cache!.id);
    else expect(mem.testPageFlag(info.slabPfn, PG_head)).toBe(true);
    for (const o of live)
      if (paddr < o.paddr + o.span && o.paddr < paddr + span)
        throw new Error(
          `new object [${paddr.toString(16)}, +${span}) overlaps live [${o.paddr.toString(16)}, +${o.span})`,
        );
    const b = sa.bytes(paddr, len);
    if (zero) expect(b.every((x) => x === 0)).toBe(true);
    else if (ctor) expect(b.every((x) => x === CTOR_BYTE)).toBe(true);
    const o: Live = { paddr, len, span, cache, seed: seed++, ctor };
    for (let i = 0; i < len; i++) b[i] = patternByte(o.seed, i);
    live.push(o);
  };

  const release = (o: Live, viaKfree: boolean): void => {
    checkPattern(o);
    if (o.ctor) sa.bytes(o.paddr, o.cache!.objectSize).fill(CTOR_BYTE); // back to its constructed state
    if (o.cache && !viaKfree) o.cache.free(o.paddr);
    else sa.kfree(o.paddr);
  };

  const counts = (): void => {
    const want = new Map<string, number>();
    for (const o of live) {
      const name = o.cache?.name ?? (o.span <= 8192 ? sa.objInfo(o.paddr)!.cache!.name : '');
      if (name) want.set(name, (want.get(name) ?? 0) + 1);
    }
    for (const c of sa.caches()) expect(c.getSlabinfo().activeObjs).toBe(want.get(c.name) ?? 0);
  };

  for (const o of s.ops) {
    switch (o.kind) {
      case 'kmalloc': {
        const gfp = GFP_KERNEL | (o.zero ? __GFP_ZERO : 0) | (o.rcl ? __GFP_RECLAIMABLE : 0);
        const p = sa.kmalloc(o.size, gfp);
        if (o.size === 0) {
          expect(p).toBe(16);
          sa.kfree(p!);
          break;
        }
        placed(p, o.size, null, o.zero, false);
        break;
      }
      case 'cache': {
        const c = caches[o.which % caches.length]!;
        const spec = s.caches[o.which % caches.length]!;
        placed(c.alloc(GFP_KERNEL | (o.zero ? __GFP_ZERO : 0)), c.objectSize, c, o.zero, spec.ctor);
        break;
      }
      case 'free': {
        if (!live.length) break;
        const [victim] = live.splice(o.pick % live.length, 1);
        release(victim!, o.viaKfree);
        break;
      }
      case 'shrink':
        sa.shrinkAll();
        break;
    }
    counts();
  }

  sabotage?.(mem, live);
  for (const o of live) checkPattern(o);
  for (const o of live.splice(0)) release(o, false);
  for (const c of caches) c.destroy();
  sa.shrinkAll();
  for (const c of sa.caches()) expect(c.getSlabinfo().numSlabs).toBe(0);
  expect(mem.nodeState('nr_slab_reclaimable')).toBe(0);
  expect(mem.nodeState('nr_slab_unreclaimable')).toBe(0);
  mem.drainAllPages();
  const lost = start - mem.nrFreePages();
  if (lost !== 0) throw new Error(`${lost} pages are not back with the page allocator`);
}

describe('slab allocator properties', () => {
  it('objects never overlap, keep their bytes, and every page comes back', () => {
    fc.assert(
      fc.property(scenario, (s) => run(s)),
      { numRuns: 60 },
    );
  });

  // Negative controls: each check must be able to fail.
  const twoAllocs = {
    caches: [{ size: 64, align: 0, reclaimable: false, ctor: false }],
    ops: [0, 1].map(() => ({ kind: 'cache' as const, which: 0, zero: false })),
  };

  it('catches overlapping objects (broken mode freelist-no-advance)', () => {
    expect(() => run(twoAllocs)).not.toThrow();
    expect(() => run(twoAllocs, 'freelist-no-advance')).toThrow(/overlaps live/);
  });

  it('catches a changed byte in a live object', () => {
    const poke = (mem: Memory, live: readonly Live[]): void =>
      mem.writePhys(live[1]!.paddr + 5, new Uint8Array([~patternByte(1, 5) & 0xff]));
    expect(() => run(twoAllocs, 'none', poke)).toThrow(/byte 5 is/);
  });

  it.each<[SlabDebugBreak, RegExp]>([
    ['freelist-no-advance', /./],
    ['leak-slab-pages', /pages are not back with the page allocator/],
  ])('random scenarios catch the broken mode %s', (mode, why) => {
    const r = fc.check(
      fc.property(scenario, (s) => run(s, mode)),
      { numRuns: 40, seed: 20240601, endOnFailure: true },
    );
    expect(r.failed).toBe(true);
    expect(String(r.errorInstance)).toMatch(why);
  });
});
