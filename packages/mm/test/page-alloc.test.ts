import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import {
  GFP_ATOMIC,
  GFP_DMA32,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_NOWAIT,
  __GFP_COMP,
  __GFP_MOVABLE,
  __GFP_NOWARN,
  __GFP_THISNODE,
  __GFP_ZERO,
  formatGfp,
} from '../src/gfp.js';
import { P_MAPCOUNT, P_MAPPING } from '../src/layout.js';
import { createMemory } from '../src/mm-init.js';
import {
  MAX_PAGE_ORDER,
  MIGRATE_MOVABLE,
  MIGRATE_UNMOVABLE,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
} from '../src/mmzone.js';
import { PG_dirty, PG_head, PG_hwpoison, PG_tail } from '../src/page-flags.js';
import { captureLog } from './helpers.js';

describe('GFP flags', () => {
  it("format as Linux's %#x(%pGg)", () => {
    expect(formatGfp(GFP_KERNEL)).toBe('0xcc0(GFP_KERNEL)');
    expect(formatGfp(GFP_ATOMIC)).toBe('0x820(GFP_ATOMIC)');
    expect(formatGfp(GFP_HIGHUSER_MOVABLE)).toBe('0x100cca(GFP_HIGHUSER_MOVABLE)');
    expect(formatGfp(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN)).toBe(
      '0x2dc0(GFP_KERNEL|__GFP_ZERO|__GFP_NOWARN)',
    );
    expect(formatGfp(GFP_NOWAIT)).toBe('0x800(GFP_NOWAIT)');
  });
});

describe('buddy allocator', () => {
  it('boots with every page accounted for and the free lists coalesced', () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.total).toBe(16384);
    expect(r.buddy + r.reserved).toBe(r.total);
    expect(r.uncoalesced).toBe(0);
    expect(mem.totalManagedPages()).toBe(r.buddy);
  });

  it('splits on allocation and merges back on free', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    const before = mem.nrFreePages();
    const pfn = mem.allocPages(GFP_KERNEL, 3)!;
    expect(pfn).not.toBeNull();
    expect(pfn % 8).toBe(0);
    expect(mem.nrFreePages()).toBe(before - 8);
    mem.freePages(pfn, 3);
    mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.uncoalesced).toBe(0);
    expect(mem.nrFreePages()).toBe(before);
  });

  it('order-0 pages come from and return to the per-CPU lists in batches', () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });
    const z = mem.zone(0, ZONE_DMA32);
    const pfn = mem.allocPage()!;
    const { count, batch } = mem.pcpInfo(0, z);
    expect(count).toBe(batch - 1);
    expect(mem.pcpInfo(1, z).count).toBe(0);
    mem.freePages(pfn, 0);
    expect(mem.pcpInfo(0, z).count).toBe(batch);
    mem.drainAllPages();
    expect(mem.pcpInfo(0, z).count).toBe(0);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('__GFP_ZERO zeroes, __GFP_COMP makes a compound page', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    const a = mem.allocPages(GFP_KERNEL, 1)!;
    mem.pageBytes(a, 1).fill(0xaa);
    mem.freePages(a, 1);
    const b = mem.allocPages(GFP_KERNEL | __GFP_ZERO | __GFP_COMP, 1)!;
    expect(b).toBe(a);
    expect(mem.pageBytes(b, 1).every((x) => x === 0)).toBe(true);
    expect(mem.testPageFlag(b, PG_head)).toBe(true);
    expect(mem.testPageFlag(b + 1, PG_tail)).toBe(true);
    expect(mem.compoundOrder(b)).toBe(1);
    expect(() => mem.freePages(b, 0)).toThrow(/has order 1/);
    mem.freePages(b, 1);
    expect(mem.testPageFlag(b + 1, PG_tail)).toBe(false);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('get/put page reference counting frees on the last put', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    const before = mem.nrFreePages();
    const p = mem.allocPage()!;
    mem.getPage(p);
    mem.putPage(p);
    expect(mem.nrFreePages()).toBe(before - 1);
    mem.putPage(p);
    expect(mem.nrFreePages()).toBe(before);
  });
});

