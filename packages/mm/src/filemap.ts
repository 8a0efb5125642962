/**
 * The page cache: one `AddressSpace` per file, mapping page indices to physical pages
 * that hold the file's bytes, with dirty and writeback tags, dirty accounting,
 * writeback through the filesystem's `writePage`, reads through its `readPage`, and the
 * owner side of reverse mapping (migration, reclaim) and of file mappings (faults).
 *
 * Where things live: the pages and their struct pages (flags, refcount, P_MAPPING =
 * this space's registry word, P_INDEX = the page index) are in shared memory; the index
 * → PFN table (Linux's `i_pages` xarray) and the tags are a Map and Sets in this
 * thread, as `mem.mappings` is. An AddressSpace is used from one thread.
 *
 * References (mapping.ts): the cache holds one reference to each of its pages; each
 * page-table entry holds one more; a caller of {@link AddressSpace.findGetPage} holds
 * one until it calls `putPage`. A page leaving the cache (delete, truncate, reclaim)
 * is taken off its LRU list, its P_MAPPING cleared and the cache's reference dropped,
 * so whoever holds the last reference frees it with a plain `putPage`.
 *
 * A cached page's states (flags), as `include/linux/page-flags.h` describes them:
 * - !PG_uptodate: allocated, contents not yet read (only if added by addToPageCache);
 * - clean: PG_uptodate, contents equal the backing store (reclaimable when unmapped);
 * - dirty: PG_dirty, tagged DIRTY, counted in nr_dirty and NR_ZONE_WRITE_PENDING;
 * - writeback: PG_writeback, tagged WRITEBACK, counted in nr_writeback (and
 *   NR_ZONE_WRITE_PENDING) while `writePage` runs; it ends clean, or dirty again if
 *   `writePage` failed.
 *
 * @see include/linux/pagemap.h, mm/filemap.c, mm/page-writeback.c, mm/truncate.c
 */

import { KernelError, isKernelError } from '@kern/core';
import { GFP_HIGHUSER_MOVABLE } from './gfp.js';
import {
  LRU_INACTIVE_FILE,
  NR_ZONE_WRITE_PENDING,
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_REFCOUNT,
  Z_VMSTAT,
  zoneBase,
} from './layout.js';
import type { FileBacking, MappingOps, RmapVma } from './mapping.js';
import type { Memory } from './memory.js';
import { PAGE_SIZE } from './mmzone.js';
import {
  NODES_PGSHIFT,
  PG_active,
  PG_dirty,
  PG_locked,
  PG_lru,
  PG_reclaim,
  PG_referenced,
  PG_unevictable,
  PG_uptodate,
  PG_writeback,
  ZONES_PGSHIFT,
  formatPageFlags,
} from './page-flags.js';
import {
  lruAdd,
  lruDel,
  markPageAccessed,
  pageWordArray,
  pageWordIndex,
  rotateReclaimable,
} from './swap.js';
import { checkMemory } from './internal/value.js';

/** Tag of dirty pages. @see include/linux/fs.h: PAGECACHE_TAG_DIRTY */
export const PAGECACHE_TAG_DIRTY = 0;
/** Tag of pages under writeback. @see include/linux/fs.h: PAGECACHE_TAG_WRITEBACK */
export const PAGECACHE_TAG_WRITEBACK = 1;
/** A page-cache tag (an xarray mark of `i_pages`). @see include/linux/xarray.h: xa_mark_t */
export type PagecacheTag = typeof PAGECACHE_TAG_DIRTY | typeof PAGECACHE_TAG_WRITEBACK;

/** Largest page index (P_INDEX is a 32-bit word). */
const MAX_INDEX = 2 ** 31 - 1;
/** 512-byte sectors per page: pgpgin/pgpgout are counted in sectors. */
const SECTORS_PER_PAGE = PAGE_SIZE / 512;

const DIRTY = 1 << PG_dirty;
const WRITEBACK = 1 << PG_writeback;
const LOCKED = 1 << PG_locked;
const UPTODATE = 1 << PG_uptodate;

/**
 * Fills a new page with the file's bytes at `index` (`read_folio`). The page arrives
 * zeroed; a short read leaves zeros. May throw (KernelError EIO): the page is dropped
 * and the error passed on.
 * @see include/linux/fs.h: address_space_operations.read_folio
 */
export type ReadPageFn = (index: number, bytes: Uint8Array) => void;

/**
 * Writes a page's bytes to the backing store (`writepage`); `bytes` is a view of the
 * page, valid only during the call. May throw (KernelError EIO): the page stays dirty.
 * @see include/linux/fs.h: address_space_operations.writepage
 */
export type WritePageFn = (index: number, bytes: Uint8Array) => void;

/**
 * The filesystem's `page_mkwrite`: called before a page of a shared mapping becomes
 * writable. It must call `next()` — which checks the page is still in the file (EAGAIN
 * if not) and marks it dirty — or throw; it may wrap `next` (fsfreeze:
 * `sbStartPagefault(); try { next(); } finally { sbEndPagefault(); }`).
 * @see mm/filemap.c: filemap_page_mkwrite
 */
