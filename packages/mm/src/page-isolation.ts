/**
 * Page isolation: mark a PFN range's pageblocks MIGRATE_ISOLATE so the allocator hands
 * out nothing from them, move their free pages onto the isolate lists, drain the per-CPU
 * lists so pages parked there come back too, and later either undo it or take the
 * range's free pages out of the allocator for good (memory offline).
 *
 * @see mm/page_isolation.c: start_isolate_page_range, undo_isolate_page_range,
 *      test_pages_isolated; mm/page_alloc.c: __offline_isolated_pages
 */

import { KernelError } from '@kern/core';
import {
  P_FLAGS,
  P_INDEX,
  P_MAPPING,
  P_PRIVATE,
  P_REFCOUNT,
  Z_MANAGED,
  Z_NR_FREE,
  Z_NR_ISOLATE_PAGEBLOCK,
} from './layout.js';
import type { Memory, ZoneRef } from './memory.js';
import { MIGRATE_ISOLATE, MIGRATE_MOVABLE, pageblock_nr_pages } from './mmzone.js';
import { PG_buddy, PG_hwpoison, PG_lru, PG_offline, PG_reserved } from './page-flags.js';
import {
  delFromFreeList,
  freeOneBlock,
  moveFreepagesBlock,
  setPageblockMigratetype,
  splitFreeBlockAt,
  zoneLock,
  zoneUnlock,
} from './internal/buddy.js';
import { checkMemory } from './internal/value.js';

/** Options of {@link startIsolatePageRange}. */
export interface IsolateOptions {
  /**
   * Only isolate if every in-use page is movable (on an LRU list with an owner, or
   * free), as memory offline requires (`has_unmovable_pages`). Default true.
   */
  checkUnmovable?: boolean;
  /** Further pages that are fine to find in use (the section's own memmap always is). */
  ignore?: (pfn: number) => boolean;
}

/**
 * Whether `pfn` holds its own section's header, usemap or memmap: reserved, never
 * allocated, and gone with the section (`memmap_on_memory`'s vmemmap pages), so
 * isolation and offline pass over it.
 */
export function isSectionMemmap(mem: Memory, pfn: number): boolean {
  const s = mem.sectionOf(pfn);
  return pfn - s.startPfn < s.memmapPages;
}

function checkRange(mem: Memory, start: number, end: number): void {
  if (start % pageblock_nr_pages || end % pageblock_nr_pages || end <= start)
    throw new KernelError(
      'EINVAL',
      `isolation range [0x${start.toString(16)}, 0x${end.toString(16)}) must be non-empty and pageblock (${pageblock_nr_pages} pages) aligned`,
    );
  for (let p = start; p < end; p += pageblock_nr_pages) mem.sectionOf(p);
}

/** The first page of `[start, end)` that is in use and cannot move, or -1 (`has_unmovable_pages`). */
export function firstUnmovablePage(
  mem: Memory,
  start: number,
  end: number,
  ignore?: (pfn: number) => boolean,
): number {
  for (let p = start; p < end;) {
    const [a, i] = mem.pageWords(p);
    const f = a[i + P_FLAGS]!;
    if (f & (1 << PG_buddy)) {
      p += 1 << a[i + P_PRIVATE]!;
      continue;
    }
    if (ignore?.(p) || isSectionMemmap(mem, p) || f & ((1 << PG_hwpoison) | (1 << PG_offline))) {
      p++;
      continue;
    }
    if (a[i + P_REFCOUNT] === 0 && !(f & (1 << PG_reserved))) {
      p++; // on a per-CPU list, or a tail page of a movable block
      continue;
    }
    if (f & (1 << PG_reserved)) return p;
    if (!(f & (1 << PG_lru)) || !mem.mappings.lookup(mem.pageField(p, P_MAPPING) >>> 0)) return p;
    p++;
  }
  return -1;
}

