/**
 * Process address spaces: the `mm_struct`, its VMAs, and mmap/munmap/mprotect, with a
 * CPU-side access path (`read`/`write`) that walks the page table and faults pages in
 * exactly where a real CPU would trap.
 *
 * Layout (x86-64, 4-level paging, no randomization — `setarch -R`):
 *
 * | address | what |
 * | --- | --- |
 * | `TASK_SIZE` = 0x7ffffffff000 | top of user space, and `STACK_TOP` |
 * | below `STACK_TOP` | the stack VMA (exec.ts), `VM_GROWSDOWN` |
 * | `mmapBase` = `TASK_SIZE − 128 MiB` | mmap allocates top-down below this |
 * | `mmapMinAddr` = 64 KiB | nothing is mapped below this |
 *
 * VMAs are kept in a sorted array (Linux: a maple tree), non-overlapping, and adjacent
 * compatible VMAs are merged (`vma_merge`). Addresses are JS numbers below 2^47, always
 * handled with arithmetic, never 32-bit bitwise operators.
 *
 * Locking: every method is called with the mm's mmap lock held — in the simulation, by
 * running one task at a time. Nothing here is shared with other threads except the page
 * contents and struct pages, which live in physical memory.
 *
 * @see mm/mmap.c, mm/vma.c, mm/mprotect.c, mm/util.c, arch/x86/mm/mmap.c, arch/x86/mm/fault.c
 */

import { KernelError } from '@kern/core';
import { GFP_KERNEL, __GFP_ZERO } from './gfp.js';
import { P_MAPCOUNT, P_MAPPING } from './layout.js';
import { type FileBacking, type RmapVma, mappingIsAnon } from './mapping.js';
import type { Memory } from './memory.js';
import { PAGE_SIZE } from './mmzone.js';
import {
  PageTable,
  type Pte,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  copyPageRange,
  handleMmFault,
  ptePfn,
  pteMapped,
  releaseEntryPage,
  setEntry,
  zapPageRange,
} from './fault.js';
import { type AnonVma, pageRemoveRmap } from './rmap.js';
import { checkMemory } from './internal/value.js';

// ---------------------------------------------------------------- uapi constants

/** Page cannot be accessed. @see include/uapi/asm-generic/mman-common.h */
export const PROT_NONE = 0x0;
/** Page can be read. @see include/uapi/asm-generic/mman-common.h */
export const PROT_READ = 0x1;
/** Page can be written. @see include/uapi/asm-generic/mman-common.h */
export const PROT_WRITE = 0x2;
/** Page can be executed. @see include/uapi/asm-generic/mman-common.h */
export const PROT_EXEC = 0x4;

/** Share changes. @see include/uapi/linux/mman.h */
export const MAP_SHARED = 0x01;
/** Changes are private (copy-on-write). @see include/uapi/linux/mman.h */
export const MAP_PRIVATE = 0x02;
/** MAP_SHARED, and reject unknown flags (EOPNOTSUPP). @see include/uapi/linux/mman.h */
export const MAP_SHARED_VALIDATE = 0x03;
/** Mask of the mapping type. @see include/uapi/linux/mman.h */
export const MAP_TYPE = 0x0f;
/** Interpret addr exactly, replacing what is there. @see include/uapi/asm-generic/mman-common.h */
export const MAP_FIXED = 0x10;
/** Not backed by a file. @see include/uapi/asm-generic/mman-common.h */
export const MAP_ANONYMOUS = 0x20;
/** Stack-like segment: grows down on faults below it. @see include/uapi/asm-generic/mman.h */
export const MAP_GROWSDOWN = 0x0100;
/** Accepted and ignored. @see include/uapi/asm-generic/mman.h */
export const MAP_NORESERVE = 0x4000;
/** Fault the whole mapping in now. @see include/uapi/asm-generic/mman.h */
export const MAP_POPULATE = 0x8000;
/** Accepted and ignored (a hint for stacks). @see include/uapi/asm-generic/mman.h */
export const MAP_STACK = 0x20000;
/** MAP_FIXED that fails with EEXIST instead of replacing. @see include/uapi/asm-generic/mman-common.h */
export const MAP_FIXED_NOREPLACE = 0x100000;

const MAP_KNOWN =
  MAP_TYPE |
  MAP_FIXED |
  MAP_ANONYMOUS |
  MAP_GROWSDOWN |
  MAP_NORESERVE |
  MAP_POPULATE |
  MAP_STACK |
  MAP_FIXED_NOREPLACE;

// ---------------------------------------------------------------- layout

/** Top of user space with 4-level paging (`TASK_SIZE_MAX`): 2^47 − one page. @see arch/x86/include/asm/page_64_types.h */
export const TASK_SIZE = 2 ** 47 - PAGE_SIZE;
/** Top of the initial stack (`STACK_TOP`, without randomization). @see arch/x86/include/asm/processor.h */
export const STACK_TOP = TASK_SIZE;
/** Lowest address mmap hands out (`vm.mmap_min_addr` default). @see mm/Kconfig: DEFAULT_MMAP_MIN_ADDR */
export const DEFAULT_MMAP_MIN_ADDR = 65536;
/** Gap kept below a stack VMA (`stack_guard_gap`, 256 pages). @see mm/mmap.c */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;
/** Default RLIMIT_STACK (`_STK_LIM`). @see include/uapi/linux/resource.h */
export const STACK_LIMIT = 8 * 1024 * 1024;
/** Default `vm.max_map_count`. @see include/linux/mm.h: DEFAULT_MAX_MAP_COUNT */
export const DEFAULT_MAX_MAP_COUNT = 65530;
/** Minimum gap between mmap_base and the stack top. @see arch/x86/mm/mmap.c: mmap_base */
const MMAP_MIN_GAP = 128 * 1024 * 1024;