export type PageMkwriteFn = (pfn: number, index: number, next: () => void) => void;

/** How to make an AddressSpace. @see include/linux/fs.h: struct address_space_operations */
export interface AddressSpaceOptions {
  /** Reads a page in; without it new pages are zero-filled (a file with no backing store, as ramfs). */
  readPage?: ReadPageFn;
  /** Writes a page back; without it dirty pages stay dirty and are never reclaimed (ramfs). */
  writePage?: WritePageFn;
  /** File size in bytes (the inode's `i_size`); without it the space keeps its own, extended by `write` and set by `truncate`. */
  size?: () => number;
  /** The filesystem's `page_mkwrite` hook (also settable later with `setPageMkwrite`). */
  pageMkwrite?: PageMkwriteFn;
  /** GFP mask for page-cache pages (`mapping_gfp_mask`); default GFP_HIGHUSER_MOVABLE. */
  gfp?: number;
}

/** What `writebackPages` should write. @see include/linux/writeback.h: struct writeback_control */
export interface WritebackControl {
  /** At most this many pages (`nr_to_write`); default all. */
  max?: number;
  /** First index to look at (`range_start`); default 0. */
  from?: number;
}

/**
 * A VMA that can write-protect a page instead of unmapping it (`page_mkclean_one`, as
 * mmap.ts's VMA does): writeback calls `wrprotectPage` where a VMA has it, else unmaps
 * the page, so that the next store through the mapping faults and calls `pageMkwrite`.
 */
export interface RmapVmaWrprotect extends RmapVma {
  /** Write-protects and cleans the entry mapping `pfn` at `index`, if any; returns whether it was writable or dirty. */
  wrprotectPage(index: number, pfn: number): boolean;
}

/**
 * One file's page cache (`struct address_space`), its owner registration in
 * `mem.mappings` ({@link MappingOps}) and what file mappings use ({@link FileBacking}).
 */