describe('zones, nodes and policies', () => {
  const twoNodes = (): ReturnType<typeof createMemory> =>
    createMemory({
      nodes: ['32M', '32M'],
      sectionSize: '16M',
      nrCpus: 2,
      dma32Limit: '16M',
      movablecore: '16M',
    });

  it('places zones by address and movablecore', () => {
    const mem = twoNodes();
    expect(mem.zoneSpan(mem.zone(0, ZONE_DMA32)).present).toBe(4096);
    expect(mem.zoneSpan(mem.zone(0, ZONE_NORMAL)).present).toBe(4096);
    expect(mem.zoneSpan(mem.zone(1, ZONE_NORMAL)).present).toBe(4096);
    expect(mem.zoneSpan(mem.zone(1, ZONE_MOVABLE)).present).toBe(4096);
    expect(mem.cpuToNode).toEqual([0, 1]);
  });

  it('GFP masks choose zones: movable first for user pages, never movable for the kernel', () => {
    const mem = twoNodes();
    mem.cpu = 1;
    const user = mem.allocPages(GFP_HIGHUSER_MOVABLE, 0)!;
    expect([mem.pageToNid(user), mem.pageZonenum(user)]).toEqual([1, ZONE_MOVABLE]);
    for (let i = 0; i < 2000; i++) {
      const k = mem.allocPages(GFP_KERNEL, 0)!;
      expect(mem.pageZonenum(k)).not.toBe(ZONE_MOVABLE);
    }
    const dma = mem.allocPages(GFP_DMA32, 0)!;
    expect([mem.pageToNid(dma), mem.pageZonenum(dma)]).toEqual([0, ZONE_DMA32]);
  });

  it('falls back to the next node unless __GFP_THISNODE', () => {
    const mem = twoNodes();
    mem.cpu = 1;
    const got: number[] = [];
    for (;;) {
      const p = mem.allocPages(GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN, 0);
      if (p === null) break;
      expect(mem.pageToNid(p)).toBe(1);
      got.push(p);
    }
    expect(got.length).toBeGreaterThan(3000);
    const other = mem.allocPages(GFP_KERNEL, 0)!;
    expect(mem.pageToNid(other)).toBe(0);
  });

  it('interleave alternates nodes; bind stays inside its set', () => {
    const mem = twoNodes();
    const nodes = Array.from({ length: 6 }, () =>
      mem.pageToNid(mem.allocPagesPolicy(GFP_KERNEL, 0, { mode: 'interleave', nodes: [0, 1] })!),
    );
    expect(nodes).toEqual([0, 1, 0, 1, 0, 1]);
    for (let i = 0; i < 100; i++)
      expect(
        mem.pageToNid(mem.allocPagesPolicy(GFP_KERNEL, 0, { mode: 'bind', nodes: [1] })!),
      ).toBe(1);
    expect(
      mem.pageToNid(mem.allocPagesPolicy(GFP_KERNEL, 0, { mode: 'preferred', node: 1 })!),
    ).toBe(1);
  });
});

describe('watermarks, reclaim and failure', () => {
  it('GFP_KERNEL stops at the min watermark; GFP_ATOMIC digs into the reserve; failure warns in Linux format', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    const z = mem.zone(0, ZONE_DMA32);
    while (mem.allocPages(GFP_KERNEL, 0) !== null);
    const free = mem.zoneFreePages(z);
    expect(free).toBeLessThanOrEqual(mem.wmark(z, 0) + 1);
    expect(free).toBeGreaterThan(mem.wmark(z, 0) / 2);
    expect(log.text()).toMatch(
      /^swapper\/0: page allocation failure: order:0, mode:0xcc0\(GFP_KERNEL\), nodemask=\(null\)$/m,
    );
    expect(log.text()).toMatch(/^Node 0 DMA32: (\d+\*\d+kB (\([UMEHI]+\) )?)+= \d+kB$/m);
    let atomic = 0;
    while (mem.allocPages(GFP_ATOMIC | __GFP_NOWARN, 0) !== null) atomic++;
    expect(atomic).toBeGreaterThan(0);
    expect(mem.zoneFreePages(z)).toBeLessThan(free);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('__GFP_NOWARN keeps failures quiet', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    while (mem.allocPages(GFP_KERNEL | __GFP_NOWARN, 0) !== null);
    expect(log.lines).toEqual([]);
  });

  it('direct reclaim calls the reclaimers and the allocation then succeeds', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    const cache: number[] = [];
    for (;;) {
      const p = mem.allocPages(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, 0);
      if (p === null) break;
      cache.push(p);
    }
    let calls = 0;
    mem.reclaimers.push({
      name: 'test-cache',
      reclaim: (n) => {
        calls++;
        let freed = 0;
        while (freed < n && cache.length) {
          mem.freePages(cache.pop()!, 0);
          freed++;
        }
        return freed;
      },
    });
    const held = cache.length;
    expect(mem.allocPages(GFP_KERNEL, 0)).not.toBeNull();
    expect(calls).toBeGreaterThan(0);
    expect(cache.length).toBeLessThan(held);
    expect(mem.eventCount('allocstall_normal') + mem.eventCount('pageoutrun')).toBeGreaterThan(0);
  });

  it('kswapd wakes at the low watermark and reclaims up to the high one', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    const z = mem.zone(0, ZONE_DMA32);
    const cache: number[] = [];
    mem.reclaimers.push({
      name: 'test-cache',
      reclaim: (n) => {
        let freed = 0;
        while (freed < n && cache.length) {
          mem.freePages(cache.shift()!, 0);
          freed++;
        }
        mem.drainAllPages();
        return freed;
      },
    });
    let woke = false;
    for (let i = 0; i < 20000 && !woke; i++) {
      cache.push(mem.allocPages(GFP_NOWAIT | __GFP_MOVABLE, 0)!);
      woke = mem.eventCount('pageoutrun') > 0;
    }
    expect(woke).toBe(true);
    // kswapd ran inside the slow path, before the waking allocation took its batch.
    expect(mem.zoneFreePages(z)).toBeGreaterThanOrEqual(mem.wmark(z, 2) - mem.pcpInfo(0, z).batch);
  });
});

