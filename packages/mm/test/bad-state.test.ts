/**
 * Pages and lists in states the allocator never makes itself (found by review): a free
 * of a page whose flags name no zone, buddy pageblocks isolated one at a time, a per-CPU
 * list whose links form a cycle.
 */
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from '../src/gfp.js';
import { P_FLAGS, P_NEXT, P_REFCOUNT } from '../src/layout.js';
import { createMemory } from '../src/mm-init.js';
import { pageblock_nr_pages } from '../src/mmzone.js';
import { PG_offline, ZONES_PGSHIFT } from '../src/page-flags.js';
import {
  offlineIsolatedPages,
  startIsolatePageRange,
  undoIsolatePageRange,
} from '../src/page-isolation.js';

describe('freePages of a page whose flags name no zone (zone bits 3)', () => {
  for (const smp of [true, false]) {
    it(`one node, smp: ${smp}: reported as EINVAL and the page is not lost`, () => {
      const mem = createMemory({ size: '32M', sectionSize: '16M', smp, nrCpus: smp ? 2 : 1 });
      const p = mem.allocPages(GFP_KERNEL, 0)!;
      const f = mem.pageField(p, P_FLAGS);
      mem.setPageField(p, P_FLAGS, f | (3 << ZONES_PGSHIFT));
      // Reported before the count changes (it used to be a TypeError after the count reached 0).
      let err: unknown;
      try {
        mem.freePages(p, 0);
      } catch (e) {
        err = e;
      }
      expect((err as { errno?: string } | undefined)?.errno).toBe('EINVAL');
      // The page is still owned (count 1), so the owner can repair it and free it.
      expect(mem.pageField(p, P_REFCOUNT)).toBe(1);
    });

    it(`two nodes, smp: ${smp}: not freed into node 1's DMA32 lists`, () => {
      const mem = createMemory({ nodes: ['32M', '32M'], sectionSize: '16M', smp, nrCpus: 2 });
      const p = mem.allocPages(GFP_KERNEL, 0, 0)!;
      expect(mem.pageToNid(p)).toBe(0);
      mem.setPageField(p, P_FLAGS, mem.pageField(p, P_FLAGS) | (3 << ZONES_PGSHIFT));
      // zones[0 * 3 + 3] would be node 1's zone 0: the free must not land there.
      expect(() => mem.freePages(p, 0)).toThrow(/EINVAL/);
      mem.drainAllPages();
      expect(verifyMemory(mem).errors).toEqual([]);
    });
  }
});

describe('isolation of two buddy pageblocks one at a time (page-isolation.ts)', () => {
  it('offlining one pageblock takes only that pageblock', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M', smp: false });
    mem.drainAllPages();
    const A = 0x1800; // an order-10 block: pageblocks A and B
    const B = A + pageblock_nr_pages;
    // Take a page of A, so A and B are isolated while split, and merge once it is freed.
    const held: number[] = [];
    let p: number | null;
    while ((p = mem.allocPages(GFP_HIGHUSER_MOVABLE, 0)) !== null && !(p >= A && p < B))
      held.push(p);
    expect(p).not.toBeNull();
    startIsolatePageRange(mem, A, B, { checkUnmovable: false });
    startIsolatePageRange(mem, B, B + pageblock_nr_pages, { checkUnmovable: false });
    mem.freePages(p!, 0);
    mem.drainAllPages(); // A and B merge into one order-10 block on the isolate list
    // Undoing B splits the merged block first, so B's pages leave A's isolate list.
    undoIsolatePageRange(mem, B, B + pageblock_nr_pages);
    expect(offlineIsolatedPages(mem, A, B)).toBe(pageblock_nr_pages);
    expect(mem.pageField(B, P_FLAGS) & (1 << PG_offline)).toBe(0);
    for (const q of held) mem.freePages(q, 0);
  });
});

describe('a per-CPU list whose links form a cycle', () => {
  it('a drain reports it, drops the list and its count, and ends', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M', smp: false });
    const log: string[] = [];
    mem.log = { printk: (_level, text) => log.push(text) };
    mem.drainAllPages();
    const pages = [0, 1, 2, 3].map(() => mem.allocPages(GFP_KERNEL, 0)!);
    mem.drainAllPages();
    for (const p of pages) mem.freePages(p, 0);
    const z = mem.pageZone(pages[0]!);
    expect(mem.pcpInfo(0, z).count).toBe(4);
    // The last page pushed (the head) links back to itself.
    mem.setPageField(pages[3]!, P_NEXT, pages[3]! + 1);
    mem.drainAllPages();
    expect(log.some((l) => l.startsWith('mm: per-CPU list 0 is corrupt'))).toBe(true);
    expect(mem.pcpInfo(0, z).count).toBe(0);
    mem.drainAllPages(); // nothing left to find
  });
});
