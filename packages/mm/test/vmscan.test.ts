import { KernelError } from '@kern/core';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { createAddressSpace, type AddressSpace, type AddressSpaceOptions } from '../src/filemap.js';
import {
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOWAIT,
  __GFP_HIGHMEM,
  __GFP_MOVABLE,
  __GFP_NOWARN,
} from '../src/gfp.js';
import {
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_UNEVICTABLE,
  P_INDEX,
  P_MAPPING,
  P_REFCOUNT,
} from '../src/layout.js';

/** A P_MAPPING word naming an anon_vma nobody registered. */
const FAKE_ANON_OWNER = 0x7ffffff1;
/** A P_MAPPING word naming a page cache nobody registered (another thread's, say). */
const FAKE_FILE_OWNER = 0x7ffffff0;
import { WMARK_HIGH, type Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import {
  PG_active,
  PG_buddy,
  PG_lru,
  PG_pcp,
  PG_reclaim,
  PG_referenced,
  PG_swapbacked,
  PG_unevictable,
  PG_uptodate,
} from '../src/page-flags.js';
import {
  activatePage,
  deactivatePage,
  isolateLruPage,
  lruAdd,
  lruCount,
  lruDel,
  lruListPages,
  markPageAccessed,
  putLruPage,
  putbackLruPage,
  rotateReclaimable,
  verifyLru,
} from '../src/swap.js';
import { SHRINK_STOP, createPageReclaim, type Shrinker } from '../src/vmscan.js';
import { FakeVma } from './fakes.js';
import { checkedBoot } from './helpers.js';

/** What each page of a test file holds when the store has not been written: a function of its index. */
function stock(index: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i += 64) b[i] = (index * 13 + i / 64) & 0xff;
  b[0] = index & 0xff;
  b[1] = (index >>> 8) & 0xff;
  return b;
}

/** A backing store whose unwritten pages hold `stock(index)`. */
class Store {
  readonly pages = new Map<number, Uint8Array>();
  writes = 0;
  reads = 0;
  readonly readPage = (index: number, bytes: Uint8Array): void => {
    this.reads++;
    bytes.set(this.pages.get(index) ?? stock(index));
  };
  readonly writePage = (index: number, bytes: Uint8Array): void => {
    this.writes++;
    this.pages.set(index, bytes.slice());
  };
  opts(extra: AddressSpaceOptions = {}): AddressSpaceOptions {
    return { readPage: this.readPage, writePage: this.writePage, size: () => 2 ** 40, ...extra };
  }
}

/** Reclaim never migrates: the VMAs of these tests refuse `remapPage`. */
const NO_REMAP = { refuseRemap: true } as const;

/** Each test's memory is verified after it. */
const boot = checkedBoot();

/** Brings pages 0..n-1 into the cache, clean, each accessed once. */
function populate(mem: Memory, as: AddressSpace, n: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    const p = as.findOrCreatePage(i);
    if (p === null) throw new Error(`no page for index ${i}`);
    mem.putPage(p);
  }
}

/** Whether an index is cached (without keeping a reference). */
function cached(mem: Memory, as: AddressSpace, index: number): boolean {
  const p = as.findGetPage(index);
  if (p !== null) mem.putPage(p);
  return p !== null;
}

function fileLru(mem: Memory): number {
  return lruCount(mem, 0, LRU_INACTIVE_FILE) + lruCount(mem, 0, LRU_ACTIVE_FILE);
}

