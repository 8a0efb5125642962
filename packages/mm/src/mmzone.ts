/**
 * Constants of the zoned buddy allocator: page size, orders, migrate types, zones.
 *
 * @see include/linux/mmzone.h, include/linux/pageblock-flags.h
 */

import { __GFP_DMA, __GFP_DMA32, __GFP_HIGHMEM, __GFP_MOVABLE, __GFP_RECLAIMABLE } from './gfp.js';
import {
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_PCPTYPES,
  ZONE_DMA32,
  ZONE_NORMAL,
  ZONE_MOVABLE,
} from './layout.js';

// The basic numbers live in layout.ts, a module without imports, so that bundles inline them.
export {
  PAGE_SHIFT,
  PAGE_SIZE,
  MAX_PAGE_ORDER,
  NR_PAGE_ORDERS,
  PAGE_ALLOC_COSTLY_ORDER,
  pageblock_order,
  pageblock_nr_pages,
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_TYPES,
  ZONE_DMA32,
  ZONE_NORMAL,
  ZONE_MOVABLE,
  MAX_NR_ZONES,
  MAX_NUMNODES,
  NR_PCP_LISTS,
} from './layout.js';

/**
 * A view of one zone's words in shared memory (`struct zone`, layout.ts `Z_*`), with
 * this thread's CPU's per-CPU offsets for it.
 */
export interface ZoneRef {
  /** The node data array. */
  readonly a: Int32Array;
  /** Word offset of the zone in `a`. */
  readonly b: number;
  readonly nid: number;
  readonly zid: number;
  /** Word offset in `a` of this thread's CPU's per-CPU page set for the zone. */
  pcp: number;
  /** Word offset in `a` of this thread's CPU's VM event counters. */
  ev: number;
  /** `ev` plus this zone's pgalloc counter (the fast path's, precomputed). */
  evAlloc: number;
  /** `ev` plus the pgfree counter. */
  evFree: number;
  /** Word offset in `a` of the node's N_SMP_ACTIVE word. */
  readonly smpActive: number;
}

/** Names as `/proc/pagetypeinfo` prints them. */
export const migratetypeNames = [
  'Unmovable',
  'Movable',
  'Reclaimable',
  'HighAtomic',
  'Isolate',
] as const;

/** Zone names as `/proc/zoneinfo` and `/proc/buddyinfo` print them. */
export const zoneNames = ['DMA32', 'Normal', 'Movable'] as const;

/** Index of the per-CPU list for an order and migrate type (`order_to_pindex`). */
export function orderToPindex(migratetype: number, order: number): number {
  return order * MIGRATE_PCPTYPES + migratetype;
}

/** The order of a per-CPU list's pages (`pindex_to_order`). */
export function pindexToOrder(pindex: number): number {
  return Math.floor(pindex / MIGRATE_PCPTYPES);
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