export interface AddressSpace extends MappingOps, FileBacking {
  readonly anon: false;
  /** Pages in the cache (`nrpages`). */
  readonly nrPages: number;
  /** First writeback error reclaim hit since the last `syncAll` (`AS_EIO`), or null. */
  readonly wbError: KernelError | null;
  /**
   * The page at `index` with a reference taken for the caller, or null
   * (`filemap_get_folio`). The caller must `putPage` it.
   * @see mm/filemap.c: filemap_get_entry
   */
  findGetPage(index: number): number | null;
  /**
   * The page at `index` with a reference for the caller, reading it in through
   * `readPage` into a new page when absent or not uptodate (`find_or_create_page` +
   * `filemap_read_folio`). A new page goes to the inactive file LRU. Returns null when
   * no page could be allocated.
   * @throws KernelError EIO (or whatever `readPage` threw), EINVAL for a bad index.
   * @see mm/filemap.c: __filemap_get_folio (FGP_CREAT), filemap_add_folio
   */
  findOrCreatePage(index: number, gfp?: number): number | null;
  /**
   * Inserts a page the caller owns at `index` (`add_to_page_cache_lru`): the cache takes
   * its own reference, sets P_MAPPING/P_INDEX and puts it on the inactive file LRU.
   * The caller keeps (and later puts) its reference and sets PG_uptodate if it filled
   * the page; a page that is not uptodate is read through `readPage` on first use.
   * @throws KernelError EEXIST if the index is taken; EINVAL for a free page, one that
   *   has an owner or is on an LRU list.
   * @see mm/filemap.c: filemap_add_folio, __filemap_add_folio
   */
  addToPageCache(pfn: number, index: number): void;
  /**
   * Removes the page at `index` (`delete_from_page_cache`): a dirty page is written back
   * first, a mapped one unmapped from every VMA in `iMmap`; then it leaves the LRU, its
   * P_MAPPING is cleared and the cache's reference dropped. The page is freed now unless
   * someone else holds a reference, and then when the last one is put. Returns false if
   * no page is cached there.
   * @throws KernelError EBUSY for a dirty page with no `writePage`, a page locked or under
   *   writeback, or one a VMA would not unmap; EIO if writing it back failed (it stays).
   * @see mm/filemap.c: delete_from_page_cache, filemap_remove_folio
   */
  deletePage(index: number): boolean;
  /**
   * Removes every page at `fromIndex` or beyond, discarding dirty data
   * (`truncate_inode_pages_range`: pages are unmapped, dirty state cancelled). Returns
   * pages removed.
   * @throws KernelError EBUSY, after removing what it can, if pages were locked, under
   *   writeback, or still mapped.
   * @see mm/truncate.c: truncate_inode_pages_range
   */
  truncatePages(fromIndex: number): number;
  /**
   * Truncates the file's cache to `size` bytes (`truncate_pagecache` after
   * `truncate_setsize`): zeroes the tail of the last partial page if it is cached and
   * dirties it (as `block_truncate_page`, so the zeros reach the backing store), and
   * removes the pages beyond. Sets the size when the space keeps its own. The
   * filesystem frees its own blocks beyond `size` (and zeroes the partial block's tail
   * when that page is not cached).
   * @throws KernelError EINVAL for a bad size; EBUSY as {@link truncatePages}.
   * @see mm/truncate.c: truncate_pagecache, truncate_inode_partial_folio
   */
  truncate(size: number): void;
  /**
   * Reads up to `len` bytes at `pos` through the cache, stopping at the file size
   * (`filemap_read`); pages are read in as needed and marked accessed.
   * @throws KernelError ENOMEM, EIO, EINVAL for a bad range.
   * @see mm/filemap.c: filemap_read
   */
  read(pos: number, len: number): Uint8Array;
  /**
   * Writes `data` at `pos` through the cache (`generic_perform_write`): a partly
   * overwritten page inside the file is read first, a page beyond it zero-filled; pages
   * are dirtied and marked accessed. Extends the size when the space keeps its own.
   * Returns bytes written.
   * @throws KernelError ENOMEM, EIO, EINVAL for a bad position, EFBIG beyond the largest index.
   * @see mm/filemap.c: generic_perform_write
   */
  write(pos: number, data: Uint8Array): number;
  /**
   * Marks a cached page dirty (`filemap_dirty_folio`): PG_dirty, the DIRTY tag, nr_dirty
   * and NR_ZONE_WRITE_PENDING. Returns true if it was clean. A page no longer in this
   * cache is left alone.
   * @see mm/page-writeback.c: filemap_dirty_folio, folio_account_dirtied
   */
  setPageDirty(pfn: number): boolean;
  /**
   * Cleans a cached page without writing it (`folio_cancel_dirty`), undoing the dirty
   * accounting. Returns true if it was dirty. The data is not written back.
   * @see mm/page-writeback.c: folio_account_cleaned
   */
  clearPageDirty(pfn: number): boolean;
  /**
   * Lets go of a clean page for reclaim (`__remove_mapping` after `try_to_unmap`). The
   * caller holds one reference of its own (its isolation reference): the page is first
   * unmapped from every VMA in `iMmap`, then removed only if the cache and the caller
   * hold the only references, so the caller's is the last on success. Returns false,
   * changing nothing but the unmapping, for a dirty, locked or writeback page, one not
   * at `index`, or one with other references.
   * @see mm/vmscan.c: __remove_mapping, mm/rmap.c: try_to_unmap
   */
  releasePage(pfn: number, index: number): boolean;
  /** Whether the page at `index` carries `tag`. @see include/linux/xarray.h: xa_get_mark */
  tagged(index: number, tag: PagecacheTag): boolean;
  /**
   * Pages carrying `tag` at `from` or beyond, in index order, at most `max`, each with a
   * reference for the caller (`find_get_pages_range_tag`).
   * @see mm/filemap.c: filemap_get_folios_tag
   */
  findGetPagesTag(tag: PagecacheTag, from: number, max: number): number[];
  /**
   * Writes dirty pages back in index order (`write_cache_pages`): each one is
   * write-protected in its mappings, cleaned, marked writeback, passed to `writePage`,
   * and ends writeback (a page reclaim asked for, PG_reclaim, goes to the tail of the
   * inactive list). Returns pages written; with no `writePage`, 0.
   * @throws KernelError EIO (the first error; the pages that failed stay dirty, the
   *   others are still written).
   * @see mm/page-writeback.c: write_cache_pages, folio_clear_dirty_for_io, folio_end_writeback
   */
  writebackPages(wbc?: WritebackControl): number;
  /**
   * Writes one dirty page back for reclaim (`pageout`). Returns true if the page is now
   * clean; an error is kept in `wbError` for the next `syncAll` and the page stays dirty.
   * @see mm/vmscan.c: pageout
   */
  writepage(pfn: number): boolean;
  /**
   * Writes every dirty page back and reports the first writeback error since the last
   * call, including ones reclaim hit (`filemap_write_and_wait` + `filemap_check_errors`).
   * Returns pages written.
   * @throws KernelError EIO.
   * @see mm/filemap.c: filemap_write_and_wait_range, file_check_and_advance_wb_err
   */
  syncAll(): number;
  /** Sets (or with null removes) the filesystem's `page_mkwrite` hook. */
  setPageMkwrite(fn: PageMkwriteFn | null): void;
  /**
   * Releases the file's cache (`truncate_inode_pages_final` when the inode is evicted):
   * drops every page, dirty ones included, and unregisters from `mem.mappings`.
   * @throws KernelError EBUSY if VMAs still map the file or pages could not be removed.
   * @see mm/truncate.c: truncate_inode_pages_final
   */
  destroy(): void;
}

