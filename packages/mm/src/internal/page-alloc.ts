/**
 * The page allocator's general path: `__alloc_pages` for everything the order-0 fast
 * path in memory.ts does not take (other orders, nodes and masks, an empty per-CPU
 * list), `get_page_from_freelist` over the zonelist with its watermarks, the slow path
 * (kswapd, direct reclaim, draining, the reserves) and `prep_new_page`, which records a
 * multi-page block's order for the free path (page-free.ts).
 *
 * @see mm/page_alloc.c: __alloc_pages, get_page_from_freelist, __alloc_pages_slowpath,
 *      prep_new_page; mm/vmscan.c: wakeup_kswapd, balance_pgdat, try_to_free_pages
 */

import { KernelError } from '@kern/core';
import {
  GFP_KERNEL,
  ALLOC_HIGHATOMIC,
  ALLOC_MIN_RESERVE,
  ALLOC_NO_WATERMARKS,
  ALLOC_NON_BLOCK,
  ALLOC_WMARK_MASK,
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_HIGH,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MEMALLOC,
  __GFP_NOFAIL,
  __GFP_NOMEMALLOC,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_THISNODE,
  __GFP_ZERO,
} from '../gfp.js';
import {
  NO_PAGE,
  N_KSWAPD_ORDER,
  N_KSWAPD_WAKE,
  N_KSWAPD_ZONEIDX,
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_NEXT,
  P_PREV,
  P_PRIVATE,
  P_REFCOUNT,
  PCP_BATCH,
  PCP_COUNT,
  WMARK_HIGH,
  WMARK_LOW,
  WMARK_MIN,
  Z_FREE_HEAD,
  Z_FREE_NR,
  Z_LOWMEM_RESERVE,
  Z_MANAGED,
  Z_NR_FREE,
  Z_NR_RESERVED_HIGHATOMIC,
  Z_WMARK,
  freeListIndex,
} from '../layout.js';
import type { Memory } from '../memory.js';
import {
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_HIGHATOMIC,
  MIGRATE_PCPTYPES,
  MIGRATE_UNMOVABLE,
  PAGE_ALLOC_COSTLY_ORDER,
  gfpMigratetype,
  gfpZone,
  orderToPindex,
  type ZoneRef,
} from '../mmzone.js';
import { PAGE_FLAGS_CHECK_AT_PREP, PG_head, PG_highorder, PG_tail } from '../page-flags.js';
import { MEMMAP_WORD } from '../sparse.js';
import { VM_EVENT } from '../vmstat-items.js';
import {
  reserveHighatomicPageblock,
  rmqueue,
  rmqueueSmallest,
  unreserveHighatomicPageblock,
  zoneLock,
  zoneUnlock,
} from './buddy.js';
import { drainAllPages, drainLocalPages, pcpLockOwn, pcpPopHead, rmqueueBulk } from './pcp.js';
import { warnAlloc } from './show-mem.js';
import { describeValue } from './value.js';

/** VM event index of pgalloc_dma32 (then normal, movable). */
const EV_PGALLOC = VM_EVENT.pgalloc_dma32;

/** Whether `gfp` is a GFP mask (an unsigned 32-bit integer). */
function isGfp(gfp: unknown): gfp is number {
  return typeof gfp === 'number' && Number.isInteger(gfp) && gfp >= 0 && gfp <= 0xffffffff;
}

// ---------------------------------------------------------------- allocation

/**
 * Everything but the order-0 fast path (`__alloc_pages`): checks the arguments, then
 * the zonelist at the low watermark, then the slow path.
 * @throws KernelError EINVAL for a gfp or order that is not a number of the right kind,
 *   a node that does not exist or an empty or bad nodemask.
 */
