/**
 * The buddy free lists of a zone, all with the zone lock held (`Locked` in Linux's
 * sense: the caller took `zoneLock`): adding, removing and moving free blocks, merging a
 * freed block with its buddies, splitting a block for an allocation, stealing from
 * another migrate type, and the high-order atomic reserve. Not public API: the
 * allocator (page-alloc.ts, pcp.ts), boot (mm-init.ts) and isolation use them, as
 * mm/internal.h serves mm/.
 *
 * @see mm/page_alloc.c: __add_to_free_list, __free_one_page, __rmqueue_smallest, expand,
 *      __rmqueue_fallback, move_freepages_block, reserve_highatomic_pageblock
 */

import { ALLOC_HIGHATOMIC } from '../gfp.js';
import {
  P_FLAGS,
  P_INDEX,
  P_MAPPING,
  P_PRIVATE,
  PAGE_WORDS,
  Z_FREE_HEAD,
  Z_FREE_MT_NR,
  Z_FREE_NR,
  Z_FREE_TAIL,
  Z_LOCK,
  Z_MANAGED,
  Z_NR_FREE,
  Z_NR_RESERVED_HIGHATOMIC,
  freeListIndex,
  NO_PAGE,
} from '../layout.js';
import type { Memory } from '../memory.js';
import {
  MAX_PAGE_ORDER,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_UNMOVABLE,
  fallbacks,
  pageblock_nr_pages,
  pageblock_order,
  type ZoneRef,
} from '../mmzone.js';
import { NODES_PGSHIFT, PG_buddy, PG_lru, PG_pcp, ZONES_PGSHIFT } from '../page-flags.js';
import { MEMMAP_WORD } from '../sparse.js';
import { lockWord, unlockWord } from './lock.js';
import { listAddHead, listAddTail, listDel } from './pfn-list.js';

/** Takes a zone's lock (`spin_lock_irqsave(&zone->lock)`), unless the machine takes none. */
export function zoneLock(mem: Memory, z: ZoneRef): void {
  lockWord(mem, z.a, z.b + Z_LOCK);
}

/** Releases a zone's lock. */
export function zoneUnlock(mem: Memory, z: ZoneRef): void {
  unlockWord(mem, z.a, z.b + Z_LOCK);
}

/** Sets a pageblock's migrate type (`set_pageblock_migratetype`). Zone lock held. */
export function setPageblockMigratetype(mem: Memory, pfn: number, mt: number): void {
  mem.sectionOf(pfn).usemap[(pfn & mem.sectionMask) >>> pageblock_order] = mt;
}

/** Adds a free block to a free list (`__add_to_free_list`). Zone lock held. */
export function addToFreeList(
  mem: Memory,
  z: ZoneRef,
  pfn: number,
  order: number,
  mt: number,
  tail: boolean,
): void {
  const pa = mem.secI32[pfn >>> mem.sectionShift]!;
  const pi = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
  pa[pi + P_FLAGS] = (pa[pi + P_FLAGS]! & ~(1 << PG_pcp)) | (1 << PG_buddy);
  pa[pi + P_PRIVATE] = order;
  pa[pi + P_INDEX] = mt;
  const li = freeListIndex(order, mt);
  const za = z.a;
  const hi = z.b + Z_FREE_HEAD + li;
  const ti = z.b + Z_FREE_TAIL + li;
  if (tail) listAddTail(mem, za, hi, ti, pfn, pa, pi);
  else listAddHead(mem, za, hi, ti, pfn, pa, pi);
  za[z.b + Z_FREE_MT_NR + li]!++;
  za[z.b + Z_FREE_NR + order]!++;
}

/** Removes a free block from its free list (`del_page_from_free_list`). Zone lock held. */
export function delFromFreeList(mem: Memory, z: ZoneRef, pfn: number, order: number): void {
  const pa = mem.secI32[pfn >>> mem.sectionShift]!;
  const pi = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
  const li = freeListIndex(order, pa[pi + P_INDEX]!);
  const za = z.a;
  listDel(mem, za, z.b + Z_FREE_HEAD + li, z.b + Z_FREE_TAIL + li, pa, pi);
  pa[pi + P_FLAGS] = pa[pi + P_FLAGS]! & ~(1 << PG_buddy);
  pa[pi + P_PRIVATE] = 0;
  pa[pi + P_INDEX] = 0;
  za[z.b + Z_FREE_MT_NR + li]!--;
  za[z.b + Z_FREE_NR + order]!--;
}