/**
 * Creates a file's page cache and registers it in `mem.mappings`.
 * @see include/linux/fs.h: struct address_space, fs/inode.c: inode_init_always (mapping setup)
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function createAddressSpace(mem: Memory, opts: AddressSpaceOptions = {}): AddressSpace {
  checkMemory(mem, 'createAddressSpace');
  return new AddressSpaceImpl(mem, opts);
}

/** Whether a page owner is a page cache made by {@link createAddressSpace}. @see include/linux/pagemap.h: folio_mapping */
export function isAddressSpace(ops: MappingOps | undefined): ops is AddressSpace {
  return ops instanceof AddressSpaceImpl;
}

function checkIndex(index: number): void {
  if (!(Number.isInteger(index) && index >= 0 && index <= MAX_INDEX))
    throw new KernelError('EINVAL', `page index ${index} is not an integer in 0..${MAX_INDEX}`);
}

function asEio(e: unknown, what: string): KernelError {
  if (isKernelError(e)) return e;
  return new KernelError('EIO', `${what}: ${e instanceof Error ? e.message : String(e)}`);
}

class AddressSpaceImpl implements AddressSpace {
  readonly anon = false as const;
  readonly mappingWord: number;
  readonly iMmap = new Set<RmapVma>();
  wbError: KernelError | null = null;
  /** index → PFN (`i_pages`). */
  private readonly pages = new Map<number, number>();
  /** Indices carrying each tag (xarray marks). */
  private readonly tags: readonly [Set<number>, Set<number>] = [new Set(), new Set()];
  private readonly readPage: ReadPageFn | undefined;
  private readonly writePageFn: WritePageFn | undefined;
  private readonly sizeFn: (() => number) | undefined;
  private mkwrite: PageMkwriteFn | null;
  private readonly gfp: number;
  /** The size when the space keeps its own. */
  private iSize = 0;
  private dead = false;

  constructor(
    private readonly mem: Memory,
    opts: AddressSpaceOptions,
  ) {
    this.readPage = opts.readPage;
    this.writePageFn = opts.writePage;
    this.sizeFn = opts.size;
    this.mkwrite = opts.pageMkwrite ?? null;
    this.gfp = opts.gfp ?? GFP_HIGHUSER_MOVABLE;
    this.mappingWord = mem.mappings.register(this);
  }

  get nrPages(): number {
    return this.pages.size;
  }

  size(): number {
    return this.sizeFn ? this.sizeFn() : this.iSize;
  }

  private alive(what: string): void {
    if (this.dead)
      throw new KernelError(
        'EINVAL',
        `${what} on a destroyed address space (mapping ${this.mappingWord})`,
      );
  }

  // ------------------------------------------------------------ accounting

  /** Adds to a node counter of the page's node. */
  private nodeStat(
    f: number,
    item: 'nr_file_pages' | 'nr_dirty' | 'nr_writeback',
    d: number,
  ): void {
    this.mem.modNodeState(f >>> NODES_PGSHIFT, item, d);
  }

  /** Adds to the page's zone NR_ZONE_WRITE_PENDING. */
  private writePending(f: number, d: number): void {
    const nid = f >>> NODES_PGSHIFT;
    Atomics.add(
      this.mem.nodeArr[nid]!,
      this.mem.nodeBase[nid]! +
        zoneBase((f >>> ZONES_PGSHIFT) & 3) +
        Z_VMSTAT +
        NR_ZONE_WRITE_PENDING,
      d,
    );
  }

  // ------------------------------------------------------------ lookup and insertion

  findGetPage(index: number): number | null {
    const pfn = this.pages.get(index);
    if (pfn === undefined) return null;
    this.mem.getPage(pfn);
    return pfn;
  }

  private insert(pfn: number, index: number): void {
    const mem = this.mem;
    mem.getPage(pfn);
    const a = pageWordArray(mem, pfn);
    const i = pageWordIndex(mem, pfn);
    a[i + P_MAPPING] = this.mappingWord;
    a[i + P_INDEX] = index;
    this.pages.set(index, pfn);
    this.nodeStat(a[i + P_FLAGS]!, 'nr_file_pages', 1);
    lruAdd(mem, pfn, LRU_INACTIVE_FILE);
  }

  addToPageCache(pfn: number, index: number): void {
    this.alive('add_to_page_cache');
    checkIndex(index);
    const a = pageWordArray(this.mem, pfn);
    const i = pageWordIndex(this.mem, pfn);
    const f = a[i + P_FLAGS]!;
    if (a[i + P_REFCOUNT]! <= 0 || a[i + P_MAPPING] !== 0 || f & (1 << PG_lru))
      throw new KernelError(
        'EINVAL',
        `add_to_page_cache of pfn 0x${pfn.toString(16)} (refcount ${a[i + P_REFCOUNT]} mapping ${a[i + P_MAPPING]} flags ${formatPageFlags(f)}): not a free-standing page`,
      );
    if (this.pages.has(index))
      throw new KernelError(
        'EEXIST',
        `page index ${index} is already cached (mapping ${this.mappingWord})`,
      );
    this.insert(pfn, index);
  }

