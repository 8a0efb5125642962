/**
 * LRU lists: the per-node lists of pages reclaim may take back, newest at the head,
 * scanned from the tail. Five lists per node (`enum lru_list`: inactive/active anon,
 * inactive/active file, unevictable), doubly linked through each page's P_NEXT/P_PREV
 * words (PFN + 1, 0 = none, the free lists' encoding), with heads, tails and counts in
 * node data (N_LRU_HEAD / N_LRU_TAIL / N_LRU_NR), so a worker thread or the capture
 * kernel can walk them from raw memory.
 *
 * Locking: the node's LRU lock word (N_LRU_LOCK, `lruvec->lru_lock`) guards the lists,
 * their counts and a listed page's P_NEXT/P_PREV and PG_lru/PG_active bits. Page flags
 * are changed with Atomics; the node and zone counters are atomic words.
 *
 * Page states, as the flags show them:
 * - not on an LRU: PG_lru clear, P_NEXT/P_PREV 0 (new, freed, or left its owner);
 * - on list L: PG_lru set, the list is `pageLruList(flags)` (PG_unevictable,
 *   PG_swapbacked and PG_active select it);
 * - isolated: PG_lru clear, still owned, the isolator holds one reference and the
 *   page counts in nr_isolated_anon/nr_isolated_file until `putbackLruPage`.
 *
 * References: a page on an LRU list holds no reference for being there (as in Linux);
 * its owner does. Freeing must not find PG_lru set (the allocator rejects it), so the
 * owner that drops the last reference takes the page off its list first — the page
 * cache does it when a page leaves the cache; {@link putLruPage} does it for others.
 *
 * @see mm/swap.c, include/linux/mm_inline.h, mm/vmscan.c: folio_isolate_lru
 */

import { KernelError } from '@kern/core';
import { lockWord, unlockWord } from './internal/lock.js';
import { listAddHead, listAddTail, listDel } from './internal/pfn-list.js';
import {
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_UNEVICTABLE,
  NR_LRU_LISTS,
  N_LRU_HEAD,
  N_LRU_LOCK,
  N_LRU_NR,
  N_LRU_TAIL,
  N_VMSTAT,
  PAGE_WORDS,
  P_FLAGS,
  P_MAPCOUNT,
  P_MAPPING,
  P_NEXT,
  P_PREV,
  P_REFCOUNT,
  Z_VMSTAT,
  zoneBase,
} from './layout.js';
import type { Memory } from './memory.js';
import { MAX_NR_ZONES } from './mmzone.js';
import {
  NODES_PGSHIFT,
  PG_active,
  PG_lru,
  PG_reclaim,
  PG_referenced,
  PG_swapbacked,
  PG_unevictable,
  ZONES_PGSHIFT,
  formatPageFlags,
} from './page-flags.js';
import { MEMMAP_WORD } from './sparse.js';
import { NODE_STAT, type NodeStatItem } from './vmstat-items.js';

const LRU = 1 << PG_lru;
const ACTIVE = 1 << PG_active;
const REFERENCED = 1 << PG_referenced;
const SWAPBACKED = 1 << PG_swapbacked;
const UNEVICTABLE = 1 << PG_unevictable;

/**
 * Node counter of each LRU list. The per-zone counters (NR_ZONE_INACTIVE_ANON ...
 * NR_ZONE_UNEVICTABLE, layout.ts) use the LRU numbering itself, as Linux's
 * `NR_ZONE_LRU_BASE + lru` does.
 */
const LRU_NODE_STAT: readonly number[] = (
  [
    'nr_inactive_anon',
    'nr_active_anon',
    'nr_inactive_file',
    'nr_active_file',
    'nr_unevictable',
  ] as const satisfies readonly NodeStatItem[]
).map((n) => NODE_STAT[n]);

/** Names of the LRU lists, by `enum lru_list` value. @see include/linux/mmzone.h: enum lru_list */
export const lruNames: readonly string[] = [
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
];

// ---------------------------------------------------------------- struct page words