describe('LRU lists', () => {
  it('add, delete and the counters', () => {
    const mem = boot();
    const a = mem.allocPage(GFP_KERNEL)!;
    const b = mem.allocPage(GFP_KERNEL)!;
    const c = mem.allocPage(GFP_KERNEL)!;
    lruAdd(mem, a, LRU_INACTIVE_FILE);
    lruAdd(mem, b, LRU_INACTIVE_FILE);
    lruAdd(mem, c, LRU_ACTIVE_ANON);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toEqual([b, a]); // newest at the head
    expect(lruListPages(mem, 0, LRU_ACTIVE_ANON)).toEqual([c]);
    expect(mem.testPageFlag(a, PG_lru)).toBe(true);
    expect(mem.testPageFlag(a, PG_active)).toBe(false);
    expect(mem.testPageFlag(c, PG_active)).toBe(true);
    expect(mem.testPageFlag(c, PG_swapbacked)).toBe(true);
    expect(mem.nodeState('nr_inactive_file')).toBe(2);
    expect(mem.nodeState('nr_active_anon')).toBe(1);
    expect(verifyLru(mem)).toEqual([]);
    expect(() => lruAdd(mem, a, LRU_ACTIVE_FILE)).toThrow(/already on an LRU list/);
    expect(() => lruAdd(mem, a, 9)).toThrow(/LRU list 9/);
    expect(lruDel(mem, a)).toBe(true);
    expect(lruDel(mem, a)).toBe(false);
    expect(mem.testPageFlag(a, PG_lru)).toBe(false);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toEqual([b]);
    // The allocator refuses to free a page still on an LRU list (bad_page takes it out).
    expect(() => mem.putPage(b)).toThrow(/Bad page state|PAGE_FLAGS_CHECK_AT_FREE/);
    lruDel(mem, b);
    mem.putPage(a);
    const u = mem.allocPage(GFP_KERNEL)!;
    lruAdd(mem, u, LRU_UNEVICTABLE);
    expect(mem.testPageFlag(u, PG_unevictable)).toBe(true);
    expect(mem.nodeState('nr_unevictable')).toBe(1);
    putLruPage(mem, u); // last reference: off the list, then freed
    putLruPage(mem, c);
    expect(mem.testPageFlag(c, PG_pcp) || mem.testPageFlag(c, PG_buddy)).toBe(true);
    expect(mem.nodeState('nr_active_anon')).toBe(0);
    expect(mem.nodeState('nr_unevictable')).toBe(0);
    expect(verifyMemory(mem).bad).toBe(1);
  });

  it('markPageAccessed activates on the second access; rotate, deactivate, isolate and put back', () => {
    const mem = boot();
    const pages = [0, 1, 2, 3].map(() => mem.allocPage(GFP_KERNEL)!);
    for (const p of pages) {
      mem.setPageField(p, P_MAPPING, FAKE_ANON_OWNER); // an owner, so put back returns it
      lruAdd(mem, p, LRU_INACTIVE_FILE);
    }
    const [p0, p1, p2, p3] = pages as [number, number, number, number];
    markPageAccessed(mem, p1);
    expect(mem.testPageFlag(p1, PG_referenced)).toBe(true);
    expect(mem.testPageFlag(p1, PG_active)).toBe(false);
    markPageAccessed(mem, p1);
    expect(mem.testPageFlag(p1, PG_active)).toBe(true);
    expect(mem.testPageFlag(p1, PG_referenced)).toBe(false);
    expect(lruListPages(mem, 0, LRU_ACTIVE_FILE)).toEqual([p1]);
    expect(mem.eventCount('pgactivate')).toBe(1);
    expect(activatePage(mem, p1)).toBe(false);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toEqual([p3, p2, p0]);
    expect(rotateReclaimable(mem, p3)).toBe(true);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toEqual([p2, p0, p3]);
    expect(mem.eventCount('pgrotated')).toBe(1);
    expect(deactivatePage(mem, p1)).toBe(true);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toEqual([p1, p2, p0, p3]);
    expect(mem.eventCount('pgdeactivate')).toBe(1);
    expect(deactivatePage(mem, p1)).toBe(false);

    expect(isolateLruPage(mem, p2)).toBe(true);
    expect(isolateLruPage(mem, p2)).toBe(false);
    expect(mem.pageField(p2, P_REFCOUNT)).toBe(2);
    expect(mem.nodeState('nr_isolated_file')).toBe(1);
    expect(mem.nodeState('nr_inactive_file')).toBe(3);
    expect(verifyLru(mem)).toEqual([]);
    mem.setPageFlag(p2, PG_active);
    putbackLruPage(mem, p2);
    expect(lruListPages(mem, 0, LRU_ACTIVE_FILE)).toEqual([p2]);
    expect(mem.pageField(p2, P_REFCOUNT)).toBe(1);
    expect(mem.nodeState('nr_isolated_file')).toBe(0);
    expect(() => putbackLruPage(mem, p2)).toThrow(/not isolated/);
    // An isolated page whose owner let go is freed by the put back.
    expect(isolateLruPage(mem, p0)).toBe(true);
    mem.putPage(p0); // the owner's reference
    putbackLruPage(mem, p0);
    expect(mem.pageField(p0, P_REFCOUNT)).toBe(0);
    for (const p of [p1, p2, p3]) putLruPage(mem, p);
    expect(fileLru(mem)).toBe(0);
  });

  it('anonymous pages go on the anon lists', () => {
    const mem = boot();
    const p = mem.allocPage(GFP_KERNEL)!;
    mem.setPageField(p, P_MAPPING, FAKE_ANON_OWNER);
    lruAdd(mem, p, LRU_INACTIVE_ANON);
    expect(mem.testPageFlag(p, PG_swapbacked)).toBe(true);
    markPageAccessed(mem, p);
    markPageAccessed(mem, p);
    expect(lruListPages(mem, 0, LRU_ACTIVE_ANON)).toEqual([p]);
    expect(isolateLruPage(mem, p)).toBe(true);
    expect(mem.nodeState('nr_isolated_anon')).toBe(1);
    putbackLruPage(mem, p);
    expect(mem.nodeState('nr_active_anon')).toBe(1);
    putLruPage(mem, p); // clears the anon mapping word, as free_pages_prepare
    expect(mem.nodeState('nr_active_anon')).toBe(0);
    expect(mem.pageField(p, P_MAPPING)).toBe(0);
  });
});