  /** Reads the file's bytes at `index` into `pfn`, zeroing first; counts pgpgin. */
  private fill(pfn: number, index: number, read: boolean): void {
    const bytes = this.mem.pageBytes(pfn);
    bytes.fill(0);
    if (read && this.readPage) {
      this.readPage(index, bytes);
      this.mem.countEvent('pgpgin', SECTORS_PER_PAGE);
    }
    this.mem.setPageFlag(pfn, PG_uptodate);
  }

  /**
   * The page at `index`, uptodate, with a reference for the caller; created if absent,
   * read in when `read` (else zero-filled). Null when no page could be allocated.
   */
  private grab(index: number, gfp: number, read: boolean): number | null {
    const have = this.findGetPage(index);
    if (have !== null) {
      if (!this.mem.testPageFlag(have, PG_uptodate)) {
        try {
          this.fill(have, index, read);
        } catch (e) {
          this.mem.putPage(have);
          throw asEio(e, `reading page ${index}`);
        }
      }
      return have;
    }
    const pfn = this.mem.allocPages(gfp, 0);
    if (pfn === null) return null;
    try {
      this.fill(pfn, index, read);
    } catch (e) {
      this.mem.putPage(pfn);
      throw asEio(e, `reading page ${index}`);
    }
    // readPage may have come back into this cache and filled the slot itself.
    if (this.pages.has(index)) {
      this.mem.putPage(pfn);
      return this.findGetPage(index);
    }
    this.insert(pfn, index);
    return pfn;
  }

  findOrCreatePage(index: number, gfp: number = this.gfp): number | null {
    this.alive('find_or_create_page');
    checkIndex(index);
    return this.grab(index, gfp, true);
  }

  // ------------------------------------------------------------ dirty and writeback

  setPageDirty(pfn: number): boolean {
    const a = pageWordArray(this.mem, pfn);
    const i = pageWordIndex(this.mem, pfn);
    if (a[i + P_MAPPING] !== this.mappingWord) return false;
    const old = Atomics.or(a, i + P_FLAGS, DIRTY);
    if (old & DIRTY) return false;
    this.nodeStat(old, 'nr_dirty', 1);
    this.writePending(old, 1);
    this.tags[PAGECACHE_TAG_DIRTY].add(a[i + P_INDEX]!);
    return true;
  }

  clearPageDirty(pfn: number): boolean {
    const a = pageWordArray(this.mem, pfn);
    const i = pageWordIndex(this.mem, pfn);
    if (a[i + P_MAPPING] !== this.mappingWord) return false;
    const old = Atomics.and(a, i + P_FLAGS, ~DIRTY);
    if (!(old & DIRTY)) return false;
    this.nodeStat(old, 'nr_dirty', -1);
    this.writePending(old, -1);
    this.tags[PAGECACHE_TAG_DIRTY].delete(a[i + P_INDEX]!);
    return true;
  }

  tagged(index: number, tag: PagecacheTag): boolean {
    return this.tags[tag].has(index);
  }

  findGetPagesTag(tag: PagecacheTag, from: number, max: number): number[] {
    const idx = this.taggedIndices(tag, from, max);
    const out: number[] = [];
    for (const index of idx) {
      const pfn = this.findGetPage(index);
      if (pfn !== null) out.push(pfn);
    }
    return out;
  }

  private taggedIndices(tag: PagecacheTag, from: number, max: number): number[] {
    const idx: number[] = [];
    for (const index of this.tags[tag]) if (index >= from) idx.push(index);
    idx.sort((x, y) => x - y);
    if (idx.length > max) idx.length = Math.max(0, max);
    return idx;
  }

  /**
   * Write-protects a page in every VMA that maps it (`folio_mkclean`), or unmaps it
   * where a VMA cannot write-protect, so the next store faults into `pageMkwrite`.
   */
  private mkclean(index: number, pfn: number): void {
    if (this.mem.pageField(pfn, P_MAPCOUNT) < 0) return;
    for (const vma of this.iMmap) {
      if ('wrprotectPage' in vma && typeof vma.wrprotectPage === 'function')
        (vma as RmapVmaWrprotect).wrprotectPage(index, pfn);
      else vma.unmapPage(index, pfn);
    }
  }

  /**
   * Writes one dirty page: mkclean, clear dirty, writeback on, `writePage`, writeback
   * off (`__writepage` between `folio_clear_dirty_for_io` and `folio_end_writeback`).
   * Throws what `writePage` threw, with the page dirty again.
   */
  private writeOne(index: number, pfn: number, write: WritePageFn): void {
    const mem = this.mem;
    this.mkclean(index, pfn);
    this.clearPageDirty(pfn);
    const a = pageWordArray(mem, pfn);
    const i = pageWordIndex(mem, pfn);
    const f = Atomics.or(a, i + P_FLAGS, WRITEBACK);
    this.tags[PAGECACHE_TAG_WRITEBACK].add(index);
    this.nodeStat(f, 'nr_writeback', 1);
    this.writePending(f, 1);
    mem.getPage(pfn); // held across the I/O: a truncate from inside writePage cannot free it
    let error: KernelError | null = null;
    try {
      write(index, mem.pageBytes(pfn));
      mem.countEvent('pgpgout', SECTORS_PER_PAGE);
    } catch (e) {
      error = asEio(e, `writing page ${index}`);
    }
    // folio_end_writeback
    Atomics.and(a, i + P_FLAGS, ~WRITEBACK);
    this.tags[PAGECACHE_TAG_WRITEBACK].delete(index);
    this.nodeStat(f, 'nr_writeback', -1);
    this.writePending(f, -1);
    if (error) this.setPageDirty(pfn);
    else if (Atomics.and(a, i + P_FLAGS, ~(1 << PG_reclaim)) & (1 << PG_reclaim))
      rotateReclaimable(mem, pfn);
    mem.putPage(pfn);
    if (error) throw error;
  }