/**
 * The Int32Array holding `pfn`'s struct page (with {@link pageWordIndex}); unlike
 * `Memory.pageWords` it returns no tuple, so LRU walks allocate nothing per page.
 * @internal
 */
export function pageWordArray(mem: Memory, pfn: number): Int32Array {
  const s = mem.sections[pfn >>> mem.sectionShift];
  if (!s || !Number.isInteger(pfn) || pfn < 0)
    throw new KernelError(
      'EINVAL',
      `pfn 0x${pfn.toString(16)} is not in any present memory section`,
    );
  return s.i32;
}

/** Word index of `pfn`'s struct page inside {@link pageWordArray}. @internal @see include/linux/mm_types.h: struct page */
export function pageWordIndex(mem: Memory, pfn: number): number {
  return MEMMAP_WORD + (pfn & mem.sectionMask) * PAGE_WORDS;
}

/** Node of a page from its flags word. */
function flagsNid(f: number): number {
  return f >>> NODES_PGSHIFT;
}

/**
 * The LRU list a page belongs on, from its flags (`folio_lru_list`): unevictable, else
 * anon (PG_swapbacked) or file, active or inactive.
 * @see include/linux/mm_inline.h: folio_lru_list
 */
export function pageLruList(flags: number): number {
  if (flags & UNEVICTABLE) return LRU_UNEVICTABLE;
  return (flags & SWAPBACKED ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE) + (flags & ACTIVE ? 1 : 0);
}

/** Whether an LRU list holds active pages (`is_active_lru`). */
function isActiveLru(list: number): boolean {
  return list === LRU_ACTIVE_ANON || list === LRU_ACTIVE_FILE;
}

/** Whether an LRU list holds file pages (`is_file_lru`). */
function isFileLru(list: number): boolean {
  return list === LRU_INACTIVE_FILE || list === LRU_ACTIVE_FILE;
}

function checkList(list: number): void {
  if (!(Number.isInteger(list) && list >= 0 && list < NR_LRU_LISTS))
    throw new KernelError('EINVAL', `LRU list ${list} does not exist (0..${NR_LRU_LISTS - 1})`);
}

// ---------------------------------------------------------------- locked list primitives

/** Takes a node's LRU lock (`spin_lock_irq(&lruvec->lru_lock)`). */
function lruLock(mem: Memory, nid: number): void {
  lockWord(mem, mem.nodeArr[nid]!, mem.nodeBase[nid]! + N_LRU_LOCK);
}

/** Releases a node's LRU lock. */
function lruUnlock(mem: Memory, nid: number): void {
  unlockWord(mem, mem.nodeArr[nid]!, mem.nodeBase[nid]! + N_LRU_LOCK);
}

/** Adjusts the node and zone counters of `list` for a page with flags `f`. */
function lruStat(mem: Memory, f: number, list: number, delta: number): void {
  const nid = flagsNid(f);
  const na = mem.nodeArr[nid]!;
  const nb = mem.nodeBase[nid]!;
  Atomics.add(na, nb + N_VMSTAT + LRU_NODE_STAT[list]!, delta);
  Atomics.add(na, nb + zoneBase((f >>> ZONES_PGSHIFT) & 3) + Z_VMSTAT + list, delta);
}

/**
 * Links a page into `list` at the head (or tail) and counts it (`lruvec_add_folio`,
 * `lruvec_add_folio_tail`). LRU lock held; the caller sets the flags.
 */
function linkLocked(
  mem: Memory,
  nid: number,
  pfn: number,
  a: Int32Array,
  i: number,
  list: number,
  tail: boolean,
): void {
  const na = mem.nodeArr[nid]!;
  const nb = mem.nodeBase[nid]!;
  if (tail) listAddTail(mem, na, nb + N_LRU_HEAD + list, nb + N_LRU_TAIL + list, pfn, a, i);
  else listAddHead(mem, na, nb + N_LRU_HEAD + list, nb + N_LRU_TAIL + list, pfn, a, i);
  na[nb + N_LRU_NR + list]!++;
}

