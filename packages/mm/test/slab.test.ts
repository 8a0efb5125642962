import { isKernelError } from '@kern/core';
import { describe, expect, it } from 'vitest';
import {
  GFP_KERNEL,
  __GFP_HIGHMEM,
  __GFP_MEMALLOC,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
} from '../src/gfp.js';
import { P_INDEX, P_MAPPING, P_PRIVATE } from '../src/layout.js';
import type { Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import { MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, PAGE_SIZE } from '../src/mmzone.js';
import { PG_head, PG_slab, PG_tail } from '../src/page-flags.js';
import {
  KMALLOC_MAX_CACHE_SIZE,
  ZERO_SIZE_PTR,
  createSlabAllocator,
  type KmemCache,
  type SlabAllocator,
} from '../src/slab.js';

interface Machine {
  mem: Memory;
  sa: SlabAllocator;
  log: string[];
  /** Free pages with the per-CPU lists drained. */
  free: () => number;
}

function boot(nrCpus = 1): Machine {
  const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus });
  const log: string[] = [];
  mem.log = { printk: (_level, text) => log.push(text) };
  const free = (): number => {
    mem.drainAllPages();
    return mem.nrFreePages();
  };
  return { mem, sa: createSlabAllocator(mem), log, free };
}

/** The error `fn` throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an exception');
}

const pfnOf = (paddr: number): number => Math.floor(paddr / PAGE_SIZE);

describe('kmalloc size classes', () => {
  const cases: [number, string][] = [
    [1, 'kmalloc-8'],
    [8, 'kmalloc-8'],
    [9, 'kmalloc-16'],
    [17, 'kmalloc-32'],
    [33, 'kmalloc-64'],
    [64, 'kmalloc-64'],
    [65, 'kmalloc-96'],
    [96, 'kmalloc-96'],
    [97, 'kmalloc-128'],
    [100, 'kmalloc-128'],
    [129, 'kmalloc-192'],
    [192, 'kmalloc-192'],
    [193, 'kmalloc-256'],
    [257, 'kmalloc-512'],
    [513, 'kmalloc-1k'],
    [1025, 'kmalloc-2k'],
    [2049, 'kmalloc-4k'],
    [4097, 'kmalloc-8k'],
    [8192, 'kmalloc-8k'],
  ];

  it.each(cases)('kmalloc(%i) comes from %s', (size, name) => {
    const { sa } = boot();
    expect(sa.kmallocCache(size)?.name).toBe(name);
    const p = sa.kmalloc(size, GFP_KERNEL)!;
    expect(p).not.toBeNull();
    expect(sa.objInfo(p)?.cache?.name).toBe(name);
    expect(sa.ksize(p)).toBe(sa.kmallocCache(size)!.objectSize);
    expect(sa.ksize(p)).toBeGreaterThanOrEqual(size);
    sa.kfree(p);
  });

  it('__GFP_RECLAIMABLE selects the kmalloc-rcl caches', () => {
    const { sa } = boot();
    expect(sa.kmallocCache(100, GFP_KERNEL | __GFP_RECLAIMABLE)?.name).toBe('kmalloc-rcl-128');
    const p = sa.kmalloc(40, GFP_KERNEL | __GFP_RECLAIMABLE)!;
    expect(sa.objInfo(p)?.cache?.name).toBe('kmalloc-rcl-64');
  });

  it('power-of-two objects are naturally aligned', () => {
    const { sa } = boot();
    for (const size of [8, 64, 512, 4096, 8192]) {
      const ps = Array.from({ length: 5 }, () => sa.kmalloc(size, GFP_KERNEL)!);
      for (const p of ps) expect(p % size).toBe(0);
    }
  });

  it('sizes above KMALLOC_MAX_CACHE_SIZE have no cache; 0 and bad sizes', () => {
    const { sa } = boot();
    expect(sa.kmallocCache(KMALLOC_MAX_CACHE_SIZE + 1)).toBeNull();
    expect(sa.kmallocCache(0)).toBeNull();
    expect(sa.kmalloc(0, GFP_KERNEL)).toBe(ZERO_SIZE_PTR);
    expect(sa.ksize(ZERO_SIZE_PTR)).toBe(0);
    sa.kfree(ZERO_SIZE_PTR);
    sa.kfree(0);
    expect(
      isKernelError(
        thrown(() => sa.kmalloc(-1, GFP_KERNEL)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => sa.kmalloc(1.5, GFP_KERNEL)),
        'EINVAL',
      ),
    ).toBe(true);
  });
});

describe('slab orders (calculate_order)', () => {
  it('follows calculate_order with min_objects = 4 * (fls(nr_cpus) + 1)', () => {
    const { sa } = boot(1); // min_objects 8
    const row = (n: string): [number, number] => {
      const c = sa.caches().find((x) => x.name === n)!;
      return [c.order, c.objectsPerSlab];
    };
    expect(row('kmalloc-8')).toEqual([0, 512]);
    expect(row('kmalloc-96')).toEqual([0, 42]);
    expect(row('kmalloc-512')).toEqual([0, 8]);
    expect(row('kmalloc-1k')).toEqual([1, 8]);
    expect(row('kmalloc-2k')).toEqual([2, 8]);
    expect(row('kmalloc-4k')).toEqual([3, 8]);
    expect(row('kmalloc-8k')).toEqual([3, 4]);
    expect(sa.caches().find((x) => x.name === 'kmalloc-8k')!.minOrder).toBe(1);

    const big = boot(4).sa; // min_objects 16
    expect(big.caches().find((x) => x.name === 'kmalloc-1k')!.order).toBe(2);
  });

  it('falls back to the minimum order when the preferred order is not available', () => {
    const { mem, sa } = boot();
    // Take every page, then give back aligned pairs: order-1 blocks, nothing larger.
    const taken: number[] = [];
    for (;;) {
      const pfn = mem.allocPages(__GFP_MEMALLOC | __GFP_NOWARN, 0);
      if (pfn === null) break;
      taken.push(pfn);
    }
    const mine = new Set(taken);
    let pairs = 0;
    for (const pfn of taken)
      if (pfn % 8 === 0 && mine.has(pfn + 1) && pairs < 1500) {
        mem.freePages(pfn, 0);
        mem.freePages(pfn + 1, 0);
        mine.delete(pfn);
        mine.delete(pfn + 1);
        pairs++;
      }
    mem.drainAllPages();
    expect(mem.allocPages(GFP_KERNEL | __GFP_NOWARN, 3)).toBeNull();
    const p = sa.kmalloc(8000, GFP_KERNEL)!;
    expect(p).not.toBeNull();
    const info = sa.objInfo(p)!;
    expect(info.slabOrder).toBe(1);
    expect(sa.kmallocCache(8000)!.getSlabinfo().numObjs).toBe(1);
    sa.kfree(p);
  });
});

describe('caches', () => {
  it('round-trips objects inside PG_slab pages that record the cache id', () => {
    const { mem, sa, free } = boot();
    const start = free();
    const c = sa.kmemCacheCreate('test_obj', 100);
    expect(c.size).toBe(104);
    const objs = Array.from({ length: 100 }, () => c.alloc(GFP_KERNEL)!);
    expect(new Set(objs).size).toBe(100);
    for (const p of objs) {
      const info = sa.objInfo(p)!;
      expect(info.cache).toBe(c);
      expect(info.allocated).toBe(true);
      for (let q = pfnOf(p); q <= pfnOf(p + c.objectSize - 1); q++)
        expect(mem.testPageFlag(q, PG_slab)).toBe(true);
      expect(mem.pageField(info.slabPfn, P_PRIVATE)).toBe(c.id);
      expect(mem.pageField(info.slabPfn, P_MAPPING)).toBe(0);
    }
    expect(c.getSlabinfo()).toMatchObject({ activeObjs: 100, numObjs: 3 * 39, numSlabs: 3 });
    for (const p of objs) c.free(p);
    c.destroy();
    expect(free()).toBe(start);
    for (const p of objs) expect(mem.testPageFlag(pfnOf(p), PG_slab)).toBe(false);
  });

  it('keeps the freelist in the free objects and its head in the struct page', () => {
    const { mem, sa } = boot();
    const c = sa.kmemCacheCreate('fl', 64);
    const a = c.alloc(GFP_KERNEL)!;
    const b = c.alloc(GFP_KERNEL)!;
    const slabPfn = sa.objInfo(a)!.slabPfn;
    const base = slabPfn * PAGE_SIZE;
    expect(a).toBe(base);
    expect(b).toBe(base + 64);
    // Head: the third object (offset 128), stored as offset + 1.
    expect(mem.pageField(slabPfn, P_INDEX)).toBe(128 + 1);
    const u64 = (paddr: number): number => {
      const v = new DataView(mem.readPhys(paddr, 8).buffer);
      return v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
    };
    expect(c.offset).toBe(32);
    expect(u64(base + 128 + c.offset)).toBe(base + 192);
    c.free(a);
    expect(mem.pageField(slabPfn, P_INDEX)).toBe(1);
    expect(u64(a + c.offset)).toBe(base + 128);
    expect(c.alloc(GFP_KERNEL)).toBe(a); // LIFO
  });

  it('runs the constructor once per object and keeps the free pointer outside it', () => {
    const { sa } = boot();
    let calls = 0;
    const c = sa.kmemCacheCreate('ctor_obj', 40, {
      ctor: (b) => {
        calls++;
        b.fill(0xab);
      },
    });
    expect(c.offset).toBe(40);
    expect(c.size).toBe(48);
    const p = c.alloc(GFP_KERNEL)!;
    expect(calls).toBe(c.objectsPerSlab);
    expect([...sa.bytes(p)].every((x) => x === 0xab)).toBe(true);
    c.free(p);
    const q = c.alloc(GFP_KERNEL)!;
    expect(q).toBe(p);
    expect([...sa.bytes(q)].every((x) => x === 0xab)).toBe(true);
    expect(calls).toBe(c.objectsPerSlab);
  });

  it('honours align and rejects bad arguments', () => {
    const { sa } = boot();
    const c = sa.kmemCacheCreate('aligned', 24, { align: 256 });
    expect(c.size).toBe(256);
    for (let i = 0; i < 20; i++) expect(c.alloc(GFP_KERNEL)! % 256).toBe(0);
    expect(
      isKernelError(
        thrown(() => sa.kmemCacheCreate('x', 24, { align: 24 })),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => sa.kmemCacheCreate('x', 0)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => sa.kmemCacheCreate('', 8)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => sa.kmemCacheCreate('x', 5 * 2 ** 20)),
        'EINVAL',
      ),
    ).toBe(true);
  });

  it('kzalloc and __GFP_ZERO zero the object', () => {
    const { sa } = boot();
    const p = sa.kmalloc(64, GFP_KERNEL)!;
    sa.bytes(p).fill(0x5a);
    sa.kfree(p);
    const q = sa.kzalloc(64, GFP_KERNEL)!;
    expect(q).toBe(p);
    expect([...sa.bytes(q)].every((x) => x === 0)).toBe(true);
  });

  it('accounts slab pages as nr_slab_unreclaimable and gives them back', () => {
    const { mem, sa, free } = boot();
    const start = free();
    const c = sa.kmemCacheCreate('acct', 1000); // 1008-byte objects: order 1
    expect(c.order).toBe(1);
    const objs = Array.from({ length: 3 * c.objectsPerSlab }, () => c.alloc(GFP_KERNEL)!);
    expect(mem.nodeState('nr_slab_unreclaimable')).toBe(3 * 2);
    expect(mem.nodeState('nr_slab_reclaimable')).toBe(0);
    const head = sa.objInfo(objs[0]!)!.slabPfn;
    expect(mem.testPageFlag(head, PG_head)).toBe(true);
    expect(mem.testPageFlag(head + 1, PG_tail) && mem.testPageFlag(head + 1, PG_slab)).toBe(true);
    for (const p of objs) c.free(p);
    c.destroy();
    expect(mem.nodeState('nr_slab_unreclaimable')).toBe(0);
    expect(free()).toBe(start);
  });

  it('keeps fewer than min_partial empty slabs, and shrink frees them', () => {
    const { sa, free } = boot();
    const start = free();
    const c = sa.kmemCacheCreate('partial', 512);
    const objs = Array.from({ length: 10 * c.objectsPerSlab }, () => c.alloc(GFP_KERNEL)!);
    expect(c.getSlabinfo().numSlabs).toBe(10);
    for (const p of objs) c.free(p);
    // An emptied slab is freed once the partial list holds min_partial slabs, itself included.
    expect(c.getSlabinfo().numSlabs).toBe(c.minPartial - 1);
    expect(c.nrPartial).toBe(c.minPartial - 1);
    expect(c.shrink()).toBe(c.minPartial - 1);
    expect(c.getSlabinfo().numSlabs).toBe(0);
    expect(free()).toBe(start);
  });

  it('destroy refuses while objects remain, naming the cache and the count', () => {
    const { sa, log, free } = boot();
    const start = free();
    const c = sa.kmemCacheCreate('busy_cache', 32);
    const a = c.alloc(GFP_KERNEL)!;
    const b = c.alloc(GFP_KERNEL)!;
    const e = thrown(() => c.destroy());
    expect(isKernelError(e, 'EBUSY')).toBe(true);
    expect(e.message).toContain('busy_cache');
    expect(e.message).toContain('2 in use');
    expect(log).toContain('kmem_cache_destroy busy_cache: Slab cache still has objects');
    // Still usable.
    c.free(a);
    const a2 = c.alloc(GFP_KERNEL)!;
    c.free(a2);
    c.free(b);
    c.destroy();
    expect(c.destroyed).toBe(true);
    expect(sa.caches()).not.toContain(c);
    expect(
      isKernelError(
        thrown(() => c.alloc(GFP_KERNEL)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => c.destroy()),
        'EINVAL',
      ),
    ).toBe(true);
    expect(free()).toBe(start);
  });

  it('kmalloc caches cannot be destroyed', () => {
    const { sa } = boot();
    expect(
      isKernelError(
        thrown(() => sa.kmallocCache(64)!.destroy()),
        'EINVAL',
      ),
    ).toBe(true);
  });

  it('reclaimable caches land in MIGRATE_RECLAIMABLE pageblocks', () => {
    const { mem, sa } = boot();
    const r = sa.kmemCacheCreate('dentry_like', 192, { reclaimable: true });
    const u = sa.kmemCacheCreate('plain', 192);
    const pr = r.alloc(GFP_KERNEL)!;
    const pu = u.alloc(GFP_KERNEL)!;
    expect(mem.getPageblockMigratetype(pfnOf(pr))).toBe(MIGRATE_RECLAIMABLE);
    expect(mem.getPageblockMigratetype(pfnOf(pu))).toBe(MIGRATE_UNMOVABLE);
    expect(mem.nodeState('nr_slab_reclaimable')).toBe(1 << r.order);
    expect(mem.nodeState('nr_slab_unreclaimable')).toBe(1 << u.order);
    const k = sa.kmalloc(100, GFP_KERNEL | __GFP_RECLAIMABLE)!;
    expect(mem.getPageblockMigratetype(pfnOf(k))).toBe(MIGRATE_RECLAIMABLE);
  });
});

describe('kmalloc_large', () => {
  it('takes compound pages straight from the page allocator', () => {
    const { mem, sa, free } = boot();
    const start = free();
    const p = sa.kmalloc(20000, GFP_KERNEL)!;
    expect(p % PAGE_SIZE).toBe(0);
    const pfn = pfnOf(p);
    expect(mem.testPageFlag(pfn, PG_slab)).toBe(false);
    expect(mem.testPageFlag(pfn, PG_head)).toBe(true);
    expect(mem.compoundOrder(pfn)).toBe(3);
    expect(sa.ksize(p)).toBe(32768);
    expect(mem.nodeState('nr_slab_unreclaimable')).toBe(8);
    sa.bytes(p, 20000).fill(7);
    expect(
      isKernelError(
        thrown(() => sa.kfree(p + PAGE_SIZE)),
        'EINVAL',
      ),
    ).toBe(true);
    sa.kfree(p);
    expect(mem.nodeState('nr_slab_unreclaimable')).toBe(0);
    expect(free()).toBe(start);
    expect(
      isKernelError(
        thrown(() => sa.kfree(p)),
        'EINVAL',
      ),
    ).toBe(true);
  });

  it('kzalloc of a large size is zeroed', () => {
    const { sa } = boot();
    const p = sa.kmalloc(50000, GFP_KERNEL)!;
    sa.bytes(p).fill(9);
    sa.kfree(p);
    const q = sa.kzalloc(50000, GFP_KERNEL)!;
    expect([...sa.bytes(q)].every((x) => x === 0)).toBe(true);
  });

  it('returns null above the largest order', () => {
    const { sa } = boot();
    expect(sa.kmalloc(8 * 2 ** 20, GFP_KERNEL | __GFP_NOWARN)).toBeNull();
  });
});

describe('bad frees', () => {
  it('kfree of an address outside slab memory is EINVAL', () => {
    const { mem, sa } = boot();
    const pfn = mem.allocPages(GFP_KERNEL, 0)!;
    const e = thrown(() => sa.kfree(pfn * PAGE_SIZE + 64));
    expect(isKernelError(e, 'EINVAL')).toBe(true);
    expect(e.message).toContain(
      `kfree: 0x${(pfn * PAGE_SIZE + 64).toString(16)} is not a slab object`,
    );
    expect(
      isKernelError(
        thrown(() => sa.kfree(2 ** 40)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => sa.kfree(1.5)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(sa.kmalloc(64, GFP_KERNEL)).not.toBeNull();
  });

  it('a pointer inside an object is EINVAL and changes nothing', () => {
    const { sa, log } = boot();
    const p = sa.kmalloc(64, GFP_KERNEL)!;
    const before = sa.kmallocCache(64)!.getSlabinfo();
    const e = thrown(() => sa.kfree(p + 8));
    expect(isKernelError(e, 'EINVAL')).toBe(true);
    expect(e.message).toContain('not an object boundary in kmalloc-64');
    expect(
      log.some((l) => l.startsWith('BUG kmalloc-64 (Not tainted): Invalid object pointer')),
    ).toBe(true);
    expect(sa.kmallocCache(64)!.getSlabinfo()).toEqual(before);
    sa.kfree(p);
  });

  it('a double free is reported like SLUB and leaves the freelist intact', () => {
    const { sa, log } = boot();
    const c = sa.kmallocCache(64)!;
    const p = sa.kmalloc(64, GFP_KERNEL)!;
    const q = sa.kmalloc(64, GFP_KERNEL)!;
    sa.kfree(p);
    const e = thrown(() => sa.kfree(p));
    expect(isKernelError(e, 'EINVAL')).toBe(true);
    expect(e.message).toContain('kmalloc-64');
    expect(log).toContain('BUG kmalloc-64 (Not tainted): Object already free');
    expect(log).toContain(`FIX kmalloc-64: Object at 0x${p.toString(16)} not freed`);
    expect(
      log.some((l) =>
        /^Slab 0x[0-9a-f]{16} objects=64 used=1 fp=0x[0-9a-f]{16} flags=0x[0-9a-f]+\(.*slab/.test(
          l,
        ),
      ),
    ).toBe(true);
    // Every later allocation is distinct: the freelist did not take p twice.
    const objs = Array.from({ length: 3 * c.objectsPerSlab }, () => sa.kmalloc(64, GFP_KERNEL)!);
    expect(new Set([q, ...objs]).size).toBe(objs.length + 1);
    expect(objs).toContain(p);
    // A second report shows the taint the first left.
    sa.kfree(q);
    thrown(() => sa.kfree(q));
    expect(log.some((l) => l.startsWith('BUG kmalloc-64 (Tainted: G    B'))).toBe(true);
  });

  it('negative control: without the check a double free goes unnoticed', () => {
    const { sa } = boot();
    sa.debugBreak = 'skip-double-free-check';
    const p = sa.kmalloc(64, GFP_KERNEL)!;
    sa.kfree(p);
    expect(() => sa.kfree(p)).not.toThrow();
  });

  it('a write to a free object is caught as a corrupt freechain', () => {
    const { mem, sa, log } = boot();
    const c = sa.kmemCacheCreate('uaf', 64);
    const a = c.alloc(GFP_KERNEL)!;
    c.free(a);
    // Use after free: scribble over the free pointer.
    mem.writePhys(a + c.offset, new Uint8Array(8).fill(0x41));
    expect(c.alloc(GFP_KERNEL)).toBe(a);
    expect(log).toContain('BUG uaf (Not tainted): Freechain corrupt');
    expect(log).toContain('FIX uaf: Isolate corrupted freechain');
    const b = c.alloc(GFP_KERNEL)!;
    expect(sa.objInfo(b)!.slabPfn).not.toBe(sa.objInfo(a)!.slabPfn);
  });

  it('kmem_cache_free with the wrong cache is EINVAL', () => {
    const { sa, log } = boot();
    const a = sa.kmemCacheCreate('a_cache', 64);
    const b = sa.kmemCacheCreate('b_cache', 64);
    const p = a.alloc(GFP_KERNEL)!;
    expect(
      isKernelError(
        thrown(() => b.free(p)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(log).toContain('cache_from_obj: Wrong slab cache. b_cache but object is from a_cache');
    a.free(p);
  });

  it('bytes() refuses ranges outside an allocated object', () => {
    const { sa } = boot();
    const p = sa.kmalloc(64, GFP_KERNEL)!;
    expect(sa.bytes(p + 60, 4).length).toBe(4);
    expect(
      isKernelError(
        thrown(() => sa.bytes(p + 60, 5)),
        'EINVAL',
      ),
    ).toBe(true);
    sa.kfree(p);
    expect(
      isKernelError(
        thrown(() => sa.bytes(p, 1)),
        'EINVAL',
      ),
    ).toBe(true);
    expect(
      isKernelError(
        thrown(() => sa.ksize(p)),
        'EINVAL',
      ),
    ).toBe(true);
  });
});

describe('reports', () => {
  it("fixes up GFP_SLAB_BUG_MASK flags with Linux's warning", () => {
    const { sa, log } = boot();
    expect(sa.kmalloc(64, GFP_KERNEL | __GFP_HIGHMEM)).not.toBeNull();
    expect(log).toContain(
      'Unexpected gfp: 0x2 (__GFP_HIGHMEM). Fixing up to gfp: 0xcc0 (GFP_KERNEL). Fix your code!',
    );
  });

  it("uses the machine's taint state when given one", () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M' });
    const log: string[] = [];
    mem.log = { printk: (_level, text) => log.push(text) };
    const taints: number[] = [];
    const sa = createSlabAllocator(mem, {
      taint: { addTaint: (f) => void taints.push(f), tainted: () => 'Tainted: G        W' },
    });
    const p = sa.kmalloc(32, GFP_KERNEL)!;
    sa.kfree(p);
    thrown(() => sa.kfree(p));
    expect(log).toContain('BUG kmalloc-32 (Tainted: G        W): Object already free');
    expect(taints).toEqual([5]); // TAINT_BAD_PAGE
  });
});

describe('/proc/slabinfo', () => {
  it('prints the 2.1 header and a row per cache, newest first', () => {
    const { sa } = boot();
    const c: KmemCache = sa.kmemCacheCreate('test_obj', 100);
    for (let i = 0; i < 3; i++) c.alloc(GFP_KERNEL);
    for (let i = 0; i < 2; i++) sa.kmalloc(8, GFP_KERNEL);
    const lines = sa.procSlabinfo().split('\n');
    expect(lines[0]).toBe('slabinfo - version: 2.1');
    expect(lines[1]).toBe(
      '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>',
    );
    expect(lines[2]).toBe(
      'test_obj               3     39    104   39    1 : tunables    0    0    0 : slabdata      1      1      0',
    );
    expect(lines.at(-1)).toBe('');
    expect(lines.at(-2)).toBe(
      'kmalloc-8              2    512      8  512    1 : tunables    0    0    0 : slabdata      1      1      0',
    );
    expect(lines).toContain(
      'kmalloc-8k             0      0   8192    4    8 : tunables    0    0    0 : slabdata      0      0      0',
    );
    expect(lines).toContain(
      'kmalloc-rcl-96         0      0     96   42    1 : tunables    0    0    0 : slabdata      0      0      0',
    );
    const row =
      /^(\S+)\s+(\d+) +(\d+) +(\d+) +(\d+) +(\d+) : tunables +0 +0 +0 : slabdata +(\d+) +(\d+) +0$/;
    for (const l of lines.slice(2, -1)) expect(l).toMatch(row);
    expect(lines.length).toBe(2 + 1 + 26 + 1);
  });
});
