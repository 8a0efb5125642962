/**
 * The slab allocator, after SLUB: caches of equal-sized objects carved out of slabs
 * (blocks of pages from the page allocator), and `kmalloc` on top of them with Linux's
 * size classes. Objects are physical addresses, so a crash dump can find them.
 *
 * What a slab keeps in physical memory (Linux overlays `struct slab` on the head page's
 * `struct page` the same way):
 *
 * | where | what |
 * | --- | --- |
 * | `P_FLAGS` of every page | `PG_slab` (and `PG_head`/`PG_tail`: slabs are compound pages) |
 * | `P_REFCOUNT` of the head | 1: the slab allocator's reference |
 * | `P_PRIVATE` of the head | the cache id ({@link KmemCache.id}, ≥ 1); `kfree` finds the cache from it |
 * | `P_INDEX` of the head | byte offset in the slab of the first free object, plus 1 (0: the slab is full) |
 * | a free object, at {@link KmemCache.offset} | the freelist pointer: little-endian u64 physical address of the next free object, 0 ending the list |
 *
 * `P_MAPPING` stays 0 (a non-zero mapping means page cache to dump filters, and the page
 * allocator refuses to free a page with one). The JS side keeps, per slab, its object
 * count, in-use count and one "allocated" bit per object (for double-free detection);
 * per cache, the slabs and the partial list.
 *
 * Simplifications against SLUB: no per-CPU slabs or per-CPU partial lists (the head of
 * the cache's partial list is the slab allocations come from), one partial list per
 * cache rather than per node, no cache merging, no freelist randomisation or pointer
 * hardening, no debug poisoning or red zones; the consistency checks that SLUB does only
 * with `slub_debug=F` (invalid pointer, double free, corrupt freechain) are always on.
 * One allocator serves one thread: its bookkeeping is not shared with workers.
 *
 * @see mm/slub.c, mm/slab_common.c, mm/slab.h, include/linux/slab.h
 */

import { KernelError } from '@kern/core';
import {
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_DMA32,
  __GFP_FS,
  __GFP_HARDWALL,
  __GFP_HIGH,
  __GFP_HIGHMEM,
  __GFP_IO,
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIM,
  __GFP_RECLAIMABLE,
  __GFP_RETRY_MAYFAIL,
  __GFP_THISNODE,
  __GFP_ZERO,
  formatGfp,
} from './gfp.js';
import { P_FLAGS, P_INDEX, P_NEXT, P_PRIVATE } from './layout.js';
import type { Memory } from './memory.js';
import { MAX_PAGE_ORDER, PAGE_ALLOC_COSTLY_ORDER, PAGE_SIZE } from './mmzone.js';
import { PG_slab, PG_tail, formatPageFlags } from './page-flags.js';
import { checkMemory } from './internal/value.js';

// ---------------------------------------------------------------- constants

/** Smallest kmalloc object (`KMALLOC_MIN_SIZE`): room for the freelist pointer. @see include/linux/slab.h */
export const KMALLOC_MIN_SIZE = 8;
/**
 * Largest size served by a kmalloc cache (`KMALLOC_MAX_CACHE_SIZE`, two pages); larger
 * goes to the page allocator. @see include/linux/slab.h
 */
export const KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE;
/** Largest kmalloc size (`KMALLOC_MAX_SIZE`): one block of MAX_PAGE_ORDER, 4 MiB. @see include/linux/slab.h */
export const KMALLOC_MAX_SIZE = PAGE_SIZE * 2 ** MAX_PAGE_ORDER;
/** What `kmalloc(0)` returns (`ZERO_SIZE_PTR`): not an object, but `kfree` accepts it. @see include/linux/slab.h */
export const ZERO_SIZE_PTR = 16;
/** Highest preferred slab order (`slub_max_order`, PAGE_ALLOC_COSTLY_ORDER). @see mm/slub.c: slub_max_order */
export const SLUB_MAX_ORDER = PAGE_ALLOC_COSTLY_ORDER;

/** Least / most empty slabs a cache keeps on its partial list (`MIN_PARTIAL`, `MAX_PARTIAL`). */
const MIN_PARTIAL = 5;
const MAX_PARTIAL = 10;
/** `MAX_OBJS_PER_PAGE`: objects per slab fit a 15-bit counter. */
const MAX_OBJS_PER_PAGE = 32767;
/** Bytes of a freelist pointer (`sizeof(void *)`), also the minimum alignment. */
const FREEPTR_SIZE = 8;
/** `TAINT_BAD_PAGE` (`B`), set by every slab BUG report. */
const TAINT_BAD_PAGE = 5;
const TAINT_FLAGS_COUNT = 18;

/** `GFP_RECLAIM_MASK`: the flags of a request that a slab page allocation keeps. */
const GFP_RECLAIM_MASK =
  __GFP_RECLAIM |
  __GFP_HIGH |
  __GFP_IO |
  __GFP_FS |
  __GFP_NOWARN |
  __GFP_RETRY_MAYFAIL |
  __GFP_NOFAIL |
  __GFP_NORETRY |
  __GFP_MEMALLOC |
  __GFP_NOMEMALLOC;
/** `GFP_CONSTRAINT_MASK`: placement constraints a slab page allocation keeps. */
const GFP_CONSTRAINT_MASK = __GFP_HARDWALL | __GFP_THISNODE;
/** `GFP_SLAB_BUG_MASK`: flags a slab allocation must not carry (fixed up with a warning). */
const GFP_SLAB_BUG_MASK = __GFP_DMA32 | __GFP_HIGHMEM | ~0x7fffff;

/** kmalloc size classes (`kmalloc_info`), smallest first; also their creation order. */
const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192] as const;
/** Cache name suffix of a kmalloc size: `64`, `1k`. */
const sizeName = (size: number): string => (size >= 1024 ? `${size / 1024}k` : String(size));
/** kmalloc cache types (`enum kmalloc_cache_type`, the ones kern has). */
const KMALLOC_NORMAL = 0;
const KMALLOC_RECLAIM = 1;
const KMALLOC_PREFIX = ['kmalloc-', 'kmalloc-rcl-'] as const;

