import { KernelError } from '@kern/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_COMP, __GFP_NOWARN } from '../src/gfp.js';
import { P_FLAGS, P_MAPCOUNT, P_MAPPING, P_REFCOUNT } from '../src/layout.js';
import type { DebugBreak, Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import { MAX_PAGE_ORDER } from '../src/mmzone.js';
import { PAGE_FLAGS_CHECK_AT_PREP, PG_highorder } from '../src/page-flags.js';
import { captureLog } from './helpers.js';

type Op =
  | { kind: 'alloc'; gfp: number; order: number }
  | { kind: 'free'; pick: number }
  /** Frees a live block's head with another order, or one of its tail pages. */
  | { kind: 'wrong'; pick: number; order: number; tail: number | null }
  | { kind: 'drain' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      gfp: fc.constantFrom(GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_KERNEL | __GFP_COMP),
      order: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) },
        { weight: 1, arbitrary: fc.integer({ min: 5, max: MAX_PAGE_ORDER }) },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('wrong' as const),
      pick: fc.nat(),
      order: fc.integer({ min: 0, max: MAX_PAGE_ORDER }),
      tail: fc.option(fc.nat(), { freq: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
);

/** Trailing zero bits of a PFN (the largest order it is aligned to), at most MAX_PAGE_ORDER. */
const alignment = (pfn: number): number =>
  pfn === 0 ? MAX_PAGE_ORDER : Math.min(MAX_PAGE_ORDER, 31 - Math.clz32(pfn & -pfn));

/** What `prep_new_page` demands of each page of a block it hands out; '' if all hold. */
function prepProblem(mem: Memory, pfn: number, order: number): string {
  for (let p = pfn; p < pfn + (1 << order); p++) {
    const [a, i] = mem.pageWords(p);
    const flags = a[i + P_FLAGS]! & PAGE_FLAGS_CHECK_AT_PREP & ~(p === pfn ? 1 << PG_highorder : 0);
    if (flags) return `pfn 0x${p.toString(16)} handed out with flags 0x${flags.toString(16)}`;
    if (a[i + P_REFCOUNT] !== (p === pfn ? 1 : 0))
      return `pfn 0x${p.toString(16)} handed out with refcount ${a[i + P_REFCOUNT]}`;
    if (a[i + P_MAPCOUNT] !== -1 || a[i + P_MAPPING] !== 0)
      return `pfn 0x${p.toString(16)} handed out mapped`;
  }
  return '';
}

/**
 * Runs ops on a 32 MiB machine and checks after every step: verifyMemory is clean and
 * finds no bad page; every free page is accounted for (free pages + live blocks = the
 * free pages at boot: nothing leaked or freed twice); every block handed out passes
 * prep_new_page's checks with no bad-page report. A wrong free must throw EINVAL.
 */
function run(ops: Op[], debugBreak: DebugBreak = 'none'): void {
  const log = captureLog();
  const mem = createMemory({ size: '32M', sectionSize: '16M', log });
  mem.debugBreak = debugBreak;
  const free0 = mem.nrFreePages();
  const live = new Map<number, number>(); // head pfn -> order
  const pick = (n: number): [number, number] | undefined => [...live][n % live.size];
  for (const o of ops) {
    if (o.kind === 'alloc') {
      const before = log.lines.length;
      const pfn = mem.allocPages(o.gfp | __GFP_NOWARN, o.order);
      if (pfn === null) continue;
      expect(prepProblem(mem, pfn, o.order), 'prep_new_page checks').toBe('');
      expect(
        log.lines.slice(before).filter((l) => l.startsWith('BUG: Bad page state')),
        'bad page handed out',
      ).toEqual([]);
      live.set(pfn, o.order);
    } else if (o.kind === 'free') {
      const b = live.size ? pick(o.pick) : undefined;
      if (!b) continue;
      mem.freePages(b[0], b[1]);
      live.delete(b[0]);
    } else if (o.kind === 'wrong') {
      const b = live.size ? pick(o.pick) : undefined;
      if (!b) continue;
      const [head, order] = b;
      let target = head;
      let wrong = o.order % (alignment(head) + 1); // mostly an aligned order
      if (o.tail !== null && order > 0) {
        target = head + 1 + (o.tail % ((1 << order) - 1));
        wrong = o.order % (alignment(target) + 1);
      } else if (wrong === order) wrong = order === 0 ? 1 : order - 1;
      let threw: unknown = null;
      try {
        mem.freePages(target, wrong);
      } catch (e) {
        threw = e;
      }
      // The broken mode may let it through: the model then counts the block as freed,
      // and the invariants below judge what the allocator did with it.
      if (threw === null) live.delete(head);
      else if (debugBreak === 'none') {
        expect(threw).toBeInstanceOf(KernelError);
        expect((threw as KernelError).errno).toBe('EINVAL');
      }
    } else mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors, 'verifyMemory').toEqual([]);
    expect(r.bad, 'pages taken out of circulation').toBe(0);
    const held = [...live.values()].reduce((s, order) => s + (1 << order), 0);
    expect(mem.nrFreePages() + held, 'free pages + live blocks').toBe(free0);
  }
  for (const [pfn, order] of live) mem.freePages(pfn, order);
  expect(mem.nrFreePages(), 'free pages after freeing every block').toBe(free0);
}

describe('frees with the wrong order', () => {
  it('never change the allocator: every list exact, nothing leaked, no bad page handed out', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => run(ops)),
      { numRuns: 80 },
    );
  });

  it('negative control: freeing without checking the order first (skip-free-order-check) is caught', () => {
    const r = fc.check(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => run(ops, 'skip-free-order-check')),
      { numRuns: 80, seed: 20261207, endOnFailure: true },
    );
    expect(r.failed).toBe(true);
    expect(String(r.errorInstance)).toMatch(
      /verifyMemory|free pages \+ live blocks|free pages after|prep_new_page|bad page handed out|taken out of circulation/,
    );
  });
});
