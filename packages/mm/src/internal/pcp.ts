/**
 * Per-CPU page lists (`struct per_cpu_pages`): taking a CPU's lists lock (held lazily by
 * its owner, see pcp-lock.ts), refilling a list from the buddy lists, giving a batch
 * back, draining a CPU's lists, and switching every thread to atomic refcount drops when
 * a second thread attaches. Not public API; the order-0 fast paths in memory.ts inline
 * what they need of this.
 *
 * A per-CPU list is singly linked through P_NEXT (P_PREV stays 0), with head and tail
 * words in the pcp set: the owner pushes and pops at the head, which touches only the
 * page itself, and refills append at the tail. Taking from the tail (a drain) walks the
 * list once, amortised over the batch it frees. See docs/design.md §5.
 *
 * @see mm/page_alloc.c: rmqueue_bulk, free_pcppages_bulk, drain_pages_zone,
 *      drain_all_pages; arch/x86/kernel/alternative.c: alternatives_enable_smp
 */

import { KernelError } from '@kern/core';
import {
  N_SMP_ACTIVE,
  NO_PAGE,
  P_FLAGS,
  P_INDEX,
  P_NEXT,
  P_PREV,
  P_PRIVATE,
  PCP_COUNT,
  PCP_HEADS,
  PCP_LOCK,
  PCP_REVOKE,
  PCP_TAILS,
  pcpBase,
} from '../layout.js';
import type { Memory } from '../memory.js';
import {
  MAX_NR_ZONES,
  NR_PCP_LISTS,
  orderToPindex,
  pindexToOrder,
  type ZoneRef,
} from '../mmzone.js';
import { PG_pcp } from '../page-flags.js';
import { MEMMAP_WORD } from '../sparse.js';
import { freeOneBlock, rmqueue, zoneLock, zoneUnlock } from './buddy.js';
import { spinUnlock } from './lock.js';
import { pcpLockOwnerSlow, pcpLockRemote, pcpReleaseAll, type RevokeMirror } from './pcp-lock.js';

/** How long a remote drain waits for a CPU's owner to let go of its per-CPU lists. */
export const PCP_REMOTE_TIMEOUT_MS = 1000;
/** How long a CPU's own thread waits for its lists before reporting EBUSY. */
export const PCP_OWN_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------- the lists' lock

/**
 * Index in node 0's data of `cpu`'s per-CPU lock: the PCP_LOCK word of its node-0,
 * zone-0 page set guards all of that CPU's page sets in every node and zone, so a
 * thread holds at most one such lock and sees every request for it (PCP_REVOKE beside it).
 */
export function cpuLockWord(mem: Memory, cpu: number): number {
  return mem.nodeBase[0]! + pcpBase(cpu, 0) + PCP_LOCK;
}

/**
 * The PCP_REVOKE words of `cpu`'s page sets other than the lock's own (node 0, zone 0):
 * a thread waiting for the lock bumps them all, so the owner's fast path reads the
 * request from whichever page set it is using.
 */
export function revokeMirrors(mem: Memory, cpu: number): RevokeMirror[] {
  const mirrors: RevokeMirror[] = [];
  for (let nid = 0; nid < mem.nrNodes; nid++)
    for (let zid = 0; zid < MAX_NR_ZONES; zid++)
      if (nid || zid)
        mirrors.push({
          a: mem.nodeArr[nid]!,
          idx: mem.nodeBase[nid]! + pcpBase(cpu, zid) + PCP_REVOKE,
        });
  return mirrors;
}

/**
 * Takes this CPU's per-CPU lists lock (pcp_spin_lock). It is kept until the end of the
 * thread's synchronous run or until another thread asks for it (pcp-lock.ts), so the
 * common case is a flag test and one plain read.
 * @throws KernelError EBUSY if another thread keeps the lists (see pcpLockOwnerSlow).
 */
export function pcpLockOwn(mem: Memory): void {
  if (!pcpTryOwn(mem)) pcpBusy(mem);
}

