/**
 * Constants of the zoned buddy allocator: page size, orders, migrate types, zones.
 *
 * @see include/linux/mmzone.h, include/linux/pageblock-flags.h
 */

import { __GFP_DMA, __GFP_DMA32, __GFP_HIGHMEM, __GFP_MOVABLE, __GFP_RECLAIMABLE } from './gfp.js';

/** log2 of the page size. */
export const PAGE_SHIFT = 12;
/** Bytes in a page. */
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** The largest order the buddy allocator hands out: 2^10 pages, 4 MiB. */
export const MAX_PAGE_ORDER = 10;
/** Number of orders, 0..MAX_PAGE_ORDER. */
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** Orders above this are "costly" and bypass the per-CPU lists. */
export const PAGE_ALLOC_COSTLY_ORDER = 3;
/** A pageblock is 2^9 pages (2 MiB): the unit migrate types are tracked in. */
export const pageblock_order = 9;
/** Pages in a pageblock. */
export const pageblock_nr_pages = 1 << pageblock_order;

/** Pages that cannot move (most kernel allocations). */
export const MIGRATE_UNMOVABLE = 0;
/** Pages that can be migrated (page cache, anonymous memory). */
export const MIGRATE_MOVABLE = 1;
/** Pages a shrinker can free (reclaimable slab). */
export const MIGRATE_RECLAIMABLE = 2;
/** The migrate types with per-CPU lists. */
export const MIGRATE_PCPTYPES = 3;
/** A reserve for high-order atomic allocations. */
export const MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES;
/** Pageblocks being isolated (memory offline): nothing is allocated from them. */
export const MIGRATE_ISOLATE = 4;
/** Number of migrate types (kern has no CMA). */
export const MIGRATE_TYPES = 5;
/** Names as `/proc/pagetypeinfo` prints them. */
export const migratetypeNames = [
  'Unmovable',
  'Movable',
  'Reclaimable',
  'HighAtomic',
  'Isolate',
] as const;

/** Memory below 4 GiB (devices limited to 32-bit DMA). */
export const ZONE_DMA32 = 0;
/** Normal kernel memory. */
export const ZONE_NORMAL = 1;
/** Only movable allocations: memory that can be offlined. */
export const ZONE_MOVABLE = 2;
/** Number of zones per node. */
export const MAX_NR_ZONES = 3;
/** Zone names as `/proc/zoneinfo` and `/proc/buddyinfo` print them. */
export const zoneNames = ['DMA32', 'Normal', 'Movable'] as const;

/** Most NUMA nodes a machine may have (node id fits the page flags). */
export const MAX_NUMNODES = 64;

/** Per-CPU lists: one per (order ≤ PAGE_ALLOC_COSTLY_ORDER, migrate type < MIGRATE_PCPTYPES). */
export const NR_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);

/** Index of the per-CPU list for an order and migrate type (`order_to_pindex`). */
export function orderToPindex(migratetype: number, order: number): number {
  return order * MIGRATE_PCPTYPES + migratetype;
}

/** The migrate type a GFP mask asks for (`gfp_migratetype`). */
export function gfpMigratetype(gfp: number): number {
  return (gfp & (__GFP_MOVABLE | __GFP_RECLAIMABLE)) >>> 3;
}

/** The highest zone a GFP mask may use (`gfp_zone`). */
export function gfpZone(gfp: number): number {
  if (gfp & (__GFP_DMA | __GFP_DMA32)) return ZONE_DMA32;
  if ((gfp & (__GFP_HIGHMEM | __GFP_MOVABLE)) === (__GFP_HIGHMEM | __GFP_MOVABLE))
    return ZONE_MOVABLE;
  return ZONE_NORMAL;
}

/**
 * Where a migrate type falls back to when its own lists are empty.
 * @see mm/page_alloc.c: fallbacks
 */
export const fallbacks: readonly (readonly number[])[] = [
  [MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE], // UNMOVABLE
  [MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE], // MOVABLE
  [MIGRATE_UNMOVABLE, MIGRATE_MOVABLE], // RECLAIMABLE
];