/** P_INDEX is 32 bits: page indices compare modulo this, and a VMA spans fewer pages. */
const INDEX_SPAN = 2 ** 32;

const hex = (n: number): string => `0x${n.toString(16)}`;
const isPageAligned = (n: number): boolean => n % PAGE_SIZE === 0;
const pageAlign = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** `calc_vm_prot_bits`: PROT_* to VM_*. @see include/linux/mman.h */
export function calcVmProtBits(prot: number): number {
  return (
    (prot & PROT_READ ? VM_READ : 0) |
    (prot & PROT_WRITE ? VM_WRITE : 0) |
    (prot & PROT_EXEC ? VM_EXEC : 0)
  );
}

// ---------------------------------------------------------------- VMA

/**
 * A virtual memory area (`vm_area_struct`): [start, end) with one set of permissions and
 * one backing. Also the {@link RmapVma} through which a page's owner (anon_vma or page
 * cache) repoints or clears this VMA's entry for one of its pages.
 *
 * All fields are guarded by the owning mm's mmap lock.
 * @see include/linux/mm_types.h: struct vm_area_struct
 */
export class Vma implements RmapVma {
  /** The anon_vma owning this VMA's anonymous pages; made on the first one (`anon_vma_prepare`). */
  anonVma: AnonVma | null = null;

  constructor(
    /** The address space this VMA belongs to (`vm_mm`). */
    readonly mm: Mm,
    /** First address (`vm_start`), page-aligned. */
    public start: number,
    /** One past the last address (`vm_end`), page-aligned. */
    public end: number,
    /** VM_* flags (`vm_flags`). */
    public flags: number,
    /** Page offset of `start` (`vm_pgoff`): in the file, or `start / PAGE_SIZE` for anonymous memory. */
    public pgoff: number,
    /** The backing file's page cache (`vm_file`), or null for anonymous memory. */
    readonly file: FileBacking | null,
  ) {}

  /** Pages spanned. */
  get pages(): number {
    return (this.end - this.start) / PAGE_SIZE;
  }

  /**
   * The address at which this VMA would map page `index` of its owner, or null if
   * outside it (`vma_address`). Indices compare modulo 2^32, the width of P_INDEX (see
   * rmap.ts); a VMA spans fewer than 2^32 pages, so at most one address matches.
   */
  addressOf(index: number): number | null {
    if (!Number.isInteger(index)) return null;
    const off = (((index - this.pgoff) % INDEX_SPAN) + INDEX_SPAN) % INDEX_SPAN;
    if (off >= this.pages) return null;
    return this.start + off * PAGE_SIZE;
  }

  /** The slot and entry if this VMA maps `pfn` at `index` (`page_vma_mapped_walk`). */
  private mappedSlot(index: number, pfn: number): [Int32Array, number, number, number] | null {
    const addr = this.addressOf(index);
    if (addr === null) return null;
    const s = this.mm.pt.lookup(addr);
    if (!s) return null;
    const lo = s[0][s[1]]!;
    const hi = s[0][s[1] + 1]!;
    if (!pteMapped(lo) || lo & _PAGE_SPECIAL || ptePfn(lo, hi) !== pfn) return null;
    return [s[0], s[1], lo, hi];
  }

  /** Whether this VMA maps `pfn` at owner index `index`. */
  mapsPage(index: number, pfn: number): boolean {
    return this.mappedSlot(index, pfn) !== null;
  }

  /**
   * Points this VMA's entry for `oldPfn` at `newPfn` (migration), keeping its permission
   * bits and moving its reference and mapcount to the new page. The caller holds its own
   * reference on the old page and sets the new page's mapping, index and flags
   * (migrate.ts copies them). Returns entries changed (0 or 1).
   * @see mm/migrate.c: remove_migration_pte
   */
  remapPage(index: number, oldPfn: number, newPfn: number): number {
    const m = this.mappedSlot(index, oldPfn);
    if (!m) return 0;
    const [a, w, lo] = m;
    const mem = this.mm.mem;
    const anon = mappingIsAnon(mem.pageField(oldPfn, P_MAPPING) >>> 0);
    mem.getPage(newPfn);
    const [na, ni] = mem.pageWords(newPfn);
    if (Atomics.add(na, ni + P_MAPCOUNT, 1) === -1)
      mem.modNodeState(mem.pageToNid(newPfn), anon ? 'nr_anon_pages' : 'nr_mapped', 1);
    setEntry(a, w, newPfn, lo);
    pageRemoveRmap(mem, oldPfn);
    mem.putPage(oldPfn);
    return 1;
  }

  /**
   * Clears this VMA's entry for `pfn` at `index`, dropping its reference and mapcount
   * (truncation, reclaim: `try_to_unmap_one`). Returns entries cleared (0 or 1).
   * @see mm/rmap.c: try_to_unmap_one, mm/memory.c: unmap_mapping_range
   */
  unmapPage(index: number, pfn: number): number {
    const m = this.mappedSlot(index, pfn);
    if (!m) return 0;
    const [a, w, lo, hi] = m;
    a[w] = 0;
    a[w + 1] = 0;
    releaseEntryPage(this.mm, this, lo, hi);
    return 1;
  }

  /**
   * Write-protects and cleans this VMA's entry for `pfn` (`page_mkclean_one`), so the
   * next store faults and goes through `pageMkwrite` again. For the page cache to call
   * after writeback cleans a page. Returns whether the entry was writable or dirty.
   * @see mm/rmap.c: page_mkclean_one
   */
  wrprotectPage(index: number, pfn: number): boolean {
    const m = this.mappedSlot(index, pfn);
    if (!m) return false;
    const [a, w, lo] = m;
    a[w] = lo & ~(_PAGE_RW | _PAGE_DIRTY);
    return (lo & (_PAGE_RW | _PAGE_DIRTY)) !== 0;
  }
}