/** Unlinks a page from `list` and uncounts it (`lruvec_del_folio`). LRU lock held. */
function unlinkLocked(mem: Memory, nid: number, a: Int32Array, i: number, list: number): void {
  const na = mem.nodeArr[nid]!;
  const nb = mem.nodeBase[nid]!;
  listDel(mem, na, nb + N_LRU_HEAD + list, nb + N_LRU_TAIL + list, a, i);
  na[nb + N_LRU_NR + list]!--;
}

/** Moves a listed page from its list to `to` (head, or tail). LRU lock held; sets PG_active to match. */
function moveLocked(
  mem: Memory,
  pfn: number,
  a: Int32Array,
  i: number,
  to: number,
  tail: boolean,
): void {
  const f = a[i + P_FLAGS]!;
  const nid = flagsNid(f);
  const from = pageLruList(f);
  unlinkLocked(mem, nid, a, i, from);
  lruStat(mem, f, from, -1);
  if (isActiveLru(to)) Atomics.or(a, i + P_FLAGS, ACTIVE);
  else Atomics.and(a, i + P_FLAGS, ~ACTIVE);
  linkLocked(mem, nid, pfn, a, i, to, tail);
  lruStat(mem, a[i + P_FLAGS]!, to, 1);
}

// ---------------------------------------------------------------- public API

/**
 * Puts a page on an LRU list of its node, at the head (`lruvec_add_folio` after
 * `folio_add_lru`): sets PG_lru, sets or clears PG_active for the list, PG_swapbacked
 * for the anon lists (cleared for the file lists), PG_unevictable for LRU_UNEVICTABLE,
 * and counts it in N_LRU_NR and the node and zone counters (nr_inactive_file ...).
 * The LRU holds no reference: the caller's owner does.
 *
 * @throws KernelError EINVAL for an unknown list, a free page or a page already on an
 *   LRU list (a bug: nothing is changed).
 * @see mm/swap.c: folio_add_lru, lru_add; include/linux/mm_inline.h: lruvec_add_folio
 */
export function lruAdd(mem: Memory, pfn: number, list: number): void {
  checkList(list);
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const nid = flagsNid(a[i + P_FLAGS]!);
  lruLock(mem, nid);
  const f = a[i + P_FLAGS]!;
  if (f & LRU || a[i + P_REFCOUNT]! <= 0) {
    lruUnlock(mem, nid);
    throw new KernelError(
      'EINVAL',
      `lru_add of pfn 0x${pfn.toString(16)} refcount ${a[i + P_REFCOUNT]} flags ${formatPageFlags(f)}: ${f & LRU ? 'already on an LRU list' : 'page is free'}`,
    );
  }
  let set = LRU;
  if (isActiveLru(list)) set |= ACTIVE;
  if (list === LRU_INACTIVE_ANON || list === LRU_ACTIVE_ANON) set |= SWAPBACKED;
  if (list === LRU_UNEVICTABLE) set |= UNEVICTABLE;
  Atomics.and(a, i + P_FLAGS, ~(ACTIVE | UNEVICTABLE | (isFileLru(list) ? SWAPBACKED : 0)));
  Atomics.or(a, i + P_FLAGS, set);
  linkLocked(mem, nid, pfn, a, i, list, false);
  lruStat(mem, a[i + P_FLAGS]!, list, 1);
  lruUnlock(mem, nid);
}

/**
 * Puts a page on the LRU list its flags name (`folio_add_lru`): inactive file unless
 * PG_swapbacked (anon), active if PG_active, unevictable if PG_unevictable. What
 * migration uses for the new page, whose flags were copied from the old one.
 * @throws KernelError EINVAL as {@link lruAdd}.
 * @see mm/swap.c: folio_add_lru
 */
export function lruAddPage(mem: Memory, pfn: number): void {
  lruAdd(mem, pfn, pageLruList(mem.pageField(pfn, P_FLAGS)));
}