/** Moves a free block to another migrate type's list (`move_to_free_list`). Zone lock held. */
export function moveToFreeList(
  mem: Memory,
  z: ZoneRef,
  pfn: number,
  order: number,
  mt: number,
): void {
  const old = mem.pageField(pfn, P_INDEX);
  delFromFreeList(mem, z, pfn, order);
  addToFreeList(mem, z, pfn, order, mt, true);
  accountFreepages(z, order, old, mt);
}

/** Adjusts NR_FREE_PAGES when free pages move in or out of the isolate type. Zone lock held. */
export function accountFreepages(z: ZoneRef, order: number, from: number, to: number): void {
  if ((from === MIGRATE_ISOLATE) === (to === MIGRATE_ISOLATE)) return;
  z.a[z.b + Z_NR_FREE]! += to === MIGRATE_ISOLATE ? -(1 << order) : 1 << order;
}

/** Whether `pfn` heads a free buddy block of `order` in zone `z` (`page_is_buddy`). */
export function pageIsBuddy(mem: Memory, z: ZoneRef, pfn: number, order: number): boolean {
  const s = mem.sections[pfn >>> mem.sectionShift];
  if (!s) return false;
  const i = MEMMAP_WORD + (pfn & mem.sectionMask) * PAGE_WORDS;
  const f = s.i32[i + P_FLAGS]!;
  return (
    (f & (1 << PG_buddy)) !== 0 &&
    s.i32[i + P_PRIVATE] === order &&
    ((f >>> ZONES_PGSHIFT) & 3) === z.zid &&
    f >>> NODES_PGSHIFT === z.nid
  );
}

/**
 * Frees a block into the buddy lists, merging with free buddies as far as it can
 * (`__free_one_page`). Zone lock held. Counts the block into NR_FREE_PAGES unless
 * it goes to an isolated pageblock.
 */
export function freeOneBlock(
  mem: Memory,
  z: ZoneRef,
  pfn: number,
  order: number,
  mt: number,
): void {
  if (mt !== MIGRATE_ISOLATE) z.a[z.b + Z_NR_FREE]! += 1 << order;
  const coalesce = mem.debugBreak !== 'no-coalesce';
  while (order < MAX_PAGE_ORDER && coalesce) {
    const buddy = pfn ^ (1 << order);
    if (!pageIsBuddy(mem, z, buddy, order)) break;
    const buddyMt = mem.pageField(buddy, P_INDEX);
    // Never merge an isolated pageblock with one that is not (it is about to go away).
    if (order >= pageblock_order && (mt === MIGRATE_ISOLATE) !== (buddyMt === MIGRATE_ISOLATE))
      break;
    if (buddyMt !== mt && order < pageblock_order) {
      // Same pageblock: the buddy is on the other list only transiently (stealing).
      accountFreepages(z, order, buddyMt, mt);
    }
    delFromFreeList(mem, z, buddy, order);
    if (buddyMt !== mt && order >= pageblock_order) accountFreepages(z, order, buddyMt, mt);
    pfn &= buddy;
    order++;
  }
  // Put a block that may soon merge further at the tail, so it is not reused first.
  let tail = false;
  if (order < MAX_PAGE_ORDER - 1) {
    const higherBuddy = (pfn & ~((2 << order) - 1)) ^ (2 << order);
    tail = pageIsBuddy(mem, z, higherBuddy, order + 1);
  }
  addToFreeList(mem, z, pfn, order, mt, tail);
}

/**
 * Takes the smallest free block of `order` or larger from `mt`'s lists and splits it
 * down (`__rmqueue_smallest` + `expand`). Zone lock held. Returns the PFN or -1.
 */
export function rmqueueSmallest(mem: Memory, z: ZoneRef, order: number, mt: number): number {
  const za = z.a;
  for (let o = order; o <= MAX_PAGE_ORDER; o++) {
    const head = za[z.b + Z_FREE_HEAD + freeListIndex(o, mt)]!;
    if (!head) continue;
    const pfn = head - 1;
    delFromFreeList(mem, z, pfn, o);
    // expand(): give back the upper halves.
    let size = 1 << o;
    while (o > order) {
      o--;
      size >>= 1;
      addToFreeList(mem, z, pfn + size, o, mt, false);
    }
    if (mt !== MIGRATE_ISOLATE) za[z.b + Z_NR_FREE]! -= 1 << order;
    return pfn;
  }
  return NO_PAGE;
}