/** pcpLockOwn that returns false instead of throwing when the lists cannot be had. */
export function pcpTryOwn(mem: Memory): boolean {
  if (!mem.locking || (mem.cpuHold.held && mem.cpuLockArr[mem.cpuRevokeIdx] === 0)) return true;
  return pcpLockOwnerSlow(mem.cpuHold, PCP_OWN_TIMEOUT_MS);
}

/** The fast paths' slow path, once they have read the revoke request themselves. */
export function pcpLockOwnSlow(mem: Memory): void {
  if (!pcpLockOwnerSlow(mem.cpuHold, PCP_OWN_TIMEOUT_MS)) pcpBusy(mem);
}

/** @throws KernelError EBUSY: another thread keeps this CPU's lists. */
function pcpBusy(mem: Memory): never {
  throw new KernelError(
    'EBUSY',
    `CPU ${mem.cpu}'s per-CPU page lists are held by another thread that did not let go within ${PCP_OWN_TIMEOUT_MS} ms (a thread attached as the same CPU that is blocked, or a worker terminated in the middle of a run)`,
  );
}

/**
 * Takes `cpu`'s per-CPU lists lock for a drain: this CPU's own lazily, any other by
 * asking its owner (after letting go of this thread's own, so two drainers never wait
 * for each other). Returns false if the owner did not let go within
 * PCP_REMOTE_TIMEOUT_MS (blocked or gone); true means {@link pcpUnlockCpu} must follow.
 */
function pcpLockCpu(mem: Memory, cpu: number): boolean | 'own' {
  if (!mem.locking) return 'own';
  if (cpu === mem.cpu) {
    pcpLockOwn(mem);
    return 'own';
  }
  if (mem.debugBreak === 'drain-without-lock') return 'own';
  const r = pcpLockRemote(
    mem.cpuLockArr,
    cpuLockWord(mem, cpu),
    PCP_REMOTE_TIMEOUT_MS,
    revokeMirrors(mem, cpu),
  );
  return r === 'held' ? 'own' : r;
}

/** Drops a lock taken by {@link pcpLockCpu} when it returned true. */
function pcpUnlockCpu(mem: Memory, cpu: number): void {
  spinUnlock(mem.cpuLockArr, cpuLockWord(mem, cpu));
}

/**
 * Called by `attachMemory` before a new thread touches any page: switches the refcount
 * drop in `freePages` to `Atomics.sub` for every thread. Linux runs an SMP kernel
 * booted on one CPU with its `lock` prefixes patched out and patches them back in
 * when a second CPU comes up (`alternatives_enable_smp`, under stop_machine); here
 * the switch is N_SMP_ACTIVE plus a handshake. Each thread reads the word after
 * taking its CPU's pcp lock and drops a count plainly only while it read 0, so taking
 * every CPU's pcp lock once after setting the word waits out every plain drop made
 * without it; later holds start with the lock's acquire and see the word.
 * @throws KernelError EBUSY if a CPU's lists stay held by a blocked thread.
 */
export function activateSmp(mem: Memory): void {
  if (!mem.smp) return;
  for (let nid = 0; nid < mem.nrNodes; nid++)
    Atomics.store(mem.nodeArr[nid]!, mem.nodeBase[nid]! + N_SMP_ACTIVE, 1);
  for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
    // Every CPU as a remote one (this instance's own CPU is not claimed yet).
    const r = pcpLockRemote(
      mem.cpuLockArr,
      cpuLockWord(mem, cpu),
      PCP_REMOTE_TIMEOUT_MS,
      revokeMirrors(mem, cpu),
    );
    if (r === false)
      throw new KernelError(
        'EBUSY',
        `attach: CPU ${cpu}'s per-CPU lists are held by a thread that did not let go within ${PCP_REMOTE_TIMEOUT_MS} ms (blocked with its lists held; it should call releasePcpLocks() before blocking)`,
      );
    if (r === true) pcpUnlockCpu(mem, cpu);
  }
  pcpReleaseAll();
}

// ---------------------------------------------------------------- list operations (pcp lock held)