export function allocPagesGeneral(
  mem: Memory,
  gfp: number,
  order: number,
  nid: number | undefined,
  nodemask: readonly number[] | undefined,
): number | null {
  if (!isGfp(gfp))
    throw new KernelError(
      'EINVAL',
      `allocPages: gfp ${describeValue(gfp)} is not a GFP mask (a non-negative integer such as GFP_KERNEL)`,
    );
  if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) {
    if (typeof order !== 'number' || !Number.isInteger(order) || order < 0)
      throw new KernelError(
        'EINVAL',
        `allocPages: order ${describeValue(order)} is not an order (an integer 0..${MAX_PAGE_ORDER})`,
      );
    // WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER, gfp): NULL, as alloc_pages returns it.
    if (!(gfp & __GFP_NOWARN) && !mem.warnedOrder) {
      mem.warnedOrder = true;
      mem.warn(
        `WARNING: CPU: ${mem.cpu} PID: 0 at mm/page_alloc.c:__alloc_pages: order ${order} > MAX_PAGE_ORDER ${MAX_PAGE_ORDER}`,
      );
    }
    return null;
  }
  const prefNid = nid ?? mem.cpuToNode[mem.cpu] ?? 0;
  if (!Number.isInteger(prefNid) || prefNid < 0 || prefNid >= mem.nrNodes)
    throw new KernelError(
      'EINVAL',
      `node ${typeof prefNid === 'number' ? prefNid : describeValue(prefNid)} does not exist (${mem.nrNodes} nodes)`,
    );
  const mask: unknown = nodemask;
  if (mask !== undefined) {
    if (!Array.isArray(mask))
      throw new KernelError(
        'EINVAL',
        `nodemask must be an array of node ids, got ${describeValue(mask)}`,
      );
    if (mask.length === 0) throw new KernelError('EINVAL', 'empty nodemask');
    const bad: unknown = mask.find((n) => !Number.isInteger(n) || n < 0 || n >= mem.nrNodes);
    if (bad !== undefined)
      throw new KernelError(
        'EINVAL',
        `nodemask names node ${typeof bad === 'number' ? bad : describeValue(bad)}, which does not exist (${mem.nrNodes} nodes)`,
      );
  }
  const ac: AllocContext = {
    highest: gfpZone(gfp),
    mt: mem.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE,
    prefNid,
    thisnode: (gfp & __GFP_THISNODE) !== 0,
    nodemask,
  };
  let pfn = getPageFromFreelist(mem, gfp, order, WMARK_LOW, ac);
  if (pfn < 0) pfn = allocSlowpath(mem, gfp, order, ac);
  if (pfn < 0) return null;
  prepNewPage(mem, pfn, order, gfp);
  return pfn;
}

/** What an allocation may use (`struct alloc_context`). */
interface AllocContext {
  /** Highest zone index (`gfp_zone`). */
  readonly highest: number;
  /** Migrate type. */
  readonly mt: number;
  /** Preferred node: its zonelist is walked. */
  readonly prefNid: number;
  /** __GFP_THISNODE: the preferred node's zones only. */
  readonly thisnode: boolean;
  readonly nodemask: readonly number[] | undefined;
}

/**
 * Whether `zone` has enough free pages above `mark` for an order-`order` allocation
 * (`__zone_watermark_ok`).
 */
export function zoneWatermarkOk(
  mem: Memory,
  z: ZoneRef,
  order: number,
  mark: number,
  highestZoneidx: number,
  allocFlags: number,
  freePages = mem.zoneFreePages(z),
): boolean {
  const za = z.a;
  let min = mark;
  freePages -= (1 << order) - 1;
  if (allocFlags & ALLOC_MIN_RESERVE) {
    min -= min >> 1;
    if (allocFlags & ALLOC_NON_BLOCK) min -= min >> 2;
  }
  if (!(allocFlags & (ALLOC_HIGHATOMIC | ALLOC_MIN_RESERVE)))
    freePages -= za[z.b + Z_NR_RESERVED_HIGHATOMIC]!;
  if (freePages <= min + za[z.b + Z_LOWMEM_RESERVE + highestZoneidx]!) return false;
  if (order === 0) return true;
  for (let o = order; o <= MAX_PAGE_ORDER; o++) {
    if (!za[z.b + Z_FREE_NR + o]) continue;
    for (let mt = 0; mt < MIGRATE_PCPTYPES; mt++)
      if (za[z.b + Z_FREE_HEAD + freeListIndex(o, mt)]) return true;
    if (
      allocFlags & ALLOC_HIGHATOMIC &&
      za[z.b + Z_FREE_HEAD + freeListIndex(o, MIGRATE_HIGHATOMIC)]
    )
      return true;
  }
  return false;
}

