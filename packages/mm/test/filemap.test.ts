import { KernelError } from '@kern/core';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import {
  PAGECACHE_TAG_DIRTY,
  PAGECACHE_TAG_WRITEBACK,
  createAddressSpace,
  isAddressSpace,
  type AddressSpace,
  type AddressSpaceOptions,
} from '../src/filemap.js';
import { GFP_KERNEL } from '../src/gfp.js';
import {
  LRU_INACTIVE_FILE,
  NR_ZONE_WRITE_PENDING,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_REFCOUNT,
  Z_VMSTAT,
} from '../src/layout.js';
import type { Memory } from '../src/memory.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import {
  PG_active,
  PG_buddy,
  PG_dirty,
  PG_lru,
  PG_pcp,
  PG_uptodate,
  PG_writeback,
} from '../src/page-flags.js';
import { isolateLruPage, lruAddPage, lruListPages, putbackLruPage } from '../src/swap.js';
import { FakeVma } from './fakes.js';
import { checkedBoot } from './helpers.js';

/** A file's backing store, as a filesystem would keep it: whole pages by index. */
class Store {
  readonly pages = new Map<number, Uint8Array>();
  readonly failRead = new Set<number>();
  readonly failWrite = new Set<number>();
  reads = 0;
  writes: [number, Uint8Array][] = [];
  readonly readPage = (index: number, bytes: Uint8Array): void => {
    if (this.failRead.has(index)) throw new KernelError('EIO', `read error at page ${index}`);
    this.reads++;
    const p = this.pages.get(index);
    if (p) bytes.set(p);
  };
  readonly writePage = (index: number, bytes: Uint8Array): void => {
    if (this.failWrite.has(index)) throw new KernelError('EIO', `write error at page ${index}`);
    this.writes.push([index, bytes.slice()]);
    this.pages.set(index, bytes.slice());
  };
  opts(extra: AddressSpaceOptions = {}): AddressSpaceOptions {
    return { readPage: this.readPage, writePage: this.writePage, ...extra };
  }
}

/** Bytes of a recognisable pattern. */
function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + (i >>> 9)) & 0xff;
  return b;
}

/** NR_ZONE_WRITE_PENDING summed over zones. */
function writePending(mem: Memory): number {
  return mem.zones.reduce((s, z) => s + mem.zoneWord(z, Z_VMSTAT + NR_ZONE_WRITE_PENDING), 0);
}

/** Each test's memory is verified after it. */
const boot = checkedBoot();