/**
 * Moves the free pages of `pfn`'s pageblock to `mt`'s lists; returns [free pages moved,
 * movable in-use pages seen] (`move_freepages_block`). Zone lock held.
 */
export function moveFreepagesBlock(
  mem: Memory,
  z: ZoneRef,
  pfn: number,
  mt: number,
): [number, number] {
  const start = pfn & ~(pageblock_nr_pages - 1);
  let moved = 0;
  let movable = 0;
  for (let p = start; p < start + pageblock_nr_pages;) {
    const a = mem.secI32[p >>> mem.sectionShift]!;
    const i = MEMMAP_WORD + ((p & mem.sectionMask) << 3);
    const f = a[i + P_FLAGS]!;
    if (((f >>> ZONES_PGSHIFT) & 3) !== z.zid || f >>> NODES_PGSHIFT !== z.nid) return [0, 0];
    if (f & (1 << PG_buddy)) {
      const o = a[i + P_PRIVATE]!;
      if (a[i + P_INDEX] !== mt) moveToFreeList(mem, z, p, o, mt);
      moved += 1 << o;
      p += 1 << o;
      continue;
    }
    if (f & (1 << PG_lru) || a[i + P_MAPPING]! & 1) movable++;
    p++;
  }
  return [moved, movable];
}

/**
 * Splits a free block larger than a pageblock that covers `pfn` and reaches outside
 * [start, end) into pageblock-sized free blocks, each on its own pageblock's list, so
 * the pageblocks of the range can change type without taking their neighbours along
 * (`split_free_page`, as `isolate_single_pageblock` uses it). Zone lock held.
 */
export function splitFreeBlockAt(
  mem: Memory,
  z: ZoneRef,
  pfn: number,
  start: number,
  end: number,
): void {
  for (let o = pageblock_order + 1; o <= MAX_PAGE_ORDER; o++) {
    const head = pfn & ~((1 << o) - 1);
    if (!pageIsBuddy(mem, z, head, o)) continue;
    if (head >= start && head + (1 << o) <= end) return;
    const mt = mem.pageField(head, P_INDEX);
    delFromFreeList(mem, z, head, o);
    for (let q = head; q < head + (1 << o); q += pageblock_nr_pages) {
      const qmt = mem.getPageblockMigratetype(q);
      addToFreeList(mem, z, q, pageblock_order, qmt, true);
      accountFreepages(z, pageblock_order, mt, qmt);
    }
    return;
  }
}

/** Whether a fallback may claim whole pageblocks (`can_steal_fallback`). */
function canStealFallback(order: number, startMt: number): boolean {
  if (order >= pageblock_order) return true;
  return (
    order >= pageblock_order / 2 || startMt === MIGRATE_RECLAIMABLE || startMt === MIGRATE_UNMOVABLE
  );
}

/**
 * Steals a block from another migrate type when `startMt`'s lists are empty, claiming
 * its whole pageblock when enough of it is free or alike (`__rmqueue_fallback`,
 * `steal_suitable_fallback`). Zone lock held. Returns whether anything moved.
 */