  writebackPages(wbc: WritebackControl = {}): number {
    const write = this.writePageFn;
    if (!write) return 0;
    const max = wbc.max ?? Infinity;
    let written = 0;
    let first: KernelError | null = null;
    for (const index of this.taggedIndices(PAGECACHE_TAG_DIRTY, wbc.from ?? 0, Infinity)) {
      if (written >= max) break;
      const pfn = this.pages.get(index);
      if (pfn === undefined) continue;
      const f = this.mem.pageField(pfn, P_FLAGS);
      if (!(f & DIRTY) || f & (WRITEBACK | LOCKED)) continue;
      try {
        this.writeOne(index, pfn, write);
        written++;
      } catch (e) {
        first ??= asEio(e, `writing page ${index}`);
      }
    }
    if (first) throw first;
    return written;
  }

  writepage(pfn: number): boolean {
    const write = this.writePageFn;
    if (!write) return false;
    const a = pageWordArray(this.mem, pfn);
    const i = pageWordIndex(this.mem, pfn);
    const index = a[i + P_INDEX]!;
    if (a[i + P_MAPPING] !== this.mappingWord || this.pages.get(index) !== pfn) return false;
    if (a[i + P_FLAGS]! & (WRITEBACK | LOCKED)) return false;
    if (a[i + P_FLAGS]! & DIRTY) {
      try {
        this.writeOne(index, pfn, write);
      } catch (e) {
        this.wbError ??= asEio(e, `writing page ${index}`);
        return false;
      }
    }
    return !(a[i + P_FLAGS]! & (DIRTY | WRITEBACK));
  }

  syncAll(): number {
    let n = 0;
    let error: KernelError | null = null;
    try {
      n = this.writebackPages();
    } catch (e) {
      error = asEio(e, 'sync');
    }
    error ??= this.wbError;
    this.wbError = null;
    if (error) throw error;
    return n;
  }

  // ------------------------------------------------------------ removal

  /**
   * Takes a page out of the cache (`__filemap_remove_folio` + `page_cache_delete`):
   * index, tags, dirty accounting, LRU, P_MAPPING, nr_file_pages; then drops the cache's
   * reference (`filemap_free_folio`). The page must be unmapped and not under writeback.
   */
  private remove(index: number, pfn: number): void {
    const mem = this.mem;
    this.clearPageDirty(pfn);
    this.pages.delete(index);
    this.tags[PAGECACHE_TAG_DIRTY].delete(index);
    this.tags[PAGECACHE_TAG_WRITEBACK].delete(index);
    lruDel(mem, pfn);
    const a = pageWordArray(mem, pfn);
    const i = pageWordIndex(mem, pfn);
    Atomics.and(
      a,
      i + P_FLAGS,
      ~((1 << PG_active) | (1 << PG_referenced) | (1 << PG_unevictable) | (1 << PG_reclaim)),
    );
    a[i + P_MAPPING] = 0;
    this.nodeStat(a[i + P_FLAGS]!, 'nr_file_pages', -1);
    mem.putPage(pfn);
  }

  /** Unmaps a page from every VMA mapping the file; true if it ends unmapped. */
  private unmapAll(index: number, pfn: number): boolean {
    if (this.mem.pageField(pfn, P_MAPCOUNT) < 0) return true;
    for (const vma of this.iMmap) {
      vma.unmapPage(index, pfn);
      if (this.mem.pageField(pfn, P_MAPCOUNT) < 0) return true;
    }
    return this.mem.pageField(pfn, P_MAPCOUNT) < 0;
  }

  deletePage(index: number): boolean {
    checkIndex(index);
    const pfn = this.pages.get(index);
    if (pfn === undefined) return false;
    const busy = (why: string): KernelError =>
      new KernelError(
        'EBUSY',
        `delete_from_page_cache of index ${index} (pfn 0x${pfn.toString(16)}): ${why}`,
      );
    let f = this.mem.pageField(pfn, P_FLAGS);
    if (f & (WRITEBACK | LOCKED))
      throw busy(f & LOCKED ? 'page is locked' : 'page is under writeback');
    if (f & DIRTY) {
      const write = this.writePageFn;
      if (!write) throw busy('page is dirty and the file has no writePage');
      this.writeOne(index, pfn, write);
      if (this.pages.get(index) !== pfn) return true; // writePage removed it itself
      f = this.mem.pageField(pfn, P_FLAGS);
      if (f & DIRTY) throw busy('page was dirtied again during writeback');
    }
    if (!this.unmapAll(index, pfn)) throw busy('a VMA still maps the page');
    this.remove(index, pfn);
    return true;
  }

