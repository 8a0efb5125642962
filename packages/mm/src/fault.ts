/**
 * Page tables and page faults: what `mm/memory.c` does for one process's address space.
 *
 * ## Page tables
 *
 * A real x86-64 4-level radix tree (PGD → PUD → PMD → PTE, 512 eight-byte entries per
 * 4 KiB table, 48-bit virtual addresses) whose table pages are allocated from the
 * machine's memory (`GFP_KERNEL | __GFP_ZERO`, counted in `nr_page_table_pages`), so a
 * crash-dump reader can walk a process's tables from raw memory as `crash`'s `vtop`
 * does. Entries use x86's format, little-endian: bits 0-11 flags (`_PAGE_*`),
 * bits 12-51 the PFN. Upper levels point at the next table with `_PAGE_TABLE`.
 * An all-zero entry is empty. A table left empty by munmap is freed (`free_pgtables`).
 *
 * ## Reference counting
 *
 * Each leaf entry that maps a page holds one reference and one mapcount on it (see
 * mapping.ts), except the zero page: mapped with `_PAGE_SPECIAL`, it is not counted per
 * entry (`vm_normal_page` returns NULL for it), and each mm that may map it holds one
 * reference instead.
 *
 * ## Fault paths (`handle_pte_fault`)
 *
 * | entry | access | VMA | what happens |
 * | --- | --- | --- | --- |
 * | empty | read | anonymous | map the zero page read-only (`do_anonymous_page`), or a new zeroed page when the mm was made with `zeroPage: false` |
 * | empty | write | anonymous | new zeroed anonymous page, writable and dirty |
 * | empty | read | file | `file.faultPage(index)`, mapped read-only (`do_read_fault`) |
 * | empty | write | private file | copy of the file page into a new anonymous page (`do_cow_fault`) |
 * | empty | write | shared file | `file.pageMkwrite` first, then map writable+dirty and `file.setPageDirty` (`do_shared_fault`) |
 * | read-only | write | shared | `pageMkwrite`, then make writable and dirty (`wp_page_shared`) |
 * | read-only | write | private | reuse an anonymous page only this entry references (`wp_page_reuse`), else copy it (`wp_page_copy`; the zero page is "copied" by allocating a zeroed page) |
 *
 * A `pageMkwrite` that throws (a frozen filesystem) leaves the entry exactly as it was:
 * nothing becomes writable or dirty.
 *
 * Locking: the caller holds the mm's mmap lock (the simulation runs one task at a time).
 *
 * @see mm/memory.c, arch/x86/include/asm/pgtable_types.h, arch/x86/include/asm/pgtable_64_types.h
 */

import { KernelError } from '@kern/core';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_ZERO } from './gfp.js';
import { LRU_ACTIVE_ANON, P_MAPPING, P_REFCOUNT } from './layout.js';
import { mappingIsAnon } from './mapping.js';
import type { Memory } from './memory.js';
import type { Mm, Vma } from './mmap.js';
import { PAGE_SIZE } from './mmzone.js';
import {
  type AnonVma,
  anonVmaAlloc,
  pageAddNewAnonRmap,
  pageAddRmap,
  pageRemoveRmap,
} from './rmap.js';
import { lruAdd, putLruPage } from './swap.js';

// ---------------------------------------------------------------- VMA flags

/** No access. @see include/linux/mm.h */
export const VM_NONE = 0x0;
/** Readable. @see include/linux/mm.h */
export const VM_READ = 0x1;
/** Writable. @see include/linux/mm.h */
export const VM_WRITE = 0x2;
/** Executable. @see include/linux/mm.h */
export const VM_EXEC = 0x4;
/** Shared: writes reach the file (MAP_SHARED on a writable file). @see include/linux/mm.h */
export const VM_SHARED = 0x8;
/** mprotect may add read. @see include/linux/mm.h */
export const VM_MAYREAD = 0x10;
/** mprotect may add write (clear for a shared mapping of a read-only file). @see include/linux/mm.h */
export const VM_MAYWRITE = 0x20;
/** mprotect may add exec. @see include/linux/mm.h */
export const VM_MAYEXEC = 0x40;
/** Mapped with MAP_SHARED (even when VM_SHARED was dropped for a read-only file). @see include/linux/mm.h */
export const VM_MAYSHARE = 0x80;
/** A stack: grows down on a fault just below it. @see include/linux/mm.h */
export const VM_GROWSDOWN = 0x100;