// ---------------------------------------------------------------- public types

/** Options of {@link SlabAllocator.kmemCacheCreate}. @see mm/slab_common.c: kmem_cache_create */
export interface KmemCacheOptions {
  /** Object alignment in bytes, a power of two up to PAGE_SIZE (raised to 8, `ARCH_SLAB_MINALIGN`). */
  align?: number;
  /** `SLAB_RECLAIM_ACCOUNT`: slab pages are MIGRATE_RECLAIMABLE and count as `nr_slab_reclaimable`. */
  reclaimable?: boolean;
  /**
   * Constructor run once on every object when its slab is created (not on each
   * allocation): objects go back to the cache in their constructed state. The freelist
   * pointer is then kept after the object so freeing does not overwrite it.
   */
  ctor?: (bytes: Uint8Array) => void;
}

/** A cache's row of `/proc/slabinfo` (`struct slabinfo`). @see mm/slab.h: struct slabinfo */
export interface SlabInfo {
  /** Objects allocated. */
  activeObjs: number;
  /** Objects in all slabs. */
  numObjs: number;
  /** Slabs (SLUB reports every slab as active). */
  activeSlabs: number;
  numSlabs: number;
  /** Objects per slab of the preferred order (`oo_objects(s->oo)`). */
  objectsPerSlab: number;
  /** Preferred slab order (`oo_order(s->oo)`). */
  cacheOrder: number;
  /** SLAB's tunables; always 0 under SLUB. */
  limit: number;
  batchcount: number;
  shared: number;
  sharedAvail: number;
}

/** Where an address falls in slab memory (`struct kmem_obj_info`). @see mm/slab.h: struct kmem_obj_info */
export interface KmemObjInfo {
  /** The cache, or null for a large kmalloc (pages straight from the page allocator). */
  cache: KmemCache | null;
  /** Head PFN of the slab or large allocation. */
  slabPfn: number;
  /** Its order. */
  slabOrder: number;
  /** Physical address of the object holding the address. */
  objectPaddr: number;
  /** Index of the object in its slab (0 for a large kmalloc). */
  index: number;
  /** Byte offset of the address in the object. */
  offset: number;
  /** Usable bytes of the object (`ksize`). */
  size: number;
  /** Whether the object is allocated (false: on the freelist, or cut off from it). */
  allocated: boolean;
}

/**
 * Where slab BUG reports get their taint string and set TAINT_BAD_PAGE. `PanicState`
 * from @kern/core fits.
 * @see kernel/panic.c: add_taint, print_tainted
 */
export interface SlabTaint {
  addTaint(flag: number): void;
  tainted(): string;
}

/** Options of {@link createSlabAllocator}. */
export interface SlabAllocatorOptions {
  /** The machine's taint state (default: one kept by the allocator for its own reports). */
  taint?: SlabTaint;
}

/**
 * Deliberately broken modes for negative-control tests; never set otherwise.
 * - `skip-double-free-check`: frees skip the "object already free" check.
 * - `freelist-no-advance`: allocation hands out the freelist head without unlinking it
 *   (and without checking that it is free).
 * - `leak-slab-pages`: empty slabs are forgotten instead of given back to the page allocator.
 */
export type SlabDebugBreak =
  'none' | 'skip-double-free-check' | 'freelist-no-advance' | 'leak-slab-pages';

/**
 * A cache of equal-sized objects (`struct kmem_cache`).
 * @see mm/slab.h: struct kmem_cache, mm/slub.c
 */
export interface KmemCache {
  /** The id recorded in `P_PRIVATE` of its slabs' head pages (≥ 1). */
  readonly id: number;
  readonly name: string;
  /** Bytes the user asked for (`object_size`). */
  readonly objectSize: number;
  /** Bytes between objects in a slab (`size`): object, free pointer if outside, alignment. */
  readonly size: number;
  /** Object alignment. */
  readonly align: number;
  /** Offset of the freelist pointer in a free object (`offset`). */
  readonly offset: number;
  /** Preferred slab order (`oo`), from `calculate_order`. */
  readonly order: number;
  /** Fallback slab order when the preferred one is not available (`min`): the order of one object. */
  readonly minOrder: number;
  /** Objects in a slab of the preferred order. */
  readonly objectsPerSlab: number;
  /** Empty slabs kept on the partial list before freeing more (`min_partial`). */
  readonly minPartial: number;
  /** `SLAB_RECLAIM_ACCOUNT`. */
  readonly reclaimable: boolean;
  /** Whether it is one of the kmalloc caches (which cannot be destroyed). */
  readonly isKmalloc: boolean;
  /** Slabs on the partial list (some objects free, or empty and kept). */
  readonly nrPartial: number;
  /** Whether {@link KmemCache.destroy} succeeded; a destroyed cache refuses every call. */
  readonly destroyed: boolean;
  /**
   * Allocates an object and returns its physical address, or null when no slab page can
   * be had (`kmem_cache_alloc`). `__GFP_ZERO` zeroes it.
   * @throws KernelError EINVAL if the cache was destroyed.
   * @see mm/slub.c: kmem_cache_alloc, slab_alloc_node, ___slab_alloc
   */
  alloc(gfp: number): number | null;
  /**
   * Frees an object of this cache (`kmem_cache_free`). Bad input is reported as SLUB's
   * consistency checks do and changes nothing.
   * @throws KernelError EINVAL for an address that is not an object of this cache, not an
   *   object boundary, or already free (after a `BUG <cache>` report through `mem.log`).
   * @see mm/slub.c: kmem_cache_free, __slab_free, free_consistency_checks
   */
  free(paddr: number): void;
  /**
   * Frees the cache's empty slabs to the page allocator (`kmem_cache_shrink`); returns
   * the pages freed.
   * @see mm/slub.c: __kmem_cache_do_shrink
   */
  shrink(): number;
  /**
   * Frees the cache's slabs and removes it (`kmem_cache_destroy`).
   * @throws KernelError EBUSY if objects are still allocated (the cache stays usable);
   *   EINVAL for a kmalloc cache or one already destroyed.
   * @see mm/slab_common.c: kmem_cache_destroy, mm/slub.c: __kmem_cache_shutdown
   */
  destroy(): void;
  /**
   * Counts for `/proc/slabinfo` (`get_slabinfo`).
   * @see mm/slub.c: get_slabinfo
   */
  getSlabinfo(): SlabInfo;
}