/**
 * Takes a page off its LRU list for good (`lruvec_del_folio` + `__folio_clear_lru_flags`):
 * clears PG_lru, PG_active and PG_unevictable and uncounts it. Returns false if the
 * page was not on a list (isolated, or never added). Use {@link isolateLruPage} to take
 * a page off temporarily.
 * @see include/linux/mm_inline.h: lruvec_del_folio, mm/swap.c: __page_cache_release
 */
export function lruDel(mem: Memory, pfn: number): boolean {
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const nid = flagsNid(a[i + P_FLAGS]!);
  lruLock(mem, nid);
  const f = a[i + P_FLAGS]!;
  if (!(f & LRU)) {
    lruUnlock(mem, nid);
    return false;
  }
  const list = pageLruList(f);
  unlinkLocked(mem, nid, a, i, list);
  lruStat(mem, f, list, -1);
  Atomics.and(a, i + P_FLAGS, ~(LRU | ACTIVE | UNEVICTABLE));
  lruUnlock(mem, nid);
  return true;
}

/**
 * Under the LRU lock, if the page's list state (PG_lru, PG_active, PG_unevictable) is
 * `want`, moves it `delta` lists along (+1 to active, −1 to inactive, 0 to its own
 * list's tail) and counts `event`. The common step of the three moves below.
 */
function moveIf(
  mem: Memory,
  pfn: number,
  want: number,
  delta: number,
  event: 'pgactivate' | 'pgdeactivate' | 'pgrotated',
): boolean {
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const nid = flagsNid(a[i + P_FLAGS]!);
  lruLock(mem, nid);
  const f = a[i + P_FLAGS]!;
  const ok = (f & (LRU | ACTIVE | UNEVICTABLE)) === want;
  if (ok) {
    if (delta < 0) Atomics.and(a, i + P_FLAGS, ~REFERENCED);
    moveLocked(mem, pfn, a, i, pageLruList(f) + delta, delta === 0);
  }
  lruUnlock(mem, nid);
  if (ok) mem.countEvent(event, 1, nid);
  return ok;
}

/**
 * Moves an inactive page to the head of its active list (`folio_activate`); counts
 * pgactivate. Returns false if the page is not on an inactive evictable list.
 * @see mm/swap.c: folio_activate, lru_activate
 */
export function activatePage(mem: Memory, pfn: number): boolean {
  return moveIf(mem, pfn, LRU, +1, 'pgactivate');
}

/**
 * Moves an active page to the head of its inactive list and clears PG_referenced
 * (`folio_deactivate`, as `fadvise(DONTNEED)` does); counts pgdeactivate. Returns false
 * if the page is not on an active list.
 * @see mm/swap.c: folio_deactivate, lru_deactivate
 */
export function deactivatePage(mem: Memory, pfn: number): boolean {
  return moveIf(mem, pfn, LRU | ACTIVE, -1, 'pgdeactivate');
}

/**
 * Moves an inactive page to the tail of its list, where reclaim looks first
 * (`folio_rotate_reclaimable`: a page whose writeback reclaim asked for has finished);
 * counts pgrotated. Returns false if the page is not on an inactive evictable list.
 * @see mm/swap.c: folio_rotate_reclaimable, lru_move_tail
 */
export function rotateReclaimable(mem: Memory, pfn: number): boolean {
  return moveIf(mem, pfn, LRU, 0, 'pgrotated');
}

/**
 * Marks a page accessed (`folio_mark_accessed`): the first access sets PG_referenced;
 * a second one, on an inactive listed page, moves it to the active list and clears
 * PG_referenced. So a page touched once stays inactive and is reclaimed before one
 * touched twice.
 * @see mm/swap.c: folio_mark_accessed
 */
export function markPageAccessed(mem: Memory, pfn: number): void {
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const f = a[i + P_FLAGS]!;
  if (!(f & REFERENCED)) {
    Atomics.or(a, i + P_FLAGS, REFERENCED);
    return;
  }
  if (f & (UNEVICTABLE | ACTIVE) || !(f & LRU)) return;
  if (activatePage(mem, pfn)) Atomics.and(a, i + P_FLAGS, ~REFERENCED);
}

