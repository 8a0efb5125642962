/**
 * Page migration: move an in-use movable page to a new frame while every user keeps
 * working — copy its bytes, then have its owner repoint the page-cache slot and every
 * page-table entry (reverse mapping) at the new frame. Memory hotplug uses it to empty a
 * block before taking it offline; NUMA migration uses it to move a process's pages.
 *
 * A page is movable here if its owner is registered (page cache or anonymous memory),
 * it can be isolated from its LRU list, it is not locked or under writeback, and nobody
 * holds a reference its owner does not account for (a pinned page — nfsd handing it to
 * a socket — fails with EAGAIN until the pin is dropped).
 *
 * @see mm/migrate.c: migrate_pages, migrate_folio_unmap, migrate_folio_move,
 *      folio_migrate_mapping, folio_migrate_flags
 */

import { type Errno, KernelError } from '@kern/core';
import { GFP_HIGHUSER_MOVABLE, __GFP_NOWARN, __GFP_THISNODE } from './gfp.js';
import { P_FLAGS, P_INDEX, P_MAPCOUNT, P_MAPPING, P_REFCOUNT } from './layout.js';
import type { Memory } from './memory.js';
import {
  PG_active,
  PG_buddy,
  PG_dirty,
  PG_locked,
  PG_lru,
  PG_pcp,
  PG_referenced,
  PG_reserved,
  PG_slab,
  PG_swapbacked,
  PG_unevictable,
  PG_uptodate,
  PG_writeback,
} from './page-flags.js';
import { rmapWalk } from './rmap.js';
import { isolateLruPage, putbackLruPage } from './swap.js';
import { checkMemory } from './internal/value.js';

/** Why one page could not be moved. */
export interface MigrateFailure {
  pfn: number;
  /** EBUSY: not movable at all; EAGAIN: busy now (locked, writeback, pinned), retry; ENOMEM: no target page. */
  errno: Errno;
  reason: string;
}

/** What {@link migratePages} did. */
export interface MigrateResult {
  /** Old PFN → new PFN for each page moved. */
  moved: Map<number, number>;
  /** Pages that were free when looked at (nothing to move). */
  free: number;
  /** Pages that stayed, with the reason (after the retries). */
  failed: MigrateFailure[];
}

/** Options of {@link migratePages}. */
export interface MigrateOptions {
  /**
   * Allocates the target for `pfn`; returns its PFN or null. Default: a movable page on
   * node `nid` if given (`__GFP_THISNODE`), else anywhere the allocator chooses.
   */
  alloc?: (pfn: number) => number | null;
  /** Target node for the default allocator. */
  nid?: number;
  /** Passes over the pages that failed with EAGAIN (Linux: 10). Default 10. */
  tries?: number;
  /** Pages not to allocate targets from (the range being emptied); the default allocator retries past them. */
  avoid?: (pfn: number) => boolean;
  /** A deliberately broken mode for negative-control tests; never set otherwise. */
  debugBreak?: MigrateDebugBreak;
}

/**
 * Deliberately broken migration for negative-control tests: `skip-copy` moves pages
 * without copying their bytes; `stale-pte` leaves one page-table entry of each moved,
 * mapped page pointing at the old frame (as if `remove_migration_ptes` had missed it) and
 * skips the check after it that would throw. A test of "migration preserves every byte
 * and repoints every mapping" must fail in both.
 */
export type MigrateDebugBreak = 'none' | 'skip-copy' | 'stale-pte';

const STATE_FLAGS =
  (1 << PG_uptodate) |
  (1 << PG_dirty) |
  (1 << PG_referenced) |
  (1 << PG_active) |
  (1 << PG_swapbacked) |
  (1 << PG_unevictable);

