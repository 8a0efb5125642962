/**
 * Page reclaim: what kswapd and direct reclaim call to free memory. It scans the file
 * LRU lists of a node from the tail, ages the active list into the inactive one when
 * the inactive list runs low, gives referenced pages a second chance, writes dirty
 * pages back when the allocation may do I/O, and hands clean pages back to their page
 * cache to be freed; then it asks the registered shrinkers (slab caches and the like)
 * for a share proportional to the scan. Also `/proc/sys/vm/drop_caches`.
 *
 * The anonymous LRU lists are kept (mmap.ts adds anonymous pages) but not scanned:
 * kern has no swap device, so anonymous pages cannot be reclaimed, as in Linux
 * without swap (`can_reclaim_anon_pages` false).
 *
 * What happens to an inactive file page at the tail (`shrink_folio_list`,
 * `folio_check_references`):
 * - locked or under writeback: kept (PG_reclaim set on writeback so it rotates to the
 *   tail when writeback ends);
 * - owner not a page cache of this thread (`mem.mappings`): kept;
 * - PG_referenced is cleared and read: kern has no accessed bits in page tables, so it
 *   stands for every recent use. A referenced mapped page is activated (its second
 *   chance); a referenced unmapped page is reclaimed if clean (FOLIOREF_RECLAIM_CLEAN —
 *   a page cache page earns the active list by a second access, `markPageAccessed`);
 * - dirty: PG_reclaim set. If it was referenced it is kept for the flusher. Otherwise,
 *   if the GFP mask allows __GFP_IO and __GFP_FS, it is written back at once
 *   (`pageout`; writes are synchronous, so it is then clean and reclaimed in the same
 *   pass, as Linux does after a synchronous write); else kept, and it rotates to the
 *   tail when the flusher (`writebackPages`) has cleaned it. (Linux leaves file pageout
 *   to the flusher threads except in kswapd under heavy dirty pressure; kern has no
 *   flusher thread of its own, so reclaim that may do I/O writes.)
 * - clean: the owner's `releasePage` unmaps it from every VMA and drops it if nobody
 *   else holds a reference; the page is then freed. If it is still mapped it is
 *   activated, if others hold references kept.
 *
 * On the active list a page referenced since it was activated goes round once more
 * (cleared, back to the head); the others move to the inactive list.
 *
 * Reclaim does not recurse: an allocation made while reclaiming (inside a writePage,
 * say) does not reclaim again, as PF_MEMALLOC prevents in Linux.
 *
 * @see mm/vmscan.c, mm/shrinker.c, fs/drop_caches.c
 */

import { KernelError } from '@kern/core';
import { GFP_KERNEL, __GFP_FS, __GFP_IO } from './gfp.js';
import { isAddressSpace } from './filemap.js';
import {
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_FILE,
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
} from './layout.js';
import type { Memory, Reclaimer } from './memory.js';
import { PAGE_SHIFT } from './mmzone.js';
import {
  PG_active,
  PG_dirty,
  PG_locked,
  PG_reclaim,
  PG_referenced,
  PG_writeback,
} from './page-flags.js';
import { isolateLruPages, lruCount, pageWordArray, pageWordIndex, putbackLruPage } from './swap.js';
import { checkMemory } from './internal/value.js';

/** Highest (least urgent) scan priority: scan 1/4096 of each list. @see include/linux/mmzone.h: DEF_PRIORITY */
export const DEF_PRIORITY = 12;
/** Pages isolated and scanned per batch. @see include/linux/swap.h: SWAP_CLUSTER_MAX */
export const SWAP_CLUSTER_MAX = 32;
/** What a shrinker's `scan` returns to say it cannot make progress now. @see include/linux/shrinker.h: SHRINK_STOP */
export const SHRINK_STOP = -1;
/** Default cost of recreating a shrinker's object. @see include/linux/shrinker.h: DEFAULT_SEEKS */
export const DEFAULT_SEEKS = 2;
/** Default objects per `scan` call. @see mm/shrinker.c: SHRINK_BATCH */
export const SHRINK_BATCH = 128;

const ACTIVE = 1 << PG_active;
const DIRTY = 1 << PG_dirty;
const LOCKED = 1 << PG_locked;
const RECLAIM = 1 << PG_reclaim;
const REFERENCED = 1 << PG_referenced;
const WRITEBACK = 1 << PG_writeback;

