import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { P_FLAGS, P_PRIVATE } from '../src/layout.js';
import { createMemory } from '../src/mm-init.js';
import { MAX_PAGE_ORDER, pageblock_nr_pages } from '../src/mmzone.js';
import { PG_buddy, PG_offline } from '../src/page-flags.js';
import {
  offlineIsolatedPages,
  startIsolatePageRange,
  undoIsolatePageRange,
} from '../src/page-isolation.js';

/** The first free block of MAX_PAGE_ORDER in the machine. */
function firstMaxOrderBlock(mem: ReturnType<typeof createMemory>): number {
  for (let p = 0; ; p += 1 << MAX_PAGE_ORDER) {
    if (!mem.pfnValid(p)) throw new Error('no free order-10 block');
    const f = mem.pageField(p, P_FLAGS);
    if (f & (1 << PG_buddy) && mem.pageField(p, P_PRIVATE) === MAX_PAGE_ORDER) return p;
  }
}

describe('isolating part of a free block bigger than a pageblock', () => {
  for (const half of ['first', 'second'] as const) {
    it(`the ${half} pageblock of a free order-10 block goes offline alone`, () => {
      const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 1 });
      const blk = firstMaxOrderBlock(mem);
      const start = half === 'first' ? blk : blk + pageblock_nr_pages;
      const end = start + pageblock_nr_pages;
      const freeBefore = mem.nrFreePages();
      const isolatedBefore = mem.zones.reduce((n, z) => n + mem.isolatedFreePages(z), 0);
      startIsolatePageRange(mem, start, end);
      expect(verifyMemory(mem).errors).toEqual([]);
      // Exactly one pageblock moved to the isolate lists.
      expect(mem.zones.reduce((n, z) => n + mem.isolatedFreePages(z), 0) - isolatedBefore).toBe(
        pageblock_nr_pages,
      );
      expect(offlineIsolatedPages(mem, start, end)).toBe(pageblock_nr_pages);
      const other = half === 'first' ? blk + pageblock_nr_pages : blk;
      for (let p = other; p < other + pageblock_nr_pages; p++)
        expect(mem.pageField(p, P_FLAGS) & (1 << PG_offline)).toBe(0);
      for (let p = start; p < end; p++)
        expect(mem.pageField(p, P_FLAGS) & (1 << PG_offline)).not.toBe(0);
      // The other half is still allocatable and the books balance.
      expect(mem.nrFreePages()).toBe(freeBefore - pageblock_nr_pages);
      expect(verifyMemory(mem).errors).toEqual([]);
    });
  }

  it('isolating and undoing half a block gives every page back, merged again', () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 1 });
    const blk = firstMaxOrderBlock(mem);
    const freeBefore = mem.nrFreePages();
    startIsolatePageRange(mem, blk + pageblock_nr_pages, blk + 2 * pageblock_nr_pages);
    undoIsolatePageRange(mem, blk + pageblock_nr_pages, blk + 2 * pageblock_nr_pages);
    expect(mem.nrFreePages()).toBe(freeBefore);
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.uncoalesced).toBe(0);
    expect(mem.pageField(blk, P_PRIVATE)).toBe(MAX_PAGE_ORDER);
  });
});
