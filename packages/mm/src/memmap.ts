/**
 * The struct page array (Linux's `mem_map`) over the memory sections, and physical
 * memory as bytes: what every part of the allocator reads pages through. `Memory`
 * extends it with the zones and the allocator.
 *
 * @see include/linux/mm.h (page accessors), include/linux/mmzone.h (__pfn_to_section),
 *      include/linux/page-flags.h
 */

import { KernelError } from '@kern/core';
import { PAGE_WORDS, P_FLAGS, P_PRIVATE, SEC_MEMMAP_OFFSET } from './layout.js';
import { PAGE_SIZE, pageblock_order } from './mmzone.js';
import { NODES_PGSHIFT, PG_head, PG_reserved, ZONES_PGSHIFT } from './page-flags.js';
import { MEMMAP_WORD, type MemSection } from './sparse.js';
import { describeValue } from './internal/value.js';

/** How an error message names a PFN: hex for a number, with its type otherwise. */
export function pfnText(pfn: unknown): string {
  return typeof pfn === 'number' && Number.isFinite(pfn)
    ? `0x${pfn.toString(16)}`
    : describeValue(pfn);
}

/**
 * The sections' struct page arrays and bytes. Every field of a `struct page` is a word
 * of its section's buffer (layout.ts, `P_*`), so any thread holding the buffers reads
 * the same pages.
 */
export class MemMap {
  /** Sections by number (undefined where absent). */
  readonly sections: (MemSection | undefined)[];
  /** log2(pages per section). */
  readonly sectionShift: number;
  /** Pages per section − 1. */
  readonly sectionMask: number;
  readonly sectionBytes: number;
  /**
   * Each section's words by section number (the memmap starts at MEMMAP_WORD), for the
   * allocator's paths: `secI32[pfn >>> sectionShift]`.
   * @internal
   */
  readonly secI32: (Int32Array | undefined)[];

  constructor(sections: (MemSection | undefined)[], sectionBytes: number) {
    this.sections = sections;
    this.secI32 = sections.map((sec) => sec?.i32);
    this.sectionBytes = sectionBytes;
    this.sectionShift = Math.log2(sectionBytes / PAGE_SIZE);
    this.sectionMask = (1 << this.sectionShift) - 1;
  }

  /** Whether a PFN has a struct page (its section is present). */
  pfnValid(pfn: number): boolean {
    return (
      pfn >= 0 && Number.isInteger(pfn) && this.sections[pfn >>> this.sectionShift] !== undefined
    );
  }

  /** The section holding `pfn`. @throws KernelError EINVAL if none. */
  sectionOf(pfn: number): MemSection {
    const s =
      Number.isInteger(pfn) && pfn >= 0 ? this.sections[pfn >>> this.sectionShift] : undefined;
    if (!s)
      throw new KernelError(
        'EINVAL',
        typeof pfn === 'number'
          ? `pfn ${pfnText(pfn)} is not in any present memory section`
          : `pfn ${describeValue(pfn)} is not a page frame number`,
      );
    return s;
  }

  /**
   * The words of `pfn`'s section, for hot paths: fields are at `pageIndex(pfn) + P_*`.
   * Unchecked: the PFN must be valid (see {@link MemMap.pfnValid}).
   */
  pageArray(pfn: number): Int32Array {
    return this.secI32[pfn >>> this.sectionShift]!;
  }

  /** Index of `pfn`'s struct page in {@link MemMap.pageArray}. */
  pageIndex(pfn: number): number {
    return MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
  }

  /** The words array and index of `pfn`'s struct page: `[arr, idx]` with fields at idx + P_*. */
  pageWords(pfn: number): [Int32Array, number] {
    const s = this.sectionOf(pfn);
    return [s.i32, MEMMAP_WORD + (pfn & this.sectionMask) * PAGE_WORDS];
  }

  /** A page struct field (P_FLAGS, P_REFCOUNT...). */
  pageField(pfn: number, field: number): number {
    const [a, i] = this.pageWords(pfn);
    return a[i + field]!;
  }

  /** Sets a page struct field. */
  setPageField(pfn: number, field: number, value: number): void {
    const [a, i] = this.pageWords(pfn);
    a[i + field] = value;
  }

  /** Tests a PG_* bit. */
  testPageFlag(pfn: number, bit: number): boolean {
    return (this.pageField(pfn, P_FLAGS) & (1 << bit)) !== 0;
  }