/**
 * A cache that can give memory back under pressure (`struct shrinker`): slab caches of
 * dentries and inodes, a filesystem's private caches.
 * @see include/linux/shrinker.h
 */
export interface Shrinker {
  /** Name for messages and debugging. */
  readonly name: string;
  /** Objects that could be freed now (`count_objects`); 0 when there is nothing. */
  count(): number;
  /**
   * Tries to free up to `nrToScan` objects (`scan_objects`); returns how many were
   * freed, or {@link SHRINK_STOP} when it cannot make progress in this context (say,
   * without __GFP_FS in `gfp`).
   */
  scan(nrToScan: number, gfp: number): number;
  /** Cost of recreating an object; higher means scanned less (default DEFAULT_SEEKS). */
  readonly seeks?: number;
  /** Objects per `scan` call (default SHRINK_BATCH). */
  readonly batch?: number;
}

/** A deliberately broken mode for negative-control tests; never set otherwise. @see mm/vmscan.c: shrink_folio_list (the dirty check it skips) */
export type ReclaimDebugBreak = 'none' | 'reclaim-dirty';

/** How to make the page reclaimer. @see mm/vmscan.c: struct scan_control */
export interface PageReclaimOptions {
  /**
   * 'reclaim-dirty' drops dirty page-cache pages without writing them back, losing their
   * data: tests use it to show they would catch that.
   */
  debugBreak?: ReclaimDebugBreak;
}

/** The page reclaimer of one machine, and its shrinkers. @see mm/vmscan.c, mm/shrinker.c */
export interface PageReclaim {
  /** The reclaimer registered in `mem.reclaimers` (name 'lru'). */
  readonly reclaimer: Reclaimer;
  /** Registered shrinkers, in registration order. */
  readonly shrinkers: readonly Shrinker[];
  /** See {@link PageReclaimOptions}. */
  debugBreak: ReclaimDebugBreak;
  /**
   * Reclaims about `nrPages` pages (`try_to_free_pages` / `balance_pgdat`'s
   * `kswapd_shrink_node`): scans the file LRU lists of `nid` (or every node, local first)
   * at falling priority until enough is freed, then shrinks slab caches. Counts
   * pgscan/pgsteal_kswapd or _direct, pgactivate, pgdeactivate, pgrefill, pgrotated.
   * Returns pages freed (LRU pages plus pages shrinkers gave back).
   * @see mm/vmscan.c: do_try_to_free_pages, shrink_node, shrink_lruvec
   */
  reclaim(nrPages: number, gfp?: number, nid?: number, kswapd?: boolean): number;
  /**
   * Registers a shrinker (`shrinker_register`).
   * @throws KernelError EEXIST if it is registered already.
   * @see mm/shrinker.c: shrinker_register
   */
  registerShrinker(s: Shrinker): void;
  /** Unregisters a shrinker (`shrinker_free`); false if it was not registered. @see mm/shrinker.c: shrinker_free */
  unregisterShrinker(s: Shrinker): boolean;
  /**
   * `echo level > /proc/sys/vm/drop_caches`: 1 drops clean, unmapped page-cache pages
   * nobody else holds, 2 shrinks every shrinker until it frees little, 3 both (4, the
   * quiet bit, is accepted and ignored). Dirty pages stay: run sync first. Counts
   * drop_pagecache and drop_slab. Returns pages freed.
   * @throws KernelError EINVAL for a level outside 1..7.
   * @see fs/drop_caches.c: drop_caches_sysctl_handler, drop_pagecache_sb; mm/shrinker.c: drop_slab
   */
  dropCaches(level: number): number;
  /** Unregisters the reclaimer from `mem.reclaimers`. */
  destroy(): void;
}

/**
 * Creates the page reclaimer of a machine and registers it in `mem.reclaimers` (name
 * 'lru'), so kswapd and direct reclaim use it.
 * @see mm/vmscan.c: kswapd_run, try_to_free_pages
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function createPageReclaim(mem: Memory, opts: PageReclaimOptions = {}): PageReclaim {
  checkMemory(mem, 'createPageReclaim');
  return new PageReclaimImpl(mem, opts);
}

/** What shrink_folio_list decided for one page. */
const KEEP = 0;
const ACTIVATE = 1;
const RECLAIMED = 2;

