/**
 * The general free path (`free_pages_prepare`, `free_unref_page`) for everything the
 * order-0 fast path in memory.ts does not take: multi-page and compound blocks, pages
 * with state left on them, and the reports for frees that are wrong.
 *
 * A block of order 1 or more records its order while it is allocated (the first tail
 * page's `private`, with PG_head on a compound block's head and PG_highorder on any
 * other's; page-alloc.ts: prepNewPage), so a free with another order is refused before
 * anything changes: too large an order would take pages that are not the block's (free
 * ones, or another owner's), too small would leak the rest. Linux checks this only for
 * compound pages (`free_tail_page_prepare`).
 *
 * @see mm/page_alloc.c: __free_pages, free_pages_prepare, free_unref_page, bad_page
 */

import { KernelError } from '@kern/core';
import {
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_NEXT,
  P_PRIVATE,
  P_REFCOUNT,
  PCP_BATCH,
  PCP_COUNT,
  PCP_HIGH,
} from '../layout.js';
import { pfnText } from '../memmap.js';
import type { Memory } from '../memory.js';
import {
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_PCPTYPES,
  PAGE_ALLOC_COSTLY_ORDER,
  orderToPindex,
  pageblock_order,
} from '../mmzone.js';
import {
  NODES_PGSHIFT,
  PAGE_FLAGS_CHECK_AT_FREE,
  PAGE_FLAGS_CHECK_AT_PREP,
  PG_buddy,
  PG_head,
  PG_highorder,
  PG_pcp,
  PG_tail,
  ZONES_PGSHIFT,
} from '../page-flags.js';
import { MEMMAP_WORD } from '../sparse.js';
import { VM_EVENT } from '../vmstat-items.js';
import { freeOneBlock, zoneLock, zoneUnlock } from './buddy.js';
import { freePcppagesBulk, pcpPushHead, pcpTryOwn } from './pcp.js';
import { describeValue, named } from './value.js';

const EV_PGFREE = VM_EVENT.pgfree;
/** The flags that mark the head of an allocated block of order ≥ 1. */
const BLOCK_HEAD = (1 << PG_head) | (1 << PG_highorder);

/**
 * The order a page was allocated with when it heads a live block (its first tail's
 * record), 0 for an order-0 page.
 */
export function allocatedOrder(mem: Memory, pfn: number): number {
  const a = mem.secI32[pfn >>> mem.sectionShift]!;
  if (!(a[MEMMAP_WORD + ((pfn & mem.sectionMask) << 3) + P_FLAGS]! & BLOCK_HEAD)) return 0;
  const t = mem.secI32[(pfn + 1) >>> mem.sectionShift];
  return t ? t[MEMMAP_WORD + (((pfn + 1) & mem.sectionMask) << 3) + P_PRIVATE]! : 0;
}

/**
 * The live block `pfn` is a tail page of: its head and order, or null. Looks at the
 * aligned heads of each larger order, as `compound_head` would if every block were one.
 */
function enclosingBlock(mem: Memory, pfn: number): { head: number; order: number } | null {
  for (let o = 1; o <= MAX_PAGE_ORDER; o++) {
    const head = pfn & ~((1 << o) - 1);
    if (head === pfn || !mem.pfnValid(head)) continue;
    const [a, i] = mem.pageWords(head);
    if (a[i + P_REFCOUNT]! <= 0) continue;
    const order = allocatedOrder(mem, head);
    if (order >= o) return { head, order };
  }
  return null;
}

/**
 * The message for bad arguments to `freePages`, built only when they are bad.
 * @throws KernelError EINVAL always.
 */
export function badFreeArgs(mem: Memory, pfn: unknown, order: unknown): never {
  if (!(
    typeof order === 'number' &&
    Number.isInteger(order) &&
    order >= 0 &&
    order <= MAX_PAGE_ORDER
  ))
    throw new KernelError(
      'EINVAL',
      `free of order ${named(order)}: orders are 0..${MAX_PAGE_ORDER}`,
    );
  if (typeof pfn !== 'number' || !Number.isInteger(pfn) || pfn < 0)
    throw new KernelError('EINVAL', `free of pfn ${describeValue(pfn)}: not a page frame number`);
  if (!mem.pfnValid(pfn))
    throw new KernelError(
      'EINVAL',
      `free of pfn ${pfnText(pfn)}: not in any present memory section`,
    );
  throw new KernelError(
    'EINVAL',
    `free of pfn ${pfnText(pfn)} order ${order}: not aligned to its order`,
  );
}

/**
 * Reports a free of a page whose count was already 0 (the page stays where it is) and
 * throws: a tail page of a live block is named as such, anything else is a double free.
 * @throws KernelError EINVAL always.
 */
export function doubleFree(mem: Memory, pfn: number, order: number): never {
  const blk = enclosingBlock(mem, pfn);
  mem.badPage(pfn, 'VM_BUG_ON_PAGE(page_ref_count(page) == 0)', false);
  if (blk)
    throw new KernelError(
      'EINVAL',
      `free of pfn ${pfnText(pfn)} order ${order}: it is a tail page of the order-${blk.order} block at pfn ${pfnText(blk.head)} (free that block with freePages(${pfnText(blk.head)}, ${blk.order}))`,
    );
  throw new KernelError(
    'EINVAL',
    `double free of pfn ${pfnText(pfn)} order ${order} (refcount already 0)`,
  );
}