// ---------------------------------------------------------------- page-table entries

/** Entry maps something (the hardware's P bit). @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_PRESENT = 0x001;
/** Writable. @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_RW = 0x002;
/** User-accessible. @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_USER = 0x004;
/** Set by the CPU on any access. @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_ACCESSED = 0x020;
/** Set by the CPU on a write. @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_DIRTY = 0x040;
/** PROT_NONE: P clear but the entry still maps its page (x86 reuses the global bit). @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_PROTNONE = 0x100;
/** Software bit: no struct page accounting (the zero page). @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_SPECIAL = 0x200;
/** What an upper-level entry pointing at a table carries. @see arch/x86/include/asm/pgtable_types.h */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
/** Entries per table. @see arch/x86/include/asm/pgtable_64_types.h */
export const PTRS_PER_TABLE = 512;
/** Page-table levels (PGD, PUD, PMD, PTE). @see arch/x86/include/asm/pgtable_64_types.h */
export const PGTABLE_LEVELS = 4;

/** GFP for page-table pages (`GFP_PGTABLE_USER` less accounting). @see include/asm-generic/pgalloc.h */
const GFP_PGTABLE_USER = GFP_KERNEL | __GFP_ZERO;
const PFN_LO_BITS = 20; // PFN bits that fit above the 12 flag bits of the low word
const PFN_LO_MASK = (1 << PFN_LO_BITS) - 1;
const FLAGS_MASK = 0xfff;
/** Bytes covered by one entry at each level: 512 GiB, 1 GiB, 2 MiB, 4 KiB. */
const LEVEL_SPAN = [2 ** 39, 2 ** 30, 2 ** 21, 2 ** 12] as const;

/** PFN held in an entry's two 32-bit words (`pte_pfn`). @see arch/x86/include/asm/pgtable.h */
export function ptePfn(lo: number, hi: number): number {
  return (lo >>> 12) + hi * 2 ** PFN_LO_BITS;
}

