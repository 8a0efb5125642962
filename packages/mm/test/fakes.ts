/**
 * Test fakes shared by several test files: a page-cache fake that stands in for a file's
 * address space, and a VMA that maps file pages by index for the rmap walks.
 */
import { KernelError } from '@kern/core';
import { GFP_HIGHUSER_MOVABLE } from '../src/gfp.js';
import { LRU_INACTIVE_FILE, P_INDEX, P_MAPCOUNT, P_MAPPING } from '../src/layout.js';
import type { FileBacking, MappingOps, RmapVma } from '../src/mapping.js';
import type { Memory } from '../src/memory.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { PG_dirty, PG_uptodate } from '../src/page-flags.js';
import { lruAdd, lruDel } from '../src/swap.js';

// ---------------------------------------------------------------- a page-cache fake

/**
 * Byte `i` of page `index` of fake file `file`: a pattern a test can predict. File 0's
 * pattern does not depend on `file`, so single-file tests can leave it out.
 */
export const fileByte = (index: number, i: number, file = 0): number =>
  (file * 101 + index * 31 + i * 7 + 3) & 0xff;

export interface FakeFile extends FileBacking, MappingOps {
  /** File page index → pfn of the cached page (the cache holds one reference). */
  cache: Map<number, number>;
  /** Every `pageMkwrite` call, in order. */
  mkwriteCalls: { pfn: number; index: number }[];
  /** Every pfn `setPageDirty` was called for, in order. */
  dirtied: number[];
  /** When set, `pageMkwrite` throws it (a frozen filesystem, say). */
  mkwriteError: Error | null;
  /** Drops page `index` from the cache, unmapping it everywhere (truncate). */
  truncatePage(index: number): void;
  /** Drops every page (after all mms are gone). */
  release(): void;
}

export interface FakeFileOptions {
  /** Which file this is: it selects the byte pattern (see {@link fileByte}). Default 0. */
  id?: number;
  /**
   * Whether `migratePage` moves the cache page and remaps every VMA of the file (default),
   * or refuses by returning false.
   */
  migratable?: boolean;
  /** Whether a cache miss counts `pgmajfault`, as `filemap_fault` does (default true). */
  countMajorFaults?: boolean;
}

/**
 * A file of `sizeBytes` whose pages are read in on first fault, filled with
 * `fileByte(index, i, id)`, and kept on the inactive file LRU; registered with
 * `mem.mappings`. Call `release()` once every mm that maps it is gone.
 */
export function createFakeFile(
  mem: Memory,
  sizeBytes: number,
  { id = 0, migratable = true, countMajorFaults = true }: FakeFileOptions = {},
): FakeFile {
  const cache = new Map<number, number>();
  const f: FakeFile = {
    anon: false,
    mappingWord: 0,
    iMmap: new Set<RmapVma>(),
    cache,
    mkwriteCalls: [],
    dirtied: [],
    mkwriteError: null,
    size: () => sizeBytes,
    ownerRefs: () => 1,
    migratePage(oldPfn, newPfn, index) {
      if (!migratable) return false;
      mem.setPageField(newPfn, P_MAPPING, f.mappingWord);
      mem.setPageField(newPfn, P_INDEX, index);
      mem.getPage(newPfn); // the cache's reference moves to the new page
      cache.set(index, newPfn);
      for (const v of f.iMmap) v.remapPage(index, oldPfn, newPfn);
      mem.putPage(oldPfn);
      return true;
    },
    faultPage(index) {
      if (index * PAGE_SIZE >= sizeBytes) throw new KernelError('EFAULT', `page ${index} past EOF`);
      let pfn = cache.get(index);
      if (pfn === undefined) {
        const p = mem.allocPages(GFP_HIGHUSER_MOVABLE, 0);
        if (p === null) throw new KernelError('ENOMEM', 'no page for the cache');
        pfn = p;
        const b = mem.pageBytes(pfn);
        for (let i = 0; i < PAGE_SIZE; i++) b[i] = fileByte(index, i, id);
        mem.setPageField(pfn, P_MAPPING, f.mappingWord);
        mem.setPageField(pfn, P_INDEX, index);
        mem.setPageFlag(pfn, PG_uptodate);
        lruAdd(mem, pfn, LRU_INACTIVE_FILE);
        cache.set(index, pfn);
        if (countMajorFaults) mem.countEvent('pgmajfault');
      }
      mem.getPage(pfn);
      return pfn;
    },
    pageMkwrite(pfn, index) {
      if (f.mkwriteError) throw f.mkwriteError;
      f.mkwriteCalls.push({ pfn, index });
    },
    setPageDirty(pfn) {
      mem.setPageFlag(pfn, PG_dirty);
      f.dirtied.push(pfn);
    },
    truncatePage(index) {
      const pfn = cache.get(index);
      if (pfn === undefined) return;
      for (const v of [...f.iMmap]) v.unmapPage(index, pfn);
      cache.delete(index);
      lruDel(mem, pfn);
      mem.clearPageFlag(pfn, PG_dirty);
      mem.clearPageFlag(pfn, PG_uptodate);
      mem.setPageField(pfn, P_MAPPING, 0);
      mem.putPage(pfn);
    },
    release() {
      for (const index of [...cache.keys()]) f.truncatePage(index);
      mem.mappings.unregister(f.mappingWord);
    },
  };
  (f as { mappingWord: number }).mappingWord = mem.mappings.register(f);
  return f;
}

// ---------------------------------------------------------------- a VMA fake

export interface FakeVmaOptions {
  /** Start with `refuseRemap` set, so `remapPage` maps nothing (default false). */
  refuseRemap?: boolean;
}

/** A VMA that maps pages of one file by index, holding a reference and a mapcount per entry. */
export class FakeVma implements RmapVma {
  /** File page index → pfn mapped there. */
  readonly ptes = new Map<number, number>();
  /** When set, `unmapPage` leaves the entry in place and returns 0. */
  refuseUnmap = false;
  /** When set, `remapPage` leaves the entry in place and returns 0. */
  refuseRemap: boolean;
  constructor(
    private readonly mem: Memory,
    { refuseRemap = false }: FakeVmaOptions = {},
  ) {
    this.refuseRemap = refuseRemap;
  }
  map(index: number, pfn: number): void {
    this.mem.getPage(pfn);
    this.mem.setPageField(pfn, P_MAPCOUNT, this.mem.pageField(pfn, P_MAPCOUNT) + 1);
    this.ptes.set(index, pfn);
  }
  remapPage(index: number, oldPfn: number, newPfn: number): number {
    if (this.refuseRemap || this.ptes.get(index) !== oldPfn) return 0;
    this.mem.getPage(newPfn);
    this.mem.setPageField(newPfn, P_MAPCOUNT, this.mem.pageField(newPfn, P_MAPCOUNT) + 1);
    this.mem.setPageField(oldPfn, P_MAPCOUNT, this.mem.pageField(oldPfn, P_MAPCOUNT) - 1);
    this.mem.putPage(oldPfn);
    this.ptes.set(index, newPfn);
    return 1;
  }
  unmapPage(index: number, pfn: number): number {
    if (this.refuseUnmap || this.ptes.get(index) !== pfn) return 0;
    this.ptes.delete(index);
    this.mem.setPageField(pfn, P_MAPCOUNT, this.mem.pageField(pfn, P_MAPCOUNT) - 1);
    this.mem.putPage(pfn);
    return 1;
  }
}