describe('page cache: bytes', () => {
  it('reads and writes round-trip bytes through the cache', () => {
    const mem = boot();
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    expect(isAddressSpace(as)).toBe(true);
    expect(mem.mappings.lookup(as.mappingWord)).toBe(as);
    const data = pattern(10000, 1);
    expect(as.write(1000, data)).toBe(10000);
    expect(as.size()).toBe(11000);
    expect(as.read(1000, 10000)).toEqual(data);
    expect(as.read(4000, 300)).toEqual(data.subarray(3000, 3300));
    expect(as.read(0, 1000)).toEqual(new Uint8Array(1000));
    expect(as.read(10990, 100)).toEqual(data.subarray(9990)); // stops at the size
    expect(as.read(20000, 10)).toEqual(new Uint8Array(0));
    expect(as.nrPages).toBe(3);
    expect(mem.nodeState('nr_file_pages')).toBe(3);
    expect(mem.nodeState('nr_inactive_file') + mem.nodeState('nr_active_file')).toBe(3);
    // New pages beyond the end were not read from the store; nothing written yet.
    expect(store.reads).toBe(0);
    expect(store.writes).toEqual([]);
    as.destroy();
  });

  it('reads pages in through readPage and merges partial writes with them', () => {
    const mem = boot();
    const store = new Store();
    for (let i = 0; i < 8; i++) store.pages.set(i, pattern(PAGE_SIZE, 100 + i));
    const as = createAddressSpace(mem, store.opts({ size: () => 8 * PAGE_SIZE }));
    expect(as.read(5 * PAGE_SIZE, PAGE_SIZE)).toEqual(store.pages.get(5));
    expect(store.reads).toBe(1);
    as.write(6 * PAGE_SIZE + 10, new Uint8Array([1, 2, 3]));
    expect(store.reads).toBe(2);
    const want = store.pages.get(6)!.slice();
    want.set([1, 2, 3], 10);
    expect(as.read(6 * PAGE_SIZE, PAGE_SIZE)).toEqual(want);
    // A whole-page overwrite needs no read.
    as.write(7 * PAGE_SIZE, pattern(PAGE_SIZE, 9));
    expect(store.reads).toBe(2);
    const p2 = as.findOrCreatePage(2);
    expect(p2).not.toBeNull();
    expect(store.reads).toBe(3);
    expect(mem.pageBytes(p2!)).toEqual(store.pages.get(2));
    mem.putPage(p2!);
    as.destroy();
  });

  it('a failed read leaves nothing behind', () => {
    const mem = boot();
    mem.drainAllPages();
    const free = mem.nrFreePages();
    const store = new Store();
    store.failRead.add(3);
    const as = createAddressSpace(mem, store.opts({ size: () => 10 * PAGE_SIZE }));
    expect(() => as.findOrCreatePage(3)).toThrow(/EIO|read error/);
    expect(() => as.read(3 * PAGE_SIZE, 10)).toThrow(KernelError);
    expect(as.nrPages).toBe(0);
    expect(mem.nodeState('nr_file_pages')).toBe(0);
    mem.drainAllPages();
    expect(mem.nrFreePages()).toBe(free);
    as.destroy();
  });

  it('rejects bad positions and indices', () => {
    const mem = boot();
    const as = createAddressSpace(mem);
    expect(() => as.read(-1, 1)).toThrow(/EINVAL|not non-negative/);
    expect(() => as.write(1.5, new Uint8Array(1))).toThrow(KernelError);
    expect(() => as.findOrCreatePage(-2)).toThrow(/page index -2/);
    expect(() => as.write(2 ** 31 * PAGE_SIZE, new Uint8Array(1))).toThrow(/largest page index/);
    expect(() => as.truncate(-5)).toThrow(/truncate to -5/);
    as.destroy();
  });
});