export function rmqueueFallback(mem: Memory, z: ZoneRef, order: number, startMt: number): boolean {
  const fb = fallbacks[startMt];
  if (!fb) return false;
  const za = z.a;
  const find = (o: number): number => {
    for (const mt of fb) if (za[z.b + Z_FREE_HEAD + freeListIndex(o, mt)]) return mt;
    return -1;
  };
  let curOrder = -1;
  let fbMt = -1;
  for (let o = MAX_PAGE_ORDER; o >= order; o--) {
    const mt = find(o);
    if (mt < 0) continue;
    if (!canStealFallback(o, startMt) && startMt === MIGRATE_MOVABLE && o > order) {
      // Cannot claim the block: split the smallest instead of breaking a large one.
      for (let s = order; s <= MAX_PAGE_ORDER; s++) {
        const m2 = find(s);
        if (m2 >= 0) {
          curOrder = s;
          fbMt = m2;
          break;
        }
      }
    } else {
      curOrder = o;
      fbMt = mt;
    }
    break;
  }
  if (curOrder < 0) return false;
  const pfn = za[z.b + Z_FREE_HEAD + freeListIndex(curOrder, fbMt)]! - 1;
  const oldBlockMt = mem.getPageblockMigratetype(pfn);
  mem.countEvent('pageblock_steal', 1, z.nid);
  if (oldBlockMt === MIGRATE_HIGHATOMIC) {
    moveToFreeList(mem, z, pfn, curOrder, startMt);
    return true;
  }
  if (curOrder >= pageblock_order) {
    for (let p = pfn; p < pfn + (1 << curOrder); p += pageblock_nr_pages)
      setPageblockMigratetype(mem, p, startMt);
    moveToFreeList(mem, z, pfn, curOrder, startMt);
    return true;
  }
  if (canStealFallback(curOrder, startMt)) {
    const [free, movable] = moveFreepagesBlock(mem, z, pfn, startMt);
    if (free) {
      const alike =
        startMt === MIGRATE_MOVABLE
          ? movable
          : oldBlockMt === MIGRATE_MOVABLE
            ? pageblock_nr_pages - (free + movable)
            : 0;
      if (free + alike >= 1 << (pageblock_order - 1)) setPageblockMigratetype(mem, pfn, startMt);
      return true;
    }
  }
  moveToFreeList(mem, z, pfn, curOrder, startMt);
  return true;
}

/** Takes a block of `order` for `mt`, falling back to other types (`__rmqueue`). Zone lock held. */
export function rmqueue(
  mem: Memory,
  z: ZoneRef,
  order: number,
  mt: number,
  allocFlags: number,
): number {
  let pfn = NO_PAGE;
  if (allocFlags & ALLOC_HIGHATOMIC) pfn = rmqueueSmallest(mem, z, order, MIGRATE_HIGHATOMIC);
  if (pfn < 0) pfn = rmqueueSmallest(mem, z, order, mt);
  if (pfn < 0 && rmqueueFallback(mem, z, order, mt)) pfn = rmqueueSmallest(mem, z, order, mt);
  return pfn;
}

/**
 * After a high-order atomic allocation succeeds, reserves its pageblock for future
 * ones, up to about 1% of the zone (`reserve_highatomic_pageblock`). Zone lock held.
 */
export function reserveHighatomicPageblock(mem: Memory, z: ZoneRef, pfn: number): void {
  const za = z.a;
  const max = Math.floor(za[z.b + Z_MANAGED]! / 100) + pageblock_nr_pages;
  if (za[z.b + Z_NR_RESERVED_HIGHATOMIC]! >= max) return;
  const mt = mem.getPageblockMigratetype(pfn);
  if (mt === MIGRATE_HIGHATOMIC || mt === MIGRATE_ISOLATE) return;
  za[z.b + Z_NR_RESERVED_HIGHATOMIC]! += pageblock_nr_pages;
  setPageblockMigratetype(mem, pfn, MIGRATE_HIGHATOMIC);
  moveFreepagesBlock(mem, z, pfn, MIGRATE_HIGHATOMIC);
  mem.countEvent('highatomic_reserve', 1, z.nid);
}

/**
 * Gives the high-order atomic reserve back when memory is short
 * (`unreserve_highatomic_pageblock`). Takes the zone lock.
 */
export function unreserveHighatomicPageblock(mem: Memory, z: ZoneRef): boolean {
  const za = z.a;
  if (!za[z.b + Z_NR_RESERVED_HIGHATOMIC]) return false;
  zoneLock(mem, z);
  let done = false;
  for (let o = 0; o <= MAX_PAGE_ORDER && !done; o++) {
    const head = za[z.b + Z_FREE_HEAD + freeListIndex(o, MIGRATE_HIGHATOMIC)]!;
    if (!head) continue;
    const pfn = head - 1;
    if (mem.getPageblockMigratetype(pfn) === MIGRATE_HIGHATOMIC) {
      za[z.b + Z_NR_RESERVED_HIGHATOMIC] = Math.max(
        0,
        za[z.b + Z_NR_RESERVED_HIGHATOMIC]! - pageblock_nr_pages,
      );
      setPageblockMigratetype(mem, pfn, MIGRATE_MOVABLE);
    }
    moveFreepagesBlock(mem, z, pfn, mem.getPageblockMigratetype(pfn));
    done = true;
  }
  zoneUnlock(mem, z);
  return done;
}