/**
 * Takes a page off its LRU list for a while (`folio_isolate_lru`): clears PG_lru, takes
 * a reference for the caller and counts it in nr_isolated_file/nr_isolated_anon. PG_active
 * is kept, so {@link putbackLruPage} returns it to the same kind of list. Returns false
 * (taking nothing) if the page is not on an LRU list — someone else isolated it, or it
 * is not an LRU page. Migration and reclaim use this.
 *
 * @throws KernelError EINVAL if a listed page has no references (a bug).
 * @see mm/vmscan.c: folio_isolate_lru
 */
export function isolateLruPage(mem: Memory, pfn: number): boolean {
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const nid = flagsNid(a[i + P_FLAGS]!);
  lruLock(mem, nid);
  const ok = isolateLocked(mem, nid, pfn, a, i);
  lruUnlock(mem, nid);
  return ok;
}

function isolateLocked(mem: Memory, nid: number, pfn: number, a: Int32Array, i: number): boolean {
  const f = a[i + P_FLAGS]!;
  if (!(f & LRU)) return false;
  if (Atomics.add(a, i + P_REFCOUNT, 1) <= 0) {
    Atomics.sub(a, i + P_REFCOUNT, 1);
    throw new KernelError(
      'EINVAL',
      `isolate of pfn 0x${pfn.toString(16)}: on an LRU list with no references (${formatPageFlags(f)})`,
    );
  }
  const list = pageLruList(f);
  unlinkLocked(mem, nid, a, i, list);
  lruStat(mem, f, list, -1);
  Atomics.and(a, i + P_FLAGS, ~LRU);
  mem.modNodeState(nid, f & SWAPBACKED ? 'nr_isolated_anon' : 'nr_isolated_file', 1);
  return true;
}

/**
 * Isolates up to `max` pages from the tail of a node's list in one hold of the LRU lock
 * (`isolate_lru_folios`), writing their PFNs to `out`; returns how many. Each carries a
 * reference and counts as isolated, as {@link isolateLruPage}.
 * @see mm/vmscan.c: isolate_lru_folios
 */
export function isolateLruPages(
  mem: Memory,
  nid: number,
  list: number,
  out: Int32Array,
  max: number,
): number {
  checkList(list);
  const na = mem.nodeArr[nid]!;
  const tailIdx = mem.nodeBase[nid]! + N_LRU_TAIL + list;
  const n = Math.min(max, out.length);
  let got = 0;
  lruLock(mem, nid);
  try {
    while (got < n) {
      const t = na[tailIdx]!;
      if (!t) break;
      const pfn = t - 1;
      if (!isolateLocked(mem, nid, pfn, pageWordArray(mem, pfn), pageWordIndex(mem, pfn))) break;
      out[got++] = pfn;
    }
  } finally {
    lruUnlock(mem, nid);
  }
  return got;
}

/**
 * Frees a page whose last reference is being dropped: clears what an LRU page may
 * still carry (PG_active, PG_referenced, PG_unevictable, PG_reclaim, an anonymous
 * mapping word, as `free_pages_prepare` clears `page->mapping` for anon) and puts it.
 */
function freeLastRef(mem: Memory, a: Int32Array, i: number, pfn: number): void {
  Atomics.and(a, i + P_FLAGS, ~(ACTIVE | REFERENCED | UNEVICTABLE | (1 << PG_reclaim)));
  if (a[i + P_MAPPING]! & 1) a[i + P_MAPPING] = 0;
  mem.putPage(pfn);
}

/**
 * Ends an isolation (`folio_putback_lru`): returns the page to the list its flags name
 * (set or clear PG_active first to choose), at the head, and drops the isolation
 * reference. If its owner let go of it meanwhile (P_MAPPING 0: truncated, reclaimed or
 * migrated away) it does not go back, and when the isolation reference was the last the
 * page is freed.
 * @throws KernelError EINVAL if the page is on an LRU list (it was not isolated).
 * @see mm/vmscan.c: folio_putback_lru, move_folios_to_lru
 */
