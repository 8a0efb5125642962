/**
 * The machine's memory and its page allocator: nodes and zones over the sections'
 * page array (memmap.ts), and the zoned buddy allocator with per-CPU lists, migrate
 * types, watermarks and GFP flags. Everything the allocator owns lives in the sections'
 * shared memory; this object only holds views, so any thread that attaches to the same
 * buffers (`attachMemory`) allocates from the same free lists.
 *
 * This file holds the state and the order-0 fast paths of `allocPages` and `freePages`
 * (kept whole here so V8 compiles each into one function); the rest of the allocator is
 * in internal/: page-alloc.ts (general and slow paths, the general free path),
 * buddy.ts (free lists, zone lock held), pcp.ts (per-CPU lists and their lock),
 * show-mem.ts (warn_alloc); debug.ts has bad_page.
 *
 * @see mm/page_alloc.c, mm/mm_init.c
 */

import { KernelError } from '@kern/core';
import { GFP_KERNEL, FAST_PATH_EXCLUDED } from './gfp.js';
import {
  NO_PAGE,
  N_KSWAPD_WAKE,
  PCP_BATCH,
  PCP_COUNT,
  PCP_HEADS,
  PCP_HIGH,
  PCP_REVOKE,
  PCP_TAILS,
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_NEXT,
  P_PREV,
  P_PRIVATE,
  P_REFCOUNT,
  SEC_USEMAP_OFFSET,
  Z_LOWMEM_RESERVE,
  Z_NR_FREE,
  Z_NR_RESERVED_HIGHATOMIC,
  Z_PRESENT,
  Z_WMARK,
  WMARK_LOW,
} from './layout.js';
import { NodeData } from './node-data.js';
import { allocPagesPolicy, type MemPolicy } from './mempolicy.js';
import {
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_PCPTYPES,
  MIGRATE_UNMOVABLE,
  gfpMigratetype,
  gfpZone,
  pageblock_order,
  type ZoneRef,
} from './mmzone.js';
import {
  NODES_PGSHIFT,
  PAGE_FLAGS_CHECK_AT_FREE,
  PAGE_FLAGS_CHECK_AT_PREP,
  PG_head,
  PG_highorder,
  PG_pcp,
  PG_reserved,
  ZONES_PGSHIFT,
} from './page-flags.js';
import { MappingRegistry } from './mapping.js';
import {
  consoleLog,
  type DebugBreak,
  type MemoryHandle,
  type MmLog,
  type Reclaimer,
} from './memory-types.js';
import { MEMMAP_WORD, type MemSection } from './sparse.js';
import { badPage, dumpPage } from './debug.js';
import { allocPagesGeneral, kswapdRun, zoneWatermarkOk } from './internal/page-alloc.js';
import { badFreeArgs, doubleFree, freePagesPrepare, freeUnrefPage } from './internal/page-free.js';
import {
  cpuLockWord,
  drainAllPages,
  drainLocalPages,
  freePcppagesBulk,
  pcpLockOwn,
  pcpLockOwnSlow,
  revokeMirrors,
} from './internal/pcp.js';
import { type PcpHold, pcpHoldFor, pcpReleaseAll } from './internal/pcp-lock.js';
import { showFreeAreas } from './internal/show-mem.js';
import { describeValue } from './internal/value.js';

export { WMARK_HIGH, WMARK_LOW, WMARK_MIN } from './layout.js';
export {
  ALLOC_HIGHATOMIC,
  ALLOC_MIN_RESERVE,
  ALLOC_NON_BLOCK,
  ALLOC_NO_WATERMARKS,
  ALLOC_WMARK_MASK,
} from './gfp.js';
export type { MemPolicy } from './mempolicy.js';
export type { ZoneRef } from './mmzone.js';
export type { DebugBreak, MemoryHandle, MmLog, Reclaimer } from './memory-types.js';

/** Placeholder until a Memory's CPU is set. */
const NO_HOLD: PcpHold = {
  held: false,
  a: new Int32Array(1),
  idx: 0,
  mirrors: [],
  staleRevoke: -1,
};