describe('page cache: dirty, tags and writeback', () => {
  it('tags and counts dirty pages and cleans them by writeback', () => {
    const mem = boot();
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    as.write(0, pattern(3 * PAGE_SIZE, 2));
    expect(mem.nodeState('nr_dirty')).toBe(3);
    expect(writePending(mem)).toBe(3);
    for (let i = 0; i < 3; i++) expect(as.tagged(i, PAGECACHE_TAG_DIRTY)).toBe(true);
    const tagged = as.findGetPagesTag(PAGECACHE_TAG_DIRTY, 1, 10);
    expect(tagged.map((p) => mem.pageField(p, P_INDEX))).toEqual([1, 2]);
    for (const p of tagged) {
      expect(mem.pageField(p, P_REFCOUNT)).toBe(2); // the cache's and ours
      expect(mem.testPageFlag(p, PG_dirty)).toBe(true);
      mem.putPage(p);
    }
    const one = as.findGetPagesTag(PAGECACHE_TAG_DIRTY, 0, 1);
    expect(one.length).toBe(1);
    mem.putPage(one[0]!);

    expect(as.writebackPages({ max: 1 })).toBe(1);
    expect(store.writes.map(([i]) => i)).toEqual([0]);
    expect(mem.nodeState('nr_dirty')).toBe(2);
    expect(as.tagged(0, PAGECACHE_TAG_DIRTY)).toBe(false);
    expect(as.writebackPages({ from: 2 })).toBe(1);
    expect(as.syncAll()).toBe(1);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    expect(mem.nodeState('nr_writeback')).toBe(0);
    expect(writePending(mem)).toBe(0);
    expect(as.findGetPagesTag(PAGECACHE_TAG_DIRTY, 0, 100)).toEqual([]);
    // Dirtying is idempotent and accounted once.
    const p = as.findGetPage(1)!;
    expect(as.setPageDirty(p)).toBe(true);
    expect(as.setPageDirty(p)).toBe(false);
    expect(mem.nodeState('nr_dirty')).toBe(1);
    expect(as.clearPageDirty(p)).toBe(true);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    mem.putPage(p);
    as.destroy();
  });

  it('writeback hands writePage the page bytes with the page under writeback', () => {
    const mem = boot();
    const seen: { index: number; bytes: Uint8Array }[] = [];
    let as: AddressSpace | null = null;
    as = createAddressSpace(mem, {
      writePage: (index, bytes) => {
        const pfn = as!.findGetPage(index)!;
        expect(mem.testPageFlag(pfn, PG_writeback)).toBe(true);
        expect(mem.testPageFlag(pfn, PG_dirty)).toBe(false);
        expect(as!.tagged(index, PAGECACHE_TAG_WRITEBACK)).toBe(true);
        expect(as!.tagged(index, PAGECACHE_TAG_DIRTY)).toBe(false);
        expect(mem.nodeState('nr_writeback')).toBe(1);
        expect(mem.nodeState('nr_dirty')).toBe(1 - index); // the pages not yet reached
        expect(writePending(mem)).toBe(2 - index);
        expect(bytes.buffer).toBe(mem.pageBytes(pfn).buffer); // a view of the page, no copy
        mem.putPage(pfn);
        seen.push({ index, bytes: bytes.slice() });
      },
    });
    const data = pattern(2 * PAGE_SIZE, 3);
    as.write(0, data);
    expect(as.syncAll()).toBe(2);
    expect(seen.map((s) => s.index)).toEqual([0, 1]);
    expect(seen[0]!.bytes).toEqual(data.subarray(0, PAGE_SIZE));
    expect(seen[1]!.bytes).toEqual(data.subarray(PAGE_SIZE));
    expect(mem.eventCount('pgpgout')).toBe(2 * (PAGE_SIZE / 512));
    const p = as.findGetPage(0)!;
    expect(mem.testPageFlag(p, PG_writeback)).toBe(false);
    expect(as.tagged(0, PAGECACHE_TAG_WRITEBACK)).toBe(false);
    mem.putPage(p);
    as.destroy();
  });

  it('a failed writeback keeps the page dirty and reports EIO', () => {
    const mem = boot();
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    as.write(0, pattern(3 * PAGE_SIZE, 4));
    store.failWrite.add(1);
    let err: unknown;
    try {
      as.writebackPages();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe('EIO');
    expect(store.writes.map(([i]) => i)).toEqual([0, 2]);
    expect(as.tagged(1, PAGECACHE_TAG_DIRTY)).toBe(true);
    expect(mem.nodeState('nr_dirty')).toBe(1);
    expect(mem.nodeState('nr_writeback')).toBe(0);
    store.failWrite.clear();
    expect(as.syncAll()).toBe(1);
    expect(store.pages.get(1)).toEqual(
      pattern(3 * PAGE_SIZE, 4).subarray(PAGE_SIZE, 2 * PAGE_SIZE),
    );
    as.destroy();
  });

  it('without writePage dirty pages stay dirty (ramfs)', () => {
    const mem = boot();
    const as = createAddressSpace(mem);
    as.write(0, pattern(100, 5));
    expect(as.writebackPages()).toBe(0);
    expect(mem.nodeState('nr_dirty')).toBe(1);
    expect(() => as.deletePage(0)).toThrow(/EBUSY|no writePage/);
    expect(as.nrPages).toBe(1);
    as.destroy();
    expect(mem.nodeState('nr_dirty')).toBe(0);
  });
});

describe('page cache: removal', () => {
  it('deletePage writes a dirty page back first, then frees it', () => {
    const mem = boot();
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    const data = pattern(PAGE_SIZE, 6);
    as.write(0, data);
    const pfn = as.findGetPage(0)!;
    mem.putPage(pfn);
    expect(as.deletePage(0)).toBe(true);
    expect(store.pages.get(0)).toEqual(data);
    expect(as.nrPages).toBe(0);
    expect(mem.pageField(pfn, P_MAPPING)).toBe(0);
    expect(mem.pageField(pfn, P_REFCOUNT)).toBe(0);
    expect(mem.testPageFlag(pfn, PG_lru)).toBe(false);
    expect(mem.testPageFlag(pfn, PG_pcp) || mem.testPageFlag(pfn, PG_buddy)).toBe(true);
    expect(mem.nodeState('nr_file_pages')).toBe(0);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    expect(as.deletePage(0)).toBe(false);
    // And it comes back from the store.
    expect(as.read(0, PAGE_SIZE)).toEqual(data);
    as.destroy();
  });

  it('a page held elsewhere outlives its deletion with its contents, and is freed with the last reference', () => {
    const mem = boot();
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    const data = pattern(PAGE_SIZE, 7);
    as.write(0, data);
    as.syncAll();
    const pfn = as.findGetPage(0)!; // nfsd handing the page to a socket, say
    expect(as.deletePage(0)).toBe(true);
    expect(as.nrPages).toBe(0);
    expect(mem.pageField(pfn, P_REFCOUNT)).toBe(1);
    expect(mem.pageField(pfn, P_MAPPING)).toBe(0);
    expect(mem.testPageFlag(pfn, PG_lru)).toBe(false);
    expect(mem.pageBytes(pfn)).toEqual(data);
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    // Not reused while held: fresh cache pages go elsewhere.
    as.write(0, pattern(PAGE_SIZE, 8));
    const q = as.findGetPage(0)!;
    expect(q).not.toBe(pfn);
    mem.putPage(q);
    expect(mem.pageBytes(pfn)).toEqual(data);
    mem.putPage(pfn);
    expect(mem.pageField(pfn, P_REFCOUNT)).toBe(0);
    expect(mem.testPageFlag(pfn, PG_pcp) || mem.testPageFlag(pfn, PG_buddy)).toBe(true);
    as.destroy();
  });

  it('truncate drops pages beyond, zeroes the partial page and discards dirty data', () => {
    const mem = boot();
    const store = new Store();
    const as = createAddressSpace(mem, store.opts());
    const data = pattern(5 * PAGE_SIZE, 9);
    as.write(0, data);
    expect(mem.nodeState('nr_dirty')).toBe(5);
    as.truncate(2 * PAGE_SIZE + 100);
    expect(as.size()).toBe(2 * PAGE_SIZE + 100);
    expect(as.nrPages).toBe(3);
    expect(mem.nodeState('nr_dirty')).toBe(3);
    expect(mem.nodeState('nr_file_pages')).toBe(3);
    expect(as.read(2 * PAGE_SIZE, PAGE_SIZE)).toEqual(
      data.subarray(2 * PAGE_SIZE, 2 * PAGE_SIZE + 100),
    );
    // Extending again shows zeros where the old data was.
    as.write(4 * PAGE_SIZE, new Uint8Array([1]));
    const back = as.read(2 * PAGE_SIZE, 2 * PAGE_SIZE + 1);
    expect(back.subarray(0, 100)).toEqual(data.subarray(2 * PAGE_SIZE, 2 * PAGE_SIZE + 100));
    expect(back.subarray(100, 2 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(back[2 * PAGE_SIZE]).toBe(1);
    expect(as.truncatePages(0)).toBe(5); // pages 0-2, the hole's page 3 that the read filled, 4
    expect(as.nrPages).toBe(0);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    expect(mem.nodeState('nr_file_pages')).toBe(0);
    expect(writePending(mem)).toBe(0);
    expect(store.writes).toEqual([]); // truncation never wrote anything
    as.destroy();
  });

  it('truncate unmaps mapped pages and reports those a VMA keeps', () => {
    const mem = boot();
    const as = createAddressSpace(mem, new Store().opts());
    as.write(0, pattern(2 * PAGE_SIZE, 10));
    const vma = new FakeVma(mem);
    as.iMmap.add(vma);
    for (const i of [0, 1]) {
      const p = as.faultPage(i);
      vma.map(i, p);
      mem.putPage(p);
    }
    vma.refuseUnmap = true;
    expect(() => as.truncatePages(0)).toThrow(/EBUSY|mapped/);
    expect(as.nrPages).toBe(2);
    vma.refuseUnmap = false;
    expect(as.truncatePages(1)).toBe(1);
    expect(vma.ptes.has(1)).toBe(false);
    expect(() => as.destroy()).toThrow(/still mapped/);
    vma.unmapPage(0, vma.ptes.get(0)!);
    as.iMmap.delete(vma);
    as.destroy();
    expect(mem.mappings.lookup(as.mappingWord)).toBeUndefined();
  });
});

describe('page cache: owner and file-mapping side', () => {
  it('addToPageCache takes its own reference and reads a page that is not uptodate', () => {
    const mem = boot();
    const store = new Store();
    store.pages.set(4, pattern(PAGE_SIZE, 11));
    const as = createAddressSpace(mem, store.opts({ size: () => 8 * PAGE_SIZE }));
    const pfn = mem.allocPage(GFP_KERNEL)!;
    as.addToPageCache(pfn, 4);
    expect(mem.pageField(pfn, P_REFCOUNT)).toBe(2);
    expect(mem.pageField(pfn, P_MAPPING)).toBe(as.mappingWord);
    expect(lruListPages(mem, 0, LRU_INACTIVE_FILE)).toContain(pfn);
    const other = mem.allocPage(GFP_KERNEL)!;
    expect(() => as.addToPageCache(other, 4)).toThrow(/EEXIST|already cached/);
    mem.putPage(other);
    expect(() => as.addToPageCache(pfn, 5)).toThrow(/not a free-standing page/);
    expect(mem.testPageFlag(pfn, PG_uptodate)).toBe(false);
    expect(as.read(4 * PAGE_SIZE, PAGE_SIZE)).toEqual(store.pages.get(4));
    expect(mem.testPageFlag(pfn, PG_uptodate)).toBe(true);
    expect(as.ownerRefs(pfn)).toBe(1);
    mem.putPage(pfn);
    as.destroy();
    expect(as.ownerRefs(pfn)).toBe(0);
  });

  it('faultPage reads in, refuses beyond the end, and pageMkwrite runs the hook around dirtying', () => {
    const mem = boot();
    const store = new Store();
    store.pages.set(0, pattern(PAGE_SIZE, 12));
    const calls: string[] = [];
    const as = createAddressSpace(mem, store.opts({ size: () => PAGE_SIZE + 10 }));
    const pfn = as.faultPage(0);
    expect(mem.pageBytes(pfn)).toEqual(store.pages.get(0));
    expect(mem.pageField(pfn, P_REFCOUNT)).toBe(2);
    expect(() => as.faultPage(2)).toThrow(/EFAULT|beyond end of file/);
    mem.putPage(as.faultPage(1));

    as.pageMkwrite(pfn, 0); // no hook: just dirties
    expect(mem.testPageFlag(pfn, PG_dirty)).toBe(true);
    as.clearPageDirty(pfn);
    as.setPageMkwrite((p, i, next) => {
      calls.push(`start ${i}`);
      try {
        next();
      } finally {
        calls.push(`end ${mem.testPageFlag(p, PG_dirty)}`);
      }
    });
    as.pageMkwrite(pfn, 0);
    expect(calls).toEqual(['start 0', 'end true']);
    as.clearPageDirty(pfn);
    as.setPageMkwrite(() => {
      throw new KernelError('EAGAIN', 'frozen');
    });
    expect(() => as.pageMkwrite(pfn, 0)).toThrow(/frozen/);
    expect(mem.testPageFlag(pfn, PG_dirty)).toBe(false);
    as.setPageMkwrite(null);
    as.syncAll();
    as.deletePage(0);
    expect(() => as.pageMkwrite(pfn, 0)).toThrow(/EAGAIN|left the page cache/);
    expect(as.setPageDirty(pfn)).toBe(false); // not ours any more
    mem.putPage(pfn);
    as.destroy();
  });

  it('writeback write-protects mapped pages, or unmaps them where a VMA cannot', () => {
    const mem = boot();
    const as = createAddressSpace(mem, new Store().opts());
    as.write(0, pattern(2 * PAGE_SIZE, 13));
    const plain = new FakeVma(mem);
    const wp: string[] = [];
    const smart = Object.assign(new FakeVma(mem), {
      wrprotectPage: (index: number, pfn: number) => {
        wp.push(`${index}:${pfn}`);
        return true;
      },
    });
    as.iMmap.add(plain);
    as.iMmap.add(smart);
    const p0 = as.faultPage(0);
    plain.map(0, p0);
    smart.map(0, p0);
    mem.putPage(p0);
    as.syncAll();
    expect(plain.ptes.has(0)).toBe(false); // unmapped: the next store faults
    expect(smart.ptes.get(0)).toBe(p0); // write-protected in place
    expect(wp).toEqual([`0:${p0}`]);
    expect(mem.pageField(p0, P_MAPCOUNT)).toBe(0);
    smart.unmapPage(0, p0);
    as.iMmap.clear();
    as.destroy();
  });

  it('migratePage moves the slot, flags, accounting and every mapping to the new page', () => {
    const mem = boot();
    const as = createAddressSpace(mem, new Store().opts());
    const data = pattern(PAGE_SIZE, 14);
    as.write(0, data);
    as.read(0, 1); // referenced twice: active
    const vma = new FakeVma(mem);
    as.iMmap.add(vma);
    const old = as.faultPage(0);
    vma.map(0, old);
    mem.putPage(old);
    expect(mem.testPageFlag(old, PG_active)).toBe(true);
    // What migrate.ts does: isolate, allocate, copy, ask the owner, put back.
    expect(isolateLruPage(mem, old)).toBe(true);
    expect(mem.nodeState('nr_isolated_file')).toBe(1);
    const nu = mem.allocPage(GFP_KERNEL)!;
    mem.pageBytes(nu).set(mem.pageBytes(old));
    expect(as.ownerRefs(old)).toBe(1);
    vma.refuseRemap = true;
    expect(as.migratePage(old, nu, 0)).toBe(false);
    expect(as.findGetPage(0)).toBe(old);
    mem.putPage(old);
    expect(mem.pageField(nu, P_MAPPING)).toBe(0);
    vma.refuseRemap = false;
    expect(as.migratePage(old, nu, 0)).toBe(true);
    expect(as.findGetPage(0)).toBe(nu);
    mem.putPage(nu);
    expect(vma.ptes.get(0)).toBe(nu);
    expect(mem.pageField(nu, P_MAPPING)).toBe(as.mappingWord);
    expect(mem.pageField(nu, P_INDEX)).toBe(0);
    expect(mem.testPageFlag(nu, PG_dirty)).toBe(true);
    expect(mem.testPageFlag(nu, PG_active)).toBe(true);
    expect(mem.pageField(old, P_MAPPING)).toBe(0);
    expect(mem.pageField(old, P_MAPCOUNT)).toBe(-1);
    expect(mem.nodeState('nr_dirty')).toBe(1);
    expect(mem.nodeState('nr_file_pages')).toBe(1);
    lruAddPage(mem, nu);
    mem.putPage(nu); // the migrator's allocation reference
    putbackLruPage(mem, old); // its isolation reference: the last
    expect(mem.pageField(old, P_REFCOUNT)).toBe(0);
    expect(mem.nodeState('nr_isolated_file')).toBe(0);
    expect(mem.nodeState('nr_active_file')).toBe(1);
    expect(as.read(0, PAGE_SIZE)).toEqual(data);
    vma.unmapPage(0, nu);
    as.iMmap.clear();
    as.destroy();
  });

  it('destroy frees every page and unregisters', () => {
    const mem = boot();
    mem.drainAllPages();
    const free = mem.nrFreePages();
    const as = createAddressSpace(mem, new Store().opts());
    as.write(0, pattern(20 * PAGE_SIZE, 15));
    as.writebackPages({ max: 10 });
    as.destroy();
    as.destroy(); // idempotent
    expect(mem.mappings.lookup(as.mappingWord)).toBeUndefined();
    expect(mem.nodeState('nr_file_pages')).toBe(0);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    expect(mem.nodeState('nr_inactive_file') + mem.nodeState('nr_active_file')).toBe(0);
    expect(() => as.write(0, new Uint8Array(1))).toThrow(/destroyed/);
    mem.drainAllPages();
    expect(mem.nrFreePages()).toBe(free);
  });
});