describe('page reclaim', () => {
  /** Fills memory with clean page cache allocated without reclaim, until the allocator says no. */
  function fill(mem: Memory): { as: AddressSpace; store: Store; n: number } {
    const store = new Store();
    const as = createAddressSpace(
      mem,
      store.opts({ gfp: __GFP_MOVABLE | __GFP_HIGHMEM | __GFP_NOWARN }),
    );
    let n = 0;
    for (;;) {
      const p = as.findOrCreatePage(n);
      if (p === null) break;
      mem.putPage(p);
      n++;
    }
    return { as, store, n };
  }

  it('an allocation beyond the watermark succeeds because reclaim frees clean page cache', () => {
    const mem = boot();
    createPageReclaim(mem);
    const { as, n } = fill(mem);
    expect(n).toBeGreaterThan(14000);
    expect(mem.nodeState('nr_file_pages')).toBe(n);
    const got: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const p = mem.allocPages(GFP_KERNEL, 0);
      expect(p).not.toBeNull();
      got.push(p!);
    }
    expect(mem.nodeState('nr_file_pages')).toBeLessThan(n - 2000);
    expect(
      mem.eventCount('pgsteal_kswapd') + mem.eventCount('pgsteal_direct'),
    ).toBeGreaterThanOrEqual(2000);
    expect(
      mem.eventCount('pgscan_kswapd') + mem.eventCount('pgscan_direct'),
    ).toBeGreaterThanOrEqual(mem.eventCount('pgsteal_kswapd') + mem.eventCount('pgsteal_direct'));
    // Reclaimed pages come back from the store.
    for (const i of [0, 1, 2, n - 1]) expect(as.read(i * PAGE_SIZE, PAGE_SIZE)).toEqual(stock(i));
    for (const p of got) mem.putPage(p);
    as.destroy();
  });

  it('kswapd reclaims up to the high watermark', () => {
    const mem = boot();
    createPageReclaim(mem);
    const { as } = fill(mem);
    const zones = mem.zones.filter((z) => mem.zoneSpan(z).managed > 0);
    expect(zones.some((z) => mem.zoneFreePages(z) < mem.wmark(z, WMARK_HIGH))).toBe(true);
    const before = mem.eventCount('pageoutrun');
    const p = mem.allocPages(GFP_NOWAIT | __GFP_MOVABLE, 0); // wakes kswapd, cannot reclaim itself
    expect(p).not.toBeNull();
    expect(mem.eventCount('pageoutrun')).toBeGreaterThan(before);
    for (const z of zones)
      expect(mem.zoneFreePages(z) + mem.zonePcpPages(z)).toBeGreaterThanOrEqual(
        mem.wmark(z, WMARK_HIGH) - mem.pcpInfo(0, z).batch,
      );
    expect(mem.eventCount('allocstall_dma32') + mem.eventCount('allocstall_normal')).toBe(0);
    mem.putPage(p!);
    as.destroy();
  });

  it('with kswapdInline off, the allocation only wakes kswapd; a later kswapdRun does the work', () => {
    const mem = boot();
    mem.kswapdInline = false;
    createPageReclaim(mem);
    const { as } = fill(mem);
    const zones = mem.zones.filter((z) => mem.zoneSpan(z).managed > 0);
    const before = mem.eventCount('pageoutrun');
    // GFP_NOWAIT cannot reclaim itself: below the min watermark it may fail, as in Linux.
    const q = mem.allocPages(GFP_NOWAIT | __GFP_MOVABLE | __GFP_NOWARN, 0);
    if (q !== null) mem.putPage(q);
    // Woken, not run: nothing reclaimed yet, and the wake-up is visible in node data.
    expect(mem.kswapdPending(0)).toBe(true);
    expect(mem.eventCount('pageoutrun')).toBe(before);
    expect(zones.some((z) => mem.zoneFreePages(z) < mem.wmark(z, WMARK_HIGH))).toBe(true);
    // The kswapd task (a scheduler task in a machine) runs the pass.
    expect(mem.kswapdRun(0)).toBeGreaterThan(0);
    expect(mem.kswapdPending(0)).toBe(false);
    expect(mem.eventCount('pageoutrun')).toBe(before + 1);
    for (const z of zones)
      expect(mem.zoneFreePages(z) + mem.zonePcpPages(z)).toBeGreaterThanOrEqual(
        mem.wmark(z, WMARK_HIGH) - mem.pcpInfo(0, z).batch,
      );
    expect(mem.kswapdRun(0)).toBe(0); // not woken again: nothing to do
    const p = mem.allocPages(GFP_NOWAIT | __GFP_MOVABLE, 0);
    expect(p).not.toBeNull();
    mem.putPage(p!);
    as.destroy();
  });

  it('counts kswapd and direct scanning apart', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    populate(mem, as, 64);
    expect(pr.reclaim(8, GFP_KERNEL, 0, true)).toBeGreaterThanOrEqual(8);
    expect(mem.eventCount('pgsteal_kswapd')).toBeGreaterThanOrEqual(8);
    expect(mem.eventCount('pgscan_kswapd')).toBeGreaterThanOrEqual(8);
    expect(mem.eventCount('pgscan_direct')).toBe(0);
    // Through the Reclaimer interface, as direct reclaim calls it.
    expect(pr.reclaimer.reclaim(8, GFP_KERNEL, undefined)).toBeGreaterThanOrEqual(8);
    expect(mem.eventCount('pgsteal_direct')).toBeGreaterThanOrEqual(8);
    expect(mem.reclaimers.map((r) => r.name)).toEqual(['lru']);
    pr.destroy();
    expect(mem.reclaimers).toEqual([]);
    as.destroy();
  });

  it('dirty pages are not reclaimed until written back', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    populate(mem, as, 100); // clean
    const data = new Uint8Array(50 * PAGE_SIZE).fill(0x5a);
    as.write(100 * PAGE_SIZE, data); // 50 dirty pages
    expect(mem.nodeState('nr_dirty')).toBe(50);
    // No I/O allowed: only clean pages can go.
    const freed = pr.reclaim(1000, GFP_NOFS);
    expect(freed).toBe(100);
    expect(as.nrPages).toBe(50);
    expect(store.writes).toBe(0);
    for (let i = 100; i < 150; i++) {
      const p = as.findGetPage(i)!;
      expect(mem.testPageFlag(p, PG_reclaim)).toBe(true);
      mem.putPage(p);
    }
    // The flusher cleans them; they rotate to the tail and go next.
    populate(mem, as, 10, 200); // newer clean pages, at the head
    const rotated = mem.eventCount('pgrotated');
    expect(as.writebackPages()).toBe(50);
    expect(mem.eventCount('pgrotated') - rotated).toBe(50);
    const order = lruListPages(mem, 0, LRU_INACTIVE_FILE).map((p) => mem.pageField(p, P_INDEX));
    expect(order.slice(0, 10).sort((x, y) => x - y)).toEqual(
      [...Array(10).keys()].map((k) => 200 + k),
    );
    expect(order.slice(10).sort((x, y) => x - y)).toEqual(
      [...Array(50).keys()].map((k) => 100 + k),
    );
    const got = pr.reclaim(32, GFP_NOFS); // from the tail: rotated pages only
    expect(got).toBeGreaterThanOrEqual(32);
    expect(got).toBeLessThanOrEqual(50);
    for (let i = 200; i < 210; i++) expect(cached(mem, as, i)).toBe(true);
    pr.reclaim(100, GFP_NOFS);
    expect(as.nrPages).toBe(0);
    expect(as.nrPages).toBe(0);
    expect(as.read(100 * PAGE_SIZE, 50 * PAGE_SIZE)).toEqual(data);
    as.destroy();
  });

  it('reclaim that may do I/O writes dirty pages out itself and keeps their data', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    const data = new Uint8Array(40 * PAGE_SIZE);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    as.write(0, data);
    // Just written, the pages are referenced: the first scan leaves them to the flusher,
    // the next writes them out itself.
    expect(pr.reclaim(40, GFP_NOFS)).toBe(0);
    expect(store.writes).toBe(0);
    expect(pr.reclaim(40, GFP_KERNEL)).toBe(40);
    expect(store.writes).toBe(40);
    expect(as.nrPages).toBe(0);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    expect(as.read(0, data.length)).toEqual(data);
    as.destroy();
  });

  it('a page accessed twice survives a reclaim that frees the pages accessed once', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    for (let i = 0; i < 100; i++) as.read(i * PAGE_SIZE, 1); // accessed once
    as.read(200 * PAGE_SIZE, 1);
    as.read(200 * PAGE_SIZE, 1); // accessed twice: active
    expect(lruCount(mem, 0, LRU_ACTIVE_FILE)).toBe(1);
    expect(pr.reclaim(100, GFP_KERNEL)).toBe(100);
    expect(cached(mem, as, 200)).toBe(true);
    expect(as.nrPages).toBe(1);
    for (let i = 0; i < 100; i++) expect(cached(mem, as, i)).toBe(false);
    // With more pressure it goes too.
    expect(pr.reclaim(10, GFP_KERNEL)).toBe(1);
    expect(mem.eventCount('pgdeactivate')).toBeGreaterThanOrEqual(1);
    as.destroy();
  });

  it('referenced pages get a second chance; the active list ages when the inactive one runs low', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    for (let i = 0; i < 48; i++) {
      as.read(i * PAGE_SIZE, 1);
      as.read(i * PAGE_SIZE, 1); // active
    }
    as.read(0, 1); // referenced again while active
    populate(mem, as, 16, 48); // 16 inactive, never accessed
    expect(lruCount(mem, 0, LRU_ACTIVE_FILE)).toBe(48);
    expect(pr.reclaim(16, GFP_KERNEL)).toBeGreaterThanOrEqual(16); // whole batches
    // The inactive pages went; the active list, too big beside them, was aged.
    for (let i = 48; i < 64; i++) expect(cached(mem, as, i)).toBe(false);
    expect(mem.eventCount('pgrefill')).toBeGreaterThan(0);
    expect(mem.eventCount('pgdeactivate')).toBeGreaterThan(0);
    expect(lruCount(mem, 0, LRU_INACTIVE_FILE)).toBeGreaterThan(0);
    expect(lruCount(mem, 0, LRU_ACTIVE_FILE)).toBeLessThan(48);
    // Page 0, referenced while active, got another round there.
    const p0 = as.findGetPage(0)!;
    expect(mem.testPageFlag(p0, PG_active)).toBe(true);
    mem.putPage(p0);
    as.destroy();
  });

  it('mapped pages are reclaimed only if every VMA lets go', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    const vma = new FakeVma(mem, NO_REMAP);
    as.iMmap.add(vma);
    for (let i = 0; i < 2; i++) {
      const p = as.findOrCreatePage(i)!;
      vma.map(i, p);
      mem.putPage(p);
    }
    vma.refuseUnmap = true;
    expect(pr.reclaim(2, GFP_KERNEL)).toBe(0);
    expect(as.nrPages).toBe(2);
    expect(mem.eventCount('pgactivate')).toBeGreaterThanOrEqual(2); // still mapped: activated
    vma.refuseUnmap = false;
    expect(pr.reclaim(2, GFP_KERNEL)).toBe(2);
    expect(vma.ptes.size).toBe(0);
    expect(as.nrPages).toBe(0);
    as.iMmap.clear();
    as.destroy();
  });

  it('a page someone holds is not reclaimed, nor one owned in another way', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    populate(mem, as, 4);
    const held = as.findGetPage(2)!;
    expect(pr.reclaim(100, GFP_KERNEL)).toBe(3);
    expect(cached(mem, as, 2)).toBe(true);
    mem.putPage(held);
    expect(pr.reclaim(100, GFP_KERNEL)).toBe(1);
    // A page whose owner reclaim cannot find (another thread's, say) stays.
    const lone = mem.allocPage(GFP_KERNEL)!;
    mem.setPageField(lone, P_INDEX, 0);
    mem.setPageField(lone, P_MAPPING, FAKE_FILE_OWNER);
    lruAdd(mem, lone, LRU_INACTIVE_FILE);
    expect(pr.reclaim(10, GFP_KERNEL)).toBe(0);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toEqual([lone]);
    lruDel(mem, lone);
    mem.setPageField(lone, P_MAPPING, 0);
    mem.putPage(lone);
    as.destroy();
  });

  it('keeps one set of LRU lists per node and reclaims from the node asked', () => {
    const mem = boot({ nodes: ['32M', '32M'], sectionSize: '16M', nrCpus: 2 });
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    for (let i = 0; i < 40; i++) {
      const p = mem.allocPages(GFP_KERNEL, 0, i % 2)!;
      expect(mem.pageToNid(p)).toBe(i % 2);
      mem.pageBytes(p).set(stock(i));
      mem.setPageFlag(p, PG_uptodate);
      as.addToPageCache(p, i);
      mem.putPage(p);
    }
    expect(lruCount(mem, 0, LRU_INACTIVE_FILE)).toBe(20);
    expect(lruCount(mem, 1, LRU_INACTIVE_FILE)).toBe(20);
    expect(mem.nodeState('nr_inactive_file', 1)).toBe(20);
    expect(verifyLru(mem)).toEqual([]);
    expect(pr.reclaim(100, GFP_KERNEL, 1)).toBe(20);
    expect(lruCount(mem, 1, LRU_INACTIVE_FILE)).toBe(0);
    expect(lruCount(mem, 0, LRU_INACTIVE_FILE)).toBe(20);
    expect(mem.nodeState('nr_file_pages', 0)).toBe(20);
    expect(mem.nodeState('nr_file_pages', 1)).toBe(0);
    expect(pr.reclaim(100, GFP_KERNEL)).toBe(20);
    expect(() => pr.reclaim(1, GFP_KERNEL, 2)).toThrow(/node 2/);
    expect(as.read(PAGE_SIZE, PAGE_SIZE)).toEqual(stock(1));
    as.destroy();
  });

  it('does not recurse from inside writePage', () => {
    const mem = boot();
    let inner = -1;
    const pr = createPageReclaim(mem);
    const store = new Store();
    const as = createAddressSpace(mem, {
      ...store.opts(),
      writePage: (i, b) => {
        inner = pr.reclaim(10, GFP_KERNEL);
        store.writePage(i, b);
      },
    });
    as.write(0, new Uint8Array(PAGE_SIZE).fill(3));
    expect(pr.reclaim(1, GFP_KERNEL) + pr.reclaim(1, GFP_KERNEL)).toBe(1);
    expect(inner).toBe(0);
    as.destroy();
  });

  it('a writeback error during reclaim keeps the page and reaches the next sync', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    let fail = true;
    const store = new Store();
    const as = createAddressSpace(mem, {
      ...store.opts(),
      writePage: (i, b) => {
        if (fail) throw new KernelError('EIO', 'disk on fire');
        store.writePage(i, b);
      },
    });
    as.write(0, new Uint8Array(PAGE_SIZE).fill(9));
    expect(pr.reclaim(1, GFP_KERNEL) + pr.reclaim(1, GFP_KERNEL)).toBe(0);
    expect(as.nrPages).toBe(1);
    expect(as.wbError?.errno).toBe('EIO');
    fail = false;
    expect(() => as.syncAll()).toThrow(/disk on fire/);
    expect(as.wbError).toBeNull();
    expect(mem.nodeState('nr_dirty')).toBe(0); // the sync itself wrote it
    expect(as.read(0, 4)).toEqual(new Uint8Array(4).fill(9));
    as.destroy();
  });
});