// ---------------------------------------------------------------- mm_struct

/** How to make an address space. @see kernel/fork.c: mm_init, arch/x86/mm/mmap.c: arch_pick_mmap_layout */
export interface MmOptions {
  /** Process id, for messages (default 1). */
  pid?: number;
  /** Command name, for messages (`current->comm`, default 'init'). */
  comm?: string;
  /** Top of user space (default {@link TASK_SIZE}); at most 2^47. */
  taskSize?: number;
  /** Top of the initial stack (default: `taskSize`). */
  stackTop?: number;
  /** Where top-down mmap starts (default `stackTop − 128 MiB`, as `mmap_base` without randomization). */
  mmapBase?: number;
  /** Lowest mappable address (default {@link DEFAULT_MMAP_MIN_ADDR}). */
  mmapMinAddr?: number;
  /** Gap kept below stacks (default {@link STACK_GUARD_GAP}). */
  stackGuardGap?: number;
  /** RLIMIT_STACK: how far a stack may grow (default {@link STACK_LIMIT}). */
  stackLimit?: number;
  /** `vm.max_map_count` (default {@link DEFAULT_MAX_MAP_COUNT}). */
  maxMapCount?: number;
  /**
   * Map the shared zero page on read faults of untouched anonymous memory (default
   * true). false allocates a zeroed page instead, as `mm_forbids_zeropage` would.
   */
  zeroPage?: boolean;
  /** A zero page the caller owns (one per machine, say); the mm takes a reference. Default: allocated on first use and shared with forked children. */
  zeroPfn?: number;
}

/** Arguments of {@link Mm.mmap}, as the mmap system call takes them. @see mm/mmap.c: ksys_mmap_pgoff */
export interface MmapRequest {
  /** Where (a hint without MAP_FIXED; must be page-aligned with it). */
  addr?: number;
  /** Bytes; rounded up to pages. */
  length: number;
  /** PROT_* bits. */
  prot: number;
  /** MAP_SHARED or MAP_PRIVATE, optionally MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_POPULATE. */
  flags: number;
  /** The file's page cache, for a file mapping. */
  file?: FileBacking | null;
  /** Byte offset in the file; a multiple of the page size. */
  offset?: number;
  /** Whether the file was opened for writing (`FMODE_WRITE`; default true). */
  fileWritable?: boolean;
}

/** Access of {@link Mm.handleFault}: what the CPU was doing (x86's page-fault error code). @see arch/x86/include/asm/trap_pf.h */
export interface FaultAccess {
  /** A store. */
  write: boolean;
  /** An instruction fetch. */
  exec?: boolean;
  /** Instruction pointer, for the segfault message. */
  ip?: number;
  /** Stack pointer, for the segfault message. */
  sp?: number;
}

/** x86 page-fault error code bits. @see arch/x86/include/asm/trap_pf.h */
const X86_PF_PROT = 1;
const X86_PF_WRITE = 2;
const X86_PF_USER = 4;
const X86_PF_INSTR = 16;

/**
 * One process's address space (`mm_struct`): VMAs, a page table in physical memory,
 * RSS and fault counters, and what exec saved (auxv, argument area).
 *
 * Fields are guarded by the mmap lock (the caller runs one task at a time).
 * @see include/linux/mm_types.h: struct mm_struct
 */
export class Mm {
  /** The page table (`mm->pgd`). */
  readonly pt: PageTable;
  /** Process id, for messages. */
  pid: number;
  /** Command name, for messages. */
  comm: string;
  /** Top of user space. */
  readonly taskSize: number;
  /** Top of the initial stack. */
  readonly stackTop: number;
  /** Where top-down mmap starts (`mm->mmap_base`). */
  readonly mmapBase: number;
  /** Lowest mappable address. */
  readonly mmapMinAddr: number;
  /** Gap kept below VM_GROWSDOWN VMAs. */
  readonly stackGuardGap: number;
  /** RLIMIT_STACK. */
  readonly stackLimit: number;
  /** `vm.max_map_count`. */
  readonly maxMapCount: number;
  /** Whether anonymous read faults map the zero page. */
  readonly useZeroPage: boolean;
  /** Resident anonymous pages (`MM_ANONPAGES`). */
  rssAnon = 0;
  /** Resident file pages (`MM_FILEPAGES`). */
  rssFile = 0;
  /** Minor faults (`min_flt`). */
  minFlt = 0;
  /** Major faults: the page cache had to read the page (`maj_flt`). */
  majFlt = 0;
  /** The auxiliary vector exec put on the stack (`mm->saved_auxv`), AT_NULL included. */
  savedAuxv: [number, number][] = [];
  /** Address of the first argv string (`arg_start`). */
  argStart = 0;
  /** One past the last argv string (`arg_end`). */
  argEnd = 0;
  /** Address of the first environment string (`env_start`). */
  envStart = 0;
  /** One past the last environment string (`env_end`). */
  envEnd = 0;
  /** Initial stack pointer (`start_stack`). */
  startStack = 0;

  private vmaList: Vma[] = [];
  private zeroPfn = -1;
  private dead = false;