/**
 * The slab allocator of one machine: its caches and kmalloc.
 * @see mm/slub.c, mm/slab_common.c
 */
export interface SlabAllocator {
  readonly mem: Memory;
  /** A broken mode for negative-control tests (see {@link SlabDebugBreak}). */
  debugBreak: SlabDebugBreak;
  /**
   * Creates a cache of `size`-byte objects (`kmem_cache_create`). Names need not be
   * unique, as in Linux.
   * @throws KernelError EINVAL for an empty name, a size outside 1..KMALLOC_MAX_SIZE or an
   *   alignment that is not a power of two up to PAGE_SIZE.
   * @see mm/slab_common.c: kmem_cache_create, mm/slub.c: calculate_sizes, calculate_order
   */
  kmemCacheCreate(name: string, size: number, opts?: KmemCacheOptions): KmemCache;
  /**
   * Allocates `size` bytes (`kmalloc`): from the smallest kmalloc cache that fits
   * (`kmalloc-rcl-*` with `__GFP_RECLAIMABLE`), or above KMALLOC_MAX_CACHE_SIZE straight
   * from the page allocator as a compound page (`kmalloc_large`). Returns the physical
   * address, null when memory cannot be found, or ZERO_SIZE_PTR for size 0.
   * @throws KernelError EINVAL for a size that is not a non-negative integer.
   * @see mm/slab_common.c: kmalloc_slab, __kmalloc_large_node, include/linux/slab.h: kmalloc
   */
  kmalloc(size: number, gfp: number): number | null;
  /** `kmalloc` with `__GFP_ZERO` (`kzalloc`). @throws as {@link SlabAllocator.kmalloc}. */
  kzalloc(size: number, gfp: number): number | null;
  /**
   * Frees what kmalloc or any cache returned (`kfree`); 0 and ZERO_SIZE_PTR are no-ops.
   * The cache is found from the page: `PG_slab` and the cache id in the head page's
   * `P_PRIVATE`.
   * @throws KernelError EINVAL for an address that is no slab object or large kmalloc
   *   (`kfree: 0x… is not a slab object`), not an object boundary, or already free.
   * @see mm/slub.c: kfree, free_large_kmalloc
   */
  kfree(paddr: number): void;
  /**
   * Usable size of an allocation (`ksize`): the cache's object size, or the pages of a
   * large kmalloc; 0 for ZERO_SIZE_PTR.
   * @throws KernelError EINVAL as {@link SlabAllocator.kfree} does, and for a free object.
   * @see mm/slab_common.c: __ksize
   */
  ksize(paddr: number): number;
  /**
   * A view of `len` bytes of an allocated object at `paddr` (default: to the object's
   * end). `paddr` may point inside the object.
   * @throws KernelError EINVAL if the range is not inside one allocated object.
   */
  bytes(paddr: number, len?: number): Uint8Array;
  /**
   * The kmalloc cache a size and GFP mask select (`kmalloc_slab`), or null for 0 and for
   * sizes above KMALLOC_MAX_CACHE_SIZE.
   * @throws KernelError EINVAL for a size that is not a non-negative integer.
   * @see mm/slab_common.c: kmalloc_slab, include/linux/slab.h: kmalloc_type
   */
  kmallocCache(size: number, gfp?: number): KmemCache | null;
  /**
   * Where an address falls in slab memory, or null if it is in none (`kmem_obj_info`).
   * @see mm/slub.c: __kmem_obj_info
   */
  objInfo(paddr: number): KmemObjInfo | null;
  /** The live caches, newest first, as `/proc/slabinfo` lists them. */
  caches(): KmemCache[];
  /** Shrinks every cache; returns the pages freed. @see mm/slub.c: kmem_cache_shrink */
  shrinkAll(): number;
  /**
   * `/proc/slabinfo`: the version 2.1 header and a row per cache, newest first.
   * @see mm/slab_common.c: print_slabinfo_header, cache_show
   */
  procSlabinfo(): string;
}

// ---------------------------------------------------------------- helpers

/** Smallest order whose block holds `size` bytes (`get_order`). */
function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** Objects of `size` in a slab of `order` (`order_objects`). */
function orderObjects(order: number, size: number): number {
  return Math.floor((PAGE_SIZE * 2 ** order) / size);
}

/** Most significant set bit, 1-based (`fls`). */
const fls = (x: number): number => 32 - Math.clz32(x);

/**
 * Slab order for objects of `size` on a machine with `nrCpus` CPUs: the smallest order
 * from the one that holds `min_objects` (4 × (fls(nrCpus) + 1)) up to slub_max_order
 * that wastes at most 1/16 of the slab, then 1/8, 1/4, 1/2; else the order of one object.
 * @see mm/slub.c: calculate_order, calc_slab_order
 */