class PageReclaimImpl implements PageReclaim {
  readonly reclaimer: Reclaimer;
  readonly shrinkers: Shrinker[] = [];
  debugBreak: ReclaimDebugBreak;
  /** Scan work a shrinker was owed but not given (`nr_deferred`). */
  private readonly deferred = new Map<Shrinker, number>();
  /** Isolated pages of the batch being scanned (one batch at a time: reclaim does not recurse). */
  private readonly batch = new Int32Array(SWAP_CLUSTER_MAX);
  /** Set while reclaiming (PF_MEMALLOC): a nested call returns 0. */
  private running = false;
  /** Pages shrinkers gave back during the last shrinkSlab (`reclaim_state->reclaimed`). */
  private slabPages = 0;

  constructor(
    private readonly mem: Memory,
    opts: PageReclaimOptions,
  ) {
    this.debugBreak = opts.debugBreak ?? 'none';
    this.reclaimer = {
      name: 'lru',
      reclaim: (nrPages: number, gfp: number, nid: number | undefined, kswapd = false) =>
        this.reclaim(nrPages, gfp, nid, kswapd),
    };
    mem.reclaimers.push(this.reclaimer);
  }

  destroy(): void {
    const k = this.mem.reclaimers.indexOf(this.reclaimer);
    if (k >= 0) this.mem.reclaimers.splice(k, 1);
  }

  // ------------------------------------------------------------ entry points

  reclaim(nrPages: number, gfp: number = GFP_KERNEL, nid?: number, kswapd = false): number {
    if (this.running || !(nrPages > 0)) return 0;
    const mem = this.mem;
    if (nid !== undefined && !(Number.isInteger(nid) && nid >= 0 && nid < mem.nrNodes))
      throw new KernelError('EINVAL', `reclaim on node ${nid}: machine has ${mem.nrNodes} node(s)`);
    this.running = true;
    try {
      const local = nid ?? mem.cpuToNode[mem.cpu] ?? 0;
      let reclaimed = 0;
      for (let prio = DEF_PRIORITY; prio >= 0 && reclaimed < nrPages; prio--) {
        for (let k = 0; k < mem.nrNodes && reclaimed < nrPages; k++) {
          const n = (local + k) % mem.nrNodes;
          if (nid !== undefined && n !== nid) continue;
          reclaimed += this.shrinkLruvec(n, nrPages - reclaimed, prio, gfp, kswapd);
        }
        this.shrinkSlab(gfp, prio);
        reclaimed += this.slabPages;
      }
      return reclaimed;
    } finally {
      this.running = false;
    }
  }

  registerShrinker(s: Shrinker): void {
    if (this.shrinkers.includes(s))
      throw new KernelError('EEXIST', `shrinker '${s.name}' is already registered`);
    this.shrinkers.push(s);
  }

  unregisterShrinker(s: Shrinker): boolean {
    const k = this.shrinkers.indexOf(s);
    if (k < 0) return false;
    this.shrinkers.splice(k, 1);
    this.deferred.delete(s);
    return true;
  }

  dropCaches(level: number): number {
    if (!(Number.isInteger(level) && level >= 1 && level <= 7))
      throw new KernelError('EINVAL', `drop_caches: ${level} is not a level in 1..4`);
    if (this.running) return 0;
    this.running = true;
    let freed = 0;
    try {
      if (level & 1) {
        for (let nid = 0; nid < this.mem.nrNodes; nid++)
          for (const list of [LRU_INACTIVE_FILE, LRU_ACTIVE_FILE])
            freed += this.dropList(nid, list);
        this.mem.countEvent('drop_pagecache');
      }
      if (level & 2) {
        // drop_slab: shrink at priority 0 until a round frees (almost) nothing.
        let objs: number;
        let rounds = 0;
        do {
          objs = this.shrinkSlab(GFP_KERNEL, 0);
          freed += this.slabPages;
        } while (objs > 10 && ++rounds < 1 << 16);
        this.mem.countEvent('drop_slab');
      }
    } finally {
      this.running = false;
    }
    return freed;
  }

  // ------------------------------------------------------------ LRU scanning