/** Walks the zonelist for a zone above its watermark with a block (`get_page_from_freelist`). */
function getPageFromFreelist(
  mem: Memory,
  gfp: number,
  order: number,
  wmarkIdx: number,
  ac: AllocContext,
  allocFlags = wmarkIdx,
): number {
  const { highest, prefNid, thisnode, nodemask } = ac;
  const list = mem.zonelists[prefNid]!;
  for (let k = 0; k < list.length; k++) {
    const z = list[k]!;
    if (z.zid > highest) continue;
    if (thisnode && z.nid !== prefNid) continue;
    if (nodemask && !nodemask.includes(z.nid)) continue;
    const za = z.a;
    if (!za[z.b + Z_MANAGED]) continue;
    if (!(allocFlags & ALLOC_NO_WATERMARKS)) {
      const mark = za[z.b + Z_WMARK + wmarkIdx]!;
      // zone_watermark_fast: the order-0 common case is one comparison.
      const free = za[z.b + Z_NR_FREE]!;
      const fast =
        order === 0 &&
        free - za[z.b + Z_NR_RESERVED_HIGHATOMIC]! > mark + za[z.b + Z_LOWMEM_RESERVE + highest]!;
      if (!fast && !zoneWatermarkOk(mem, z, order, mark, highest, allocFlags)) continue;
    }
    const pfn = rmqueueZone(mem, z, order, ac.mt, allocFlags, gfp);
    if (pfn >= 0) {
      mem.countEventIdx(EV_PGALLOC + z.zid, 1 << order, z.nid);
      return pfn;
    }
  }
  return NO_PAGE;
}

/** Takes a block from a zone: per-CPU lists for small orders, else the buddy lists (`rmqueue`). */
function rmqueueZone(
  mem: Memory,
  z: ZoneRef,
  order: number,
  mt: number,
  allocFlags: number,
  gfp: number,
): number {
  if (order <= PAGE_ALLOC_COSTLY_ORDER && mt < MIGRATE_PCPTYPES) {
    const pa = z.a;
    const pb = z.pcp;
    pcpLockOwn(mem);
    const pindex = orderToPindex(mt, order);
    let pfn = pcpPopHead(mem, pa, pb, pindex);
    if (pfn < 0) {
      const batch = Math.max(1, pa[pb + PCP_BATCH]! >> order);
      if (rmqueueBulk(mem, z, pa, pb, order, batch, mt, allocFlags))
        pfn = pcpPopHead(mem, pa, pb, pindex);
    }
    if (pfn >= 0) {
      pa[pb + PCP_COUNT]! -= 1 << order;
      const a = mem.secI32[pfn >>> mem.sectionShift]!;
      const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
      a[i + P_PRIVATE] = 0;
      a[i + P_INDEX] = 0;
    }
    return pfn;
  }
  zoneLock(mem, z);
  let pfn = rmqueue(mem, z, order, mt, allocFlags);
  if (pfn < 0 && order > 0 && allocFlags & ALLOC_HIGHATOMIC)
    pfn = rmqueueSmallest(mem, z, order, MIGRATE_HIGHATOMIC);
  if (pfn >= 0 && order > 0 && allocFlags & ALLOC_HIGHATOMIC && !(gfp & __GFP_DIRECT_RECLAIM))
    reserveHighatomicPageblock(mem, z, pfn);
  zoneUnlock(mem, z);
  return pfn;
}

