/**
 * The sparse memory model: physical memory is a set of sections, each one
 * SharedArrayBuffer holding its own header, usemap and memmap followed by its pages.
 * A hot-added DIMM is a new buffer; a removed one is dropped. PFN × 4096 is a physical
 * address.
 *
 * @see mm/sparse.c, include/linux/mmzone.h (struct mem_section), mm/memory_hotplug.c (memmap_on_memory)
 */

import { KernelError } from '@kern/core';
import {
  PAGE_STRUCT_SIZE,
  PAGE_WORDS,
  P_FLAGS,
  P_MAPCOUNT,
  SECTION_HAS_MEM_MAP,
  SECTION_MAGIC,
  SECTION_MARKED_PRESENT,
  SEC_MAGIC,
  SEC_MEMMAP_PAGES,
  SEC_NID,
  SEC_NR,
  SEC_NR_PAGES,
  SEC_STATE,
  SEC_USEMAP_OFFSET,
  SEC_ZONE,
} from './layout.js';
import { MEMMAP_WORD } from './layout.js';
import {
  MAX_PAGE_ORDER,
  MIGRATE_MOVABLE,
  PAGE_SHIFT,
  PAGE_SIZE,
  pageblock_order,
} from './mmzone.js';
import { NODES_PGSHIFT, PG_reserved } from './page-flags.js';

export { MEMMAP_WORD } from './layout.js';

/** One memory section: a SharedArrayBuffer and views on it. */
export class MemSection {
  /** The whole section as bytes (header, usemap, memmap, pages). */
  readonly bytes: Uint8Array;
  /** The whole section as 32-bit words; the memmap starts at MEMMAP_WORD. */
  readonly i32: Int32Array;
  /** One byte per pageblock: its migrate type. Guarded by the zone lock. */
  readonly usemap: Uint8Array;
  /** First PFN. */
  readonly startPfn: number;
  /** Pages in the section. */
  readonly nrPages: number;
  /** Pages at the start used by the header, usemap and memmap (always PG_reserved). */
  readonly memmapPages: number;

  constructor(
    /** The backing buffer, shared with workers and the capture kernel. */
    readonly buffer: SharedArrayBuffer,
    /** Section number. */
    readonly nr: number,
  ) {
    this.bytes = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.nrPages = buffer.byteLength / PAGE_SIZE;
    this.startPfn = nr * this.nrPages;
    this.memmapPages = memmapPagesFor(this.nrPages);
    this.usemap = new Uint8Array(buffer, SEC_USEMAP_OFFSET, this.nrPages >> pageblock_order);
  }

  /** Node id recorded in the header. */
  get nid(): number {
    return this.i32[SEC_NID]!;
  }

  /** SECTION_* state bits. */
  get state(): number {
    return this.i32[SEC_STATE]!;
  }
}

/** Pages the header, usemap and memmap of a section of `nrPages` pages take. */
export function memmapPagesFor(nrPages: number): number {
  return 1 + Math.ceil((nrPages * PAGE_STRUCT_SIZE) / PAGE_SIZE);
}

/**
 * Checks a section size: a power of two, at least one max-order block (4 MiB) and at
 * most 2 GiB (one SharedArrayBuffer).
 * @throws KernelError EINVAL naming the size.
 */
export function checkSectionSize(bytes: number): void {
  const min = PAGE_SIZE << MAX_PAGE_ORDER;
  if (!Number.isSafeInteger(bytes) || bytes < min || bytes > 2 ** 31 || (bytes & (bytes - 1)) !== 0)
    throw new KernelError(
      'EINVAL',
      `section size ${bytes} must be a power of two from ${min} (one order-${MAX_PAGE_ORDER} block) to 2G`,
    );
}

/**
 * Makes a section's buffer and initialises its header and memmap: every page reserved,
 * unmapped, stamped with its node (zone set when onlined); every pageblock MOVABLE.
 */
export function createSection(nr: number, sectionBytes: number, nid: number): MemSection {
  const sec = new MemSection(new SharedArrayBuffer(sectionBytes), nr);
  const h = sec.i32;
  h[SEC_MAGIC] = SECTION_MAGIC;
  h[SEC_NR] = nr;
  h[SEC_NID] = nid;
  h[SEC_NR_PAGES] = sec.nrPages;
  h[SEC_MEMMAP_PAGES] = sec.memmapPages;
  h[SEC_ZONE] = -1;
  const flags = (1 << PG_reserved) | (nid << NODES_PGSHIFT);
  for (let i = 0; i < sec.nrPages; i++) {
    const w = MEMMAP_WORD + i * PAGE_WORDS;
    h[w + P_FLAGS] = flags;
    h[w + P_MAPCOUNT] = -1;
  }
  sec.usemap.fill(MIGRATE_MOVABLE);
  h[SEC_STATE] = SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP;
  return sec;
}

/**
 * Wraps an existing section buffer (a worker attaching, or a capture kernel reading a
 * dump) after checking its header.
 * @throws KernelError EINVAL if the header is not a kern section header.
 */
export function openSection(buffer: SharedArrayBuffer): MemSection {
  if (buffer.byteLength < 2 * PAGE_SIZE)
    throw new KernelError('EINVAL', `section buffer of ${buffer.byteLength} bytes is too small`);
  const h = new Int32Array(buffer, 0, 16);
  if (h[SEC_MAGIC] !== SECTION_MAGIC)
    throw new KernelError(
      'EINVAL',
      `section buffer has magic 0x${(h[SEC_MAGIC]! >>> 0).toString(16)}, not KSEC`,
    );
  if (h[SEC_NR_PAGES]! * PAGE_SIZE !== buffer.byteLength)
    throw new KernelError(
      'EINVAL',
      `section ${h[SEC_NR]} says ${h[SEC_NR_PAGES]} pages but has ${buffer.byteLength} bytes`,
    );
  return new MemSection(buffer, h[SEC_NR]!);
}

/** PFN of a physical address. */
export function paddrToPfn(paddr: number): number {
  return Math.floor(paddr / PAGE_SIZE);
}

/** Physical address of a PFN. */
export function pfnToPaddr(pfn: number): number {
  return pfn * PAGE_SIZE;
}

/** log2 of pages per section. */
export function sectionPfnShift(sectionBytes: number): number {
  return Math.log2(sectionBytes) - PAGE_SHIFT;
}