/** Whether an entry maps a page (present or PROT_NONE: Linux's `pte_present`). @see arch/x86/include/asm/pgtable.h */
export function pteMapped(lo: number): boolean {
  return (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
}

/** A leaf entry as {@link PageTable.read} decodes it. @see arch/x86/include/asm/pgtable_types.h */
export interface Pte {
  /** The mapped page. */
  pfn: number;
  /** `_PAGE_*` bits. */
  flags: number;
}

/**
 * One mm's 4-level page table, in physical memory.
 *
 * @see mm/memory.c: __pte_alloc, free_pgtables; arch/x86/mm/pgtable.c: pgd_alloc
 */
export class PageTable {
  /** PFN of the top-level table (`mm->pgd`), what CR3 would hold. */
  readonly pgd: number;
  /** Table pages in use, the PGD included (`mm->pgtables_bytes / PAGE_SIZE`). */
  nrPages = 0;

  /** Allocates the PGD. @throws KernelError ENOMEM. */
  constructor(readonly mem: Memory) {
    this.pgd = this.allocTable();
  }

  private allocTable(): number {
    const pfn = this.mem.allocPages(GFP_PGTABLE_USER, 0);
    if (pfn === null) throw new KernelError('ENOMEM', 'out of memory for a page-table page');
    this.mem.modNodeState(this.mem.pageToNid(pfn), 'nr_page_table_pages', 1);
    this.nrPages++;
    return pfn;
  }

  private freeTable(pfn: number): void {
    this.mem.modNodeState(this.mem.pageToNid(pfn), 'nr_page_table_pages', -1);
    this.nrPages--;
    this.mem.putPage(pfn);
  }

  /** The words array and index of entry `i` of table `tablePfn` (low word; high at +1). */
  slot(tablePfn: number, i: number): [Int32Array, number] {
    const s = this.mem.sectionOf(tablePfn);
    return [s.i32, (tablePfn & this.mem.sectionMask) * (PAGE_SIZE >> 2) + i * 2];
  }

  /**
   * The leaf entry slot for `vaddr`, or null if a table on the way is missing
   * (`follow_pte` without the lock).
   */
  lookup(vaddr: number): [Int32Array, number] | null {
    let table = this.pgd;
    for (let level = 0; ; level++) {
      const [a, w] = this.slot(table, levelIndex(vaddr, level));
      if (level === PGTABLE_LEVELS - 1) return [a, w];
      const lo = a[w]!;
      if (!(lo & _PAGE_PRESENT)) return null;
      table = ptePfn(lo, a[w + 1]!);
    }
  }

  /**
   * The leaf entry slot for `vaddr`, allocating missing tables (`pte_alloc_map`).
   * @throws KernelError ENOMEM when a table page cannot be allocated.
   */
  alloc(vaddr: number): [Int32Array, number] {
    let table = this.pgd;
    for (let level = 0; ; level++) {
      const [a, w] = this.slot(table, levelIndex(vaddr, level));
      if (level === PGTABLE_LEVELS - 1) return [a, w];
      let lo = a[w]!;
      if (!(lo & _PAGE_PRESENT)) {
        const pfn = this.allocTable();
        setEntry(a, w, pfn, _PAGE_TABLE);
        lo = a[w]!;
      }
      table = ptePfn(lo, a[w + 1]!);
    }
  }

  /** The decoded leaf entry for `vaddr`, or null when nothing is mapped there. */
  read(vaddr: number): Pte | null {
    const s = this.lookup(vaddr);
    if (!s) return null;
    const lo = s[0][s[1]]!;
    if (!pteMapped(lo)) return null;
    return { pfn: ptePfn(lo, s[0][s[1] + 1]!), flags: lo & FLAGS_MASK };
  }

  /**
   * Calls `fn` for every non-empty leaf entry in [start, end), in address order, skipping
   * missing tables (`walk_page_range`). `fn` may change or clear the entry.
   */
  walkRange(
    start: number,
    end: number,
    fn: (a: Int32Array, w: number, vaddr: number) => void,
  ): void {
    this.walkLevel(0, this.pgd, 0, start, end, fn);
  }

  private walkLevel(
    level: number,
    table: number,
    base: number,
    start: number,
    end: number,
    fn: (a: Int32Array, w: number, vaddr: number) => void,
  ): void {
    const span = LEVEL_SPAN[level]!;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(PTRS_PER_TABLE - 1, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const [a, w] = this.slot(table, i);
      const lo = a[w]!;
      const hi = a[w + 1]!;
      if (lo === 0 && hi === 0) continue;
      const va = base + i * span;
      if (level === PGTABLE_LEVELS - 1) fn(a, w, va);
      else if (lo & _PAGE_PRESENT) this.walkLevel(level + 1, ptePfn(lo, hi), va, start, end, fn);
    }
  }

  /**
   * Frees the tables under [start, end) that hold no entries, and clears the entries
   * that pointed at them (`free_pgtables`, `free_pgd_range`). The PGD stays.
   */
  freeEmptyTables(start: number, end: number): void {
    this.pruneLevel(0, this.pgd, 0, start, end);
  }

  /** Returns whether `table` is empty after pruning. */
  private pruneLevel(
    level: number,
    table: number,
    base: number,
    start: number,
    end: number,
  ): boolean {
    if (level < PGTABLE_LEVELS - 1) {
      const span = LEVEL_SPAN[level]!;
      const first = Math.max(0, Math.floor((start - base) / span));
      const last = Math.min(PTRS_PER_TABLE - 1, Math.floor((end - 1 - base) / span));
      for (let i = first; i <= last; i++) {
        const [a, w] = this.slot(table, i);
        const lo = a[w]!;
        if (!(lo & _PAGE_PRESENT)) continue;
        const child = ptePfn(lo, a[w + 1]!);
        if (this.pruneLevel(level + 1, child, base + i * span, start, end)) {
          a[w] = 0;
          a[w + 1] = 0;
          this.freeTable(child);
        }
      }
    }
    const [a, w0] = this.slot(table, 0);
    for (let k = w0; k < w0 + PTRS_PER_TABLE * 2; k++) if (a[k] !== 0) return false;
    return true;
  }

  /**
   * Frees every table page, the PGD included (end of `exit_mmap`). Leaf entries must
   * already be cleared (zapped); one that is not is a bug and is reported.
   * @throws KernelError EINVAL if a leaf entry still maps a page.
   */
  destroy(): void {
    const leaked: number[] = [];
    const free = (level: number, table: number, base: number): void => {
      for (let i = 0; i < PTRS_PER_TABLE; i++) {
        const [a, w] = this.slot(table, i);
        const lo = a[w]!;
        if (lo === 0 && a[w + 1] === 0) continue;
        const va = base + i * LEVEL_SPAN[level]!;
        if (level === PGTABLE_LEVELS - 1) leaked.push(va);
        else if (lo & _PAGE_PRESENT) free(level + 1, ptePfn(lo, a[w + 1]!), va);
        a[w] = 0;
        a[w + 1] = 0;
      }
      this.freeTable(table);
    };
    free(0, this.pgd, 0);
    if (leaked.length)
      throw new KernelError(
        'EINVAL',
        `BUG: Bad rss-counter state: ${leaked.length} page-table entries still mapped at exit (first at 0x${leaked[0]!.toString(16)})`,
      );
  }
}

/** Index of `vaddr`'s entry in its table at `level` (0 = PGD). */
function levelIndex(vaddr: number, level: number): number {
  return Math.floor(vaddr / LEVEL_SPAN[level]!) % PTRS_PER_TABLE;
}

/** Writes an entry mapping `pfn` with `flags` (`set_pte_at` of `pfn_pte`). @see arch/x86/include/asm/pgtable.h */
export function setEntry(a: Int32Array, w: number, pfn: number, flags: number): void {
  a[w + 1] = Math.floor(pfn / 2 ** PFN_LO_BITS);
  a[w] = (flags & FLAGS_MASK) | ((pfn & PFN_LO_MASK) << 12);
}

// ---------------------------------------------------------------- helpers

/**
 * The page index a VMA maps at `addr` (`linear_page_index`): file offset in pages for a
 * file mapping, and the anon_vma index (P_INDEX) of its anonymous pages.
 * @see include/linux/pagemap.h: linear_page_index
 */
export function linearPageIndex(vma: Vma, addr: number): number {
  return vma.pgoff + Math.floor((addr - vma.start) / PAGE_SIZE);
}

/**
 * Gives a VMA its anon_vma if it has none (`anon_vma_prepare`).
 * @throws KernelError ENOSPC when the mapping registry is full.
 * @see mm/rmap.c: __anon_vma_prepare
 */
export function anonVmaPrepare(mm: Mm, vma: Vma): AnonVma {
  if (vma.anonVma) return vma.anonVma;
  const av = anonVmaAlloc(mm.mem);
  av.link(vma);
  vma.anonVma = av;
  return av;
}

function allocUserPage(mm: Mm, addr: number, zero: boolean): number {
  const pfn = mm.mem.allocPages(GFP_HIGHUSER_MOVABLE | (zero ? __GFP_ZERO : 0), 0);
  if (pfn === null)
    throw new KernelError(
      'ENOMEM',
      `out of memory: no page for a fault at 0x${addr.toString(16)} in ${mm.comm}[${mm.pid}]`,
    );
  return pfn;
}

/**
 * Maps a freshly allocated anonymous page (the allocation's reference becomes the
 * entry's) and puts it on the active anon LRU (`folio_add_lru_vma`).
 */
function mapNewAnonPage(
  mm: Mm,
  vma: Vma,
  addr: number,
  a: Int32Array,
  w: number,
  pfn: number,
  flags: number,
): void {
  const av = anonVmaPrepare(mm, vma);
  pageAddNewAnonRmap(mm.mem, pfn, av, linearPageIndex(vma, addr));
  mm.rssAnon++;
  lruAdd(mm.mem, pfn, LRU_ACTIVE_ANON);
  setEntry(a, w, pfn, flags);
}

/** `file.faultPage`, after the SIGBUS check `filemap_fault` makes. */
function faultFilePage(mm: Mm, vma: Vma, addr: number, index: number): number {
  const file = vma.file!;
  if (index * PAGE_SIZE >= file.size())
    throw new KernelError(
      'EFAULT',
      `${mm.comm}[${mm.pid}]: bus error (SIGBUS) at 0x${addr.toString(16)}: page ${index} is beyond end of file (size ${file.size()})`,
    );
  return file.faultPage(index);
}

/**
 * Drops what one leaf entry held on its page: rss, mapcount and the entry's reference
 * (through `putLruPage`, so a page whose last reference this was leaves its LRU list
 * and is freed). A dirty entry of a shared file mapping passes its dirtiness to the
 * page (`zap_present_ptes`). The caller has already cleared or repointed the entry.
 * @see mm/memory.c: zap_present_folio_ptes
 */
export function releaseEntryPage(mm: Mm, vma: Vma, lo: number, hi: number): void {
  if (lo & _PAGE_SPECIAL) return;
  const mem = mm.mem;
  const pfn = ptePfn(lo, hi);
  const anon = mappingIsAnon(mem.pageField(pfn, P_MAPPING) >>> 0);
  if (!anon && lo & _PAGE_DIRTY && vma.flags & VM_SHARED && vma.file) vma.file.setPageDirty(pfn);
  if (anon) mm.rssAnon--;
  else mm.rssFile--;
  pageRemoveRmap(mem, pfn);
  putLruPage(mem, pfn);
}

// ---------------------------------------------------------------- faults

/**
 * Resolves a fault at `addr` in `vma`, which the caller found and checked for access
 * (`handle_mm_fault` after `access_error`). Counts `pgfault`; the page cache counts
 * `pgmajfault` when it reads a page in (`filemap_fault`), and a successful fault is
 * then a major or minor one for the mm (`mm_account_fault`).
 * @throws KernelError ENOMEM (no page or page-table page), EFAULT (SIGBUS: beyond end of
 *   file, or the file's own errors), whatever `pageMkwrite` throws (nothing changed).
 * @see mm/memory.c: handle_mm_fault, handle_pte_fault
 */
export function handleMmFault(mm: Mm, vma: Vma, addr: number, write: boolean): void {
  const mem = mm.mem;
  mem.countEvent('pgfault');
  const maj = mem.eventCount('pgmajfault');
  handlePteFault(mm, vma, addr, write);
  // mm_account_fault: major if the page cache had to read the page in.
  if (mem.eventCount('pgmajfault') !== maj) mm.majFlt++;
  else mm.minFlt++;
}

/** @see mm/memory.c: handle_pte_fault */
function handlePteFault(mm: Mm, vma: Vma, addr: number, write: boolean): void {
  const [a, w] = mm.pt.alloc(addr);
  let lo = a[w]!;
  if (!pteMapped(lo)) {
    if (vma.file) doFileFault(mm, vma, addr, a, w, write);
    else doAnonymousPage(mm, vma, addr, a, w, write);
    return;
  }
  if (!(lo & _PAGE_PRESENT)) {
    // PROT_NONE left over while the VMA allows access again: make it present.
    lo = (lo & ~_PAGE_PROTNONE) | _PAGE_PRESENT;
    a[w] = lo;
  }
  if (write && !(lo & _PAGE_RW)) {
    doWpPage(mm, vma, addr, a, w);
    return;
  }
  // Spurious (another path already fixed it): just note the access.
  a[w] = lo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
}

/** @see mm/memory.c: do_anonymous_page */
function doAnonymousPage(
  mm: Mm,
  vma: Vma,
  addr: number,
  a: Int32Array,
  w: number,
  write: boolean,
): void {
  if (!write && mm.useZeroPage) {
    setEntry(a, w, mm.zeroPage(), _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL);
    return;
  }
  const pfn = allocUserPage(mm, addr, true);
  const flags =
    _PAGE_PRESENT |
    _PAGE_USER |
    _PAGE_ACCESSED |
    (vma.flags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0);
  try {
    mapNewAnonPage(mm, vma, addr, a, w, pfn, flags);
  } catch (e) {
    mm.mem.putPage(pfn);
    throw e;
  }
}

/** @see mm/memory.c: do_fault, do_read_fault, do_cow_fault, do_shared_fault */
function doFileFault(
  mm: Mm,
  vma: Vma,
  addr: number,
  a: Int32Array,
  w: number,
  write: boolean,
): void {
  const mem = mm.mem;
  const file = vma.file!;
  const index = linearPageIndex(vma, addr);
  if (!write) {
    const pfn = faultFilePage(mm, vma, addr, index);
    pageAddRmap(mem, pfn);
    mm.rssFile++;
    setEntry(a, w, pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED);
    return;
  }
  if (!(vma.flags & VM_SHARED)) {
    anonVmaPrepare(mm, vma);
    const copy = allocUserPage(mm, addr, false);
    let pfn: number;
    try {
      pfn = faultFilePage(mm, vma, addr, index);
    } catch (e) {
      mem.putPage(copy);
      throw e;
    }
    mem.pageBytes(copy).set(mem.pageBytes(pfn));
    putLruPage(mem, pfn);
    mapNewAnonPage(
      mm,
      vma,
      addr,
      a,
      w,
      copy,
      _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_RW | _PAGE_DIRTY,
    );
    return;
  }
  const pfn = faultFilePage(mm, vma, addr, index);
  try {
    file.pageMkwrite(pfn, index);
  } catch (e) {
    putLruPage(mem, pfn);
    throw e;
  }
  pageAddRmap(mem, pfn);
  mm.rssFile++;
  setEntry(a, w, pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_RW | _PAGE_DIRTY);
  file.setPageDirty(pfn);
}

/** A write to a present, read-only entry of a writable VMA. @see mm/memory.c: do_wp_page */
function doWpPage(mm: Mm, vma: Vma, addr: number, a: Int32Array, w: number): void {
  const mem = mm.mem;
  const lo = a[w]!;
  const hi = a[w + 1]!;
  const writable = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_RW | _PAGE_DIRTY;
  if (lo & _PAGE_SPECIAL) {
    // The zero page: "copy" it by allocating a zeroed page.
    const pfn = allocUserPage(mm, addr, true);
    try {
      mapNewAnonPage(mm, vma, addr, a, w, pfn, writable);
    } catch (e) {
      mem.putPage(pfn);
      throw e;
    }
    return;
  }
  const pfn = ptePfn(lo, hi);
  if (vma.flags & VM_SHARED) {
    // wp_page_shared: the filesystem may refuse or block (fsfreeze) before anything changes.
    if (vma.file) vma.file.pageMkwrite(pfn, linearPageIndex(vma, addr));
    a[w] = lo | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED;
    vma.file?.setPageDirty(pfn);
    return;
  }
  const [pa, pi] = mem.pageWords(pfn);
  if (mappingIsAnon(pa[pi + P_MAPPING]! >>> 0) && Atomics.load(pa, pi + P_REFCOUNT) === 1) {
    // wp_page_reuse: only this entry references the page.
    a[w] = lo | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED;
    return;
  }
  // wp_page_copy
  const copy = allocUserPage(mm, addr, false);
  mem.pageBytes(copy).set(mem.pageBytes(pfn));
  try {
    mapNewAnonPage(mm, vma, addr, a, w, copy, writable);
  } catch (e) {
    a[w] = lo;
    a[w + 1] = hi;
    mem.putPage(copy);
    throw e;
  }
  releaseEntryPage(mm, vma, lo, hi);
}

// ---------------------------------------------------------------- range operations

/**
 * Clears every entry in [start, end) of `vma` and drops what each held
 * (`unmap_page_range`). Page-table pages stay; see {@link PageTable.freeEmptyTables}.
 * @see mm/memory.c: zap_pte_range
 */
export function zapPageRange(mm: Mm, vma: Vma, start: number, end: number): void {
  mm.pt.walkRange(start, end, (a, w) => {
    const lo = a[w]!;
    const hi = a[w + 1]!;
    a[w] = 0;
    a[w + 1] = 0;
    if (pteMapped(lo)) releaseEntryPage(mm, vma, lo, hi);
  });
}

/**
 * Copies the entries of `src`'s VMA into `dst` for fork (`copy_page_range`): each page
 * gains a reference and a mapcount; in a private (copy-on-write) mapping both copies
 * lose write access, so the first write on either side copies or reuses the page.
 * Shared-mapping entries are copied clean. Called only for VMAs with an anon_vma (the
 * others refill by faults, as Linux skips them).
 * @throws KernelError ENOMEM for the child's page-table pages.
 * @see mm/memory.c: copy_page_range, copy_present_pte
 */
export function copyPageRange(dst: Mm, src: Mm, srcVma: Vma): void {
  const mem = src.mem;
  const cow = !(srcVma.flags & VM_SHARED);
  src.pt.walkRange(srcVma.start, srcVma.end, (a, w, vaddr) => {
    let lo = a[w]!;
    const hi = a[w + 1]!;
    if (!pteMapped(lo)) return;
    if (cow && lo & _PAGE_RW) {
      lo &= ~_PAGE_RW;
      a[w] = lo;
    }
    let child = lo & ~_PAGE_ACCESSED;
    if (!cow) child &= ~_PAGE_DIRTY;
    const [da, dw] = dst.pt.alloc(vaddr);
    if (!(lo & _PAGE_SPECIAL)) {
      const pfn = ptePfn(lo, hi);
      mem.getPage(pfn);
      pageAddRmap(mem, pfn);
      if (mappingIsAnon(mem.pageField(pfn, P_MAPPING) >>> 0)) dst.rssAnon++;
      else dst.rssFile++;
    }
    da[dw] = child;
    da[dw + 1] = hi;
  });
}