describe('shrinkers and drop_caches', () => {
  /** A cache of `n` objects that frees what it is asked to. */
  function objectCache(
    name: string,
    n: number,
  ): Shrinker & { left: number; scanned: number; calls: number } {
    return {
      name,
      left: n,
      scanned: 0,
      calls: 0,
      count() {
        return this.left;
      },
      scan(nr: number) {
        this.calls++;
        this.scanned += nr;
        const f = Math.min(nr, this.left);
        this.left -= f;
        return f;
      },
    };
  }

  it('are asked in proportion to their size, after the LRU lists', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const big = objectCache('big', 100_000);
    const small = objectCache('small', 10_000);
    const gone = objectCache('gone', 1000);
    let lruFirst = false;
    let orderScanned = 0;
    const order = Object.assign(objectCache('order', 100_000), {
      scan(nr: number) {
        lruFirst ||= mem.eventCount('pgscan_direct') > 0;
        orderScanned += nr;
        return 0;
      },
    });
    pr.registerShrinker(big);
    pr.registerShrinker(small);
    pr.registerShrinker(gone);
    pr.registerShrinker(order);
    expect(() => pr.registerShrinker(big)).toThrow(/already registered/);
    expect(pr.unregisterShrinker(gone)).toBe(true);
    expect(pr.unregisterShrinker(gone)).toBe(false);
    const as = createAddressSpace(mem, new Store().opts());
    populate(mem, as, 4096); // big enough that every round scans some of it
    pr.reclaim(64, GFP_KERNEL);
    expect(big.scanned).toBeGreaterThan(0);
    expect(small.scanned).toBeGreaterThan(0);
    const ratio = big.scanned / small.scanned;
    expect(ratio).toBeGreaterThan(5);
    expect(ratio).toBeLessThan(20);
    expect(gone.calls).toBe(0);
    expect(lruFirst).toBe(true);
    expect(mem.eventCount('slabs_scanned')).toBe(big.scanned + small.scanned + orderScanned);
    as.destroy();
  });

  it('pages a shrinker gives back count as reclaimed, and SHRINK_STOP stops it', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const held = Array.from({ length: 64 }, () => mem.allocPage(GFP_KERNEL)!);
    const slab: Shrinker = {
      name: 'pages',
      count: () => held.length,
      scan: (nr) => {
        let f = 0;
        while (f < nr && held.length) {
          mem.putPage(held.pop()!);
          f++;
        }
        return f;
      },
      batch: 16,
    };
    let stopCalls = 0;
    const stop: Shrinker = {
      name: 'stop',
      count: () => 1000,
      scan: () => {
        stopCalls++;
        return SHRINK_STOP;
      },
    };
    pr.registerShrinker(slab);
    pr.registerShrinker(stop);
    expect(pr.reclaim(32, GFP_KERNEL)).toBeGreaterThanOrEqual(32);
    expect(held.length).toBeLessThanOrEqual(32);
    const calls = stopCalls;
    expect(calls).toBeGreaterThan(0);
    pr.reclaim(1, GFP_KERNEL);
    expect(stopCalls - calls).toBeLessThanOrEqual(13); // at most one batch per priority
    for (const p of held) mem.putPage(p);
  });

  it('drop_caches drops clean unmapped page cache (1), shrinks slab (2), both (3)', () => {
    const mem = boot();
    const pr = createPageReclaim(mem);
    const as = createAddressSpace(mem, new Store().opts());
    populate(mem, as, 30);
    as.read(0, 1);
    as.read(0, 1); // active
    as.write(40 * PAGE_SIZE, new Uint8Array(10)); // dirty
    const vma = new FakeVma(mem, NO_REMAP);
    as.iMmap.add(vma);
    const mapped = as.findGetPage(5)!;
    vma.map(5, mapped);
    mem.putPage(mapped);
    const held = as.findGetPage(6)!;
    const cache = objectCache('dentry', 5000);
    pr.registerShrinker(cache);
    expect(pr.dropCaches(1)).toBe(28); // 30 less the mapped and the held; the dirty one stays
    expect(mem.eventCount('drop_pagecache')).toBe(1);
    expect(cache.left).toBe(5000);
    expect(as.nrPages).toBe(3);
    for (const i of [5, 6, 40]) expect(cached(mem, as, i)).toBe(true);
    pr.dropCaches(2);
    expect(cache.left).toBe(0);
    expect(mem.eventCount('drop_slab')).toBe(1);
    mem.putPage(held);
    as.syncAll();
    cache.left = 100;
    expect(pr.dropCaches(3)).toBe(2);
    expect(cache.left).toBe(0);
    expect(as.nrPages).toBe(1); // the mapped page
    for (const bad of [0, 8, 1.5, -1]) expect(() => pr.dropCaches(bad)).toThrow(/drop_caches/);
    vma.unmapPage(5, mapped);
    as.iMmap.clear();
    as.destroy();
  });
});

describe('negative control', () => {
  it("the broken mode 'reclaim-dirty' loses written data, and the data check sees it", () => {
    const run = (debugBreak: 'none' | 'reclaim-dirty'): boolean => {
      const mem = createMemory({ size: '64M', sectionSize: '16M' });
      const pr = createPageReclaim(mem, { debugBreak });
      const as = createAddressSpace(mem, new Store().opts());
      const data = new Uint8Array(8 * PAGE_SIZE).fill(0xee);
      as.write(0, data);
      pr.reclaim(100, GFP_NOFS);
      const same = as.read(0, data.length).every((b, i) => b === data[i]);
      as.destroy();
      expect(verifyMemory(mem).errors).toEqual([]);
      expect(verifyLru(mem)).toEqual([]);
      return same;
    };
    expect(run('none')).toBe(true);
    expect(run('reclaim-dirty')).toBe(false);
  });
});