  truncatePages(fromIndex: number): number {
    if (!(Number.isInteger(fromIndex) && fromIndex >= 0))
      throw new KernelError(
        'EINVAL',
        `truncate from page index ${fromIndex}: not a non-negative integer`,
      );
    const idx: number[] = [];
    for (const index of this.pages.keys()) if (index >= fromIndex) idx.push(index);
    idx.sort((x, y) => x - y);
    let removed = 0;
    const busy: string[] = [];
    for (const index of idx) {
      const pfn = this.pages.get(index);
      if (pfn === undefined) continue;
      const f = this.mem.pageField(pfn, P_FLAGS);
      if (f & (WRITEBACK | LOCKED)) {
        busy.push(`${index} (${f & LOCKED ? 'locked' : 'writeback'})`);
        continue;
      }
      if (!this.unmapAll(index, pfn)) {
        busy.push(`${index} (mapped)`);
        continue;
      }
      this.remove(index, pfn);
      removed++;
    }
    if (busy.length)
      throw new KernelError(
        'EBUSY',
        `truncate from page index ${fromIndex} left ${busy.length} page(s): ${busy.slice(0, 8).join(', ')}`,
      );
    return removed;
  }

  truncate(size: number): void {
    this.alive('truncate');
    if (!(Number.isSafeInteger(size) && size >= 0))
      throw new KernelError('EINVAL', `truncate to ${size} bytes: not a non-negative integer`);
    if (!this.sizeFn) this.iSize = size;
    const partial = size & (PAGE_SIZE - 1);
    const first = Math.ceil(size / PAGE_SIZE);
    if (partial) {
      // As block_truncate_page: zero the tail in the cache and let writeback carry the
      // zeros to the backing store.
      const pfn = this.pages.get(first - 1);
      if (pfn !== undefined && !(this.mem.pageField(pfn, P_FLAGS) & WRITEBACK)) {
        this.mem.pageBytes(pfn).fill(0, partial);
        this.setPageDirty(pfn);
      }
    }
    this.truncatePages(first);
  }

  // ------------------------------------------------------------ byte I/O