/**
 * The memory of one machine and its page allocator.
 *
 * Locking: each zone's lock (Z_LOCK) guards its free lists, counters and the usemap of
 * its pageblocks; each CPU's per-CPU lists have one lock (PCP_LOCK), taken by its CPU
 * and by remote drains, always before the zone lock. Page refcounts are atomic once a
 * second thread has attached.
 *
 * Only views and per-thread state are fields: what cannot be copied to another thread
 * (the log, the reclaimers, the mapping registry, `comm`) is kept in private fields, so
 * a Memory passed to a worker by mistake arrives as something `attachMemory` can name.
 */
export class Memory extends NodeData {
  /** Whether allocations are grouped by migrate type (false: everything UNMOVABLE, one list). */
  readonly groupByMobility: boolean;
  /** Whether locks and atomics are used (see MemoryHandle.smp). */
  readonly smp: boolean;
  /** Whether lock words are taken: smp and not the 'no-locks' negative control. @internal */
  locking: boolean;
  /** Node 0's data, where every CPU's per-CPU lists lock lives. @internal */
  cpuLockArr: Int32Array;
  /** This CPU's PCP_REVOKE word in cpuLockArr. @internal */
  cpuRevokeIdx = 0;
  /** This thread's lazy hold of this CPU's lists lock (internal/pcp-lock.ts). @internal */
  cpuHold: PcpHold = NO_HOLD;
  /** This CPU's node's zonelist, with zones that have no memory left out. */
  private localZonelist: ZoneRef[] = [];
  /** When true, kswapd's work runs inline right after the allocation that woke it. */
  kswapdInline = true;
  /** A deliberately broken mode for negative-control tests; never set otherwise. */
  private breakMode: DebugBreak = 'none';
  /** Next node of an interleave policy. @internal */
  interleaveNext = 0;
  /** Remote drains that gave up because a CPU's owner did not let go of its lists. */
  pcpDrainTimeouts = 0;
  /** Whether the order > MAX_PAGE_ORDER warning was printed (WARN_ON_ONCE). @internal */
  warnedOrder = false;
  #reclaimers: Reclaimer[] = [];
  #mappings = new MappingRegistry();
  #log: MmLog | null = consoleLog;
  #comm: () => string = () => 'swapper/0';

  /** @throws KernelError EINVAL if a node's data is not in a present section. */
  constructor(h: MemoryHandle, sections: (MemSection | undefined)[]) {
    super(h, sections);
    this.groupByMobility = h.groupByMobility;
    this.smp = h.smp;
    this.locking = h.smp;
    this.cpuLockArr = this.nodeArr[0]!;
    this.setCpu(0);
  }

  // ---------------------------------------------------------------- threads and CPUs

  /**
   * What another thread needs to attach to this memory: pass it to a worker (as
   * `workerData`) and call `attachMemory(handle, { cpu })` there. A plain object of
   * SharedArrayBuffers and numbers, so structured clone copies it.
   */
  get handle(): MemoryHandle {
    return {
      sections: this.sections.map((s) => (s ? s.buffer : null)),
      sectionBytes: this.sectionBytes,
      nrCpus: this.nrCpus,
      nrNodes: this.nrNodes,
      nodeDataPaddr: this.nodeDataPaddr,
      distances: this.distances,
      cpuToNode: this.cpuToNode,
      groupByMobility: this.groupByMobility,
      smp: this.smp,
    };
  }

  /** The CPU this thread allocates as (its per-CPU lists and event counters). */
  get cpu(): number {
    return this.cpuNr;
  }