  /**
   * Scans one node's file lists at `prio` (`shrink_lruvec` with `get_scan_count` for
   * file pages only): size >> prio pages of each list, in SWAP_CLUSTER_MAX batches,
   * the active list only while the inactive one is low.
   */
  private shrinkLruvec(
    nid: number,
    nrToReclaim: number,
    prio: number,
    gfp: number,
    kswapd: boolean,
  ): number {
    let nrInactive = lruCount(this.mem, nid, LRU_INACTIVE_FILE) >> prio;
    let nrActive = lruCount(this.mem, nid, LRU_ACTIVE_FILE) >> prio;
    let reclaimed = 0;
    while ((nrInactive > 0 || nrActive > 0) && reclaimed < nrToReclaim) {
      if (nrActive > 0) {
        const n = Math.min(SWAP_CLUSTER_MAX, nrActive);
        nrActive -= n;
        if (this.inactiveIsLow(nid)) this.shrinkActiveList(nid, n);
      }
      if (nrInactive > 0) {
        const n = Math.min(SWAP_CLUSTER_MAX, nrInactive);
        nrInactive -= n;
        reclaimed += this.shrinkInactiveList(nid, n, gfp, kswapd);
      }
    }
    // Keep the inactive list big enough for the next pass (end of shrink_lruvec).
    if (this.inactiveIsLow(nid)) this.shrinkActiveList(nid, SWAP_CLUSTER_MAX);
    return reclaimed;
  }

  /**
   * Whether the inactive file list is small next to the active one
   * (`inactive_is_low`): inactive × ratio < active, ratio = √(10 × GiB of file LRU), at least 1.
   */
  private inactiveIsLow(nid: number): boolean {
    const inactive = lruCount(this.mem, nid, LRU_INACTIVE_FILE);
    const active = lruCount(this.mem, nid, LRU_ACTIVE_FILE);
    const gb = (inactive + active) >> (30 - PAGE_SHIFT);
    const ratio = gb ? Math.floor(Math.sqrt(10 * gb)) : 1;
    return inactive * ratio < active;
  }

  /**
   * Ages up to `nrToScan` pages from the tail of the active file list
   * (`shrink_active_list`): one referenced while active gets another round at the head,
   * the rest move to the inactive list. Counts pgrefill and pgdeactivate.
   */
  private shrinkActiveList(nid: number, nrToScan: number): void {
    const mem = this.mem;
    const batch = this.batch;
    const n = isolateLruPages(mem, nid, LRU_ACTIVE_FILE, batch, nrToScan);
    if (!n) return;
    let deactivated = 0;
    for (let k = 0; k < n; k++) {
      const pfn = batch[k]!;
      const a = pageWordArray(mem, pfn);
      const i = pageWordIndex(mem, pfn);
      if (a[i + P_FLAGS]! & REFERENCED) Atomics.and(a, i + P_FLAGS, ~REFERENCED);
      else {
        Atomics.and(a, i + P_FLAGS, ~ACTIVE);
        deactivated++;
      }
      putbackLruPage(mem, pfn);
    }
    mem.countEvent('pgrefill', n, nid);
    if (deactivated) mem.countEvent('pgdeactivate', deactivated, nid);
  }

  /**
   * Reclaims from the tail of the inactive file list (`shrink_inactive_list` +
   * `shrink_folio_list`); returns pages freed. Counts pgscan_*, pgsteal_*, pgactivate.
   */
  private shrinkInactiveList(nid: number, nrToScan: number, gfp: number, kswapd: boolean): number {
    const mem = this.mem;
    const batch = this.batch;
    const n = isolateLruPages(mem, nid, LRU_INACTIVE_FILE, batch, nrToScan);
    if (!n) return 0;
    let reclaimed = 0;
    let activated = 0;
    for (let k = 0; k < n; k++) {
      const pfn = batch[k]!;
      const what = this.shrinkPage(pfn, gfp);
      if (what === RECLAIMED) reclaimed++;
      else if (what === ACTIVATE) {
        mem.setPageFlag(pfn, PG_active);
        activated++;
      }
      // Frees a reclaimed page (its owner let go; the isolation reference is the last).
      putbackLruPage(mem, pfn);
    }
    mem.countEvent(kswapd ? 'pgscan_kswapd' : 'pgscan_direct', n, nid);
    if (reclaimed) mem.countEvent(kswapd ? 'pgsteal_kswapd' : 'pgsteal_direct', reclaimed, nid);
    if (activated) mem.countEvent('pgactivate', activated, nid);
    return reclaimed;
  }

