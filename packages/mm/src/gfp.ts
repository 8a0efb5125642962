/**
 * GFP ("get free pages") flags: what an allocation may do and where it may come from.
 * Bit values are Linux's, so `mode:0xcc0(GFP_KERNEL)` reads the same here.
 *
 * @see include/linux/gfp_types.h
 */

/** Allocate from ZONE_DMA (kern has no ZONE_DMA; treated as DMA32). */
export const __GFP_DMA = 0x01;
/** Allocations may use the highest zone (ZONE_MOVABLE with __GFP_MOVABLE). */
export const __GFP_HIGHMEM = 0x02;
/** Allocate below 4 GiB (ZONE_DMA32). */
export const __GFP_DMA32 = 0x04;
/** The page can be migrated or reclaimed: MIGRATE_MOVABLE, and ZONE_MOVABLE with __GFP_HIGHMEM. */
export const __GFP_MOVABLE = 0x08;
/** Slab pages that shrinkers can free: MIGRATE_RECLAIMABLE. */
export const __GFP_RECLAIMABLE = 0x10;
/** High priority: may dip below the min watermark (half of it). */
export const __GFP_HIGH = 0x20;
/** May start physical I/O. */
export const __GFP_IO = 0x40;
/** May call down into the filesystem. */
export const __GFP_FS = 0x80;
/** Return zeroed pages. */
export const __GFP_ZERO = 0x100;
/** May enter direct reclaim (the caller can sleep). */
export const __GFP_DIRECT_RECLAIM = 0x400;
/** May wake kswapd when the low watermark is reached. */
export const __GFP_KSWAPD_RECLAIM = 0x800;
/** The page will be written to (dirty-limit spreading; accepted and ignored). */
export const __GFP_WRITE = 0x1000;
/** Do not print an allocation failure warning. */
export const __GFP_NOWARN = 0x2000;
/** Try hard, but fail rather than OOM. */
export const __GFP_RETRY_MAYFAIL = 0x4000;
/** Retry forever (kern fails with a warning after reclaim finds nothing, rather than hang). */
export const __GFP_NOFAIL = 0x8000;
/** Give up after one round of reclaim. */
export const __GFP_NORETRY = 0x10000;
/** Use the emergency reserves. */
export const __GFP_MEMALLOC = 0x20000;
/** Make a compound page (head + tails). */
export const __GFP_COMP = 0x40000;
/** Never use the emergency reserves. */
export const __GFP_NOMEMALLOC = 0x80000;
/** Enforce the cpuset's memory policy. */
export const __GFP_HARDWALL = 0x100000;
/** Only the requested (or local) node: no fallback to other nodes. */
export const __GFP_THISNODE = 0x200000;
/** Charge to the memory cgroup (accepted and ignored). */
export const __GFP_ACCOUNT = 0x400000;

/** Both reclaim flags. */
export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

/** Kernel allocations that may sleep, do I/O and enter the filesystem. */
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
/** Atomic context: cannot sleep, may use part of the reserves. */
export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
/** Cannot sleep, no reserves. */
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
/** May sleep, no I/O. */
export const GFP_NOIO = __GFP_RECLAIM;
/** May sleep and do I/O, but not enter the filesystem. */
export const GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
/** User-space allocations that must stay directly accessible by the kernel. */
export const GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
/** Below 4 GiB. */
export const GFP_DMA32 = __GFP_DMA32;
/** User pages that may go in high memory. */
export const GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
/** User pages that can be migrated: the page cache and anonymous memory. */
export const GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;

/** @internal Flags the order-0 fast path leaves to the general path (memory.ts: allocPages). */
export const FAST_PATH_EXCLUDED = __GFP_THISNODE | __GFP_ZERO | __GFP_COMP;

// alloc_flags (mm/internal.h): how far into the reserves an allocation may go.
/** alloc_flags: which watermark (low two bits). */
export const ALLOC_WMARK_MASK = 3;
/** alloc_flags: ignore watermarks. */
export const ALLOC_NO_WATERMARKS = 4;
/** alloc_flags: __GFP_HIGH, may use half of the min reserve. */
export const ALLOC_MIN_RESERVE = 0x8;
/** alloc_flags: cannot sleep, may use a further quarter. */
export const ALLOC_NON_BLOCK = 0x10;
/** alloc_flags: may use the high-order atomic reserve. */
export const ALLOC_HIGHATOMIC = 0x200;

/** Names in the order Linux's `%pGg` prints compound names first, then single flags. */
const COMPOUND: [number, string][] = [
  [GFP_HIGHUSER_MOVABLE, 'GFP_HIGHUSER_MOVABLE'],
  [GFP_HIGHUSER, 'GFP_HIGHUSER'],
  [GFP_USER, 'GFP_USER'],
  [GFP_KERNEL, 'GFP_KERNEL'],
  [GFP_NOFS, 'GFP_NOFS'],
  [GFP_ATOMIC, 'GFP_ATOMIC'],
  [GFP_NOIO, 'GFP_NOIO'],
  [GFP_NOWAIT, 'GFP_NOWAIT'],
  [GFP_DMA32, 'GFP_DMA32'],
];
const SINGLE: [number, string][] = [
  [__GFP_DMA, '__GFP_DMA'],
  [__GFP_HIGHMEM, '__GFP_HIGHMEM'],
  [__GFP_DMA32, '__GFP_DMA32'],
  [__GFP_MOVABLE, '__GFP_MOVABLE'],
  [__GFP_RECLAIMABLE, '__GFP_RECLAIMABLE'],
  [__GFP_HIGH, '__GFP_HIGH'],
  [__GFP_IO, '__GFP_IO'],
  [__GFP_FS, '__GFP_FS'],
  [__GFP_ZERO, '__GFP_ZERO'],
  [__GFP_DIRECT_RECLAIM, '__GFP_DIRECT_RECLAIM'],
  [__GFP_KSWAPD_RECLAIM, '__GFP_KSWAPD_RECLAIM'],
  [__GFP_WRITE, '__GFP_WRITE'],
  [__GFP_NOWARN, '__GFP_NOWARN'],
  [__GFP_RETRY_MAYFAIL, '__GFP_RETRY_MAYFAIL'],
  [__GFP_NOFAIL, '__GFP_NOFAIL'],
  [__GFP_NORETRY, '__GFP_NORETRY'],
  [__GFP_MEMALLOC, '__GFP_MEMALLOC'],
  [__GFP_COMP, '__GFP_COMP'],
  [__GFP_NOMEMALLOC, '__GFP_NOMEMALLOC'],
  [__GFP_HARDWALL, '__GFP_HARDWALL'],
  [__GFP_THISNODE, '__GFP_THISNODE'],
  [__GFP_ACCOUNT, '__GFP_ACCOUNT'],
];

/**
 * Formats a GFP mask as Linux's `%#x(%pGg)`: `0xcc0(GFP_KERNEL)`,
 * `0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)`.
 * @see mm/debug.c: gfpflag_names, lib/vsprintf.c: flags_string
 */
export function formatGfp(gfp: number): string {
  const names: string[] = [];
  let rest = gfp >>> 0;
  for (const [mask, name] of COMPOUND)
    if (mask && (rest & mask) === mask) {
      names.push(name);
      rest &= ~mask;
      break;
    }
  for (const [mask, name] of SINGLE)
    if (rest & mask) {
      names.push(name);
      rest &= ~mask;
    }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return `0x${(gfp >>> 0).toString(16)}(${names.join('|') || 'none'})`;
}