/** Appends `pfn` (struct page at `a[i]`) to a per-CPU list (`list_add_tail`). pcp lock held. */
function pcpPushTail(
  mem: Memory,
  pa: Int32Array,
  pb: number,
  pindex: number,
  pfn: number,
  a: Int32Array,
  i: number,
): void {
  a[i + P_NEXT] = 0;
  a[i + P_PREV] = 0;
  const t = pa[pb + PCP_TAILS + pindex]!;
  if (t) mem.secI32[(t - 1) >>> mem.sectionShift]![mem.pageIndex(t - 1) + P_NEXT] = pfn + 1;
  else pa[pb + PCP_HEADS + pindex] = pfn + 1;
  pa[pb + PCP_TAILS + pindex] = pfn + 1;
}

/** Pushes `pfn` at the head of a per-CPU list (`list_add`). pcp lock held. */
export function pcpPushHead(
  pa: Int32Array,
  pb: number,
  pindex: number,
  pfn: number,
  a: Int32Array,
  i: number,
): void {
  const h = pa[pb + PCP_HEADS + pindex]!;
  a[i + P_NEXT] = h;
  a[i + P_PREV] = 0;
  if (!h) pa[pb + PCP_TAILS + pindex] = pfn + 1;
  pa[pb + PCP_HEADS + pindex] = pfn + 1;
}

/** Pops the head of a per-CPU list; -1 if empty. pcp lock held. */
export function pcpPopHead(mem: Memory, pa: Int32Array, pb: number, pindex: number): number {
  const h = pa[pb + PCP_HEADS + pindex]!;
  if (!h) return NO_PAGE;
  const pfn = h - 1;
  const a = mem.secI32[pfn >>> mem.sectionShift]!;
  const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
  const next = a[i + P_NEXT]!;
  pa[pb + PCP_HEADS + pindex] = next;
  if (!next) pa[pb + PCP_TAILS + pindex] = 0;
  a[i + P_NEXT] = 0;
  a[i + P_FLAGS] = a[i + P_FLAGS]! & ~(1 << PG_pcp);
  return pfn;
}

/**
 * Takes up to `n` pages from the tail of a per-CPU list, coldest first: one walk to
 * the cut point, the kept part's last page becoming the tail. pcp lock held.
 */
function pcpTakeTail(mem: Memory, pa: Int32Array, pb: number, pindex: number, n: number): number[] {
  const all: number[] = [];
  // A list never holds more entries than the set's page count: a longer walk means the
  // links are corrupt (a cycle, or a page on two lists), reported and the list dropped
  // rather than walked forever.
  const limit = pa[pb + PCP_COUNT]!;
  for (let h = pa[pb + PCP_HEADS + pindex]!; h; h = mem.pageField(h - 1, P_NEXT)) {
    if (all.length >= limit || !mem.pfnValid(h - 1)) {
      mem.warn(
        `mm: per-CPU list ${pindex} is corrupt (longer than the ${limit} pages counted, or a link outside memory); its pages are abandoned`,
      );
      pa[pb + PCP_HEADS + pindex] = 0;
      pa[pb + PCP_TAILS + pindex] = 0;
      const lost = all.length << pindexToOrder(pindex);
      pa[pb + PCP_COUNT] = Math.max(0, pa[pb + PCP_COUNT]! - lost);
      return [];
    }
    all.push(h - 1);
  }
  const keep = Math.max(0, all.length - n);
  const taken = all.slice(keep).reverse();
  if (keep) {
    mem.setPageField(all[keep - 1]!, P_NEXT, 0);
    pa[pb + PCP_TAILS + pindex] = all[keep - 1]! + 1;
  } else {
    pa[pb + PCP_HEADS + pindex] = 0;
    pa[pb + PCP_TAILS + pindex] = 0;
  }
  for (const pfn of taken) {
    const a = mem.secI32[pfn >>> mem.sectionShift]!;
    const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
    a[i + P_NEXT] = 0;
    a[i + P_FLAGS] = a[i + P_FLAGS]! & ~(1 << PG_pcp);
  }
  return taken;
}