  /** @throws KernelError EINVAL for a CPU the machine does not have. */
  set cpu(cpu: number) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus)
      throw new KernelError(
        'EINVAL',
        `cpu ${typeof cpu === 'number' ? cpu : describeValue(cpu)} is out of range (machine has ${this.nrCpus} CPUs)`,
      );
    if (cpu !== this.cpuNr) pcpReleaseAll();
    this.setCpu(cpu);
  }

  /** Points every per-CPU offset (pcp sets, event counters, the lists lock) at `cpu`'s. */
  private setCpu(cpu: number): void {
    this.setZoneCpu(cpu);
    const lockIdx = cpuLockWord(this, cpu);
    this.cpuRevokeIdx = lockIdx + PCP_REVOKE;
    this.cpuHold = pcpHoldFor(this.cpuLockArr, lockIdx, revokeMirrors(this, cpu));
    this.localZonelist = this.zonelists[this.cpuToNode[cpu] ?? 0]!.filter(
      (z) => z.a[z.b + Z_PRESENT]! > 0,
    );
  }

  /** Rebuilds the cached local zonelist after zones gained or lost memory (`build_all_zonelists`). */
  buildZonelists(): void {
    this.setCpu(this.cpuNr);
  }

  /**
   * Lets go of the per-CPU lists lock this thread holds lazily, now rather than at the
   * end of its synchronous run: call it before blocking (Atomics.wait) for long outside
   * the allocator, or before a worker posts its last message and may be terminated.
   */
  releasePcpLocks(): void {
    pcpReleaseAll();
  }

  /** A deliberately broken mode for negative-control tests; never set otherwise. */
  get debugBreak(): DebugBreak {
    return this.breakMode;
  }

  set debugBreak(mode: DebugBreak) {
    pcpReleaseAll();
    this.breakMode = mode;
    this.locking = this.smp && mode !== 'no-locks';
  }

  /** Where warnings, `warn_alloc` and bad-page reports go (default: stderr; null: nowhere). */
  get log(): MmLog | null {
    return this.#log;
  }

  set log(log: MmLog | null) {
    this.#log = log;
  }

  /** The name of the current task in messages (`current->comm`). */
  get comm(): () => string {
    return this.#comm;
  }

  set comm(fn: () => string) {
    this.#comm = fn;
  }

  /** Memory reclaimers called from kswapd and direct reclaim. */
  get reclaimers(): Reclaimer[] {
    return this.#reclaimers;
  }

  /** Owners of page-cache and anonymous pages (P_MAPPING ids), in this thread. */
  get mappings(): MappingRegistry {
    return this.#mappings;
  }

  // ---------------------------------------------------------------- watermarks

  /**
   * Whether `zone` has enough free pages above `mark` for an order-`order` allocation
   * (`__zone_watermark_ok`).
   * @see mm/page_alloc.c: __zone_watermark_ok
   */
  zoneWatermarkOk(
    z: ZoneRef,
    order: number,
    mark: number,
    highestZoneidx: number,
    allocFlags: number,
    freePages = this.zoneFreePages(z),
  ): boolean {
    return zoneWatermarkOk(this, z, order, mark, highestZoneidx, allocFlags, freePages);
  }

  // ---------------------------------------------------------------- allocation

  /**
   * Allocates 2^order contiguous pages and returns the first PFN, or null when memory
   * cannot be found (after reclaim where the GFP mask allows it), as `alloc_pages`
   * returns NULL. An order above MAX_PAGE_ORDER WARNs once and returns null, as Linux's
   * `WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER)` does.
   *
   * @param nid preferred node (default: this CPU's node).
   * @param nodemask allowed nodes (default: all).
   * @throws KernelError EINVAL for a gfp that is not a GFP mask, an order that is not a
   *   non-negative integer, a node that does not exist or a bad nodemask.
   * @see mm/page_alloc.c: __alloc_pages, get_page_from_freelist, __alloc_pages_slowpath
   */
  allocPages(
    gfp: number,
    order: number,
    nid?: number,
    nodemask?: readonly number[],
  ): number | null {
    if (
      order === 0 &&
      nid === undefined &&
      nodemask === undefined &&
      !(gfp & FAST_PATH_EXCLUDED) &&
      (gfp | 0) === gfp
    ) {
      const pfn = this.allocPage0Fast(gfp);
      if (pfn >= 0) return pfn;
    }
    return this.allocPagesGeneral(gfp, order, nid, nodemask);
  }

  /**
   * The order-0 fast path: the local zonelist, the low watermark's one comparison, this
   * CPU's list head. Returns -1 to fall back to the general path (refill, slow path).
   */
  private allocPage0Fast(gfp: number): number {
    const highest = gfpZone(gfp);
    const mt = this.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE;
    if (mt >= MIGRATE_PCPTYPES) return NO_PAGE;
    const list = this.localZonelist;
    for (let k = 0; k < list.length; k++) {
      const z = list[k]!;
      if (z.zid > highest) continue;
      const za = z.a;
      const zb = z.b;
      if (
        za[zb + Z_NR_FREE]! - za[zb + Z_NR_RESERVED_HIGHATOMIC]! <=
        za[zb + Z_WMARK + WMARK_LOW]! + za[zb + Z_LOWMEM_RESERVE + highest]!
      )
        return NO_PAGE;
      const pb = z.pcp;
      const hi = pb + PCP_HEADS + mt; // orderToPindex(mt, 0)
      // pcpLockOwn, reading the revoke request from this page set's mirror.
      if (this.locking && (!this.cpuHold.held || za[pb + PCP_REVOKE] !== 0)) this.pcpLockOwnSlow();
      const h = za[hi]!;
      if (!h) return NO_PAGE;
      const pfn = h - 1;
      const secs = this.secI32;
      const shift = this.sectionShift;
      const mask = this.sectionMask;
      const a = secs[pfn >>> shift]!;
      const i = MEMMAP_WORD + ((pfn & mask) << 3);
      // Pop the head of a singly linked list: no other page is touched.
      const next = a[i + P_NEXT]!;
      za[hi] = next;
      if (!next) za[pb + PCP_TAILS + mt] = 0;
      za[pb + PCP_COUNT]!--;
      // prep_new_page for one page; a free page that changed while free is bad.
      const f = a[i + P_FLAGS]! & ~(1 << PG_pcp);
      if (
        f & PAGE_FLAGS_CHECK_AT_PREP ||
        a[i + P_MAPCOUNT] !== -1 ||
        a[i + P_REFCOUNT] !== 0 ||
        a[i + P_MAPPING] !== 0
      ) {
        a[i + P_FLAGS] = f;
        this.badPage(
          pfn,
          f & PAGE_FLAGS_CHECK_AT_PREP
            ? 'PAGE_FLAGS_CHECK_AT_PREP flag(s) set'
            : 'corrupted free page',
        );
        return NO_PAGE;
      }
      a[i + P_FLAGS] = f;
      a[i + P_REFCOUNT] = 1;
      a[i + P_NEXT] = 0; // P_PREV of a list head is already 0
      // private and index of an order-0 page on a per-CPU list are already 0.
      const ev = z.evAlloc;
      za[ev] = (za[ev]! + 1) | 0;
      return pfn;
    }
    return NO_PAGE;
  }

  /** Allocates one page (`alloc_page`); null on failure. @throws KernelError EINVAL as allocPages. */
  allocPage(gfp: number = GFP_KERNEL): number | null {
    return this.allocPages(gfp, 0);
  }

  /**
   * Allocates with a memory policy (`alloc_pages_mpol`): local node, a preferred node,
   * bound to a set of nodes, or interleaved round-robin over a set.
   * @throws KernelError EINVAL for a bad policy or an empty node set.
   * @see mm/mempolicy.c: alloc_pages_mpol
   */
  allocPagesPolicy(gfp: number, order: number, policy: MemPolicy): number | null {
    return allocPagesPolicy(this, gfp, order, policy);
  }

  /**
   * Takes a reference (`get_page`). Never lifts a free page's count, not even for an
   * instant (another CPU could allocate it meanwhile), as `get_page_unless_zero`.
   * @throws KernelError EINVAL for a page with no references (reported, not taken out).
   */
  getPage(pfn: number): void {
    const [a, i] = this.pageWords(pfn);
    for (let c = Atomics.load(a, i + P_REFCOUNT); ;) {
      if (c <= 0) {
        badPage(this, pfn, 'get_page() on a page with no references', false);
        throw new KernelError('EINVAL', `get_page on free pfn 0x${pfn.toString(16)}`);
      }
      const seen = Atomics.compareExchange(a, i + P_REFCOUNT, c, c + 1);
      if (seen === c) return;
      c = seen;
    }
  }

  /** Drops a reference; frees the page (order 0) when it was the last (`put_page`). @throws as freePages. */
  putPage(pfn: number): void {
    this.freePages(pfn, 0);
  }

  // ---------------------------------------------------------------- freeing

  /**
   * Drops a reference to a block of 2^order pages and frees it when that was the last
   * (`__free_pages`). Nothing changes when the arguments are wrong: the order must be
   * the one the block was allocated with. A page in a bad state is reported as
   * `bad_page()` does and taken out of circulation; the free lists are never touched
   * with it.
   *
   * @throws KernelError EINVAL for a PFN outside memory, a bad order or alignment, an
   *   order other than the block's, a double free or a tail page of a live block
   *   (refcount already 0; reported through the log), or a page in a bad state (after
   *   reporting it).
   * @see mm/page_alloc.c: __free_pages, free_pages_prepare, free_unref_page, bad_page
   */
  freePages(pfn: number, order: number): void {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order))
      return this.badFreeArgs(pfn, order);
    const a = pfn >= 0 && (pfn | 0) === pfn ? this.secI32[pfn >>> this.sectionShift] : undefined;
    if (!a || pfn & ((1 << order) - 1)) return this.badFreeArgs(pfn, order);
    const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
    const f0 = a[i + P_FLAGS]!;
    // The page's zone: its node and zone bits are set at boot and never change, so bits
    // naming no zone are a corrupt page, reported before anything changes.
    const zid = (f0 >>> ZONES_PGSHIFT) & 3;
    const nid = f0 >>> NODES_PGSHIFT;
    if (zid >= MAX_NR_ZONES || nid >= this.nrNodes) {
      this.badPage(pfn, 'page flags name no zone', false);
      throw new KernelError(
        'EINVAL',
        `free of pfn 0x${pfn.toString(16)}: its flags name node ${nid} zone ${zid}, which do not exist`,
      );
    }
    if (f0 & (1 << PG_reserved) && a[i + P_REFCOUNT]! <= 0) {
      this.badPage(pfn, 'PAGE_FLAGS_CHECK_AT_FREE flag(s) set', false);
      throw new KernelError(
        'EINVAL',
        `free of reserved pfn 0x${pfn.toString(16)} (PG_reserved: memmap, memblock reservation or offline page)`,
      );
    }
    const z = this.zones[nid * MAX_NR_ZONES + zid]!;
    // page_ref_dec_and_test: atomic on SMP, where a speculative getPage (CAS from a
    // non-zero count) or a racing second free may touch the count at the same time;
    // only the thread that takes it from 1 to 0 frees the page, and one that takes it
    // below 0 reports the double free without touching any list.
    let old: number;
    if (!this.smp) a[i + P_REFCOUNT] = (old = a[i + P_REFCOUNT]!) - 1;
    else if (this.locking) {
      // With one thread attached nothing else can touch the count: a plain drop, read
      // under this CPU's pcp lock (activateSmp explains why that makes it safe). The
      // zone's node data holds both the lock's revoke mirror and N_SMP_ACTIVE.
      const za = z.a;
      if (!this.cpuHold.held || za[z.pcp + PCP_REVOKE] !== 0) this.pcpLockOwnSlow();
      if (za[z.smpActive] === 0 || this.breakMode === 'plain-refcount')
        a[i + P_REFCOUNT] = (old = a[i + P_REFCOUNT]!) - 1;
      else old = Atomics.sub(a, i + P_REFCOUNT, 1);
    } else {
      if (this.locking) this.pcpLockOwn();
      old = Atomics.sub(a, i + P_REFCOUNT, 1);
    }
    if (old !== 1) {
      if (old > 1) return;
      // The broken mode lets the count go below zero unreported.
      if (this.breakMode === 'skip-double-free-check') return;
      if (this.smp) Atomics.add(a, i + P_REFCOUNT, 1);
      else a[i + P_REFCOUNT] = old;
      this.doubleFree(pfn, order);
    }
    // Read after the count reached zero: flags a previous holder set are visible now.
    const f = a[i + P_FLAGS]!;
    if (
      order === 0 &&
      (f & (PAGE_FLAGS_CHECK_AT_FREE | (1 << PG_head) | (1 << PG_highorder))) === 0 &&
      a[i + P_MAPCOUNT] === -1 &&
      a[i + P_MAPPING] === 0
    ) {
      // free_pages_prepare: a freed page keeps no state (dirty, uptodate, referenced...).
      const za = z.a;
      const ev = z.evFree;
      za[ev] = (za[ev]! + 1) | 0;
      // The pageblock's migrate type: its usemap byte, read through the same word array.
      const blk = (pfn & this.sectionMask) >>> pageblock_order;
      const mt = (a[(SEC_USEMAP_OFFSET >> 2) + (blk >>> 2)]! >>> ((blk & 3) << 3)) & 7;
      if (mt >= MIGRATE_PCPTYPES) {
        a[i + P_FLAGS] = f & ~PAGE_FLAGS_CHECK_AT_PREP;
        this.freeUnrefPage(pfn, 0);
        return;
      }
      // free_unref_page for one page: push on the head of this CPU's list (singly
      // linked, so no other page is touched). On SMP this CPU's pcp lock was taken
      // above, before the count was dropped.
      const pb = z.pcp;
      a[i + P_FLAGS] = (f & ~PAGE_FLAGS_CHECK_AT_PREP) | (1 << PG_pcp);
      a[i + P_PRIVATE] = 0;
      a[i + P_INDEX] = 0;
      const hi = pb + PCP_HEADS + mt; // orderToPindex(mt, 0)
      const h = za[hi]!;
      a[i + P_NEXT] = h;
      a[i + P_PREV] = 0;
      if (!h) za[pb + PCP_TAILS + mt] = pfn + 1;
      za[hi] = pfn + 1;
      if (++za[pb + PCP_COUNT]! >= za[pb + PCP_HIGH]!)
        this.freePcppagesBulk(z, za, pb, za[pb + PCP_BATCH]!, mt - 1);
      return;
    }
    this.freePagesPrepare(pfn, order, a, i);
  }

  // The fast paths above call their cold helpers (internal/) through these private
  // methods rather than as module functions: measured on the built package, the order-0
  // pair is 1–3 % faster so (a method call on the receiver's known map compiles to a
  // constant target; a module-level function is first loaded from the module context).
  // They are trampolines, @internal: left out of the .d.ts with the fields above.

  /** @internal */
  private allocPagesGeneral(
    gfp: number,
    order: number,
    nid: number | undefined,
    nodemask: readonly number[] | undefined,
  ): number | null {
    return allocPagesGeneral(this, gfp, order, nid, nodemask);
  }

  /** @internal */
  private pcpLockOwn(): void {
    pcpLockOwn(this);
  }

  /** @internal */
  private pcpLockOwnSlow(): void {
    pcpLockOwnSlow(this);
  }

  /** @internal */
  private badFreeArgs(pfn: number, order: number): never {
    return badFreeArgs(this, pfn, order);
  }

  /** @internal */
  private doubleFree(pfn: number, order: number): never {
    return doubleFree(this, pfn, order);
  }

  /** @internal */
  private freeUnrefPage(pfn: number, order: number): void {
    freeUnrefPage(this, pfn, order);
  }

  /** @internal */
  private freePcppagesBulk(
    z: ZoneRef,
    za: Int32Array,
    pb: number,
    n: number,
    pindex: number,
  ): void {
    freePcppagesBulk(this, z, za, pb, n, pindex);
  }

  /** @internal */
  private freePagesPrepare(pfn: number, order: number, a: Int32Array, i: number): void {
    freePagesPrepare(this, pfn, order, a, i);
  }

  /** Empties every CPU's lists, for one zone or all (`drain_all_pages`). */
  drainAllPages(zone?: ZoneRef): void {
    drainAllPages(this, zone);
  }

  /** Empties this CPU's lists (`drain_local_pages`). */
  drainLocalPages(): void {
    drainLocalPages(this);
  }

  // ---------------------------------------------------------------- kswapd

  /** Whether kswapd of `nid` was woken and has not run since. */
  kswapdPending(nid: number): boolean {
    return Atomics.load(this.nodeArr[nid]!, this.nodeBase[nid]! + N_KSWAPD_WAKE) !== 0;
  }

  /**
   * One kswapd pass for a node (`balance_pgdat`): reclaims until each zone is above its
   * high watermark or reclaim makes no progress. Returns pages reclaimed.
   * @see mm/vmscan.c: balance_pgdat
   */
  kswapdRun(nid: number): number {
    return kswapdRun(this, nid);
  }

  // ---------------------------------------------------------------- reports

  /** Prints a warning through the log, if any. */
  warn(text: string): void {
    this.#log?.printk(4, text);
  }

  /**
   * Reports a page in a bad state as `bad_page()` does and, unless `takeOut` is false,
   * takes it out of circulation (PG_hwpoison, mapcount reset, never freed).
   * @see mm/page_alloc.c: bad_page, mm/debug.c: dump_page
   */
  badPage(pfn: number, reason: string, takeOut = true): void {
    badPage(this, pfn, reason, takeOut);
  }

  /** Lines of `dump_page()` for a page. @see mm/debug.c: dump_page */
  dumpPage(pfn: number, reason?: string): string[] {
    return dumpPage(this, pfn, reason);
  }

  /** The per-zone lines of `show_free_areas()`. @see mm/show_mem.c: show_free_areas */
  showFreeAreas(): string[] {
    return showFreeAreas(this);
  }
}