describe('bad input', () => {
  it('an order above MAX_PAGE_ORDER warns once and returns null', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    expect(mem.allocPages(GFP_KERNEL, MAX_PAGE_ORDER + 1)).toBeNull();
    expect(mem.allocPages(GFP_KERNEL, MAX_PAGE_ORDER + 1)).toBeNull();
    expect(log.lines.filter((l) => l.includes('MAX_PAGE_ORDER'))).toHaveLength(1);
    expect(() => mem.freePages(0, 11)).toThrow(/order 11: orders are 0..10/);
  });

  it('PFNs outside memory and misaligned frees are refused without touching anything', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    expect(() => mem.freePages(1 << 20, 0)).toThrow(/EINVAL.*not in any present memory section/);
    expect(() => mem.freePages(-1, 0)).toThrow(/EINVAL/);
    const p = mem.allocPages(GFP_KERNEL, 2)!;
    expect(() => mem.freePages(p + 1, 2)).toThrow(/not aligned/);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('a double free is reported like bad_page and the free lists stay intact', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    const p = mem.allocPages(GFP_KERNEL, 0)!;
    mem.freePages(p, 0);
    expect(() => mem.freePages(p, 0)).toThrow(/double free of pfn/);
    expect(log.text()).toMatch(/^BUG: Bad page state in process swapper\/0 {2}pfn:[0-9a-f]{5}$/m);
    expect(log.text()).toMatch(
      /page dumped because: VM_BUG_ON_PAGE\(page_ref_count\(page\) == 0\)/,
    );
    mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.uncoalesced).toBe(0);
  });

  it('freeing a mapped, dirty or owned page takes it out of circulation', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    const before = mem.nrFreePages();
    const cases: [string, (p: number) => void][] = [
      ['nonzero mapcount', (p) => mem.setPageField(p, P_MAPCOUNT, 0)],
      ['non-NULL mapping', (p) => mem.setPageField(p, P_MAPPING, 2)],
      ['PAGE_FLAGS_CHECK_AT_FREE flag(s) set', (p) => mem.setPageFlag(p, 0)],
    ];
    for (const [reason, spoil] of cases) {
      const p = mem.allocPages(GFP_KERNEL, 0)!;
      spoil(p);
      expect(() => mem.freePages(p, 0)).toThrow(/Bad page state/);
      expect(log.text()).toContain(`page dumped because: ${reason}`);
      expect(mem.testPageFlag(p, PG_hwpoison)).toBe(true);
    }
    // Dirty is allowed at free (Linux clears it); the page goes back.
    const d = mem.allocPages(GFP_KERNEL, 0)!;
    mem.setPageFlag(d, PG_dirty);
    mem.freePages(d, 0);
    mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.bad).toBe(3);
    expect(mem.nrFreePages()).toBe(before - 3);
    expect(mem.eventCount('bad_page')).toBe(3);
    // The allocator still works.
    expect(mem.allocPages(GFP_KERNEL, 4)).not.toBeNull();
  });

  it('rejects malformed configurations by name', () => {
    expect(() => createMemory({ size: '30M', sectionSize: '16M' })).toThrow(
      /node 0 size 31457280 is not a non-zero multiple/,
    );
    expect(() => createMemory({ sectionSize: '3M' })).toThrow(
      /section size 3145728 must be a power of two/,
    );
    expect(() => createMemory({ size: 'lots' })).toThrow(/'lots' is not a size/);
    expect(() => createMemory({ size: '32M', sectionSize: '16M', nrCpus: 0 })).toThrow(/nrCpus 0/);
    expect(() =>
      createMemory({
        nodes: ['16M', '16M'],
        sectionSize: '16M',
        distances: [
          [10, 5],
          [5, 10],
        ],
      }),
    ).toThrow(/distances/);
  });
});

describe('migrate types', () => {
  it('movable and unmovable allocations come from different pageblocks', () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M' });
    const u = Array.from({ length: 50 }, () => mem.allocPages(GFP_KERNEL, 0)!);
    const m = Array.from({ length: 50 }, () => mem.allocPages(GFP_HIGHUSER_MOVABLE, 0)!);
    const ublocks = new Set(u.map((p) => p >> 9));
    const mblocks = new Set(m.map((p) => p >> 9));
    for (const b of ublocks) expect(mblocks.has(b)).toBe(false);
    for (const p of u) expect(mem.getPageblockMigratetype(p)).toBe(MIGRATE_UNMOVABLE);
    for (const p of m) expect(mem.getPageblockMigratetype(p)).toBe(MIGRATE_MOVABLE);
    expect(mem.eventCount('pageblock_steal')).toBeGreaterThan(0);
  });
});
