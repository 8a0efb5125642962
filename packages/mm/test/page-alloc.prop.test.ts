import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStructPage, structPageOffset, verifyMemory } from '../src/debug.js';
import {
  GFP_ATOMIC,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
} from '../src/gfp.js';
import {
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_NEXT,
  P_PREV,
  P_PRIVATE,
  P_REFCOUNT,
} from '../src/layout.js';
import type { Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';

type Op =
  | { kind: 'alloc'; gfp: number; order: number; cpu: number; nid: number }
  | { kind: 'free'; pick: number; cpu: number }
  | { kind: 'drain' };

const gfps = [GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_ATOMIC, GFP_KERNEL | __GFP_RECLAIMABLE].map(
  (g) => g | __GFP_NOWARN,
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      gfp: fc.constantFrom(...gfps),
      order: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) },
        { weight: 1, arbitrary: fc.integer({ min: 5, max: 10 }) },
      ),
      cpu: fc.integer({ min: 0, max: 1 }),
      nid: fc.integer({ min: 0, max: 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('free' as const),
      pick: fc.nat(),
      cpu: fc.integer({ min: 0, max: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
);

/** Runs ops against a two-node machine, checking the invariants after every step. */
function run(ops: Op[], groupByMobility: boolean): { mem: Memory; live: Map<number, number> } {
  const mem = createMemory({
    nodes: ['16M', '16M'],
    sectionSize: '16M',
    nrCpus: 2,
    groupByMobility,
  });
  const live = new Map<number, number>(); // pfn -> order
  const owner = new Int32Array(mem.sections.length * 4096).fill(-1);
  for (const o of ops) {
    if (o.kind === 'alloc') {
      mem.cpu = o.cpu;
      const pfn = mem.allocPages(o.gfp, o.order, o.nid);
      if (pfn === null) continue;
      expect(pfn % (1 << o.order)).toBe(0);
      for (let p = pfn; p < pfn + (1 << o.order); p++) {
        // no two allocations overlap
        expect(owner[p]).toBe(-1);
        owner[p] = pfn;
      }
      live.set(pfn, o.order);
    } else if (o.kind === 'free') {
      if (live.size === 0) continue;
      mem.cpu = o.cpu;
      const pfn = [...live.keys()][o.pick % live.size]!;
      const order = live.get(pfn)!;
      mem.freePages(pfn, order);
      live.delete(pfn);
      owner.fill(-1, pfn, pfn + (1 << order));
    } else mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    const allocated = [...live.values()].reduce((s, order) => s + (1 << order), 0);
    // free + allocated + reserved = total
    expect(r.buddy + r.pcp + allocated + r.reserved).toBe(r.total);
  }
  return { mem, live };
}

describe('page allocator properties', () => {
  it('free + allocated + reserved = total and no overlap, after every operation', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.boolean(), (ops, grouped) => {
        run(ops, grouped);
      }),
      { numRuns: 60 },
    );
  });

  it('after freeing everything the free lists are maximally coalesced', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const { mem, live } = run(ops, true);
        for (const [pfn, order] of live) mem.freePages(pfn, order);
        mem.drainAllPages();
        const r = verifyMemory(mem);
        expect(r.errors).toEqual([]);
        expect(r.uncoalesced).toBe(0);
        expect(r.buddy + r.reserved).toBe(r.total);
      }),
      { numRuns: 40 },
    );
  });

  it('the page array read back from raw bytes matches the allocator', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { mem } = run(ops, true);
        for (const sec of mem.sections) {
          if (!sec) continue;
          const raw = sec.bytes.slice(); // a copy: what a dump holds
          for (let k = 0; k < sec.nrPages; k += 7) {
            const pfn = sec.startPfn + k;
            const d = decodeStructPage(raw, structPageOffset(pfn, sec.nrPages));
            expect([
              d.flags,
              d.refcount,
              d.mapcount,
              d.private,
              d.next,
              d.prev,
              d.mapping,
              d.index,
            ]).toEqual([
              mem.pageField(pfn, P_FLAGS) >>> 0,
              mem.pageField(pfn, P_REFCOUNT),
              mem.pageField(pfn, P_MAPCOUNT),
              mem.pageField(pfn, P_PRIVATE),
              mem.pageField(pfn, P_NEXT),
              mem.pageField(pfn, P_PREV),
              mem.pageField(pfn, P_MAPPING) >>> 0,
              mem.pageField(pfn, P_INDEX) >>> 0,
            ]);
            expect([d.nid, d.zone]).toEqual([mem.pageToNid(pfn), mem.pageZonenum(pfn)]);
          }
        }
      }),
      { numRuns: 10 },
    );
  });

  it('negative control: with coalescing broken the coalescing property fails', () => {
    const mem = createMemory({ size: '16M', sectionSize: '16M' });
    mem.debugBreak = 'no-coalesce';
    const ps = Array.from({ length: 64 }, () => mem.allocPages(GFP_KERNEL, 0)!);
    for (const p of ps) mem.freePages(p, 0);
    mem.drainAllPages();
    expect(verifyMemory(mem).uncoalesced).toBeGreaterThan(0);
  });

  it('negative control: without the double-free check a double free corrupts the lists and verifyMemory sees it', () => {
    const mem = createMemory({ size: '16M', sectionSize: '16M' });
    mem.debugBreak = 'skip-double-free-check';
    const p = mem.allocPages(GFP_KERNEL, 2)!;
    mem.freePages(p, 2);
    mem.freePages(p, 2);
    expect(verifyMemory(mem).errors.length).toBeGreaterThan(0);
  });
});