  /** Sets a PG_* bit atomically. */
  setPageFlag(pfn: number, bit: number): void {
    const [a, i] = this.pageWords(pfn);
    Atomics.or(a, i + P_FLAGS, 1 << bit);
  }

  /** Clears a PG_* bit atomically. */
  clearPageFlag(pfn: number, bit: number): void {
    const [a, i] = this.pageWords(pfn);
    Atomics.and(a, i + P_FLAGS, ~(1 << bit));
  }

  /** Whether PG_reserved is set (memmap, memblock reservations). */
  isReserved(pfn: number): boolean {
    return this.testPageFlag(pfn, PG_reserved);
  }

  /** Zone index of a page (from its flags). */
  pageZonenum(pfn: number): number {
    return (this.pageField(pfn, P_FLAGS) >>> ZONES_PGSHIFT) & 3;
  }

  /** Node of a page (from its flags). */
  pageToNid(pfn: number): number {
    return this.pageField(pfn, P_FLAGS) >>> NODES_PGSHIFT;
  }

  /** Order of a compound page headed by `pfn` (0 if not compound). */
  compoundOrder(pfn: number): number {
    if (!this.testPageFlag(pfn, PG_head)) return 0;
    return this.pageField(pfn + 1, P_PRIVATE);
  }

  /** Migrate type of the pageblock holding `pfn` (`get_pageblock_migratetype`). */
  getPageblockMigratetype(pfn: number): number {
    return this.sectionOf(pfn).usemap[(pfn & this.sectionMask) >>> pageblock_order]!;
  }

  /** The bytes of a block of 2^order pages (a view into physical memory). */
  pageBytes(pfn: number, order = 0): Uint8Array {
    const s = this.sectionOf(pfn);
    const off = (pfn & this.sectionMask) * PAGE_SIZE;
    if ((pfn & this.sectionMask) + (1 << order) > s.nrPages)
      throw new KernelError(
        'EINVAL',
        `order-${order} block at pfn 0x${pfn.toString(16)} crosses its section`,
      );
    return s.bytes.subarray(off, off + (PAGE_SIZE << order));
  }

  /**
   * A view of `len` bytes of physical memory at `paddr` (not a copy), for structures that
   * live in memory reserved at boot (the printk buffer, RCU's state). The range must lie
   * inside one section.
   * @throws KernelError EFAULT if it is not in present memory, EINVAL if it crosses a section.
   */
  physBytes(paddr: number, len: number): Uint8Array {
    const sec = this.sections[Math.floor(paddr / this.sectionBytes)];
    if (!sec || !(len >= 0))
      throw new KernelError(
        'EFAULT',
        `physical address 0x${paddr.toString(16)} is not in present memory`,
      );
    const off = paddr - sec.startPfn * PAGE_SIZE;
    if (off + len > this.sectionBytes)
      throw new KernelError(
        'EINVAL',
        `[0x${paddr.toString(16)}, +${len}) crosses a memory section`,
      );
    return sec.bytes.subarray(off, off + len);
  }

  /** Reads `len` bytes of physical memory at `paddr` (may cross sections). @throws EFAULT on a hole. */
  readPhys(paddr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.copyPhys(paddr, len, (sec, off, n, at) => out.set(sec.bytes.subarray(off, off + n), at));
    return out;
  }

  /** Writes bytes to physical memory at `paddr`. @throws EFAULT on a hole. */
  writePhys(paddr: number, data: Uint8Array): void {
    this.copyPhys(paddr, data.length, (sec, off, n, at) =>
      sec.bytes.set(data.subarray(at, at + n), off),
    );
  }

  private copyPhys(
    paddr: number,
    len: number,
    fn: (s: MemSection, off: number, n: number, at: number) => void,
  ): void {
    let at = 0;
    while (at < len) {
      const p = paddr + at;
      const sec = this.sections[Math.floor(p / this.sectionBytes)];
      if (!sec)
        throw new KernelError(
          'EFAULT',
          `physical address 0x${p.toString(16)} is not in present memory`,
        );
      const off = p - sec.startPfn * PAGE_SIZE;
      const n = Math.min(len - at, this.sectionBytes - off);
      fn(sec, off, n, at);
      at += n;
    }
  }

  /** Physical address of a page's struct page (what `dump_page` prints as `page:`). */
  pageStructPaddr(pfn: number): number {
    const s = this.sectionOf(pfn);
    return s.startPfn * PAGE_SIZE + SEC_MEMMAP_OFFSET + (pfn & this.sectionMask) * PAGE_WORDS * 4;
  }
}