  read(pos: number, len: number): Uint8Array {
    this.alive('read');
    if (!(Number.isSafeInteger(pos) && pos >= 0 && Number.isSafeInteger(len) && len >= 0))
      throw new KernelError('EINVAL', `read of ${len} bytes at ${pos}: not non-negative integers`);
    const end = Math.min(pos + len, this.size());
    if (end <= pos) return new Uint8Array(0);
    const out = new Uint8Array(end - pos);
    let at = pos;
    while (at < end) {
      const index = Math.floor(at / PAGE_SIZE);
      checkIndex(index);
      const off = at - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, end - at);
      const pfn = this.grab(index, this.gfp, true);
      if (pfn === null)
        throw new KernelError(
          'ENOMEM',
          `no memory for page ${index} of mapping ${this.mappingWord}`,
        );
      out.set(this.mem.pageBytes(pfn).subarray(off, off + n), at - pos);
      markPageAccessed(this.mem, pfn);
      this.mem.putPage(pfn);
      at += n;
    }
    return out;
  }

  write(pos: number, data: Uint8Array): number {
    this.alive('write');
    if (!(Number.isSafeInteger(pos) && pos >= 0))
      throw new KernelError('EINVAL', `write at ${pos}: not a non-negative integer`);
    const end = pos + data.length;
    if (data.length && Math.floor((end - 1) / PAGE_SIZE) > MAX_INDEX)
      throw new KernelError(
        'EFBIG',
        `write of ${data.length} bytes at ${pos} passes the largest page index`,
      );
    let at = pos;
    while (at < end) {
      const index = Math.floor(at / PAGE_SIZE);
      const off = at - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, end - at);
      // write_begin: read a partly overwritten page that holds file data.
      const read = n < PAGE_SIZE && index * PAGE_SIZE < this.size();
      const pfn = this.grab(index, this.gfp, read);
      if (pfn === null)
        throw new KernelError(
          'ENOMEM',
          `no memory for page ${index} of mapping ${this.mappingWord}`,
        );
      this.mem.pageBytes(pfn).set(data.subarray(at - pos, at - pos + n), off);
      this.setPageDirty(pfn);
      markPageAccessed(this.mem, pfn);
      this.mem.putPage(pfn);
      at += n;
      if (!this.sizeFn && at > this.iSize) this.iSize = at;
    }
    return data.length;
  }

  // ------------------------------------------------------------ file mappings (FileBacking)

  faultPage(index: number): number {
    this.alive('filemap_fault');
    checkIndex(index);
    if (index * PAGE_SIZE >= this.size())
      throw new KernelError(
        'EFAULT',
        `fault at page ${index} beyond end of file (${this.size()} bytes): SIGBUS`,
      );
    // A fault that has to read the page in is a major fault (filemap_fault: PGMAJFAULT).
    const cached = this.pages.has(index);
    const pfn = this.grab(index, this.gfp, true);
    if (pfn === null)
      throw new KernelError(
        'ENOMEM',
        `no memory to fault in page ${index} of mapping ${this.mappingWord}`,
      );
    if (!cached) this.mem.countEvent('pgmajfault');
    markPageAccessed(this.mem, pfn);
    return pfn;
  }

  pageMkwrite(pfn: number, index: number): void {
    const next = (): void => {
      if (this.pages.get(index) !== pfn || this.mem.pageField(pfn, P_MAPPING) !== this.mappingWord)
        throw new KernelError(
          'EAGAIN',
          `page_mkwrite: page ${index} left the page cache; retry the fault`,
        );
      this.setPageDirty(pfn);
    };
    if (this.mkwrite) this.mkwrite(pfn, index, next);
    else next();
  }

  setPageMkwrite(fn: PageMkwriteFn | null): void {
    this.mkwrite = fn;
  }

  // ------------------------------------------------------------ owner side (MappingOps)

  ownerRefs(pfn: number): number {
    return this.pages.get(this.mem.pageField(pfn, P_INDEX)) === pfn ? 1 : 0;
  }

  /**
   * Moves a page's identity to `newPfn` (`filemap_migrate_folio` → `folio_migrate_mapping`
   * + `folio_migrate_flags`): the slot and the cache's reference move, PG_uptodate,
   * PG_dirty, PG_referenced and PG_active are copied, dirty and file-page accounting
   * move with it, and every VMA in `iMmap` repoints its entries. The new page is not put
   * on an LRU list (the migrator does, `lruAddPage`); the old one is left with
   * P_MAPPING 0 for the migrator to put back (and so free). If a VMA leaves an entry on
   * the old page, everything is pointed back and false returned.
   */
  migratePage(oldPfn: number, newPfn: number, index: number): boolean {
    const mem = this.mem;
    if (this.pages.get(index) !== oldPfn) return false;
    const oa = pageWordArray(mem, oldPfn);
    const oi = pageWordIndex(mem, oldPfn);
    const na = pageWordArray(mem, newPfn);
    const ni = pageWordIndex(mem, newPfn);
    const of = oa[oi + P_FLAGS]!;
    if (of & WRITEBACK || na[ni + P_MAPPING] !== 0 || na[ni + P_FLAGS]! & (1 << PG_lru))
      return false;
    if (oa[oi + P_MAPCOUNT]! >= 0) {
      for (const vma of this.iMmap) vma.remapPage(index, oldPfn, newPfn);
      if (oa[oi + P_MAPCOUNT]! >= 0) {
        // remove_migration_ptes could not find every entry: point them all back.
        for (const vma of this.iMmap) vma.remapPage(index, newPfn, oldPfn);
        return false;
      }
    }
    mem.getPage(newPfn);
    na[ni + P_MAPPING] = this.mappingWord;
    na[ni + P_INDEX] = index;
    const copy = UPTODATE | DIRTY | (1 << PG_referenced) | (1 << PG_active);
    Atomics.or(na, ni + P_FLAGS, of & copy);
    const nf = na[ni + P_FLAGS]!;
    this.pages.set(index, newPfn);
    this.nodeStat(of, 'nr_file_pages', -1);
    this.nodeStat(nf, 'nr_file_pages', 1);
    if (of & DIRTY) {
      this.nodeStat(of, 'nr_dirty', -1);
      this.writePending(of, -1);
      this.nodeStat(nf, 'nr_dirty', 1);
      this.writePending(nf, 1);
    }
    Atomics.and(oa, oi + P_FLAGS, ~(DIRTY | (1 << PG_active) | (1 << PG_referenced)));
    lruDel(mem, oldPfn); // normally isolated already
    oa[oi + P_MAPPING] = 0;
    mem.putPage(oldPfn);
    return true;
  }

  releasePage(pfn: number, index: number): boolean {
    const mem = this.mem;
    if (this.pages.get(index) !== pfn) return false;
    const a = pageWordArray(mem, pfn);
    const i = pageWordIndex(mem, pfn);
    if (a[i + P_FLAGS]! & (DIRTY | WRITEBACK | LOCKED)) return false;
    if (!this.unmapAll(index, pfn)) return false;
    if (a[i + P_REFCOUNT] !== 2) return false;
    this.remove(index, pfn);
    return true;
  }

  destroy(): void {
    if (this.dead) return;
    if (this.iMmap.size)
      throw new KernelError(
        'EBUSY',
        `mapping ${this.mappingWord} is still mapped by ${this.iMmap.size} VMA(s)`,
      );
    this.truncatePages(0);
    this.dead = true;
    this.mem.mappings.unregister(this.mappingWord);
  }
}