  /** Decides about one isolated inactive page and, if it can, has its owner let go of it. */
  private shrinkPage(pfn: number, gfp: number): number {
    const mem = this.mem;
    const a = pageWordArray(mem, pfn);
    const i = pageWordIndex(mem, pfn);
    const f = a[i + P_FLAGS]!;
    if (f & (LOCKED | WRITEBACK)) {
      if (f & WRITEBACK) Atomics.or(a, i + P_FLAGS, RECLAIM);
      return KEEP;
    }
    const owner = mem.mappings.lookup(a[i + P_MAPPING]! >>> 0);
    if (!owner || owner.anon || !owner.releasePage) return KEEP;
    // folio_check_references: PG_referenced stands in for young page-table entries too.
    const mapped = a[i + P_MAPCOUNT]! >= 0;
    const referenced = (f & REFERENCED) !== 0;
    if (referenced) Atomics.and(a, i + P_FLAGS, ~REFERENCED);
    if (referenced && mapped) return ACTIVATE;
    if (f & DIRTY) {
      if (this.debugBreak === 'reclaim-dirty') {
        if (isAddressSpace(owner)) owner.clearPageDirty(pfn);
      } else {
        Atomics.or(a, i + P_FLAGS, RECLAIM);
        // FOLIOREF_RECLAIM_CLEAN: a recently used dirty page is left to the flusher.
        if (referenced) return KEEP;
        const mayWrite = (gfp & (__GFP_IO | __GFP_FS)) === (__GFP_IO | __GFP_FS);
        if (!mayWrite || !isAddressSpace(owner) || !owner.writepage(pfn)) return KEEP;
      }
    }
    if (!owner.releasePage(pfn, a[i + P_INDEX]!)) return a[i + P_MAPCOUNT]! >= 0 ? ACTIVATE : KEEP;
    Atomics.and(a, i + P_FLAGS, ~RECLAIM);
    return RECLAIMED;
  }

  /**
   * drop_caches for one list: every page once, from the tail, freed if clean, unmapped,
   * unlocked and held by nobody but its cache (`invalidate_mapping_pages`).
   */
  private dropList(nid: number, list: number): number {
    const mem = this.mem;
    const batch = this.batch;
    let left = lruCount(mem, nid, list);
    let freed = 0;
    while (left > 0) {
      const n = isolateLruPages(mem, nid, list, batch, Math.min(SWAP_CLUSTER_MAX, left));
      if (!n) break;
      left -= n;
      for (let k = 0; k < n; k++) {
        const pfn = batch[k]!;
        const a = pageWordArray(mem, pfn);
        const i = pageWordIndex(mem, pfn);
        const owner = mem.mappings.lookup(a[i + P_MAPPING]! >>> 0);
        if (
          owner &&
          !owner.anon &&
          owner.releasePage &&
          !(a[i + P_FLAGS]! & (DIRTY | WRITEBACK | LOCKED)) &&
          a[i + P_MAPCOUNT]! < 0 &&
          owner.releasePage(pfn, a[i + P_INDEX]!)
        )
          freed++;
        putbackLruPage(mem, pfn);
      }
    }
    return freed;
  }

  // ------------------------------------------------------------ shrinkers

  /**
   * Asks each shrinker for a share of its objects proportional to the LRU pressure
   * (`shrink_slab` → `do_shrink_slab`): (count >> prio) × 4 / seeks plus deferred work,
   * at most twice the count, scanned in batches. Counts slabs_scanned. Returns objects
   * freed; sets `slabPages` to the pages that came back to the allocator meanwhile.
   */
  private shrinkSlab(gfp: number, prio: number): number {
    this.slabPages = 0;
    if (!this.shrinkers.length) return 0;
    const mem = this.mem;
    const before = mem.nrFreePages();
    let freedObjs = 0;
    for (const s of [...this.shrinkers]) {
      const freeable = s.count();
      if (!(freeable > 0)) continue;
      const seeks = s.seeks ?? DEFAULT_SEEKS;
      const batchSize = s.batch ?? SHRINK_BATCH;
      const delta = seeks ? Math.floor(((freeable >> prio) * 4) / seeks) : Math.floor(freeable / 2);
      let total = Math.min((this.deferred.get(s) ?? 0) + delta, 2 * freeable);
      let scanned = 0;
      while (total >= batchSize || total >= freeable) {
        const n = Math.min(batchSize, total);
        const got = s.scan(n, gfp);
        if (got === SHRINK_STOP) break;
        freedObjs += Math.max(0, got);
        scanned += n;
        total -= n;
        if (n <= 0) break;
      }
      this.deferred.set(s, Math.max(0, total));
      if (scanned) mem.countEvent('slabs_scanned', scanned);
    }
    this.slabPages = Math.max(0, mem.nrFreePages() - before);
    return freedObjs;
  }
}