/** How far into the reserves an allocation may go (`gfp_to_alloc_flags`). */
function gfpToAllocFlags(gfp: number): number {
  let flags = WMARK_MIN;
  if (gfp & __GFP_HIGH) flags |= ALLOC_MIN_RESERVE;
  if (!(gfp & __GFP_DIRECT_RECLAIM)) {
    flags |= ALLOC_NON_BLOCK;
    if (gfp & __GFP_HIGH) flags |= ALLOC_HIGHATOMIC;
  }
  if (gfp & __GFP_MEMALLOC && !(gfp & __GFP_NOMEMALLOC)) flags |= ALLOC_NO_WATERMARKS;
  return flags;
}

/**
 * The slow path (`__alloc_pages_slowpath`): wake kswapd, retry at the min watermark
 * with the reserves the mask allows, then direct reclaim and draining the per-CPU
 * lists; on failure `warn_alloc()` unless __GFP_NOWARN.
 */
function allocSlowpath(mem: Memory, gfp: number, order: number, ac: AllocContext): number {
  const { highest, prefNid, thisnode } = ac;
  const allocFlags = gfpToAllocFlags(gfp);
  const retry = (): number =>
    getPageFromFreelist(mem, gfp, order, allocFlags & ALLOC_WMARK_MASK, ac, allocFlags);
  if (gfp & __GFP_KSWAPD_RECLAIM) wakeupKswapd(mem, order, highest, prefNid);
  let pfn = retry();
  if (pfn >= 0) return pfn;
  if (gfp & __GFP_DIRECT_RECLAIM) {
    let drained = false;
    for (let tries = 0; tries < 16; tries++) {
      mem.countEvent(
        highest === 0
          ? 'allocstall_dma32'
          : highest === 1
            ? 'allocstall_normal'
            : 'allocstall_movable',
        1,
        prefNid,
      );
      const progress = directReclaim(
        mem,
        Math.max(32, 1 << order),
        gfp,
        thisnode ? prefNid : undefined,
      );
      pfn = retry();
      if (pfn >= 0) return pfn;
      if (!drained) {
        for (const z of mem.zonelists[prefNid]!) unreserveHighatomicPageblock(mem, z);
        drainAllPages(mem);
        drained = true;
        pfn = retry();
        if (pfn >= 0) return pfn;
      }
      if (!progress || gfp & __GFP_NORETRY) break;
    }
  } else if (order > 0 || allocFlags & ALLOC_HIGHATOMIC) {
    // Atomic context: per-CPU lists may hold what a high-order request needs.
    drainLocalPages(mem);
    pfn = retry();
    if (pfn >= 0) return pfn;
  }
  mem.countEvent('pgalloc_fail', 1, prefNid);
  if (!(gfp & __GFP_NOWARN) || gfp & __GFP_NOFAIL) warnAlloc(mem, gfp, order, ac.nodemask);
  return NO_PAGE;
}

// ---------------------------------------------------------------- reclaim hooks

/** Asks the reclaimers for `nrPages`; returns pages freed (`try_to_free_pages`). */
function directReclaim(mem: Memory, nrPages: number, gfp: number, nid: number | undefined): number {
  let freed = 0;
  for (const r of mem.reclaimers) {
    if (freed >= nrPages) break;
    freed += r.reclaim(nrPages - freed, gfp, nid);
  }
  return freed;
}

/** Wakes kswapd of the node an allocation prefers (`wakeup_kswapd`). */
function wakeupKswapd(mem: Memory, order: number, highest: number, nid: number): void {
  const a = mem.nodeArr[nid]!;
  const b = mem.nodeBase[nid]!;
  Atomics.store(a, b + N_KSWAPD_ORDER, Math.max(order, a[b + N_KSWAPD_ORDER]!));
  Atomics.store(a, b + N_KSWAPD_ZONEIDX, Math.max(highest, a[b + N_KSWAPD_ZONEIDX]!));
  Atomics.store(a, b + N_KSWAPD_WAKE, 1);
  if (mem.kswapdInline) kswapdRun(mem, nid);
}