export function putbackLruPage(mem: Memory, pfn: number): void {
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const f = a[i + P_FLAGS]!;
  if (f & LRU)
    throw new KernelError(
      'EINVAL',
      `putback of pfn 0x${pfn.toString(16)}: it is on an LRU list, not isolated (${formatPageFlags(f)})`,
    );
  const nid = flagsNid(f);
  mem.modNodeState(nid, f & SWAPBACKED ? 'nr_isolated_anon' : 'nr_isolated_file', -1);
  if (a[i + P_REFCOUNT] === 1 || a[i + P_MAPPING] === 0) {
    if (a[i + P_REFCOUNT] === 1) freeLastRef(mem, a, i, pfn);
    else {
      Atomics.and(a, i + P_FLAGS, ~(ACTIVE | UNEVICTABLE));
      mem.putPage(pfn);
    }
    return;
  }
  lruLock(mem, nid);
  const g = a[i + P_FLAGS]!;
  const list = pageLruList(g);
  Atomics.or(a, i + P_FLAGS, LRU);
  linkLocked(mem, nid, pfn, a, i, list, false);
  lruStat(mem, g, list, 1);
  lruUnlock(mem, nid);
  mem.putPage(pfn);
}

/**
 * `put_page` for a page that may be on an LRU list: when the reference dropped is the
 * last one, takes the page off its list first and clears an anonymous mapping word
 * (`__folio_put` → `__page_cache_release`, `free_pages_prepare`). The anonymous-memory
 * code drops its pages' last references through this. A page-cache page does not need
 * it: leaving the cache takes it off its list.
 * @see mm/swap.c: __folio_put, __page_cache_release
 */
export function putLruPage(mem: Memory, pfn: number): void {
  const a = pageWordArray(mem, pfn);
  const i = pageWordIndex(mem, pfn);
  const nid = flagsNid(a[i + P_FLAGS]!);
  lruLock(mem, nid);
  const f = a[i + P_FLAGS]!;
  const last = a[i + P_REFCOUNT] === 1;
  if (last && f & LRU) {
    const list = pageLruList(f);
    unlinkLocked(mem, nid, a, i, list);
    lruStat(mem, f, list, -1);
    Atomics.and(a, i + P_FLAGS, ~LRU);
  }
  lruUnlock(mem, nid);
  if (last) freeLastRef(mem, a, i, pfn);
  else mem.putPage(pfn);
}

/** Pages on a node's LRU list (N_LRU_NR). @throws KernelError EINVAL for an unknown list. @see include/linux/mm_inline.h: lruvec_lru_size */
export function lruCount(mem: Memory, nid: number, list: number): number {
  checkList(list);
  return mem.nodeArr[nid]![mem.nodeBase[nid]! + N_LRU_NR + list]!;
}

/**
 * The PFNs on a node's LRU list from head (newest) to tail (next to be scanned). For
 * tests and debugging; takes the LRU lock.
 * @throws KernelError EINVAL for an unknown list.
 * @see include/linux/mmzone.h: struct lruvec
 */
export function lruListPages(mem: Memory, nid: number, list: number): number[] {
  checkList(list);
  const out: number[] = [];
  lruLock(mem, nid);
  let cur = mem.nodeArr[nid]![mem.nodeBase[nid]! + N_LRU_HEAD + list]!;
  while (cur && out.length <= 1 << 24) {
    out.push(cur - 1);
    cur = pageWordArray(mem, cur - 1)[pageWordIndex(mem, cur - 1) + P_NEXT]!;
  }
  lruUnlock(mem, nid);
  return out;
}

/**
 * Checks every LRU list against the page array (what `CONFIG_DEBUG_VM` would catch):
 * links agree both ways, every listed page has PG_lru and the flags of its list, is on
 * its own node, has references and a mapcount ≥ -1, the counts match the lists and the
 * node and zone counters, and no page with PG_lru is off the lists. Returns one
 * sentence per problem; empty when all is well. Takes no locks.
 * @see mm/debug.c, include/linux/mm_inline.h
 */