/**
 * Isolates the pageblocks of `[start, end)` (PFNs, pageblock aligned). On failure
 * nothing stays isolated.
 *
 * @throws KernelError EINVAL for a bad range; EBUSY if a pageblock is already isolated
 *   or (with checkUnmovable) holds an unmovable page, naming the PFN.
 * @see mm/page_isolation.c: start_isolate_page_range, set_migratetype_isolate
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function startIsolatePageRange(
  mem: Memory,
  start: number,
  end: number,
  opts: IsolateOptions = {},
): void {
  checkMemory(mem, 'startIsolatePageRange');
  checkRange(mem, start, end);
  const done: number[] = [];
  try {
    for (let p = start; p < end; p += pageblock_nr_pages) {
      const z = mem.pageZone(p);
      zoneLock(mem, z);
      try {
        if (mem.getPageblockMigratetype(p) === MIGRATE_ISOLATE)
          throw new KernelError(
            'EBUSY',
            `pageblock at pfn 0x${p.toString(16)} is already isolated`,
          );
        if (opts.checkUnmovable ?? true) {
          const bad = firstUnmovablePage(mem, p, p + pageblock_nr_pages, opts.ignore);
          if (bad >= 0)
            throw new KernelError(
              'EBUSY',
              `pfn 0x${bad.toString(16)} is in use and not movable (${mem.dumpPage(bad)[1]})`,
            );
        }
        // A free block bigger than a pageblock that sticks out of the range is split
        // first, so isolating this pageblock cannot take pages outside the range.
        splitFreeBlockAt(mem, z, p, start, end);
        setPageblockMigratetype(mem, p, MIGRATE_ISOLATE);
        moveFreepagesBlock(mem, z, p, MIGRATE_ISOLATE);
        z.a[z.b + Z_NR_ISOLATE_PAGEBLOCK]!++;
      } finally {
        zoneUnlock(mem, z);
      }
      done.push(p);
    }
  } catch (e) {
    for (const p of done) unsetMigratetypeIsolate(mem, p, MIGRATE_MOVABLE);
    throw e;
  }
  // Pages parked on per-CPU lists come back to the (now isolate) buddy lists.
  const zones = new Set<ZoneRef>();
  for (let p = start; p < end; p += pageblock_nr_pages) zones.add(mem.pageZone(p));
  for (const z of zones) mem.drainAllPages(z);
}

/**
 * Gives `[start, end)` back to the allocator as `migratetype` (`undo_isolate_page_range`).
 * Free blocks are freed again so they merge with their neighbours.
 * @throws KernelError EINVAL for a bad range or a pageblock that is not isolated.
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function undoIsolatePageRange(
  mem: Memory,
  start: number,
  end: number,
  migratetype = MIGRATE_MOVABLE,
): void {
  checkMemory(mem, 'undoIsolatePageRange');
  checkRange(mem, start, end);
  for (let p = start; p < end; p += pageblock_nr_pages)
    if (mem.getPageblockMigratetype(p) !== MIGRATE_ISOLATE)
      throw new KernelError('EINVAL', `pageblock at pfn 0x${p.toString(16)} is not isolated`);
  for (let p = start; p < end; p += pageblock_nr_pages)
    unsetMigratetypeIsolate(mem, p, migratetype);
}

function unsetMigratetypeIsolate(mem: Memory, p: number, migratetype: number): void {
  const z = mem.pageZone(p);
  zoneLock(mem, z);
  // A free block that merged this pageblock with an isolated neighbour is split first,
  // or this pageblock's pages would stay on the neighbour's isolate list.
  splitFreeBlockAt(mem, z, p, p, p + pageblock_nr_pages);
  setPageblockMigratetype(mem, p, migratetype);
  // Re-free each free block so it is counted again and merges across the pageblock.
  for (let q = p; q < p + pageblock_nr_pages;) {
    const [a, i] = mem.pageWords(q);
    if (a[i + P_FLAGS]! & (1 << PG_buddy)) {
      const order = a[i + P_PRIVATE]!;
      const listMt = mem.pageField(q, P_INDEX);
      delFromFreeList(mem, z, q, order);
      if (listMt !== MIGRATE_ISOLATE) z.a[z.b + Z_NR_FREE]! -= 1 << order; // counted in NR_FREE_PAGES
      freeOneBlock(mem, z, q, order, migratetype);
      q += 1 << order;
    } else q++;
  }
  z.a[z.b + Z_NR_ISOLATE_PAGEBLOCK]!--;
  zoneUnlock(mem, z);
}

/**
 * Whether every page of the isolated range is free on the isolate lists, poisoned, or
 * ignored: the range can go offline (`test_pages_isolated`). Returns the first busy PFN,
 * or -1.
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function testPagesIsolated(
  mem: Memory,
  start: number,
  end: number,
  ignore?: (pfn: number) => boolean,
): number {
  checkMemory(mem, 'testPagesIsolated');
  for (let p = start; p < end;) {
    const [a, i] = mem.pageWords(p);
    const f = a[i + P_FLAGS]!;
    if (f & (1 << PG_buddy) && mem.pageField(p, P_INDEX) === MIGRATE_ISOLATE) {
      p += 1 << a[i + P_PRIVATE]!;
      continue;
    }
    if (f & ((1 << PG_hwpoison) | (1 << PG_offline)) || ignore?.(p) || isSectionMemmap(mem, p)) {
      p++;
      continue;
    }
    return p;
  }
  return -1;
}

/**
 * Takes the free pages of an isolated range out of the allocator: off the isolate
 * lists, marked PG_offline | PG_reserved, and no longer managed by the zone
 * (`__offline_isolated_pages`). Returns the pages taken.
 * @throws KernelError EBUSY naming the first page that is not free.
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function offlineIsolatedPages(
  mem: Memory,
  start: number,
  end: number,
  ignore?: (pfn: number) => boolean,
): number {
  checkMemory(mem, 'offlineIsolatedPages');
  const busy = testPagesIsolated(mem, start, end, ignore);
  if (busy >= 0) throw new KernelError('EBUSY', `pfn 0x${busy.toString(16)} is still in use`);
  let taken = 0;
  for (let p = start; p < end;) {
    const [a, i] = mem.pageWords(p);
    const f = a[i + P_FLAGS]!;
    if (f & (1 << PG_buddy)) {
      const z = mem.pageZone(p);
      const order = a[i + P_PRIVATE]!;
      zoneLock(mem, z);
      delFromFreeList(mem, z, p, order);
      z.a[z.b + Z_MANAGED]! -= 1 << order;
      zoneUnlock(mem, z);
      for (let q = p; q < p + (1 << order); q++)
        mem.setPageField(
          q,
          P_FLAGS,
          mem.pageField(q, P_FLAGS) | (1 << PG_offline) | (1 << PG_reserved),
        );
      taken += 1 << order;
      p += 1 << order;
    } else p++;
  }
  return taken;
}