/**
 * One kswapd pass for a node (`balance_pgdat`): reclaims until each zone is above its
 * high watermark or reclaim makes no progress. Returns pages reclaimed.
 */
export function kswapdRun(mem: Memory, nid: number): number {
  const a = mem.nodeArr[nid]!;
  const b = mem.nodeBase[nid]!;
  if (!Atomics.exchange(a, b + N_KSWAPD_WAKE, 0)) return 0;
  const highest = a[b + N_KSWAPD_ZONEIDX]!;
  a[b + N_KSWAPD_ORDER] = 0;
  a[b + N_KSWAPD_ZONEIDX] = 0;
  mem.countEvent('pageoutrun', 1, nid);
  let total = 0;
  for (let pass = 0; pass < 8; pass++) {
    let need = 0;
    for (let zid = 0; zid <= highest; zid++) {
      const z = mem.zones[nid * MAX_NR_ZONES + zid]!;
      if (!z.a[z.b + Z_MANAGED]) continue;
      const deficit = mem.wmark(z, WMARK_HIGH) - mem.zoneFreePages(z);
      if (deficit > 0) need += deficit;
    }
    if (need <= 0) break;
    let got = 0;
    for (const r of mem.reclaimers) got += r.reclaim(need, GFP_KERNEL, nid, true);
    total += got;
    if (!got) break;
  }
  return total;
}

// ---------------------------------------------------------------- prep_new_page

/**
 * Initialises a block that leaves the allocator (`prep_new_page`): each page checked
 * (a free page that changed while free is reported as bad), flags and links cleared,
 * the head's count set to 1; a block of order ≥ 1 records its order in its first tail
 * page (compound: PG_head and PG_tail as Linux; otherwise PG_highorder on the head).
 */
function prepNewPage(mem: Memory, pfn: number, order: number, gfp: number): void {
  const n = 1 << order;
  for (let p = pfn; p < pfn + n; p++) {
    const a = mem.secI32[p >>> mem.sectionShift]!;
    const i = MEMMAP_WORD + ((p & mem.sectionMask) << 3);
    const f = a[i + P_FLAGS]!;
    if (
      f & PAGE_FLAGS_CHECK_AT_PREP ||
      a[i + P_MAPCOUNT] !== -1 ||
      a[i + P_REFCOUNT] !== 0 ||
      a[i + P_MAPPING] !== 0
    ) {
      // check_new_page: the page was corrupted while free.
      mem.badPage(
        p,
        f & PAGE_FLAGS_CHECK_AT_PREP
          ? 'PAGE_FLAGS_CHECK_AT_PREP flag(s) set'
          : 'corrupted free page',
      );
    }
    a[i + P_FLAGS] = f & ~PAGE_FLAGS_CHECK_AT_PREP & ~((1 << PG_head) | (1 << PG_tail));
    a[i + P_NEXT] = 0;
    a[i + P_PREV] = 0;
    a[i + P_PRIVATE] = 0;
  }
  const ha = mem.secI32[pfn >>> mem.sectionShift]!;
  const hi = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
  // Nobody else can see the page yet: a plain store; the next lock release publishes it.
  ha[hi + P_REFCOUNT] = 1;
  if (gfp & __GFP_ZERO) mem.pageBytes(pfn, order).fill(0);
  if (order === 0) return;
  const compound = (gfp & __GFP_COMP) !== 0;
  ha[hi + P_FLAGS] = ha[hi + P_FLAGS]! | (1 << (compound ? PG_head : PG_highorder));
  if (compound)
    for (let p = pfn + 1; p < pfn + n; p++) {
      const a = mem.secI32[p >>> mem.sectionShift]!;
      const i = MEMMAP_WORD + ((p & mem.sectionMask) << 3);
      a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_tail);
      a[i + P_NEXT] = pfn + 1;
    }
  const t1 = mem.secI32[(pfn + 1) >>> mem.sectionShift]!;
  t1[MEMMAP_WORD + (((pfn + 1) & mem.sectionMask) << 3) + P_PRIVATE] = order;
}