export function verifyLru(mem: Memory): string[] {
  const errors: string[] = [];
  const err = (s: string): void => {
    if (errors.length < 50) errors.push(s);
  };
  const hex = (p: number): string => `0x${p.toString(16)}`;
  const seen = new Set<number>();
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    const na = mem.nodeArr[nid]!;
    const nb = mem.nodeBase[nid]!;
    const zoneSum: number[] = [];
    for (let list = 0; list < NR_LRU_LISTS; list++) {
      const name = `node ${nid} ${lruNames[list]}`;
      let prev = 0;
      let count = 0;
      let cur = na[nb + N_LRU_HEAD + list]!;
      while (cur) {
        const pfn = cur - 1;
        if (!mem.pfnValid(pfn)) {
          err(`${name}: link to ${hex(pfn)} outside memory`);
          break;
        }
        if (seen.has(pfn)) {
          err(`${name}: ${hex(pfn)} seen twice (cycle or on two lists)`);
          break;
        }
        seen.add(pfn);
        count++;
        const a = pageWordArray(mem, pfn);
        const i = pageWordIndex(mem, pfn);
        const f = a[i + P_FLAGS]!;
        if (a[i + P_PREV] !== prev)
          err(`${name}: ${hex(pfn)} prev ${a[i + P_PREV]! - 1} != ${prev - 1}`);
        if (!(f & LRU)) err(`${name}: ${hex(pfn)} lacks PG_lru`);
        if (pageLruList(f) !== list)
          err(
            `${name}: ${hex(pfn)} flags ${formatPageFlags(f)} name list ${lruNames[pageLruList(f)]}`,
          );
        if (flagsNid(f) !== nid) err(`${name}: ${hex(pfn)} belongs to node ${flagsNid(f)}`);
        if (a[i + P_REFCOUNT]! <= 0) err(`${name}: ${hex(pfn)} has refcount ${a[i + P_REFCOUNT]}`);
        if (a[i + P_MAPCOUNT]! < -1) err(`${name}: ${hex(pfn)} has mapcount ${a[i + P_MAPCOUNT]}`);
        const zid = (f >>> ZONES_PGSHIFT) & 3;
        zoneSum[zid * NR_LRU_LISTS + list] = (zoneSum[zid * NR_LRU_LISTS + list] ?? 0) + 1;
        prev = cur;
        cur = a[i + P_NEXT]!;
      }
      if (na[nb + N_LRU_TAIL + list] !== prev)
        err(`${name}: tail ${na[nb + N_LRU_TAIL + list]! - 1} != last ${prev - 1}`);
      if (na[nb + N_LRU_NR + list] !== count)
        err(`${name}: N_LRU_NR ${na[nb + N_LRU_NR + list]} != ${count} on the list`);
      const stat = na[nb + N_VMSTAT + LRU_NODE_STAT[list]!];
      if (stat !== count) err(`${name}: node counter ${stat} != ${count} on the list`);
      for (let zid = 0; zid < MAX_NR_ZONES; zid++) {
        const z = mem.zones[nid * MAX_NR_ZONES + zid]!;
        const want = zoneSum[zid * NR_LRU_LISTS + list] ?? 0;
        const got = z.a[z.b + Z_VMSTAT + list]!;
        if (got !== want) err(`${name}: zone ${zid} counter ${got} != ${want} on the list`);
      }
    }
  }
  for (const sec of mem.sections) {
    if (!sec) continue;
    for (let k = 0; k < sec.nrPages; k++) {
      const f = sec.i32[MEMMAP_WORD + k * PAGE_WORDS + P_FLAGS]!;
      if (f & LRU && !seen.has(sec.startPfn + k))
        err(`page ${hex(sec.startPfn + k)} has PG_lru but is on no LRU list`);
    }
  }
  return errors;
}