  /** Use {@link createMm}. @throws KernelError ENOMEM (no PGD page), EINVAL (bad layout option). */
  constructor(
    readonly mem: Memory,
    opts: MmOptions = {},
  ) {
    this.pid = opts.pid ?? 1;
    this.comm = opts.comm ?? 'init';
    this.taskSize = opts.taskSize ?? TASK_SIZE;
    this.stackTop = opts.stackTop ?? this.taskSize;
    this.mmapMinAddr = opts.mmapMinAddr ?? DEFAULT_MMAP_MIN_ADDR;
    this.mmapBase = opts.mmapBase ?? Math.max(this.mmapMinAddr, this.stackTop - MMAP_MIN_GAP);
    this.stackGuardGap = opts.stackGuardGap ?? STACK_GUARD_GAP;
    this.stackLimit = opts.stackLimit ?? STACK_LIMIT;
    this.maxMapCount = opts.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
    this.useZeroPage = opts.zeroPage ?? true;
    for (const [name, v] of [
      ['taskSize', this.taskSize],
      ['stackTop', this.stackTop],
      ['mmapBase', this.mmapBase],
      ['mmapMinAddr', this.mmapMinAddr],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 0 || v > 2 ** 47 || !isPageAligned(v))
        throw new KernelError('EINVAL', `${name} ${v} is not a page-aligned address below 2^47`);
    if (this.stackTop > this.taskSize || this.mmapBase > this.stackTop)
      throw new KernelError(
        'EINVAL',
        `layout out of order: mmapBase ${hex(this.mmapBase)} ≤ stackTop ${hex(this.stackTop)} ≤ taskSize ${hex(this.taskSize)} required`,
      );
    this.pt = new PageTable(mem);
    if (opts.zeroPfn !== undefined) {
      mem.getPage(opts.zeroPfn);
      this.zeroPfn = opts.zeroPfn;
    }
  }

  // ---------------------------------------------------------------- VMAs

  /** The VMAs, in address order (do not modify). */
  get vmas(): readonly Vma[] {
    return this.vmaList;
  }

  /** Number of VMAs (`map_count`). */
  get mapCount(): number {
    return this.vmaList.length;
  }

  /** Pages mapped by all VMAs (`total_vm`). */
  get totalVm(): number {
    let n = 0;
    for (const v of this.vmaList) n += v.pages;
    return n;
  }

  /** Index of the first VMA ending above `addr`. */
  private findIndex(addr: number): number {
    let lo = 0;
    let hi = this.vmaList.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.vmaList[mid]!.end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The first VMA ending above `addr`, which may start above it (`find_vma`). @see mm/mmap.c: find_vma */
  findVma(addr: number): Vma | undefined {
    return this.vmaList[this.findIndex(addr)];
  }

  /** The VMA containing `addr`, if any (`vma_lookup`). @see include/linux/mm.h: vma_lookup */
  vmaLookup(addr: number): Vma | undefined {
    const v = this.findVma(addr);
    return v && v.start <= addr ? v : undefined;
  }

  private startGap(v: Vma): number {
    return v.flags & VM_GROWSDOWN ? Math.max(0, v.start - this.stackGuardGap) : v.start;
  }

  private checkAlive(): void {
    if (this.dead) throw new KernelError('EINVAL', `mm of ${this.comm}[${this.pid}] was destroyed`);
  }

  private linkVma(v: Vma): void {
    v.file?.iMmap.add(v);
    v.anonVma?.link(v);
  }

  private unlinkVma(v: Vma): void {
    v.file?.iMmap.delete(v);
    v.anonVma?.unlink(v);
  }

  /** Splits vmaList[i] at `addr` (strictly inside it); the upper part becomes vmaList[i+1]. @see mm/vma.c: __split_vma */
  private splitVma(i: number, addr: number): void {
    const v = this.vmaList[i]!;
    const upper = new Vma(
      this,
      addr,
      v.end,
      v.flags,
      v.pgoff + (addr - v.start) / PAGE_SIZE,
      v.file,
    );
    upper.anonVma = v.anonVma;
    v.end = addr;
    this.vmaList.splice(i + 1, 0, upper);
    this.linkVma(upper);
  }

  private canMerge(a: Vma, b: Vma): boolean {
    return (
      a.end === b.start &&
      a.flags === b.flags &&
      a.file === b.file &&
      a.pgoff + a.pages === b.pgoff &&
      a.pages + b.pages < INDEX_SPAN &&
      (a.anonVma === b.anonVma || !a.anonVma || !b.anonVma)
    );
  }

  /** Merges vmaList[i] with vmaList[i+1] if they are compatible. @see mm/vma.c: vma_merge */
  private tryMerge(i: number): boolean {
    const a = this.vmaList[i];
    const b = this.vmaList[i + 1];
    if (!a || !b || !this.canMerge(a, b)) return false;
    if (!a.anonVma && b.anonVma) {
      a.anonVma = b.anonVma;
      a.anonVma.link(a);
    }
    a.end = b.end;
    this.vmaList.splice(i + 1, 1);
    this.unlinkVma(b);
    return true;
  }

  /** Merges the VMAs in index range [from, to] with each other and their neighbours. */
  private mergeRange(from: number, to: number): void {
    for (let i = Math.min(to, this.vmaList.length - 2); i >= Math.max(0, from - 1); i--)
      this.tryMerge(i);
  }

  // ---------------------------------------------------------------- mmap

  /**
   * Maps `length` bytes and returns the address (`do_mmap` → `mmap_region`). Without
   * MAP_FIXED the address is a free range found top-down below `mmapBase` (the hint is
   * used if free); MAP_FIXED replaces whatever was there. A file mapping is added to
   * `file.iMmap`. Nothing is faulted in unless MAP_POPULATE.
   *
   * Shared anonymous memory needs shmem, which this package does not have: map a tmpfs
   * file's page cache with MAP_SHARED instead.
   *
   * @throws KernelError EINVAL (length 0 or not a byte count; offset not page-aligned;
   *   neither or both of MAP_SHARED/MAP_PRIVATE; MAP_FIXED address not aligned; unknown
   *   PROT bits; MAP_SHARED|MAP_ANONYMOUS; a file with MAP_ANONYMOUS), EBADF (no file
   *   for a file mapping), EACCES (shared writable mapping of a read-only file),
   *   EOPNOTSUPP (unknown flag with MAP_SHARED_VALIDATE), EOVERFLOW (offset + length
   *   beyond page index 2^32), EPERM (MAP_FIXED below mmapMinAddr), EEXIST
   *   (MAP_FIXED_NOREPLACE over a mapping), ENOMEM (no room; too many VMAs).
   * @see mm/mmap.c: do_mmap, mm/vma.c: mmap_region
   */
  mmap(req: MmapRequest): number {
    this.checkAlive();
    const { length, prot, flags } = req;
    const file = req.file ?? null;
    const offset = req.offset ?? 0;
    if (!Number.isSafeInteger(length) || length <= 0)
      throw new KernelError('EINVAL', `mmap length ${length} is not a positive byte count`);
    if (!Number.isSafeInteger(prot) || prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
      throw new KernelError(
        'EINVAL',
        `mmap prot ${hex(prot)} has bits other than PROT_READ|PROT_WRITE|PROT_EXEC`,
      );
    const type = flags & MAP_TYPE;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE)
      throw new KernelError(
        'EINVAL',
        `mmap flags ${hex(flags)}: exactly one of MAP_SHARED and MAP_PRIVATE is required`,
      );
    if (type === MAP_SHARED_VALIDATE && flags & ~MAP_KNOWN)
      throw new KernelError(
        'EOPNOTSUPP',
        `mmap flags ${hex(flags & ~MAP_KNOWN)} are not supported`,
      );
    const shared = type !== MAP_PRIVATE;
    const anon = (flags & MAP_ANONYMOUS) !== 0;
    if (anon && file)
      throw new KernelError('EINVAL', 'mmap with MAP_ANONYMOUS was also given a file');
    if (!anon && !file) throw new KernelError('EBADF', 'mmap without MAP_ANONYMOUS needs a file');
    if (anon && shared)
      throw new KernelError(
        'EINVAL',
        'MAP_SHARED|MAP_ANONYMOUS needs shmem, which @kern/mm does not provide; map a tmpfs file instead',
      );
    if (!anon && (!Number.isSafeInteger(offset) || offset < 0 || !isPageAligned(offset)))
      throw new KernelError('EINVAL', `mmap offset ${offset} is not a page-aligned byte offset`);
    const len = pageAlign(length);
    if (len > this.taskSize)
      throw new KernelError('ENOMEM', `mmap length ${hex(length)} exceeds the address space`);
    if (len / PAGE_SIZE >= INDEX_SPAN)
      throw new KernelError(
        'ENOMEM',
        `mmap length ${hex(length)}: a VMA spans fewer than 2^32 pages (16 TiB), the reach of a 32-bit page index`,
      );
    if (!anon && offset / PAGE_SIZE + len / PAGE_SIZE > INDEX_SPAN)
      throw new KernelError(
        'EOVERFLOW',
        `mmap offset ${hex(offset)} + length ${hex(len)} reaches past page index 2^32 (16 TiB), the reach of P_INDEX`,
      );
    // Linux compares with '>' here: a process may reach max_map_count + 1.
    if (this.vmaList.length > this.maxMapCount)
      throw new KernelError(
        'ENOMEM',
        `already ${this.vmaList.length} mappings (vm.max_map_count ${this.maxMapCount})`,
      );

    let vmFlags = calcVmProtBits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
    if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
    if (shared) {
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (req.fileWritable === false) {
        if (prot & PROT_WRITE)
          throw new KernelError(
            'EACCES',
            'shared writable mapping of a file not opened for writing',
          );
        vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
      }
    }

    const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
    const addr = this.getUnmappedArea(req.addr ?? 0, len, fixed);
    if (flags & MAP_FIXED_NOREPLACE) {
      const v = this.findVma(addr);
      if (v && v.start < addr + len)
        throw new KernelError(
          'EEXIST',
          `MAP_FIXED_NOREPLACE at ${hex(addr)}+${hex(len)} overlaps ${hex(v.start)}-${hex(v.end)}`,
        );
    }
    this.doMunmap(addr, addr + len);

    const vma = new Vma(
      this,
      addr,
      addr + len,
      vmFlags,
      anon ? addr / PAGE_SIZE : offset / PAGE_SIZE,
      file,
    );
    const i = this.findIndex(addr);
    this.vmaList.splice(i, 0, vma);
    this.linkVma(vma);
    this.mergeRange(i, i);
    if (flags & MAP_POPULATE) this.populate(addr, addr + len);
    return addr;
  }

  /** Faults in [start, end) as `__mm_populate` does; errors (SIGBUS past EOF, ENOMEM) stop it quietly. */
  private populate(start: number, end: number): void {
    for (let va = start; va < end; va += PAGE_SIZE) {
      const v = this.vmaLookup(va);
      if (!v) continue;
      const write = (v.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
      try {
        this.accessPage(va, write);
      } catch {
        return;
      }
    }
  }

  /**
   * Chooses where a mapping of `len` bytes goes (`get_unmapped_area`).
   * @see mm/mmap.c: arch_get_unmapped_area_topdown, vm_unmapped_area
   */
  private getUnmappedArea(hint: number, len: number, fixed: boolean): number {
    if (fixed) {
      if (!Number.isSafeInteger(hint) || hint < 0 || !isPageAligned(hint))
        throw new KernelError('EINVAL', `MAP_FIXED address ${hint} is not page-aligned`);
      if (hint + len > this.taskSize)
        throw new KernelError(
          'ENOMEM',
          `MAP_FIXED range ${hex(hint)}+${hex(len)} ends above TASK_SIZE ${hex(this.taskSize)}`,
        );
      if (hint < this.mmapMinAddr)
        throw new KernelError(
          'EPERM',
          `MAP_FIXED address ${hex(hint)} is below vm.mmap_min_addr ${hex(this.mmapMinAddr)}`,
        );
      return hint;
    }
    if (hint > 0 && Number.isSafeInteger(hint)) {
      const a = pageAlign(hint);
      if (a >= this.mmapMinAddr && a <= this.taskSize - len) {
        const next = this.findVma(a);
        if (!next || a + len <= this.startGap(next)) return a;
      }
    }
    const top = this.unmappedArea(len, this.mmapMinAddr, this.mmapBase, true);
    if (top !== null) return top;
    // Fall back to a bottom-up search of the whole space (`arch_get_unmapped_area`).
    const up = this.unmappedArea(len, pageAlign(this.taskSize / 3), this.taskSize, false);
    if (up !== null) return up;
    throw new KernelError(
      'ENOMEM',
      `no free range of ${hex(len)} bytes in ${this.comm}[${this.pid}]'s address space`,
    );
  }

  private unmappedArea(len: number, low: number, high: number, topDown: boolean): number | null {
    const n = this.vmaList.length;
    for (let k = 0; k <= n; k++) {
      const i = topDown ? n - k : k;
      const gapStart = Math.max(i > 0 ? this.vmaList[i - 1]!.end : 0, low);
      const gapEnd = Math.min(i < n ? this.startGap(this.vmaList[i]!) : this.taskSize, high);
      if (gapEnd - gapStart >= len) return topDown ? gapEnd - len : gapStart;
    }
    return null;
  }

  // ---------------------------------------------------------------- munmap

  /**
   * Unmaps [addr, addr + len), splitting VMAs that straddle the ends (`do_munmap`). Each
   * entry's reference and mapcount are dropped; anonymous pages whose last reference
   * that was are freed; emptied page-table pages are freed. Holes are fine.
   * @throws KernelError EINVAL (addr not page-aligned, len 0, range beyond TASK_SIZE),
   *   ENOMEM (a split would exceed vm.max_map_count).
   * @see mm/vma.c: do_vmi_munmap
   */
  munmap(addr: number, len: number): void {
    this.checkAlive();
    if (!Number.isSafeInteger(addr) || addr < 0 || !isPageAligned(addr))
      throw new KernelError('EINVAL', `munmap address ${addr} is not page-aligned`);
    if (!Number.isSafeInteger(len) || len <= 0)
      throw new KernelError('EINVAL', `munmap length ${len} is not a positive byte count`);
    const end = addr + pageAlign(len);
    if (end > this.taskSize)
      throw new KernelError('EINVAL', `munmap range ${hex(addr)}-${hex(end)} ends above TASK_SIZE`);
    this.doMunmap(addr, end);
  }

  private doMunmap(start: number, end: number): void {
    let i = this.findIndex(start);
    const first = this.vmaList[i];
    if (!first || first.start >= end) return;
    // do_vmi_align_munmap: only cutting a hole in one VMA needs room for another.
    if (first.start < start && first.end > end && this.vmaList.length >= this.maxMapCount)
      throw new KernelError(
        'ENOMEM',
        `munmap of ${hex(start)}-${hex(end)} would split past vm.max_map_count ${this.maxMapCount}`,
      );
    if (first.start < start) {
      this.splitVma(i, start);
      i++;
    }
    let j = i;
    while (j < this.vmaList.length && this.vmaList[j]!.start < end) {
      const v = this.vmaList[j]!;
      if (v.end > end) this.splitVma(j, end);
      j++;
    }
    const gone = this.vmaList.splice(i, j - i);
    for (const v of gone) {
      zapPageRange(this, v, v.start, v.end);
      this.unlinkVma(v);
    }
    this.pt.freeEmptyTables(start, end);
  }

  // ---------------------------------------------------------------- mprotect

  /**
   * Changes the protection of [addr, addr + len) (`mprotect`), splitting and merging
   * VMAs. Entries lose write access at once; gaining it is left to the next write fault
   * (copy-on-write, or `pageMkwrite` for a shared file). PROT_NONE entries keep their
   * page but stop being present (`_PAGE_PROTNONE`).
   * @throws KernelError EINVAL (addr not page-aligned, unknown PROT bits), ENOMEM (part
   *   of the range is not mapped; too many VMAs), EACCES (write asked of a VMA without
   *   VM_MAYWRITE). Nothing changes when it throws.
   * @see mm/mprotect.c: do_mprotect_pkey, mprotect_fixup, change_pte_range
   */
  mprotect(addr: number, len: number, prot: number): void {
    this.checkAlive();
    if (!Number.isSafeInteger(addr) || addr < 0 || !isPageAligned(addr))
      throw new KernelError('EINVAL', `mprotect address ${addr} is not page-aligned`);
    if (!Number.isSafeInteger(prot) || prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
      throw new KernelError('EINVAL', `mprotect prot ${hex(prot)} has unknown bits`);
    if (!Number.isSafeInteger(len) || len < 0)
      throw new KernelError('EINVAL', `mprotect length ${len} is not a byte count`);
    const end = addr + pageAlign(len);
    if (end === addr) return;
    if (end > this.taskSize)
      throw new KernelError(
        'ENOMEM',
        `mprotect range ${hex(addr)}-${hex(end)} ends above TASK_SIZE`,
      );
    const newProt = calcVmProtBits(prot);
    // Check first, so a failure changes nothing.
    let at = addr;
    let k = this.findIndex(addr);
    while (at < end) {
      const v = this.vmaList[k++];
      if (!v || v.start > at) throw new KernelError('ENOMEM', `mprotect: ${hex(at)} is not mapped`);
      if (newProt & VM_WRITE && !(v.flags & VM_MAYWRITE))
        throw new KernelError(
          'EACCES',
          `mprotect: PROT_WRITE on ${hex(v.start)}-${hex(v.end)}, a shared mapping of a read-only file`,
        );
      at = v.end;
    }
    const first = this.vmaList[this.findIndex(addr)]!;
    const last = this.vmaList[this.findIndex(end - 1)]!;
    const splits = (first.start < addr ? 1 : 0) + (last.end > end ? 1 : 0);
    if (this.vmaList.length + splits > this.maxMapCount)
      throw new KernelError('ENOMEM', `mprotect would exceed vm.max_map_count ${this.maxMapCount}`);

    let i = this.findIndex(addr);
    if (first.start < addr) {
      this.splitVma(i, addr);
      i++;
    }
    let j = i;
    while (j < this.vmaList.length && this.vmaList[j]!.start < end) {
      const v = this.vmaList[j]!;
      if (v.end > end) this.splitVma(j, end);
      v.flags = (v.flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | newProt;
      this.changeProtection(v);
      j++;
    }
    this.mergeRange(i, j - 1);
  }

  /** Applies a VMA's flags to its entries. @see mm/mprotect.c: change_pte_range */
  private changeProtection(v: Vma): void {
    const accessible = (v.flags & (VM_READ | VM_WRITE | VM_EXEC)) !== 0;
    const writable = (v.flags & VM_WRITE) !== 0;
    this.pt.walkRange(v.start, v.end, (a, w) => {
      let lo = a[w]!;
      if (!pteMapped(lo)) return;
      if (!accessible) lo = (lo & ~(_PAGE_PRESENT | _PAGE_RW)) | _PAGE_PROTNONE;
      else {
        lo = (lo & ~_PAGE_PROTNONE) | _PAGE_PRESENT;
        if (!writable) lo &= ~_PAGE_RW;
      }
      a[w] = lo;
    });
  }

  // ---------------------------------------------------------------- faults and access

  /**
   * Handles a page fault at `addr` (`do_user_addr_fault`): finds the VMA (growing a
   * stack down to it), checks the access against the VMA's permissions (`access_error`)
   * and resolves it (`handle_mm_fault`).
   * @throws KernelError EFAULT for a segfault: no VMA, or an access the VMA does not
   *   allow, with Linux's "comm[pid]: segfault at ADDR ip IP sp SP error CODE" message;
   *   EFAULT (SIGBUS) past the end of a file; ENOMEM; whatever `pageMkwrite` throws.
   * @see arch/x86/mm/fault.c: do_user_addr_fault, access_error; mm/memory.c: handle_mm_fault
   */
  handleFault(addr: number, access: FaultAccess): void {
    this.checkAlive();
    const write = access.write;
    const exec = access.exec ?? false;
    const segv = (why: string, present: boolean): KernelError => {
      const code =
        X86_PF_USER |
        (present ? X86_PF_PROT : 0) |
        (write ? X86_PF_WRITE : 0) |
        (exec ? X86_PF_INSTR : 0);
      const p16 = (n: number | undefined): string => (n ?? 0).toString(16).padStart(16, '0');
      return new KernelError(
        'EFAULT',
        `${this.comm}[${this.pid}]: segfault at ${Math.max(0, addr).toString(16)} ip ${p16(access.ip)} sp ${p16(access.sp)} error ${code} (${why})`,
      );
    };
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= this.taskSize)
      throw segv('address outside user space', false);
    let vma = this.findVma(addr);
    if (!vma) throw segv('no mapping', false);
    if (vma.start > addr) {
      if (!(vma.flags & VM_GROWSDOWN) || !this.expandStack(vma, addr))
        throw segv('no mapping', false);
      vma = this.findVma(addr)!;
    }
    const present = this.pt.read(addr) !== null;
    if (write && !(vma.flags & VM_WRITE))
      throw segv(`write to ${this.describe(vma)} without PROT_WRITE`, present);
    if (exec && !(vma.flags & VM_EXEC))
      throw segv(`instruction fetch from ${this.describe(vma)} without PROT_EXEC`, present);
    if (!(vma.flags & (VM_READ | VM_WRITE | VM_EXEC)))
      throw segv(`access to PROT_NONE ${this.describe(vma)}`, present);
    handleMmFault(this, vma, addr, write);
  }

  private describe(v: Vma): string {
    return `${v.file ? 'file' : 'anonymous'} mapping ${hex(v.start)}-${hex(v.end)}`;
  }

  /**
   * Grows a VM_GROWSDOWN VMA down to cover `addr` (`expand_downwards`), if the stack
   * limit and the guard gap above the VMA below allow. Returns whether it did.
   * @see mm/mmap.c: expand_downwards, acct_stack_growth
   */
  private expandStack(vma: Vma, addr: number): boolean {
    const start = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
    if (start < this.mmapMinAddr) return false;
    if (vma.end - start > this.stackLimit) return false;
    const i = this.vmaList.indexOf(vma);
    const prev = this.vmaList[i - 1];
    if (prev) {
      if (prev.end > start) return false;
      if (
        !(prev.flags & VM_GROWSDOWN) &&
        prev.flags & (VM_READ | VM_WRITE | VM_EXEC) &&
        start - prev.end < this.stackGuardGap
      )
        return false;
    }
    vma.pgoff -= (vma.start - start) / PAGE_SIZE;
    vma.start = start;
    return true;
  }

  /**
   * The PFN a CPU access to `va` uses, faulting first when the entry does not allow it,
   * and setting the accessed (and dirty) bits as the MMU does.
   */
  private accessPage(va: number, write: boolean): number {
    for (let tries = 0; tries < 3; tries++) {
      const s = va >= 0 && va < this.taskSize ? this.pt.lookup(va) : null;
      if (s) {
        const [a, w] = s;
        const lo = a[w]!;
        if (lo & _PAGE_PRESENT && (!write || lo & _PAGE_RW)) {
          a[w] = lo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
          return ptePfn(lo, a[w + 1]!);
        }
      }
      this.handleFault(va, { write });
    }
    throw new KernelError('EFAULT', `BUG: fault at ${hex(va)} did not make the page accessible`);
  }

  /**
   * Reads user memory as a CPU would (`copy_from_user`): page by page through the page
   * table, faulting pages in. Returns a copy.
   * @throws KernelError EFAULT at the first byte that cannot be read (segfault or SIGBUS),
   *   ENOMEM, EINVAL for a bad length.
   */
  read(addr: number, len: number): Uint8Array {
    this.checkAlive();
    if (!Number.isSafeInteger(len) || len < 0)
      throw new KernelError('EINVAL', `read length ${len} is not a byte count`);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const va = addr + done;
      const off = va % PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      const pfn = this.accessPage(va - off, false);
      out.set(this.mem.pageBytes(pfn).subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  /**
   * Writes user memory as a CPU would (`copy_to_user`): page by page, faulting pages in
   * and copying on write. Bytes before a failing page stay written, as on a CPU.
   * @throws KernelError EFAULT at the first byte that cannot be written, ENOMEM,
   *   whatever `pageMkwrite` throws.
   */
  write(addr: number, bytes: Uint8Array): void {
    this.checkAlive();
    let done = 0;
    while (done < bytes.length) {
      const va = addr + done;
      const off = va % PAGE_SIZE;
      const n = Math.min(bytes.length - done, PAGE_SIZE - off);
      const pfn = this.accessPage(va - off, true);
      this.mem.pageBytes(pfn).set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  /** The leaf entry mapping `addr`, or null (no fault taken). */
  getPte(addr: number): Pte | null {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= this.taskSize) return null;
    return this.pt.read(Math.floor(addr / PAGE_SIZE) * PAGE_SIZE);
  }

  /** The physical address `addr` translates to without faulting, or null if not present (`follow_page`). */
  translate(addr: number): number | null {
    const pte = this.getPte(addr);
    if (!pte || !(pte.flags & _PAGE_PRESENT)) return null;
    return pte.pfn * PAGE_SIZE + (addr % PAGE_SIZE);
  }

  /**
   * The shared zero page's PFN, allocated on first use (`ZERO_PAGE`). Linux has one
   * global `empty_zero_page`; kern has no module-level state, so each mm allocates one
   * lazily (or takes the caller's, {@link MmOptions.zeroPfn}) and shares it with the
   * children it forks. The mm holds one reference; entries mapping it hold none.
   * @throws KernelError ENOMEM.
   */
  zeroPage(): number {
    if (this.zeroPfn < 0) {
      const pfn = this.mem.allocPages(GFP_KERNEL | __GFP_ZERO, 0);
      if (pfn === null) throw new KernelError('ENOMEM', 'out of memory for the zero page');
      this.zeroPfn = pfn;
    }
    return this.zeroPfn;
  }

  // ---------------------------------------------------------------- fork and exit

  /**
   * Duplicates this address space for a child (`dup_mmap`): same VMAs, sharing anon_vmas
   * and files; private memory becomes copy-on-write in both.
   * @throws KernelError ENOMEM (the child is destroyed again and nothing in the parent
   *   changes but write-protection of private entries).
   * @see kernel/fork.c: dup_mmap
   */
  fork(opts: { pid?: number; comm?: string } = {}): Mm {
    this.checkAlive();
    const child = new Mm(this.mem, {
      pid: opts.pid ?? this.pid + 1,
      comm: opts.comm ?? this.comm,
      taskSize: this.taskSize,
      stackTop: this.stackTop,
      mmapBase: this.mmapBase,
      mmapMinAddr: this.mmapMinAddr,
      stackGuardGap: this.stackGuardGap,
      stackLimit: this.stackLimit,
      maxMapCount: this.maxMapCount,
      zeroPage: this.useZeroPage,
      ...(this.zeroPfn >= 0 ? { zeroPfn: this.zeroPfn } : {}),
    });
    try {
      for (const v of this.vmaList) {
        const c = new Vma(child, v.start, v.end, v.flags, v.pgoff, v.file);
        c.anonVma = v.anonVma;
        child.vmaList.push(c);
        child.linkVma(c);
        if (v.anonVma) copyPageRange(child, this, v);
      }
    } catch (e) {
      child.destroy();
      throw e;
    }
    child.savedAuxv = this.savedAuxv.map(([t, v]) => [t, v]);
    child.argStart = this.argStart;
    child.argEnd = this.argEnd;
    child.envStart = this.envStart;
    child.envEnd = this.envEnd;
    child.startStack = this.startStack;
    return child;
  }

  /** Whether {@link destroy} ran. */
  get destroyed(): boolean {
    return this.dead;
  }

  /**
   * Tears the address space down (`exit_mmap`): unmaps every VMA (dropping every
   * reference its entries held), frees every page-table page and the zero-page
   * reference. Calling it again does nothing.
   * @see mm/mmap.c: exit_mmap
   */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    const all = this.vmaList;
    this.vmaList = [];
    for (const v of all) {
      zapPageRange(this, v, v.start, v.end);
      this.unlinkVma(v);
    }
    this.pt.destroy();
    if (this.zeroPfn >= 0) {
      this.mem.putPage(this.zeroPfn);
      this.zeroPfn = -1;
    }
    if (this.rssAnon || this.rssFile)
      this.mem.warn(
        `BUG: Bad rss-counter state mm:${this.pid} type:MM_ANONPAGES val:${this.rssAnon} MM_FILEPAGES val:${this.rssFile}`,
      );
  }
}

/**
 * Makes an empty address space with its PGD allocated (`mm_alloc` + `mm_init`).
 * @throws KernelError ENOMEM (no page for the PGD), EINVAL (bad layout option).
 * @see kernel/fork.c: mm_alloc
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function createMm(mem: Memory, opts: MmOptions = {}): Mm {
  checkMemory(mem, 'createMm');
  return new Mm(mem, opts);
}