/** Refills a per-CPU list with `count` blocks of `order` (`rmqueue_bulk`). pcp lock held. */
export function rmqueueBulk(
  mem: Memory,
  z: ZoneRef,
  pa: Int32Array,
  pb: number,
  order: number,
  count: number,
  mt: number,
  allocFlags: number,
): number {
  zoneLock(mem, z);
  let got = 0;
  const pindex = orderToPindex(mt, order);
  for (; got < count; got++) {
    const pfn = rmqueue(mem, z, order, mt, allocFlags);
    if (pfn < 0) break;
    const a = mem.secI32[pfn >>> mem.sectionShift]!;
    const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
    // On a per-CPU list: private = order, index = 0 (the migrate type is the
    // pageblock's, read again when the page goes back: Linux 6.7 stopped caching it).
    a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_pcp);
    a[i + P_PRIVATE] = order;
    a[i + P_INDEX] = 0;
    pcpPushTail(mem, pa, pb, pindex, pfn, a, i);
  }
  zoneUnlock(mem, z);
  pa[pb + PCP_COUNT]! += got << order;
  if (got) mem.countEvent('pcp_refill', got, z.nid);
  return got;
}

/**
 * Frees `count` base pages' worth from a per-CPU set back to the buddy lists
 * (`free_pcppages_bulk`): lists in round-robin order starting after `pindex`, each
 * one's coldest pages (its tail) until the count is met or the list is empty. pcp
 * lock held.
 */
export function freePcppagesBulk(
  mem: Memory,
  z: ZoneRef,
  pa: Int32Array,
  pb: number,
  count: number,
  pindex = NR_PCP_LISTS - 1,
): void {
  zoneLock(mem, z);
  let freed = 0;
  while (count > 0 && pa[pb + PCP_COUNT]! > 0) {
    let tries = 0;
    do pindex = pindex === NR_PCP_LISTS - 1 ? 0 : pindex + 1;
    while (!pa[pb + PCP_HEADS + pindex] && ++tries < NR_PCP_LISTS);
    if (!pa[pb + PCP_HEADS + pindex]) break; // every list empty: the count was stale
    const order = pindexToOrder(pindex);
    for (const pfn of pcpTakeTail(mem, pa, pb, pindex, Math.ceil(count / (1 << order)))) {
      // The pageblock's type now (it may have been isolated or stolen while the page
      // sat on the list), as free_pcppages_bulk reads it since Linux 6.7.
      const mt = mem.getPageblockMigratetype(pfn);
      mem.setPageField(pfn, P_PRIVATE, 0);
      pa[pb + PCP_COUNT]! -= 1 << order;
      count -= 1 << order;
      freed += 1 << order;
      freeOneBlock(mem, z, pfn, order, mt);
    }
  }
  zoneUnlock(mem, z);
  if (freed) mem.countEvent('pcp_drain', freed, z.nid);
}

// ---------------------------------------------------------------- drains

/**
 * Empties `cpu`'s lists for `zones` under one hold of its lock. A CPU with nothing on
 * those lists is skipped without asking (as drain_all_pages only queues work on CPUs
 * with pages); one that does not let go is reported once and left alone.
 */
function drainCpu(mem: Memory, cpu: number, zones: readonly ZoneRef[]): void {
  const pbOf = (z: ZoneRef): number => mem.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
  if (!zones.some((z) => z.a[pbOf(z) + PCP_COUNT]! > 0)) return;
  const got = pcpLockCpu(mem, cpu);
  if (got === false) {
    mem.pcpDrainTimeouts++;
    mem.warn(
      `mm: CPU ${cpu} did not let go of its per-CPU lists within ${PCP_REMOTE_TIMEOUT_MS} ms; not drained`,
    );
    return;
  }
  for (const z of zones) freePcppagesBulk(mem, z, z.a, pbOf(z), z.a[pbOf(z) + PCP_COUNT]!);
  if (got === true) pcpUnlockCpu(mem, cpu);
}

/** Empties every CPU's lists, for one zone or all (`drain_all_pages`). */
export function drainAllPages(mem: Memory, zone?: ZoneRef): void {
  const zones = zone ? [zone] : mem.zones;
  for (let cpu = 0; cpu < mem.nrCpus; cpu++) drainCpu(mem, cpu, zones);
}

/** Empties this CPU's lists (`drain_local_pages`). */
export function drainLocalPages(mem: Memory): void {
  drainCpu(mem, mem.cpu, mem.zones);
}