/** Why a page cannot be freed (`page_bad_reason`), or '' if it can. */
function pageBadReason(mem: Memory, pfn: number): string {
  const a = mem.secI32[pfn >>> mem.sectionShift]!;
  const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
  let reason = '';
  if (a[i + P_MAPCOUNT] !== -1) reason = 'nonzero mapcount';
  if (a[i + P_MAPPING] !== 0) reason = 'non-NULL mapping';
  if (a[i + P_REFCOUNT] !== 0) reason = 'nonzero _refcount';
  if (a[i + P_FLAGS]! & PAGE_FLAGS_CHECK_AT_FREE) reason = 'PAGE_FLAGS_CHECK_AT_FREE flag(s) set';
  return reason;
}

/**
 * The general free path (`free_pages_prepare`): multi-page and compound blocks and
 * pages with state left on them. The refcount has just dropped to zero. The order is
 * checked against the one the block was allocated with before anything else changes
 * (the count is restored when it does not match); then every page of the block, and
 * a block with a bad page is reported as `bad_page()` does and leaked, never freed.
 * @throws KernelError EINVAL for an order other than the block's, or a bad page.
 */
export function freePagesPrepare(
  mem: Memory,
  pfn: number,
  order: number,
  a: Int32Array,
  i: number,
): void {
  const recorded = allocatedOrder(mem, pfn);
  if (recorded !== order && mem.debugBreak !== 'skip-free-order-check') {
    Atomics.store(a, i + P_REFCOUNT, 1);
    const compound = (a[i + P_FLAGS]! & (1 << PG_head)) !== 0;
    throw new KernelError(
      'EINVAL',
      compound
        ? `free of compound page pfn ${pfnText(pfn)} with order ${order}, but it has order ${recorded}`
        : `free of pfn ${pfnText(pfn)} with order ${order}, but it was allocated with order ${recorded}${
            order > recorded
              ? ` (an order-${order} free would take pages that are not part of it)`
              : ` (an order-${order} free would leak ${(1 << recorded) - (1 << order)} of its pages)`
          }`,
    );
  }
  if (a[i + P_FLAGS]! & BLOCK_HEAD) {
    a[i + P_FLAGS] = a[i + P_FLAGS]! & ~BLOCK_HEAD;
    for (let p = pfn + 1; p < pfn + (1 << order); p++) {
      const pa = mem.secI32[p >>> mem.sectionShift]!;
      const pi = MEMMAP_WORD + ((p & mem.sectionMask) << 3);
      pa[pi + P_FLAGS] = pa[pi + P_FLAGS]! & ~(1 << PG_tail);
      pa[pi + P_NEXT] = 0;
      pa[pi + P_PRIVATE] = 0;
    }
  }
  // Every page of the block must be clean. A page of it found on a free list (only
  // corruption, or the broken mode, gets one here) is reported but not taken out of
  // circulation: flagging it bad would leave a bad page on a free list.
  const broken = mem.debugBreak === 'skip-free-order-check';
  let bad = false;
  for (let p = pfn; p < pfn + (1 << order); p++) {
    const reason = pageBadReason(mem, p);
    if (reason !== '') {
      const onFreeList = (mem.pageField(p, P_FLAGS) & ((1 << PG_buddy) | (1 << PG_pcp))) !== 0;
      mem.badPage(p, reason, broken || !onFreeList);
      bad = true;
    }
  }
  if (bad)
    throw new KernelError(
      'EINVAL',
      `Bad page state freeing pfn ${pfnText(pfn)} order ${order}: ${pageBadReason(mem, pfn) || 'a page of the block is bad'}`,
    );
  for (let p = pfn; p < pfn + (1 << order); p++) {
    const pa = mem.secI32[p >>> mem.sectionShift]!;
    const pi = MEMMAP_WORD + ((p & mem.sectionMask) << 3);
    pa[pi + P_FLAGS] = pa[pi + P_FLAGS]! & ~PAGE_FLAGS_CHECK_AT_PREP;
  }
  mem.countEventIdx(EV_PGFREE, 1 << order, a[i + P_FLAGS]! >>> NODES_PGSHIFT);
  freeUnrefPage(mem, pfn, order);
}

/** Frees a clean block: to this CPU's lists for small orders, else to the buddy lists. */
export function freeUnrefPage(mem: Memory, pfn: number, order: number): void {
  const pa0 = mem.secI32[pfn >>> mem.sectionShift]!;
  const f = pa0[MEMMAP_WORD + ((pfn & mem.sectionMask) << 3) + P_FLAGS]!;
  const z = mem.zones[(f >>> NODES_PGSHIFT) * MAX_NR_ZONES + ((f >>> ZONES_PGSHIFT) & 3)]!;
  const mt =
    mem.sections[pfn >>> mem.sectionShift]!.usemap[(pfn & mem.sectionMask) >>> pageblock_order]!;
  // The count is already 0: if this CPU's lists cannot be had, the buddy lists take
  // the block rather than an EBUSY losing it.
  if (order <= PAGE_ALLOC_COSTLY_ORDER && mt < MIGRATE_PCPTYPES && pcpTryOwn(mem)) {
    const pa = z.a;
    const pb = z.pcp;
    const a = mem.secI32[pfn >>> mem.sectionShift]!;
    const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
    a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_pcp);
    a[i + P_PRIVATE] = order;
    a[i + P_INDEX] = 0;
    const pindex = orderToPindex(mt, order);
    pcpPushHead(pa, pb, pindex, pfn, a, i);
    const count = (pa[pb + PCP_COUNT]! += 1 << order);
    if (count >= pa[pb + PCP_HIGH]!)
      freePcppagesBulk(mem, z, pa, pb, pa[pb + PCP_BATCH]!, pindex - 1);
    return;
  }
  zoneLock(mem, z);
  freeOneBlock(mem, z, pfn, order, mt);
  zoneUnlock(mem, z);
}