/**
 * Migrates each page of `pfns` to a newly allocated page, retrying the busy ones.
 * Free pages are skipped. Never leaves a page half moved: on any failure the old page
 * is put back as it was and the target freed.
 *
 * @throws KernelError EINVAL for a PFN outside memory.
 * @see mm/migrate.c: migrate_pages
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function migratePages(
  mem: Memory,
  pfns: Iterable<number>,
  opts: MigrateOptions = {},
): MigrateResult {
  checkMemory(mem, 'migratePages');
  const result: MigrateResult = { moved: new Map(), free: 0, failed: [] };
  const alloc = opts.alloc ?? defaultAlloc(mem, opts);
  let todo = [...pfns];
  for (const pfn of todo) mem.sectionOf(pfn); // validate before touching anything
  const tries = opts.tries ?? 10;
  for (let pass = 0; pass < tries && todo.length; pass++) {
    const retry: number[] = [];
    for (const pfn of todo) {
      const r = migrateOne(mem, pfn, alloc, opts.debugBreak ?? 'none');
      if (typeof r === 'number') result.moved.set(pfn, r);
      else if (r === 'free') result.free++;
      else if (r.errno === 'EAGAIN' && pass < tries - 1) retry.push(pfn);
      else result.failed.push(r);
    }
    todo = retry;
    if (todo.length) mem.drainAllPages(); // as migrate_pages drains before retrying
  }
  const success = result.moved.size;
  if (success) mem.countEvent('pgmigrate_success', success);
  if (result.failed.length) mem.countEvent('pgmigrate_fail', result.failed.length);
  return result;
}

function defaultAlloc(mem: Memory, opts: MigrateOptions): (pfn: number) => number | null {
  const gfp = GFP_HIGHUSER_MOVABLE | __GFP_NOWARN | (opts.nid === undefined ? 0 : __GFP_THISNODE);
  return () => {
    const rejected: number[] = [];
    try {
      for (let i = 0; i < 64; i++) {
        const p = mem.allocPages(gfp, 0, opts.nid);
        if (p === null) return null;
        if (!opts.avoid?.(p)) return p;
        rejected.push(p);
      }
      return null;
    } finally {
      for (const p of rejected) mem.freePages(p, 0);
    }
  };
}

/** Moves one page; returns the new PFN, 'free', or why not. */
function migrateOne(
  mem: Memory,
  pfn: number,
  alloc: (pfn: number) => number | null,
  debugBreak: MigrateDebugBreak,
): number | 'free' | MigrateFailure {
  const fail = (errno: Errno, reason: string): MigrateFailure => ({ pfn, errno, reason });
  const [a, i] = mem.pageWords(pfn);
  const f = a[i + P_FLAGS]!;
  if (f & ((1 << PG_buddy) | (1 << PG_pcp))) return 'free';
  if (a[i + P_REFCOUNT]! <= 0)
    return a[i + P_REFCOUNT] === 0 ? 'free' : fail('EBUSY', 'negative refcount');
  if (f & ((1 << PG_reserved) | (1 << PG_slab)))
    return fail('EBUSY', f & (1 << PG_slab) ? 'slab page' : 'reserved page');
  const mappingWord = a[i + P_MAPPING]! >>> 0;
  const owner = mem.mappings.lookup(mappingWord);
  if (!owner)
    return fail(
      'EBUSY',
      mappingWord ? 'owner not registered in this thread' : 'unmovable kernel page',
    );
  if (!(f & (1 << PG_lru))) return fail('EAGAIN', 'not on an LRU list (isolated elsewhere)');
  if (!isolateLruPage(mem, pfn)) return fail('EAGAIN', 'could not isolate from the LRU');
  // folio_trylock
  if (Atomics.or(a, i + P_FLAGS, 1 << PG_locked) & (1 << PG_locked)) {
    putbackLruPage(mem, pfn);
    return fail('EAGAIN', 'page locked');
  }
  const undo = (errno: Errno, reason: string, target?: number): MigrateFailure => {
    if (target !== undefined) {
      Atomics.and(
        mem.pageWords(target)[0],
        mem.pageWords(target)[1] + P_FLAGS,
        ~((1 << PG_locked) | STATE_FLAGS),
      );
      const [ta, ti] = mem.pageWords(target);
      ta[ti + P_MAPPING] = 0;
      ta[ti + P_INDEX] = 0;
      mem.freePages(target, 0);
    }
    Atomics.and(a, i + P_FLAGS, ~(1 << PG_locked));
    putbackLruPage(mem, pfn);
    return fail(errno, reason);
  };
  if (a[i + P_FLAGS]! & (1 << PG_writeback)) return undo('EAGAIN', 'under writeback');
  const index = a[i + P_INDEX]! >>> 0;
  const expected = owner.ownerRefs(pfn) + (a[i + P_MAPCOUNT]! + 1) + 1;
  if (a[i + P_REFCOUNT] !== expected)
    return undo('EAGAIN', `pinned: refcount ${a[i + P_REFCOUNT]}, owner accounts for ${expected}`);
  const target = alloc(pfn);
  if (target === null) return undo('ENOMEM', 'no page to migrate to');
  const [ta, ti] = mem.pageWords(target);
  Atomics.or(ta, ti + P_FLAGS, 1 << PG_locked);
  if (debugBreak !== 'skip-copy') mem.pageBytes(target).set(mem.pageBytes(pfn));
  if (owner.anon) {
    // folio_migrate_mapping for anonymous memory: the new page takes the old one's identity.
    ta[ti + P_MAPPING] = mappingWord;
    ta[ti + P_INDEX] = index;
    Atomics.or(ta, ti + P_FLAGS, a[i + P_FLAGS]! & STATE_FLAGS);
  }
  if (!owner.migratePage(pfn, target, index)) return undo('EAGAIN', 'owner refused', target);
  if (debugBreak === 'stale-pte')
    rmapWalk(mem, target, (vma, idx) => vma.remapPage(idx, target, pfn) === 0);
  else if (a[i + P_MAPCOUNT] !== -1) {
    throw new KernelError(
      'EFAULT',
      `migration of pfn 0x${pfn.toString(16)} left ${a[i + P_MAPCOUNT]! + 1} mappings on the old page`,
    );
  }
  // folio_migrate_flags: what the owner did not carry over.
  Atomics.or(ta, ti + P_FLAGS, a[i + P_FLAGS]! & STATE_FLAGS);
  Atomics.and(a, i + P_FLAGS, ~((1 << PG_locked) | STATE_FLAGS));
  a[i + P_MAPPING] = 0;
  Atomics.and(ta, ti + P_FLAGS, ~(1 << PG_locked));
  // The new page joins the LRU list the old one was on; our allocation reference goes.
  mem.modNodeState(
    mem.pageToNid(target),
    ta[ti + P_FLAGS]! & (1 << PG_swapbacked) ? 'nr_isolated_anon' : 'nr_isolated_file',
    1,
  );
  putbackLruPage(mem, target);
  // The old page: only the isolation reference is left; dropping it frees the page.
  putbackLruPage(mem, pfn);
  return target;
}