function calculateOrder(size: number, nrCpus: number): number {
  const maxObjects = Math.max(orderObjects(SLUB_MAX_ORDER, size), 1);
  const minObjects = Math.min(4 * (fls(Math.max(nrCpus, 1)) + 1), maxObjects);
  const minOrder = getOrder(minObjects * size);
  if (orderObjects(minOrder, size) > MAX_OBJS_PER_PAGE)
    return getOrder(size * MAX_OBJS_PER_PAGE) - 1;
  for (let fraction = 16; fraction > 1; fraction /= 2) {
    let order = minOrder;
    for (; order <= SLUB_MAX_ORDER; order++) {
      const slabSize = PAGE_SIZE << order;
      if (slabSize % size <= slabSize / fraction) break;
    }
    if (order <= SLUB_MAX_ORDER) return order;
  }
  return getOrder(size);
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
/** An address as `0x…`; anything else that arrived as one, as itself. */
const hex = (n: number): string =>
  Number.isSafeInteger(n) && n >= 0 ? `0x${n.toString(16)}` : String(n);
const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

function setFreeptr(view: DataView, at: number, paddr: number): void {
  view.setUint32(at, paddr % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(paddr / 2 ** 32), true);
}

function getFreeptr(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

// ---------------------------------------------------------------- slabs and caches

/**
 * One slab: 2^order pages cut into objects. Its freelist head lives in the head page's
 * `P_INDEX` and the list itself in the free objects; this object holds views and counts.
 */
class Slab {
  /** Physical address of the first object. */
  readonly paddr: number;
  /** Objects allocated (and objects cut off a corrupt freechain). */
  inuse = 0;
  /** On the cache's partial list. */
  onPartial = false;
  /** One bit per object: allocated. */
  readonly allocated: Uint32Array;

  constructor(
    readonly cache: Cache,
    /** Head PFN. */
    readonly pfn: number,
    readonly order: number,
    readonly nid: number,
    readonly objects: number,
    /** The slab's bytes and a DataView on them. */
    readonly bytes: Uint8Array,
    readonly view: DataView,
    /** The head page's struct page words: `words[w + P_*]`. */
    readonly words: Int32Array,
    readonly w: number,
  ) {
    this.paddr = pfn * PAGE_SIZE;
    this.allocated = new Uint32Array(Math.ceil(objects / 32));
  }

  isAllocated(i: number): boolean {
    return (this.allocated[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  setAllocated(i: number, on: boolean): void {
    if (on) this.allocated[i >>> 5]! |= 1 << (i & 31);
    else this.allocated[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** Physical address of the first free object, 0 if none. */
  get freelist(): number {
    const enc = this.words[this.w + P_INDEX]!;
    return enc ? this.paddr + enc - 1 : 0;
  }

  set freelist(paddr: number) {
    this.words[this.w + P_INDEX] = paddr ? paddr - this.paddr + 1 : 0;
  }
}

class Cache implements KmemCache {
  readonly minPartial: number;
  readonly objectsPerSlab: number;
  /** Page allocation flags added to every slab allocation (`allocflags`). */
  readonly allocflags: number;
  /** Every slab, by head PFN. */
  readonly slabs = new Map<number, Slab>();
  /** The partial list, oldest first: allocations come from its head. */
  readonly partial = new Set<Slab>();
  /** Objects in all slabs (`total_objects`). */
  totalObjects = 0;
  /** Objects allocated, plus any cut off a corrupt freechain (they never come back). */
  inuse = 0;
  /** Set by a successful destroy; every later call is refused. */
  destroyed = false;
  /** `WARN_ON_ONCE(s->ctor && (flags & __GFP_ZERO))` fired. */
  warnedCtorZero = false;

  constructor(
    private readonly sa: Allocator,
    readonly id: number,
    readonly name: string,
    readonly objectSize: number,
    readonly size: number,
    readonly align: number,
    readonly offset: number,
    readonly order: number,
    readonly minOrder: number,
    readonly reclaimable: boolean,
    readonly isKmalloc: boolean,
    readonly ctor: ((bytes: Uint8Array) => void) | undefined,
  ) {
    this.objectsPerSlab = orderObjects(order, size);
    this.minPartial = Math.max(MIN_PARTIAL, Math.min(MAX_PARTIAL, Math.floor(Math.log2(size) / 2)));
    this.allocflags = __GFP_COMP | (reclaimable ? __GFP_RECLAIMABLE : 0);
  }

  get nrPartial(): number {
    return this.partial.size;
  }

  alloc(gfp: number): number | null {
    this.sa.checkLive(this, 'kmem_cache_alloc');
    return this.sa.slabAlloc(this, gfp);
  }

  free(paddr: number): void {
    this.sa.checkLive(this, 'kmem_cache_free');
    this.sa.cacheFree(this, paddr);
  }

  shrink(): number {
    this.sa.checkLive(this, 'kmem_cache_shrink');
    return this.sa.shrinkCache(this);
  }

  destroy(): void {
    this.sa.destroyCache(this);
  }

  getSlabinfo(): SlabInfo {
    return {
      activeObjs: this.inuse,
      numObjs: this.totalObjects,
      activeSlabs: this.slabs.size,
      numSlabs: this.slabs.size,
      objectsPerSlab: this.objectsPerSlab,
      cacheOrder: this.order,
      limit: 0,
      batchcount: 0,
      shared: 0,
      sharedAvail: 0,
    };
  }
}

/** What an address resolves to. */
type Hit =
  | { kind: 'slab'; cache: Cache; slab: Slab; index: number; objPaddr: number }
  | { kind: 'large'; pfn: number; order: number };

class Allocator implements SlabAllocator {
  debugBreak: SlabDebugBreak = 'none';
  /** Live caches, oldest first. */
  private readonly list: Cache[] = [];
  private readonly byId = new Map<number, Cache>();
  private nextId = 1;
  /** kmalloc caches by [type][size class]. */
  private readonly kmallocCaches: Cache[][] = [];
  /** Large kmallocs: head PFN → order. */
  private readonly large = new Map<number, number>();
  private readonly taint: SlabTaint;

  constructor(
    readonly mem: Memory,
    opts: SlabAllocatorOptions,
  ) {
    this.taint = opts.taint ?? localTaint();
    // create_kmalloc_caches: every type, every size, at boot.
    for (const type of [KMALLOC_NORMAL, KMALLOC_RECLAIM]) {
      const row: Cache[] = [];
      for (const size of KMALLOC_SIZES) {
        // create_kmalloc_cache: power-of-two sizes are naturally aligned.
        const align = isPow2(size) ? Math.max(FREEPTR_SIZE, size) : FREEPTR_SIZE;
        row.push(
          this.create(
            `${KMALLOC_PREFIX[type]}${sizeName(size)}`,
            size,
            align,
            type === KMALLOC_RECLAIM,
            true,
            undefined,
          ),
        );
      }
      this.kmallocCaches.push(row);
    }
  }

  // -------------------------------------------------------------- caches

  kmemCacheCreate(name: string, size: number, opts: KmemCacheOptions = {}): KmemCache {
    if (typeof name !== 'string' || name === '')
      throw new KernelError(
        'EINVAL',
        `kmem_cache_create(${String(name)}) integrity check failed: a cache needs a name`,
      );
    if (!Number.isInteger(size) || size < 1 || size > KMALLOC_MAX_SIZE)
      throw new KernelError(
        'EINVAL',
        `kmem_cache_create(${name}) integrity check failed: size ${size} is not an integer 1..${KMALLOC_MAX_SIZE}`,
      );
    const align = opts.align ?? 0;
    if (align !== 0 && !(isPow2(align) && align <= PAGE_SIZE))
      throw new KernelError(
        'EINVAL',
        `kmem_cache_create(${name}): align ${align} is not a power of two up to ${PAGE_SIZE}`,
      );
    if (opts.ctor !== undefined && typeof opts.ctor !== 'function')
      throw new KernelError('EINVAL', `kmem_cache_create(${name}): ctor is not a function`);
    // calculate_alignment: at least ARCH_SLAB_MINALIGN, a multiple of a word.
    return this.create(
      name,
      size,
      alignUp(Math.max(align, FREEPTR_SIZE), FREEPTR_SIZE),
      opts.reclaimable === true,
      false,
      opts.ctor,
    );
  }

  /** `do_kmem_cache_create` + `calculate_sizes`. */
  private create(
    name: string,
    objectSize: number,
    align: number,
    reclaimable: boolean,
    isKmalloc: boolean,
    ctor: ((b: Uint8Array) => void) | undefined,
  ): Cache {
    let size = alignUp(objectSize, FREEPTR_SIZE);
    let offset: number;
    if (ctor) {
      // The free pointer may not overwrite constructed state: put it after the object.
      offset = size;
      size += FREEPTR_SIZE;
    } else {
      // Near the middle, away from small overflows off either neighbour.
      offset = Math.floor(objectSize / 2 / FREEPTR_SIZE) * FREEPTR_SIZE;
    }
    size = alignUp(size, align);
    const order = calculateOrder(size, this.mem.nrCpus);
    const c = new Cache(
      this,
      this.nextId++,
      name,
      objectSize,
      size,
      align,
      offset,
      order,
      getOrder(size),
      reclaimable,
      isKmalloc,
      ctor,
    );
    this.list.push(c);
    this.byId.set(c.id, c);
    return c;
  }

  /** @throws KernelError EINVAL when `c` was destroyed. */
  checkLive(c: Cache, fn: string): void {
    if (c.destroyed) throw new KernelError('EINVAL', `${fn}: cache ${c.name} was destroyed`);
  }

  destroyCache(c: Cache): void {
    if (c.destroyed)
      throw new KernelError('EINVAL', `kmem_cache_destroy ${c.name}: cache already destroyed`);
    if (c.isKmalloc)
      throw new KernelError(
        'EINVAL',
        `kmem_cache_destroy ${c.name}: kmalloc caches live as long as the allocator`,
      );
    if (c.inuse > 0) {
      this.mem.log?.printk(3, `kmem_cache_destroy ${c.name}: Slab cache still has objects`);
      throw new KernelError(
        'EBUSY',
        `kmem_cache_destroy ${c.name}: Slab cache still has objects (${c.inuse} in use)`,
      );
    }
    for (const slab of [...c.slabs.values()]) this.discardSlab(slab);
    c.destroyed = true;
    this.list.splice(this.list.indexOf(c), 1);
    this.byId.delete(c.id);
  }

  shrinkCache(c: Cache): number {
    let pages = 0;
    for (const slab of [...c.partial])
      if (slab.inuse === 0) {
        pages += 1 << slab.order;
        this.discardSlab(slab);
      }
    return pages;
  }

  shrinkAll(): number {
    let pages = 0;
    for (const c of this.list) pages += this.shrinkCache(c);
    return pages;
  }

  caches(): KmemCache[] {
    return [...this.list].reverse();
  }

  // -------------------------------------------------------------- slabs

  /** `kmalloc_fix_flags`: strips GFP_SLAB_BUG_MASK with Linux's warning. */
  private fixFlags(gfp: number): number {
    const invalid = gfp & GFP_SLAB_BUG_MASK;
    const fixed = gfp & ~GFP_SLAB_BUG_MASK;
    this.mem.warn(
      `Unexpected gfp: ${hex(invalid >>> 0)} (${gfpNames(invalid)}). Fixing up to gfp: ${hex(fixed >>> 0)} (${gfpNames(fixed)}). Fix your code!`,
    );
    return fixed;
  }

  /**
   * A new slab for `c`: the preferred order tried without reclaim or warning, then the
   * minimum order with the caller's flags. Objects are constructed and chained in
   * address order. Null when the page allocator has nothing.
   * @see mm/slub.c: new_slab, allocate_slab, alloc_slab_page, setup_object
   */
  private allocateSlab(c: Cache, gfp: number): Slab | null {
    let flags = gfp;
    if (flags & GFP_SLAB_BUG_MASK) flags = this.fixFlags(flags);
    if (c.ctor && flags & __GFP_ZERO && !c.warnedCtorZero) {
      c.warnedCtorZero = true;
      this.mem.warn(
        `WARNING: CPU: ${this.mem.cpu} PID: 0 at mm/slub.c:new_slab: ${c.name} has a constructor but was asked for __GFP_ZERO`,
      );
    }
    flags = (flags & (GFP_RECLAIM_MASK | GFP_CONSTRAINT_MASK)) | c.allocflags;
    let order = c.order;
    let allocGfp = (flags | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_NOFAIL;
    if (allocGfp & __GFP_DIRECT_RECLAIM && order > c.minOrder)
      allocGfp = (allocGfp | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
    let pfn = this.mem.allocPages(allocGfp, order);
    if (pfn === null) {
      // Fragmentation: fall back to the order of one object.
      order = c.minOrder;
      pfn = this.mem.allocPages(flags, order);
      if (pfn === null) return null;
    }
    const mem = this.mem;
    const n = 1 << order;
    const [words, w] = mem.pageWords(pfn);
    const bytes = mem.pageBytes(pfn, order);
    const slab = new Slab(
      c,
      pfn,
      order,
      mem.pageToNid(pfn),
      Math.floor(bytes.length / c.size),
      bytes,
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      words,
      w,
    );
    for (let p = pfn; p < pfn + n; p++) mem.setPageFlag(p, PG_slab);
    words[w + P_PRIVATE] = c.id;
    try {
      for (let i = 0, off = 0; i < slab.objects; i++, off += c.size) {
        if (c.ctor) c.ctor(bytes.subarray(off, off + c.objectSize));
        setFreeptr(slab.view, off + c.offset, i + 1 < slab.objects ? slab.paddr + off + c.size : 0);
      }
    } catch (e) {
      // A constructor threw: give the pages back untouched by the slab allocator.
      this.releasePages(slab);
      throw e;
    }
    slab.freelist = slab.paddr;
    mem.modNodeState(slab.nid, c.reclaimable ? 'nr_slab_reclaimable' : 'nr_slab_unreclaimable', n);
    c.slabs.set(pfn, slab);
    c.totalObjects += slab.objects;
    return slab;
  }

  /** Clears what the slab set in the page array and frees the pages. */
  private releasePages(slab: Slab): void {
    for (let p = slab.pfn; p < slab.pfn + (1 << slab.order); p++)
      this.mem.clearPageFlag(p, PG_slab);
    slab.words[slab.w + P_PRIVATE] = 0;
    slab.words[slab.w + P_INDEX] = 0;
    this.mem.freePages(slab.pfn, slab.order);
  }

  /** Unlinks an empty slab and gives its pages back (`discard_slab`). */
  private discardSlab(slab: Slab): void {
    const c = slab.cache;
    this.removePartial(slab);
    c.slabs.delete(slab.pfn);
    c.totalObjects -= slab.objects;
    c.inuse -= slab.inuse;
    this.mem.modNodeState(
      slab.nid,
      c.reclaimable ? 'nr_slab_reclaimable' : 'nr_slab_unreclaimable',
      -(1 << slab.order),
    );
    if (this.debugBreak === 'leak-slab-pages') return;
    this.releasePages(slab);
  }

  private addPartial(slab: Slab): void {
    if (slab.onPartial) return;
    slab.onPartial = true;
    slab.cache.partial.add(slab);
  }

  private removePartial(slab: Slab): void {
    if (!slab.onPartial) return;
    slab.onPartial = false;
    slab.cache.partial.delete(slab);
  }

  // -------------------------------------------------------------- alloc

  /** Whether `next`, read from a free object, can be the next free object of `slab`. */
  private validNext(slab: Slab, obj: number, next: number): boolean {
    if (next === 0) return true;
    const off = next - slab.paddr;
    const size = slab.cache.size;
    if (!(off >= 0 && off < slab.objects * size && off % size === 0) || next === obj) return false;
    return !slab.isAllocated(off / size);
  }

  slabAlloc(c: Cache, gfp: number): number | null {
    let slab: Slab | undefined;
    for (;;) {
      slab = c.partial.values().next().value;
      if (!slab) {
        const fresh = this.allocateSlab(c, gfp);
        if (!fresh) return null;
        slab = fresh;
        this.addPartial(slab);
      }
      const head = slab.freelist;
      if (
        head !== 0 &&
        (this.validNext(slab, 0, head) || this.debugBreak === 'freelist-no-advance')
      )
        break;
      // The struct page's freelist head was overwritten: take the slab out of use.
      this.slabErr(slab, `Freelist head ${hex(head)} corrupt`);
      c.inuse += slab.objects - slab.inuse;
      slab.inuse = slab.objects;
      slab.freelist = 0;
      this.removePartial(slab);
    }
    const obj = slab.freelist;
    const index = (obj - slab.paddr) / c.size;
    const next = getFreeptr(slab.view, obj - slab.paddr + c.offset);
    if (!this.validNext(slab, obj, next)) {
      // A free object was written to: cut the rest of the chain off, as SLUB does.
      this.objectErr(slab, obj, 'Freechain corrupt', 'Isolate corrupted freechain');
      slab.freelist = 0;
      c.inuse += slab.objects - 1 - slab.inuse;
      slab.inuse = slab.objects - 1;
    } else if (this.debugBreak !== 'freelist-no-advance') {
      slab.freelist = next;
    }
    slab.setAllocated(index, true);
    slab.inuse++;
    c.inuse++;
    if (slab.freelist === 0) this.removePartial(slab);
    if (gfp & __GFP_ZERO) slab.bytes.fill(0, obj - slab.paddr, obj - slab.paddr + c.objectSize);
    return obj;
  }

  kmallocCache(size: number, gfp = 0): KmemCache | null {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new KernelError('EINVAL', `kmalloc_slab: size ${size} is not a byte count`);
    return this.kmallocSlab(size, gfp);
  }

  private kmallocSlab(size: number, gfp: number): Cache | null {
    if (size === 0 || size > KMALLOC_MAX_CACHE_SIZE) return null;
    const type = gfp & __GFP_RECLAIMABLE ? KMALLOC_RECLAIM : KMALLOC_NORMAL;
    const idx = KMALLOC_SIZES.findIndex((s) => size <= s);
    return this.kmallocCaches[type]![idx]!;
  }

  kmalloc(size: number, gfp: number): number | null {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new KernelError('EINVAL', `kmalloc: size ${size} is not a byte count`);
    if (size === 0) return ZERO_SIZE_PTR;
    const c = this.kmallocSlab(size, gfp);
    if (c) return this.slabAlloc(c, gfp);
    return this.kmallocLarge(size, gfp);
  }

  kzalloc(size: number, gfp: number): number | null {
    return this.kmalloc(size, gfp | __GFP_ZERO);
  }

  /** `__kmalloc_large_node`: a compound page, accounted as unreclaimable slab. */
  private kmallocLarge(size: number, gfp: number): number | null {
    let flags = gfp;
    if (flags & GFP_SLAB_BUG_MASK) flags = this.fixFlags(flags);
    const order = getOrder(size);
    const pfn = this.mem.allocPages(flags | __GFP_COMP, order);
    if (pfn === null) return null;
    this.large.set(pfn, order);
    this.mem.modNodeState(this.mem.pageToNid(pfn), 'nr_slab_unreclaimable', 1 << order);
    return pfn * PAGE_SIZE;
  }

  // -------------------------------------------------------------- lookup and free

  /** The slab object or large kmalloc holding `paddr`, found from the page array. */
  private resolve(paddr: number): Hit | null {
    if (!Number.isSafeInteger(paddr) || paddr < 0) return null;
    const mem = this.mem;
    const pfn = Math.floor(paddr / PAGE_SIZE);
    if (!mem.pfnValid(pfn)) return null;
    const flags = mem.pageField(pfn, P_FLAGS);
    const head = flags & (1 << PG_tail) ? mem.pageField(pfn, P_NEXT) - 1 : pfn;
    if (flags & (1 << PG_slab)) {
      const cache = this.byId.get(mem.pageField(head, P_PRIVATE));
      const slab = cache?.slabs.get(head);
      if (!cache || !slab) return null;
      const index = Math.floor((paddr - slab.paddr) / cache.size);
      if (index >= slab.objects) return null;
      return { kind: 'slab', cache, slab, index, objPaddr: slab.paddr + index * cache.size };
    }
    const order = this.large.get(head);
    return order === undefined ? null : { kind: 'large', pfn: head, order };
  }

  kfree(paddr: number): void {
    if (Number.isSafeInteger(paddr) && paddr >= 0 && paddr <= ZERO_SIZE_PTR) return; // ZERO_OR_NULL_PTR
    const hit = this.resolve(paddr);
    if (!hit) throw new KernelError('EINVAL', `kfree: ${hex(paddr)} is not a slab object`);
    if (hit.kind === 'large') {
      if (paddr !== hit.pfn * PAGE_SIZE)
        throw new KernelError(
          'EINVAL',
          `kfree: ${hex(paddr)} is inside the large kmalloc at ${hex(hit.pfn * PAGE_SIZE)}, not its start`,
        );
      this.large.delete(hit.pfn);
      this.mem.modNodeState(
        this.mem.pageToNid(hit.pfn),
        'nr_slab_unreclaimable',
        -(1 << hit.order),
      );
      this.mem.freePages(hit.pfn, hit.order);
      return;
    }
    this.slabFree(hit.slab, paddr, 'kfree');
  }

  cacheFree(c: Cache, paddr: number): void {
    const hit = this.resolve(paddr);
    if (!hit || hit.kind !== 'slab')
      throw new KernelError(
        'EINVAL',
        `kmem_cache_free(${c.name}): ${hex(paddr)} is not a slab object`,
      );
    if (hit.cache !== c) {
      this.mem.warn(
        `cache_from_obj: Wrong slab cache. ${c.name} but object is from ${hit.cache.name}`,
      );
      throw new KernelError(
        'EINVAL',
        `kmem_cache_free(${c.name}): ${hex(paddr)} is an object of ${hit.cache.name}`,
      );
    }
    this.slabFree(hit.slab, paddr, 'kmem_cache_free');
  }

  /**
   * Puts an object back on its slab's freelist (`__slab_free`), after SLUB's
   * `free_consistency_checks`. A slab that becomes empty is freed if the partial list
   * already holds `min_partial` slabs.
   */
  private slabFree(slab: Slab, paddr: number, fn: string): void {
    const c = slab.cache;
    const off = paddr - slab.paddr;
    const index = off / c.size;
    if (!Number.isInteger(index)) {
      this.slabErr(slab, `Invalid object pointer ${hex(paddr)}`);
      throw new KernelError(
        'EINVAL',
        `${fn}: ${hex(paddr)} is not an object boundary in ${c.name} (offset ${off % c.size} into object ${Math.floor(index)} of the slab at pfn ${hex(slab.pfn)})`,
      );
    }
    if (!slab.isAllocated(index) && this.debugBreak !== 'skip-double-free-check') {
      this.objectErr(slab, paddr, 'Object already free', `Object at ${hex(paddr)} not freed`);
      throw new KernelError(
        'EINVAL',
        `${fn}: double free of ${hex(paddr)} in ${c.name}: object already free`,
      );
    }
    const wasFull = slab.freelist === 0;
    setFreeptr(slab.view, off + c.offset, slab.freelist);
    slab.freelist = paddr;
    slab.setAllocated(index, false);
    slab.inuse--;
    c.inuse--;
    if (slab.inuse === 0 && c.partial.size >= c.minPartial) {
      this.discardSlab(slab);
      return;
    }
    if (wasFull) this.addPartial(slab);
  }

  ksize(paddr: number): number {
    if (Number.isSafeInteger(paddr) && paddr >= 0 && paddr <= ZERO_SIZE_PTR) return 0;
    const hit = this.resolve(paddr);
    if (!hit) throw new KernelError('EINVAL', `ksize: ${hex(paddr)} is not a slab object`);
    if (hit.kind === 'large') return PAGE_SIZE << hit.order;
    if (hit.objPaddr !== paddr)
      throw new KernelError(
        'EINVAL',
        `ksize: ${hex(paddr)} is not an object boundary in ${hit.cache.name}`,
      );
    if (!hit.slab.isAllocated(hit.index))
      throw new KernelError('EINVAL', `ksize: ${hex(paddr)} in ${hit.cache.name} is free`);
    return hit.cache.objectSize;
  }

  bytes(paddr: number, len?: number): Uint8Array {
    const info = this.objInfo(paddr);
    if (!info) throw new KernelError('EINVAL', `bytes: ${hex(paddr)} is not in a slab object`);
    const name = info.cache?.name ?? 'a large kmalloc';
    if (!info.allocated)
      throw new KernelError('EINVAL', `bytes: ${hex(paddr)} is in a free object of ${name}`);
    const room = info.size - info.offset;
    const n = len ?? room;
    if (!Number.isInteger(n) || n < 0 || n > room)
      throw new KernelError(
        'EINVAL',
        `bytes: ${n} bytes at ${hex(paddr)} overrun the ${info.size}-byte object at ${hex(info.objectPaddr)} of ${name}`,
      );
    const s = this.mem.sectionOf(info.slabPfn);
    const at = paddr - s.startPfn * PAGE_SIZE;
    return s.bytes.subarray(at, at + n);
  }

  objInfo(paddr: number): KmemObjInfo | null {
    const hit = this.resolve(paddr);
    if (!hit) return null;
    if (hit.kind === 'large') {
      const start = hit.pfn * PAGE_SIZE;
      return {
        cache: null,
        slabPfn: hit.pfn,
        slabOrder: hit.order,
        objectPaddr: start,
        index: 0,
        offset: paddr - start,
        size: PAGE_SIZE << hit.order,
        allocated: true,
      };
    }
    const { cache, slab, index, objPaddr } = hit;
    return {
      cache,
      slabPfn: slab.pfn,
      slabOrder: slab.order,
      objectPaddr: objPaddr,
      index,
      offset: paddr - objPaddr,
      size: cache.objectSize,
      allocated: slab.isAllocated(index),
    };
  }

  // -------------------------------------------------------------- reports

  /** `slab_bug`: the banner of a slab BUG report. */
  private slabBug(c: Cache, reason: string): void {
    const log = this.mem.log;
    if (log) {
      log.printk(3, '='.repeat(77));
      log.printk(3, `BUG ${c.name} (${this.taint.tainted()}): ${reason}`);
      log.printk(3, '-'.repeat(77));
      log.printk(3, '');
    }
  }

  /** `print_slab_info`. */
  private printSlabInfo(slab: Slab): void {
    this.mem.log?.printk(
      3,
      `Slab 0x${hex16(this.mem.pageStructPaddr(slab.pfn))} objects=${slab.objects} used=${slab.inuse} fp=0x${hex16(slab.freelist)} flags=${formatPageFlags(slab.words[slab.w + P_FLAGS]!)}`,
    );
  }

  /** `slab_err`: a report about a slab. @see mm/slub.c: slab_err */
  private slabErr(slab: Slab, reason: string): void {
    this.slabBug(slab.cache, reason);
    this.printSlabInfo(slab);
    this.taint.addTaint(TAINT_BAD_PAGE);
  }

  /** `object_err` (+ `slab_fix`): a report about one object. @see mm/slub.c: object_err, print_trailer */
  private objectErr(slab: Slab, obj: number, reason: string, fix: string): void {
    const c = slab.cache;
    this.slabBug(c, reason);
    this.printSlabInfo(slab);
    const log = this.mem.log;
    if (log) {
      const off = obj - slab.paddr;
      log.printk(
        3,
        `Object 0x${hex16(obj)} @offset=${off} fp=0x${hex16(getFreeptr(slab.view, off + c.offset))}`,
      );
      log.printk(3, '');
      log.printk(3, `FIX ${c.name}: ${fix}`);
    }
    this.taint.addTaint(TAINT_BAD_PAGE);
  }

  // -------------------------------------------------------------- /proc/slabinfo

  procSlabinfo(): string {
    const p = (n: number, w: number): string => String(n).padStart(w);
    let out =
      'slabinfo - version: 2.1\n' +
      '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>' +
      ' : tunables <limit> <batchcount> <sharedfactor>' +
      ' : slabdata <active_slabs> <num_slabs> <sharedavail>\n';
    for (const c of this.caches()) {
      const s = c.getSlabinfo();
      out +=
        `${c.name.padEnd(17)} ${p(s.activeObjs, 6)} ${p(s.numObjs, 6)} ${p(c.size, 6)} ${p(s.objectsPerSlab, 4)} ${p(1 << s.cacheOrder, 4)}` +
        ` : tunables ${p(s.limit, 4)} ${p(s.batchcount, 4)} ${p(s.shared, 4)}` +
        ` : slabdata ${p(s.activeSlabs, 6)} ${p(s.numSlabs, 6)} ${p(s.sharedAvail, 6)}\n`;
    }
    return out;
  }
}

/** `%pGg` of a mask without its `0x…(` `)` wrapper. */
function gfpNames(gfp: number): string {
  const s = formatGfp(gfp);
  return s.slice(s.indexOf('(') + 1, -1);
}

/** A taint state of the allocator's own, printing as `print_tainted()` does. */
function localTaint(): SlabTaint {
  let mask = 0;
  return {
    addTaint(flag: number): void {
      mask |= 1 << flag;
    },
    tainted(): string {
      if (!mask) return 'Not tainted';
      let s = '';
      for (let i = 0; i < TAINT_FLAGS_COUNT; i++)
        s += mask & (1 << i) ? 'PFSRMBUDAWCIOELKXT'[i]! : i === 0 ? 'G' : ' ';
      return `Tainted: ${s}`;
    },
  };
}

/**
 * Creates the slab allocator of a machine, with the kmalloc caches (`kmalloc-8` …
 * `kmalloc-8k` and their `kmalloc-rcl-*` twins) made at once, as `kmem_cache_init`
 * does; they take no pages until first used.
 *
 * @see mm/slub.c: kmem_cache_init, mm/slab_common.c: create_kmalloc_caches
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function createSlabAllocator(mem: Memory, opts: SlabAllocatorOptions = {}): SlabAllocator {
  checkMemory(mem, 'createSlabAllocator');
  return new Allocator(mem, opts);
}
