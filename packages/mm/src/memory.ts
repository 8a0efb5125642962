/**
 * The machine's memory and its page allocator: sections, the page array, nodes and
 * zones, and the zoned buddy allocator with per-CPU lists, migrate types, watermarks
 * and GFP flags. Everything the allocator owns lives in the sections' shared memory;
 * this object only holds views, so any thread that attaches to the same buffers
 * (`attachMemory`) allocates from the same free lists.
 *
 * @see mm/page_alloc.c, mm/mm_init.c
 */

import { KernelError } from '@kern/core';
import {
  GFP_KERNEL,
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
  formatGfp,
  ALLOC_HIGHATOMIC,
  ALLOC_MIN_RESERVE,
  ALLOC_NON_BLOCK,
  ALLOC_NO_WATERMARKS,
  ALLOC_WMARK_MASK,
  FAST_PATH_EXCLUDED,
} from './gfp.js';
import { spinLock, spinUnlock } from './internal/lock.js';
import {
  type PcpHold,
  pcpHoldFor,
  pcpLockOwnerSlow,
  pcpLockRemote,
  type RevokeMirror,
  pcpReleaseAll,
} from './internal/pcp-lock.js';
import { listAddHead, listAddTail, listDel } from './internal/pfn-list.js';
import {
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_UNEVICTABLE,
  N_LRU_HEAD,
  NR_LRU_LISTS,
  N_KSWAPD_ORDER,
  N_KSWAPD_WAKE,
  N_KSWAPD_ZONEIDX,
  N_VMSTAT,
  PAGE_WORDS,
  PCP_BATCH,
  PCP_COUNT,
  PCP_HEADS,
  PCP_HIGH,
  PCP_LOCK,
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
  SEC_MEMMAP_OFFSET,
  Z_FREE_HEAD,
  Z_FREE_MT_NR,
  Z_FREE_NR,
  Z_FREE_TAIL,
  Z_LOCK,
  Z_LOWMEM_RESERVE,
  Z_MANAGED,
  Z_NR_FREE,
  Z_NR_ISOLATE_PAGEBLOCK,
  Z_NR_RESERVED_HIGHATOMIC,
  Z_PRESENT,
  Z_SPANNED,
  Z_START_PFN,
  Z_WMARK,
  freeListIndex,
  cpuEventsBase,
  pcpBase,
  zoneBase,
  WMARK_HIGH,
  WMARK_LOW,
  WMARK_MIN,
  SEC_USEMAP_OFFSET,
  N_SMP_ACTIVE,
} from './layout.js';
import {
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
  MIGRATE_UNMOVABLE,
  NR_PCP_LISTS,
  PAGE_ALLOC_COSTLY_ORDER,
  PAGE_SIZE,
  fallbacks,
  gfpMigratetype,
  gfpZone,
  orderToPindex,
  pageblock_nr_pages,
  pageblock_order,
  zoneNames,
  pindexToOrder,
} from './mmzone.js';
import {
  NODES_PGSHIFT,
  PAGE_FLAGS_CHECK_AT_FREE,
  PAGE_FLAGS_CHECK_AT_PREP,
  PG_buddy,
  PG_head,
  PG_hwpoison,
  PG_lru,
  PG_pcp,
  PG_reserved,
  PG_dirty,
  PG_writeback,
  PG_tail,
  ZONES_PGSHIFT,
  formatPageFlags,
} from './page-flags.js';
import { MappingRegistry } from './mapping.js';
import { MEMMAP_WORD, type MemSection } from './sparse.js';
import { VM_EVENT, type NodeStatItem, NODE_STAT, type VmEventItem } from './vmstat-items.js';

/** Where log lines go: a `Printk` from @kern/core fits. */
export interface MmLog {
  printk(level: number, text: string): void;
}

export { WMARK_HIGH, WMARK_LOW, WMARK_MIN } from './layout.js';
export {
  ALLOC_HIGHATOMIC,
  ALLOC_MIN_RESERVE,
  ALLOC_NON_BLOCK,
  ALLOC_NO_WATERMARKS,
  ALLOC_WMARK_MASK,
} from './gfp.js';

/** A node's allocation policy (`struct mempolicy`). */
export type MemPolicy =
  | { mode: 'local' }
  | { mode: 'preferred'; node: number }
  | { mode: 'bind'; nodes: readonly number[] }
  | { mode: 'interleave'; nodes: readonly number[] };

/** Something the allocator can ask to free memory: page cache reclaim, slab shrinkers. */
export interface Reclaimer {
  /** Name for statistics. */
  readonly name: string;
  /**
   * Tries to free about `nrPages` pages (preferring `nid` when given); returns how many
   * pages it freed. Called with no allocator lock held; may free pages itself.
   */
  reclaim(nrPages: number, gfp: number, nid: number | undefined, kswapd?: boolean): number;
}

/**
 * Deliberately broken modes for negative-control tests: `no-coalesce` frees without
 * merging buddies, `skip-double-free-check` lets a double free through, `no-locks` takes
 * no lock at all, `drain-without-lock` drains other CPUs' per-CPU lists without their lock,
 * `plain-refcount` drops page counts with plain stores even after a second thread attached.
 */
export type DebugBreak =
  | 'none'
  | 'no-coalesce'
  | 'skip-double-free-check'
  | 'no-locks'
  | 'drain-without-lock'
  | 'plain-refcount';

/** A view of one zone's words in shared memory. */
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

/** Everything `attachMemory` needs to rebuild a Memory in another thread. */
export interface MemoryHandle {
  /** Section buffers by section number (null for absent sections). */
  sections: (SharedArrayBuffer | null)[];
  sectionBytes: number;
  nrCpus: number;
  nrNodes: number;
  /** Physical address of each node's data. */
  nodeDataPaddr: number[];
  /** Node distances (SLIT), nrNodes × nrNodes. */
  distances: number[][];
  /** CPU → node. */
  cpuToNode: number[];
  groupByMobility: boolean;
  /**
   * Whether other threads may attach (CONFIG_SMP). Without it the allocator takes no
   * locks and uses no atomics, as a uniprocessor kernel compiles spinlocks away.
   */
  smp: boolean;
}

const NO_PAGE = -1;
const EV_PGALLOC = VM_EVENT.pgalloc_dma32; // then normal, movable
const EV_PGFREE = VM_EVENT.pgfree;
/** GFP bits the order-0 fast path leaves to the general path. */
/** A list of numbers as Linux's `%*pbl` prints a bitmap: ranges, e.g. `0-1,3`. */
function bitmapList(nums: readonly number[]): string {
  const xs = [...new Set(nums)].sort((x, y) => x - y);
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** How long a remote drain waits for a CPU's owner to let go of its per-CPU lists. */
const PCP_REMOTE_TIMEOUT_MS = 1000;
/** How long a CPU's own thread waits for its lists before reporting EBUSY. */
const PCP_OWN_TIMEOUT_MS = 5000;
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
 * its pageblocks; each per-CPU list set has its own lock (PCP_LOCK), taken by its CPU
 * and by remote drains, always before the zone lock. Page refcounts are atomic.
 */
export class Memory {
  /** Sections by number (undefined where absent). */
  readonly sections: (MemSection | undefined)[];
  /** log2(pages per section). */
  readonly sectionShift: number;
  /** Pages per section − 1. */
  readonly sectionMask: number;
  readonly sectionBytes: number;
  readonly nrCpus: number;
  readonly nrNodes: number;
  /** Node data arrays (the Int32Array of the section that holds each node's data). */
  readonly nodeArr: Int32Array[];
  /** Word offset of each node's data in nodeArr[nid]. */
  readonly nodeBase: number[];
  readonly nodeDataPaddr: number[];
  readonly distances: number[][];
  readonly cpuToNode: number[];
  /** Whether allocations are grouped by migrate type (false: everything UNMOVABLE, one list). */
  readonly groupByMobility: boolean;
  /** Whether locks and atomics are used (see MemoryHandle.smp). */
  readonly smp: boolean;
  /** Whether the lock words are taken: smp and not the 'no-locks' negative control. */
  private locking: boolean;
  /** zones[nid * MAX_NR_ZONES + zid]. */
  readonly zones: ZoneRef[];
  /** Fallback zonelist of each node: zones by node distance, highest zone first. */
  readonly zonelists: ZoneRef[][];
  /** Memory reclaimers called from kswapd and direct reclaim. */
  readonly reclaimers: Reclaimer[] = [];
  /** Owners of page-cache and anonymous pages (P_MAPPING ids), in this thread. */
  readonly mappings = new MappingRegistry();
  /** Each section's words by section number (the memmap starts at MEMMAP_WORD). */
  private readonly secI32: (Int32Array | undefined)[];
  private cpuNr = 0;
  /** Offset of this CPU's event counters inside node data. */
  private cpuEvOff = cpuEventsBase(0);
  /** Offset of this CPU's per-CPU page sets inside node data (zone 0's). */
  private cpuPcpOff = pcpBase(0, 0);
  /** Node 0's data, where every CPU's per-CPU lists lock lives. */
  private cpuLockArr: Int32Array;
  /** This CPU's lock word and its PCP_REVOKE word in cpuLockArr. */
  private cpuLockIdx = 0;
  private cpuRevokeIdx = 0;
  /** This thread's lazy hold of this CPU's lists lock (internal/pcp-lock.ts). */
  private cpuHold: PcpHold = NO_HOLD;
  /** This CPU's node's zonelist, with zones that have no memory left out. */
  private localZonelist: ZoneRef[] = [];
  /** Where warnings and bad-page reports go. */
  log: MmLog | null = null;
  /** The name of the current task in messages (`current->comm`). */
  comm: () => string = () => 'swapper/0';
  /** When true, kswapd's work runs inline right after the allocation that woke it. */
  kswapdInline = true;
  /** A deliberately broken mode for negative-control tests; never set otherwise. */
  private breakMode: DebugBreak = 'none';

  /** A deliberately broken mode for negative-control tests; never set otherwise. */
  get debugBreak(): DebugBreak {
    return this.breakMode;
  }

  set debugBreak(mode: DebugBreak) {
    pcpReleaseAll();
    this.breakMode = mode;
    this.locking = this.smp && mode !== 'no-locks';
  }
  private interleaveNext = 0;
  /** Remote drains that gave up because a CPU's owner did not let go of its lists. */
  pcpDrainTimeouts = 0;
  private warnedOrder = false;

  constructor(h: MemoryHandle, sections: (MemSection | undefined)[]) {
    this.sections = sections;
    this.secI32 = sections.map((sec) => sec?.i32);
    this.sectionBytes = h.sectionBytes;
    this.sectionShift = Math.log2(h.sectionBytes / PAGE_SIZE);
    this.sectionMask = (1 << this.sectionShift) - 1;
    this.nrCpus = h.nrCpus;
    this.nrNodes = h.nrNodes;
    this.nodeDataPaddr = h.nodeDataPaddr;
    this.distances = h.distances;
    this.cpuToNode = h.cpuToNode;
    this.groupByMobility = h.groupByMobility;
    this.smp = h.smp;
    this.locking = h.smp;
    this.nodeArr = [];
    this.nodeBase = [];
    for (const paddr of h.nodeDataPaddr) {
      const sec = sections[Math.floor(paddr / h.sectionBytes)];
      if (!sec)
        throw new KernelError('EINVAL', `node data at ${paddr} is not in a present section`);
      this.nodeArr.push(sec.i32);
      this.nodeBase.push((paddr - sec.startPfn * PAGE_SIZE) >> 2);
    }
    this.zones = [];
    for (let nid = 0; nid < this.nrNodes; nid++)
      for (let zid = 0; zid < MAX_NR_ZONES; zid++)
        this.zones.push({
          a: this.nodeArr[nid]!,
          b: this.nodeBase[nid]! + zoneBase(zid),
          nid,
          zid,
          pcp: 0,
          ev: 0,
          evAlloc: 0,
          evFree: 0,
          smpActive: this.nodeBase[nid]! + N_SMP_ACTIVE,
        });
    this.zonelists = [];
    for (let nid = 0; nid < this.nrNodes; nid++) {
      const order = [...Array(this.nrNodes).keys()].sort(
        (x, y) => this.distances[nid]![x]! - this.distances[nid]![y]! || x - y,
      );
      const list: ZoneRef[] = [];
      for (const n of order)
        for (let zid = MAX_NR_ZONES - 1; zid >= 0; zid--)
          list.push(this.zones[n * MAX_NR_ZONES + zid]!);
      this.zonelists.push(list);
    }
    this.localZonelist = this.zonelists[this.cpuToNode[0] ?? 0]!.filter(
      (z) => z.a[z.b + Z_PRESENT]! > 0,
    );
    this.setZoneCpuOffsets(0);
    this.cpuLockArr = this.nodeArr[0]!;
    this.cpuLockIdx = this.cpuLockWord(0);
    this.cpuRevokeIdx = this.cpuLockIdx + PCP_REVOKE;
    this.cpuHold = pcpHoldFor(this.cpuLockArr, this.cpuLockIdx, this.revokeMirrors(0));
  }

  /** Rebuilds the cached local zonelist after zones gained or lost memory (`build_all_zonelists`). */
  buildZonelists(): void {
    this.cpu = this.cpuNr;
  }

  /** What another thread needs to attach to this memory. */
  handle(): MemoryHandle {
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

  set cpu(cpu: number) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus)
      throw new KernelError(
        'EINVAL',
        `cpu ${cpu} is out of range (machine has ${this.nrCpus} CPUs)`,
      );
    if (cpu !== this.cpuNr) pcpReleaseAll();
    this.cpuNr = cpu;
    this.cpuEvOff = cpuEventsBase(cpu);
    this.cpuPcpOff = pcpBase(cpu, 0);
    this.setZoneCpuOffsets(cpu);
    this.cpuLockIdx = this.cpuLockWord(cpu);
    this.cpuRevokeIdx = this.cpuLockIdx + PCP_REVOKE;
    this.cpuHold = pcpHoldFor(this.cpuLockArr, this.cpuLockIdx, this.revokeMirrors(cpu));
    this.localZonelist = this.zonelists[this.cpuToNode[cpu] ?? 0]!.filter(
      (z) => z.a[z.b + Z_PRESENT]! > 0,
    );
  }

  /**
   * Index in node 0's data of `cpu`'s per-CPU lock: the PCP_LOCK word of its node-0,
   * zone-0 page set guards all of that CPU's page sets in every node and zone, so a
   * thread holds at most one such lock and sees every request for it (PCP_REVOKE beside it).
   */
  private cpuLockWord(cpu: number): number {
    return this.nodeBase[0]! + pcpBase(cpu, 0) + PCP_LOCK;
  }

  /**
   * The PCP_REVOKE words of `cpu`'s page sets other than the lock's own (node 0, zone 0):
   * a thread waiting for the lock bumps them all, so the owner's fast path reads the
   * request from whichever page set it is using.
   */
  private revokeMirrors(cpu: number): RevokeMirror[] {
    const mirrors: RevokeMirror[] = [];
    for (let nid = 0; nid < this.nrNodes; nid++)
      for (let zid = 0; zid < MAX_NR_ZONES; zid++)
        if (nid || zid)
          mirrors.push({
            a: this.nodeArr[nid]!,
            idx: this.nodeBase[nid]! + pcpBase(cpu, zid) + PCP_REVOKE,
          });
    return mirrors;
  }

  /** Points every zone's per-CPU offsets (pcp set, event counters) at `cpu`'s. */
  private setZoneCpuOffsets(cpu: number): void {
    for (const z of this.zones) {
      z.pcp = this.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
      z.ev = this.nodeBase[z.nid]! + cpuEventsBase(cpu);
      z.evAlloc = z.ev + EV_PGALLOC + z.zid;
      z.evFree = z.ev + EV_PGFREE;
    }
  }

  /**
   * Takes this CPU's per-CPU lists lock (pcp_spin_lock). It is kept until the end of the
   * thread's synchronous run or until another thread asks for it (internal/pcp-lock.ts),
   * so the common case is a flag test and one plain read.
   */
  private pcpLockOwn(): void {
    if (!this.pcpTryOwn()) this.pcpBusy();
  }

  /** pcpLockOwn that returns false instead of throwing when the lists cannot be had. */
  private pcpTryOwn(): boolean {
    if (!this.locking || (this.cpuHold.held && this.cpuLockArr[this.cpuRevokeIdx] === 0))
      return true;
    return pcpLockOwnerSlow(this.cpuHold, PCP_OWN_TIMEOUT_MS);
  }

  /** The fast paths' slow path, once they have read the revoke request themselves. */
  private pcpLockOwnSlow(): void {
    if (!pcpLockOwnerSlow(this.cpuHold, PCP_OWN_TIMEOUT_MS)) this.pcpBusy();
  }

  /** @throws KernelError EBUSY: another thread keeps this CPU's lists (see pcpLockOwnerSlow). */
  private pcpBusy(): never {
    throw new KernelError(
      'EBUSY',
      `CPU ${this.cpuNr}'s per-CPU page lists are held by another thread that did not let go within ${PCP_OWN_TIMEOUT_MS} ms (a thread attached as the same CPU that is blocked, or a worker terminated in the middle of a run)`,
    );
  }

  /**
   * Takes `cpu`'s per-CPU lists lock for a drain: this CPU's own lazily, any other by
   * asking its owner (after letting go of this thread's own, so two drainers never wait
   * for each other). Returns false if the owner did not let go within
   * PCP_REMOTE_TIMEOUT_MS (blocked or gone); true means {@link pcpUnlockCpu} must follow.
   */
  private pcpLockCpu(cpu: number): boolean | 'own' {
    if (!this.locking) return 'own';
    if (cpu === this.cpuNr) {
      this.pcpLockOwn();
      return 'own';
    }
    if (this.breakMode === 'drain-without-lock') return 'own';
    const r = pcpLockRemote(
      this.cpuLockArr,
      this.cpuLockWord(cpu),
      PCP_REMOTE_TIMEOUT_MS,
      this.revokeMirrors(cpu),
    );
    return r === 'held' ? 'own' : r;
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
   * @internal
   */
  activateSmp(): void {
    if (!this.smp) return;
    for (let nid = 0; nid < this.nrNodes; nid++)
      Atomics.store(this.nodeArr[nid]!, this.nodeBase[nid]! + N_SMP_ACTIVE, 1);
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      // Every CPU as a remote one (this instance's own CPU is not claimed yet).
      const r = pcpLockRemote(
        this.cpuLockArr,
        this.cpuLockWord(cpu),
        PCP_REMOTE_TIMEOUT_MS,
        this.revokeMirrors(cpu),
      );
      if (r === false)
        throw new KernelError(
          'EBUSY',
          `attach: CPU ${cpu}'s per-CPU lists are held by a thread that did not let go within ${PCP_REMOTE_TIMEOUT_MS} ms (blocked with its lists held; it should call releasePcpLocks() before blocking)`,
        );
      if (r === true) this.pcpUnlockCpu(cpu);
    }
    pcpReleaseAll();
  }

  /**
   * Lets go of the per-CPU lists lock this thread holds lazily, now rather than at the
   * end of its synchronous run: call it before blocking (Atomics.wait) for long outside
   * the allocator, or before a worker posts its last message and may be terminated.
   */
  releasePcpLocks(): void {
    pcpReleaseAll();
  }

  /** Drops a lock taken by {@link pcpLockCpu} when it returned true. */
  private pcpUnlockCpu(cpu: number): void {
    spinUnlock(this.cpuLockArr, this.cpuLockWord(cpu));
  }

  /** Takes a zone or per-CPU lock word (not on a uniprocessor machine). */
  private lock(arr: Int32Array, idx: number): void {
    if (this.locking) spinLock(arr, idx);
  }

  private unlock(arr: Int32Array, idx: number): void {
    if (this.locking) spinUnlock(arr, idx);
  }

  // ---------------------------------------------------------------- page array

  /** Whether a PFN has a struct page (its section is present). */
  pfnValid(pfn: number): boolean {
    return (
      pfn >= 0 && Number.isInteger(pfn) && this.sections[pfn >>> this.sectionShift] !== undefined
    );
  }

  /** The section holding `pfn`. @throws KernelError EINVAL if none. */
  sectionOf(pfn: number): MemSection {
    const s =
      Number.isInteger(pfn) && pfn >= 0 ? this.sections[pfn >>> this.sectionShift] : undefined;
    if (!s)
      throw new KernelError(
        'EINVAL',
        `pfn 0x${pfn.toString(16)} is not in any present memory section`,
      );
    return s;
  }

  /**
   * The words of `pfn`'s section, for hot paths: fields are at `pageIndex(pfn) + P_*`.
   * Unchecked: the PFN must be valid (see {@link Memory.pfnValid}).
   */
  pageArray(pfn: number): Int32Array {
    return this.secI32[pfn >>> this.sectionShift]!;
  }

  /** Index of `pfn`'s struct page in {@link Memory.pageArray}. */
  pageIndex(pfn: number): number {
    return MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
  }

  /** The words array and index of `pfn`'s struct page: `[arr, idx]` with fields at idx + P_*. */
  pageWords(pfn: number): [Int32Array, number] {
    const s = this.sectionOf(pfn);
    return [s.i32, MEMMAP_WORD + (pfn & this.sectionMask) * PAGE_WORDS];
  }

  /** A page struct field (P_FLAGS, P_REFCOUNT...). */
  pageField(pfn: number, field: number): number {
    const [a, i] = this.pageWords(pfn);
    return a[i + field]!;
  }

  /** Sets a page struct field. */
  setPageField(pfn: number, field: number, value: number): void {
    const [a, i] = this.pageWords(pfn);
    a[i + field] = value;
  }

  /** Tests a PG_* bit. */
  testPageFlag(pfn: number, bit: number): boolean {
    return (this.pageField(pfn, P_FLAGS) & (1 << bit)) !== 0;
  }

  /** Sets a PG_* bit atomically. */
  setPageFlag(pfn: number, bit: number): void {
    const [a, i] = this.pageWords(pfn);
    Atomics.or(a, i + P_FLAGS, 1 << bit);
  }

  /** Clears a PG_* bit atomically. */
  clearPageFlag(pfn: number, bit: number): void {
    const [a, i] = this.pageWords(pfn);
    Atomics.and(a, i + P_FLAGS, ~(1 << bit));
  }

  /** Takes a reference (`get_page`). */
  getPage(pfn: number): void {
    const [a, i] = this.pageWords(pfn);
    // get_page_unless_zero: never lift a free page's count, not even for an instant
    // (another CPU could allocate it meanwhile); report without taking it out of
    // circulation, since it may sit on a free list.
    for (let c = Atomics.load(a, i + P_REFCOUNT); ;) {
      if (c <= 0) {
        this.badPage(pfn, 'get_page() on a page with no references', false);
        throw new KernelError('EINVAL', `get_page on free pfn 0x${pfn.toString(16)}`);
      }
      const seen = Atomics.compareExchange(a, i + P_REFCOUNT, c, c + 1);
      if (seen === c) return;
      c = seen;
    }
  }

  /** Drops a reference; frees the page (order 0) when it was the last (`put_page`). */
  putPage(pfn: number): void {
    this.freePages(pfn, 0);
  }

  /** Zone index of a page (from its flags). */
  pageZonenum(pfn: number): number {
    return (this.pageField(pfn, P_FLAGS) >>> ZONES_PGSHIFT) & 3;
  }

  /** Node of a page (from its flags). */
  pageToNid(pfn: number): number {
    return this.pageField(pfn, P_FLAGS) >>> NODES_PGSHIFT;
  }

  /** The zone a page belongs to. */
  pageZone(pfn: number): ZoneRef {
    const f = this.pageField(pfn, P_FLAGS);
    return this.zones[(f >>> NODES_PGSHIFT) * MAX_NR_ZONES + ((f >>> ZONES_PGSHIFT) & 3)]!;
  }

  /** The bytes of a block of 2^order pages (a view into physical memory). */
  pageBytes(pfn: number, order = 0): Uint8Array {
    const s = this.sectionOf(pfn);
    const off = (pfn & this.sectionMask) * PAGE_SIZE;
    if ((pfn & this.sectionMask) + (1 << order) > s.nrPages)
      throw new KernelError(
        'EINVAL',
        `order-${order} block at pfn 0x${pfn.toString(16)} crosses its section`,
      );
    return s.bytes.subarray(off, off + (PAGE_SIZE << order));
  }

  /**
   * A view of `len` bytes of physical memory at `paddr` (not a copy), for structures that
   * live in memory reserved at boot (the printk buffer, RCU's state). The range must lie
   * inside one section.
   * @throws KernelError EFAULT if it is not in present memory, EINVAL if it crosses a section.
   */
  physBytes(paddr: number, len: number): Uint8Array {
    const sec = this.sections[Math.floor(paddr / this.sectionBytes)];
    if (!sec || !(len >= 0))
      throw new KernelError(
        'EFAULT',
        `physical address 0x${paddr.toString(16)} is not in present memory`,
      );
    const off = paddr - sec.startPfn * PAGE_SIZE;
    if (off + len > this.sectionBytes)
      throw new KernelError(
        'EINVAL',
        `[0x${paddr.toString(16)}, +${len}) crosses a memory section`,
      );
    return sec.bytes.subarray(off, off + len);
  }

  /** Reads `len` bytes of physical memory at `paddr` (may cross sections). @throws EFAULT on a hole. */
  readPhys(paddr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.copyPhys(paddr, len, (sec, off, n, at) => out.set(sec.bytes.subarray(off, off + n), at));
    return out;
  }

  /** Writes bytes to physical memory at `paddr`. @throws EFAULT on a hole. */
  writePhys(paddr: number, data: Uint8Array): void {
    this.copyPhys(paddr, data.length, (sec, off, n, at) =>
      sec.bytes.set(data.subarray(at, at + n), off),
    );
  }

  private copyPhys(
    paddr: number,
    len: number,
    fn: (s: MemSection, off: number, n: number, at: number) => void,
  ): void {
    let at = 0;
    while (at < len) {
      const p = paddr + at;
      const sec = this.sections[Math.floor(p / this.sectionBytes)];
      if (!sec)
        throw new KernelError(
          'EFAULT',
          `physical address 0x${p.toString(16)} is not in present memory`,
        );
      const off = p - sec.startPfn * PAGE_SIZE;
      const n = Math.min(len - at, this.sectionBytes - off);
      fn(sec, off, n, at);
      at += n;
    }
  }

  /** Physical address of a page's struct page (what `dump_page` prints as `page:`). */
  pageStructPaddr(pfn: number): number {
    const s = this.sectionOf(pfn);
    return s.startPfn * PAGE_SIZE + SEC_MEMMAP_OFFSET + (pfn & this.sectionMask) * PAGE_WORDS * 4;
  }

  // ---------------------------------------------------------------- pageblocks

  /** Migrate type of the pageblock holding `pfn` (`get_pageblock_migratetype`). */
  getPageblockMigratetype(pfn: number): number {
    return this.sectionOf(pfn).usemap[(pfn & this.sectionMask) >>> pageblock_order]!;
  }

  /** Sets a pageblock's migrate type (`set_pageblock_migratetype`). Caller holds the zone lock. */
  setPageblockMigratetype(pfn: number, mt: number): void {
    this.sectionOf(pfn).usemap[(pfn & this.sectionMask) >>> pageblock_order] = mt;
  }

  // ---------------------------------------------------------------- counters

  /** Zone words accessor for the zone of (nid, zid). */
  zone(nid: number, zid: number): ZoneRef {
    const z = this.zones[nid * MAX_NR_ZONES + zid];
    if (!z) throw new KernelError('EINVAL', `no zone ${zid} on node ${nid}`);
    return z;
  }

  /** Adds to a per-CPU VM event counter. */
  countEvent(item: VmEventItem, delta = 1, nid = this.cpuToNode[this.cpuNr] ?? 0): void {
    this.countEventIdx(VM_EVENT[item], delta, nid);
  }

  /** countEvent by index, for hot paths. Each CPU writes only its own counters. */
  private countEventIdx(idx: number, delta: number, nid: number): void {
    const a = this.nodeArr[nid]!;
    const i = this.nodeBase[nid]! + this.cpuEvOff + idx;
    a[i] = (a[i]! + delta) | 0;
  }

  /** Sum of a VM event counter over CPUs and nodes. */
  eventCount(item: VmEventItem): number {
    let s = 0;
    for (let nid = 0; nid < this.nrNodes; nid++)
      for (let cpu = 0; cpu < this.nrCpus; cpu++)
        s += this.nodeArr[nid]![this.cpuEventBase(nid, cpu) + VM_EVENT[item]]!;
    return s;
  }

  private cpuEventBase(nid: number, cpu: number): number {
    return this.nodeBase[nid]! + cpuEventsBase(cpu);
  }

  /** Adds to a node counter (atomic). */
  modNodeState(nid: number, item: NodeStatItem, delta: number): void {
    Atomics.add(this.nodeArr[nid]!, this.nodeBase[nid]! + N_VMSTAT + NODE_STAT[item], delta);
  }

  /** A node counter, or its sum over nodes. */
  nodeState(item: NodeStatItem, nid?: number): number {
    let s = 0;
    for (let n = 0; n < this.nrNodes; n++)
      if (nid === undefined || n === nid)
        s += this.nodeArr[n]![this.nodeBase[n]! + N_VMSTAT + NODE_STAT[item]]!;
    return s;
  }

  /** NR_FREE_PAGES of a zone (pages on the buddy lists, excluding isolated pageblocks). */
  zoneFreePages(z: ZoneRef): number {
    return z.a[z.b + Z_NR_FREE]!;
  }

  /** Pages of a zone on per-CPU lists. */
  zonePcpPages(z: ZoneRef): number {
    let s = 0;
    for (let cpu = 0; cpu < this.nrCpus; cpu++)
      s += z.a[this.nodeBase[z.nid]! + pcpBase(cpu, z.zid) + PCP_COUNT]!;
    return s;
  }

  /** Zone field read. */
  zoneWord(z: ZoneRef, field: number): number {
    return z.a[z.b + field]!;
  }

  /** Total free pages (buddy + per-CPU) of all zones. */
  nrFreePages(): number {
    let s = 0;
    for (const z of this.zones)
      s += this.zoneFreePages(z) + this.zonePcpPages(z) + this.isolatedFreePages(z);
    return s;
  }

  /** Free pages sitting in isolated pageblocks (not counted in NR_FREE_PAGES). */
  isolatedFreePages(z: ZoneRef): number {
    let s = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++)
      s += z.a[z.b + Z_FREE_MT_NR + freeListIndex(o, MIGRATE_ISOLATE)]! << o;
    return s;
  }

  /** Pages managed by the buddy allocator, all zones. */
  totalManagedPages(): number {
    return this.zones.reduce((s, z) => s + z.a[z.b + Z_MANAGED]!, 0);
  }

  /** Pages present, all zones. */
  totalPresentPages(): number {
    return this.zones.reduce((s, z) => s + z.a[z.b + Z_PRESENT]!, 0);
  }

  // ---------------------------------------------------------------- free lists (zone lock held)

  /** Adds a free block to a free list (`__add_to_free_list`). Zone lock held. */
  addToFreeList(z: ZoneRef, pfn: number, order: number, mt: number, tail: boolean): void {
    const pa = this.secI32[pfn >>> this.sectionShift]!;
    const pi = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
    pa[pi + P_FLAGS] = (pa[pi + P_FLAGS]! & ~(1 << PG_pcp)) | (1 << PG_buddy);
    pa[pi + P_PRIVATE] = order;
    pa[pi + P_INDEX] = mt;
    const li = freeListIndex(order, mt);
    const za = z.a;
    const hi = z.b + Z_FREE_HEAD + li;
    const ti = z.b + Z_FREE_TAIL + li;
    if (tail) listAddTail(this, za, hi, ti, pfn, pa, pi);
    else listAddHead(this, za, hi, ti, pfn, pa, pi);
    za[z.b + Z_FREE_MT_NR + li]!++;
    za[z.b + Z_FREE_NR + order]!++;
  }

  /** Removes a free block from its free list (`del_page_from_free_list`). Zone lock held. */
  delFromFreeList(z: ZoneRef, pfn: number, order: number): void {
    const pa = this.secI32[pfn >>> this.sectionShift]!;
    const pi = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
    const li = freeListIndex(order, pa[pi + P_INDEX]!);
    const za = z.a;
    listDel(this, za, z.b + Z_FREE_HEAD + li, z.b + Z_FREE_TAIL + li, pa, pi);
    pa[pi + P_FLAGS] = pa[pi + P_FLAGS]! & ~(1 << PG_buddy);
    pa[pi + P_PRIVATE] = 0;
    pa[pi + P_INDEX] = 0;
    za[z.b + Z_FREE_MT_NR + li]!--;
    za[z.b + Z_FREE_NR + order]!--;
  }

  /** Moves a free block to another migrate type's list (`move_to_free_list`). Zone lock held. */
  moveToFreeList(z: ZoneRef, pfn: number, order: number, mt: number): void {
    const old = this.pageField(pfn, P_INDEX);
    this.delFromFreeList(z, pfn, order);
    this.addToFreeList(z, pfn, order, mt, true);
    this.accountFreepages(z, order, old, mt);
  }

  /** Adjusts NR_FREE_PAGES when free pages move in or out of the isolate type. */
  private accountFreepages(z: ZoneRef, order: number, from: number, to: number): void {
    if ((from === MIGRATE_ISOLATE) === (to === MIGRATE_ISOLATE)) return;
    z.a[z.b + Z_NR_FREE]! += to === MIGRATE_ISOLATE ? -(1 << order) : 1 << order;
  }

  /** Whether `pfn` heads a free buddy block of `order` in zone `z`. */
  private pageIsBuddy(z: ZoneRef, pfn: number, order: number): boolean {
    const s = this.sections[pfn >>> this.sectionShift];
    if (!s) return false;
    const i = MEMMAP_WORD + (pfn & this.sectionMask) * PAGE_WORDS;
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
  freeOneBlock(z: ZoneRef, pfn: number, order: number, mt: number): void {
    if (mt !== MIGRATE_ISOLATE) z.a[z.b + Z_NR_FREE]! += 1 << order;
    while (order < MAX_PAGE_ORDER && this.debugBreak !== 'no-coalesce') {
      const buddy = pfn ^ (1 << order);
      if (!this.pageIsBuddy(z, buddy, order)) break;
      const buddyMt = this.pageField(buddy, P_INDEX);
      // Never merge an isolated pageblock with one that is not (it is about to go away).
      if (order >= pageblock_order && (mt === MIGRATE_ISOLATE) !== (buddyMt === MIGRATE_ISOLATE))
        break;
      if (buddyMt !== mt && order < pageblock_order) {
        // Same pageblock: the buddy is on the other list only transiently (stealing).
        this.accountFreepages(z, order, buddyMt, mt);
      }
      this.delFromFreeList(z, buddy, order);
      if (buddyMt !== mt && order >= pageblock_order) this.accountFreepages(z, order, buddyMt, mt);
      pfn &= buddy;
      order++;
    }
    // Put a block that may soon merge further at the tail, so it is not reused first.
    let tail = false;
    if (order < MAX_PAGE_ORDER - 1) {
      const higherBuddy = (pfn & ~((2 << order) - 1)) ^ (2 << order);
      tail = this.pageIsBuddy(z, higherBuddy, order + 1);
    }
    this.addToFreeList(z, pfn, order, mt, tail);
  }

  /**
   * Takes the smallest free block of `order` or larger from `mt`'s lists and splits it
   * down (`__rmqueue_smallest` + `expand`). Zone lock held. Returns the PFN or -1.
   */
  rmqueueSmallest(z: ZoneRef, order: number, mt: number): number {
    const za = z.a;
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      const head = za[z.b + Z_FREE_HEAD + freeListIndex(o, mt)]!;
      if (!head) continue;
      const pfn = head - 1;
      this.delFromFreeList(z, pfn, o);
      // expand(): give back the upper halves.
      let size = 1 << o;
      while (o > order) {
        o--;
        size >>= 1;
        this.addToFreeList(z, pfn + size, o, mt, false);
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
  moveFreepagesBlock(z: ZoneRef, pfn: number, mt: number): [number, number] {
    const start = pfn & ~(pageblock_nr_pages - 1);
    let moved = 0;
    let movable = 0;
    for (let p = start; p < start + pageblock_nr_pages;) {
      const a = this.secI32[p >>> this.sectionShift]!;
      const i = MEMMAP_WORD + ((p & this.sectionMask) << 3);
      const f = a[i + P_FLAGS]!;
      if (((f >>> ZONES_PGSHIFT) & 3) !== z.zid || f >>> NODES_PGSHIFT !== z.nid) return [0, 0];
      if (f & (1 << PG_buddy)) {
        const o = a[i + P_PRIVATE]!;
        if (a[i + P_INDEX] !== mt) this.moveToFreeList(z, p, o, mt);
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
  splitFreeBlockAt(z: ZoneRef, pfn: number, start: number, end: number): void {
    for (let o = pageblock_order + 1; o <= MAX_PAGE_ORDER; o++) {
      const head = pfn & ~((1 << o) - 1);
      if (!this.pageIsBuddy(z, head, o)) continue;
      if (head >= start && head + (1 << o) <= end) return;
      const mt = this.pageField(head, P_INDEX);
      this.delFromFreeList(z, head, o);
      for (let q = head; q < head + (1 << o); q += pageblock_nr_pages) {
        const qmt = this.getPageblockMigratetype(q);
        this.addToFreeList(z, q, pageblock_order, qmt, true);
        this.accountFreepages(z, pageblock_order, mt, qmt);
      }
      return;
    }
  }

  /** Whether a fallback may claim whole pageblocks (`can_steal_fallback`). */
  private canStealFallback(order: number, startMt: number): boolean {
    if (order >= pageblock_order) return true;
    return (
      order >= pageblock_order / 2 ||
      startMt === MIGRATE_RECLAIMABLE ||
      startMt === MIGRATE_UNMOVABLE
    );
  }

  /**
   * Steals a block from another migrate type when `startMt`'s lists are empty, claiming
   * its whole pageblock when enough of it is free or alike (`__rmqueue_fallback`,
   * `steal_suitable_fallback`). Zone lock held. Returns whether anything moved.
   */
  rmqueueFallback(z: ZoneRef, order: number, startMt: number): boolean {
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
      if (!this.canStealFallback(o, startMt) && startMt === MIGRATE_MOVABLE && o > order) {
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
    const oldBlockMt = this.getPageblockMigratetype(pfn);
    this.countEvent('pageblock_steal', 1, z.nid);
    if (oldBlockMt === MIGRATE_HIGHATOMIC) {
      this.moveToFreeList(z, pfn, curOrder, startMt);
      return true;
    }
    if (curOrder >= pageblock_order) {
      for (let p = pfn; p < pfn + (1 << curOrder); p += pageblock_nr_pages)
        this.setPageblockMigratetype(p, startMt);
      this.moveToFreeList(z, pfn, curOrder, startMt);
      return true;
    }
    if (this.canStealFallback(curOrder, startMt)) {
      const [free, movable] = this.moveFreepagesBlock(z, pfn, startMt);
      if (free) {
        const alike =
          startMt === MIGRATE_MOVABLE
            ? movable
            : oldBlockMt === MIGRATE_MOVABLE
              ? pageblock_nr_pages - (free + movable)
              : 0;
        if (free + alike >= 1 << (pageblock_order - 1)) this.setPageblockMigratetype(pfn, startMt);
        return true;
      }
    }
    this.moveToFreeList(z, pfn, curOrder, startMt);
    return true;
  }

  /** Takes a block of `order` for `mt`, falling back to other types (`__rmqueue`). Zone lock held. */
  rmqueue(z: ZoneRef, order: number, mt: number, allocFlags: number): number {
    let pfn = NO_PAGE;
    if (allocFlags & ALLOC_HIGHATOMIC) pfn = this.rmqueueSmallest(z, order, MIGRATE_HIGHATOMIC);
    if (pfn < 0) pfn = this.rmqueueSmallest(z, order, mt);
    if (pfn < 0 && this.rmqueueFallback(z, order, mt)) pfn = this.rmqueueSmallest(z, order, mt);
    return pfn;
  }

  // ---------------------------------------------------------------- per-CPU lists

  private pcpList(pa: Int32Array, pb: number, pindex: number): number {
    return pa[pb + PCP_HEADS + pindex]!;
  }

  /** Refills a per-CPU list with `count` blocks of `order` (`rmqueue_bulk`). pcp lock held. */
  private rmqueueBulk(
    z: ZoneRef,
    pa: Int32Array,
    pb: number,
    order: number,
    count: number,
    mt: number,
    allocFlags: number,
  ): number {
    this.lock(z.a, z.b + Z_LOCK);
    let got = 0;
    const pindex = orderToPindex(mt, order);
    for (; got < count; got++) {
      const pfn = this.rmqueue(z, order, mt, allocFlags);
      if (pfn < 0) break;
      const a = this.secI32[pfn >>> this.sectionShift]!;
      const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
      // On a per-CPU list: private = order, index = 0 (the migrate type is the
      // pageblock's, read again when the page goes back: Linux 6.7 stopped caching it).
      a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_pcp);
      a[i + P_PRIVATE] = order;
      a[i + P_INDEX] = 0;
      this.pcpPushTail(pa, pb, pindex, pfn, a, i);
    }
    this.unlock(z.a, z.b + Z_LOCK);
    pa[pb + PCP_COUNT]! += got << order;
    if (got) this.countEvent('pcp_refill', got, z.nid);
    return got;
  }

  // A per-CPU list is singly linked through P_NEXT (P_PREV stays 0), with head and tail
  // words in the pcp set: the owner pushes and pops at the head, which touches only the
  // page itself, and refills append at the tail. Taking from the tail (a drain) walks
  // the list once, amortised over the batch it frees. See docs/design.md.

  /** Appends `pfn` (struct page at `a[i]`) to a per-CPU list (`list_add_tail`). pcp lock held. */
  private pcpPushTail(
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
    if (t) this.secI32[(t - 1) >>> this.sectionShift]![this.pageIndex(t - 1) + P_NEXT] = pfn + 1;
    else pa[pb + PCP_HEADS + pindex] = pfn + 1;
    pa[pb + PCP_TAILS + pindex] = pfn + 1;
  }

  /** Pushes `pfn` at the head of a per-CPU list (`list_add`). pcp lock held. */
  private pcpPushHead(
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
  private pcpPopHead(pa: Int32Array, pb: number, pindex: number): number {
    const h = pa[pb + PCP_HEADS + pindex]!;
    if (!h) return NO_PAGE;
    const pfn = h - 1;
    const a = this.secI32[pfn >>> this.sectionShift]!;
    const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
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
  private pcpTakeTail(pa: Int32Array, pb: number, pindex: number, n: number): number[] {
    const all: number[] = [];
    // A list never holds more entries than the set's page count: a longer walk means the
    // links are corrupt (a cycle, or a page on two lists), reported and the list dropped
    // rather than walked forever.
    const limit = pa[pb + PCP_COUNT]!;
    for (let h = pa[pb + PCP_HEADS + pindex]!; h; h = this.pageField(h - 1, P_NEXT)) {
      if (all.length >= limit || !this.pfnValid(h - 1)) {
        this.warn(
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
      this.setPageField(all[keep - 1]!, P_NEXT, 0);
      pa[pb + PCP_TAILS + pindex] = all[keep - 1]! + 1;
    } else {
      pa[pb + PCP_HEADS + pindex] = 0;
      pa[pb + PCP_TAILS + pindex] = 0;
    }
    for (const pfn of taken) {
      const a = this.secI32[pfn >>> this.sectionShift]!;
      const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
      a[i + P_NEXT] = 0;
      a[i + P_FLAGS] = a[i + P_FLAGS]! & ~(1 << PG_pcp);
    }
    return taken;
  }

  /**
   * Frees `count` base pages' worth from a per-CPU set back to the buddy lists
   * (`free_pcppages_bulk`): lists in round-robin order starting after `pindex`, each
   * one's coldest pages (its tail) until the count is met or the list is empty. pcp
   * lock held.
   */
  private freePcppagesBulk(
    z: ZoneRef,
    pa: Int32Array,
    pb: number,
    count: number,
    pindex = NR_PCP_LISTS - 1,
  ): void {
    this.lock(z.a, z.b + Z_LOCK);
    let freed = 0;
    while (count > 0 && pa[pb + PCP_COUNT]! > 0) {
      let tries = 0;
      do pindex = pindex === NR_PCP_LISTS - 1 ? 0 : pindex + 1;
      while (!pa[pb + PCP_HEADS + pindex] && ++tries < NR_PCP_LISTS);
      if (!pa[pb + PCP_HEADS + pindex]) break; // every list empty: the count was stale
      const order = pindexToOrder(pindex);
      for (const pfn of this.pcpTakeTail(pa, pb, pindex, Math.ceil(count / (1 << order)))) {
        // The pageblock's type now (it may have been isolated or stolen while the page
        // sat on the list), as free_pcppages_bulk reads it since Linux 6.7.
        const mt = this.getPageblockMigratetype(pfn);
        this.setPageField(pfn, P_PRIVATE, 0);
        pa[pb + PCP_COUNT]! -= 1 << order;
        count -= 1 << order;
        freed += 1 << order;
        this.freeOneBlock(z, pfn, order, mt);
      }
    }
    this.unlock(z.a, z.b + Z_LOCK);
    if (freed) this.countEvent('pcp_drain', freed, z.nid);
  }

  /** Empties one CPU's lists for a zone (`drain_pages_zone`). */
  drainPagesZone(cpu: number, z: ZoneRef): void {
    this.drainCpu(cpu, [z]);
  }

  /**
   * Empties `cpu`'s lists for `zones` under one hold of its lock. A CPU with nothing on
   * those lists is skipped without asking (as drain_all_pages only queues work on CPUs
   * with pages); one that does not let go is reported once and left alone.
   */
  private drainCpu(cpu: number, zones: readonly ZoneRef[]): void {
    const pbOf = (z: ZoneRef): number => this.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
    if (!zones.some((z) => z.a[pbOf(z) + PCP_COUNT]! > 0)) return;
    const got = this.pcpLockCpu(cpu);
    if (got === false) {
      this.pcpDrainTimeouts++;
      this.warn(
        `mm: CPU ${cpu} did not let go of its per-CPU lists within ${PCP_REMOTE_TIMEOUT_MS} ms; not drained`,
      );
      return;
    }
    for (const z of zones) this.freePcppagesBulk(z, z.a, pbOf(z), z.a[pbOf(z) + PCP_COUNT]!);
    if (got === true) this.pcpUnlockCpu(cpu);
  }

  /** Empties every CPU's lists, for one zone or all (`drain_all_pages`). */
  drainAllPages(zone?: ZoneRef): void {
    const zones = zone ? [zone] : this.zones;
    for (let cpu = 0; cpu < this.nrCpus; cpu++) this.drainCpu(cpu, zones);
  }

  /** Empties this CPU's lists (`drain_local_pages`). */
  drainLocalPages(): void {
    this.drainCpu(this.cpu, this.zones);
  }

  // ---------------------------------------------------------------- watermarks

  /** A zone's watermark (WMARK_MIN/LOW/HIGH), in pages. */
  wmark(z: ZoneRef, which: number): number {
    return z.a[z.b + Z_WMARK + which]!;
  }

  /**
   * Whether `zone` has enough free pages above `mark` for an order-`order` allocation
   * (`__zone_watermark_ok`).
   */
  zoneWatermarkOk(
    z: ZoneRef,
    order: number,
    mark: number,
    highestZoneidx: number,
    allocFlags: number,
    freePages = this.zoneFreePages(z),
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

  // ---------------------------------------------------------------- allocation

  /**
   * Allocates 2^order contiguous pages and returns the first PFN, or null when memory
   * cannot be found (after reclaim where the GFP mask allows it), as `alloc_pages`
   * returns NULL. An order above MAX_PAGE_ORDER WARNs once and returns null.
   *
   * @param nid preferred node (default: this CPU's node).
   * @param nodemask allowed nodes (default: all).
   * @see mm/page_alloc.c: __alloc_pages, get_page_from_freelist, __alloc_pages_slowpath
   */
  allocPages(
    gfp: number,
    order: number,
    nid?: number,
    nodemask?: readonly number[],
  ): number | null {
    if (order === 0 && nid === undefined && nodemask === undefined && !(gfp & FAST_PATH_EXCLUDED)) {
      const pfn = this.allocPage0Fast(gfp);
      if (pfn >= 0) return pfn;
    }
    return this.allocPagesGeneral(gfp, order, nid, nodemask);
  }

  /** Everything but the order-0 fast path (kept apart so that allocPages stays small). */
  private allocPagesGeneral(
    gfp: number,
    order: number,
    nid: number | undefined,
    nodemask: readonly number[] | undefined,
  ): number | null {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) {
      if (!(gfp & __GFP_NOWARN) && !this.warnedOrder) {
        this.warnedOrder = true;
        this.warn(
          `WARNING: CPU: ${this.cpu} PID: 0 at mm/page_alloc.c:__alloc_pages: order ${order} > MAX_PAGE_ORDER ${MAX_PAGE_ORDER}`,
        );
      }
      return null;
    }
    const prefNid = nid ?? this.cpuToNode[this.cpuNr] ?? 0;
    if (!Number.isInteger(prefNid) || prefNid < 0 || prefNid >= this.nrNodes)
      throw new KernelError('EINVAL', `node ${prefNid} does not exist (${this.nrNodes} nodes)`);
    if (nodemask) {
      if (nodemask.length === 0) throw new KernelError('EINVAL', 'empty nodemask');
      const bad = nodemask.find((n) => !Number.isInteger(n) || n < 0 || n >= this.nrNodes);
      if (bad !== undefined)
        throw new KernelError(
          'EINVAL',
          `nodemask names node ${bad}, which does not exist (${this.nrNodes} nodes)`,
        );
    }
    const highest = gfpZone(gfp);
    const mt = this.groupByMobility ? gfpMigratetype(gfp) : MIGRATE_UNMOVABLE;
    const thisnode = (gfp & __GFP_THISNODE) !== 0;
    let pfn = this.getPageFromFreelist(
      gfp,
      order,
      WMARK_LOW,
      highest,
      mt,
      prefNid,
      thisnode,
      nodemask,
    );
    if (pfn < 0) pfn = this.allocSlowpath(gfp, order, highest, mt, prefNid, thisnode, nodemask);
    if (pfn < 0) return null;
    this.prepNewPage(pfn, order, gfp);
    return pfn;
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

  /** Allocates one page (`alloc_page`); null on failure. */
  allocPage(gfp: number = GFP_KERNEL): number | null {
    return this.allocPages(gfp, 0);
  }

  /**
   * Allocates with a memory policy (`alloc_pages_mpol`): local node, a preferred node,
   * bound to a set of nodes, or interleaved round-robin over a set.
   */
  allocPagesPolicy(gfp: number, order: number, policy: MemPolicy): number | null {
    switch (policy.mode) {
      case 'local':
        return this.allocPages(gfp, order);
      case 'preferred':
        return this.allocPages(gfp, order, policy.node);
      case 'bind': {
        const local = this.cpuToNode[this.cpu] ?? 0;
        const first = policy.nodes.includes(local) ? local : policy.nodes[0];
        if (first === undefined)
          throw new KernelError('EINVAL', 'bind policy with an empty node set');
        return this.allocPages(gfp, order, first, policy.nodes);
      }
      case 'interleave': {
        if (policy.nodes.length === 0)
          throw new KernelError('EINVAL', 'interleave policy with an empty node set');
        const n = policy.nodes[this.interleaveNext++ % policy.nodes.length]!;
        return this.allocPages(gfp, order, n);
      }
    }
  }

  private getPageFromFreelist(
    gfp: number,
    order: number,
    wmarkIdx: number,
    highest: number,
    mt: number,
    prefNid: number,
    thisnode: boolean,
    nodemask: readonly number[] | undefined,
    allocFlags = wmarkIdx,
  ): number {
    const list = this.zonelists[prefNid]!;
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
        if (!fast && !this.zoneWatermarkOk(z, order, mark, highest, allocFlags)) continue;
      }
      const pfn = this.rmqueueZone(z, order, mt, allocFlags, gfp);
      if (pfn >= 0) {
        this.countEventIdx(EV_PGALLOC + z.zid, 1 << order, z.nid);
        return pfn;
      }
    }
    return NO_PAGE;
  }

  /** Takes a block from a zone: per-CPU lists for small orders, else the buddy lists (`rmqueue`). */
  private rmqueueZone(
    z: ZoneRef,
    order: number,
    mt: number,
    allocFlags: number,
    gfp: number,
  ): number {
    if (order <= PAGE_ALLOC_COSTLY_ORDER && mt < MIGRATE_PCPTYPES) {
      const pa = z.a;
      const pb = z.pcp;
      this.pcpLockOwn();
      const pindex = orderToPindex(mt, order);
      let pfn = this.pcpPopHead(pa, pb, pindex);
      if (pfn < 0) {
        const batch = Math.max(1, pa[pb + PCP_BATCH]! >> order);
        if (this.rmqueueBulk(z, pa, pb, order, batch, mt, allocFlags))
          pfn = this.pcpPopHead(pa, pb, pindex);
      }
      if (pfn >= 0) pa[pb + PCP_COUNT]! -= 1 << order;
      if (pfn >= 0) {
        const a = this.secI32[pfn >>> this.sectionShift]!;
        const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
        a[i + P_PRIVATE] = 0;
        a[i + P_INDEX] = 0;
      }
      return pfn;
    }
    this.lock(z.a, z.b + Z_LOCK);
    let pfn = this.rmqueue(z, order, mt, allocFlags);
    if (pfn < 0 && order > 0 && allocFlags & ALLOC_HIGHATOMIC)
      pfn = this.rmqueueSmallest(z, order, MIGRATE_HIGHATOMIC);
    if (pfn >= 0 && order > 0 && allocFlags & ALLOC_HIGHATOMIC && !(gfp & __GFP_DIRECT_RECLAIM))
      this.reserveHighatomicPageblock(z, pfn);
    this.unlock(z.a, z.b + Z_LOCK);
    return pfn;
  }

  /**
   * After a high-order atomic allocation succeeds, reserves its pageblock for future
   * ones, up to about 1% of the zone (`reserve_highatomic_pageblock`). Zone lock held.
   */
  private reserveHighatomicPageblock(z: ZoneRef, pfn: number): void {
    const za = z.a;
    const max = Math.floor(za[z.b + Z_MANAGED]! / 100) + pageblock_nr_pages;
    if (za[z.b + Z_NR_RESERVED_HIGHATOMIC]! >= max) return;
    const mt = this.getPageblockMigratetype(pfn);
    if (mt === MIGRATE_HIGHATOMIC || mt === MIGRATE_ISOLATE) return;
    za[z.b + Z_NR_RESERVED_HIGHATOMIC]! += pageblock_nr_pages;
    this.setPageblockMigratetype(pfn, MIGRATE_HIGHATOMIC);
    this.moveFreepagesBlock(z, pfn, MIGRATE_HIGHATOMIC);
    this.countEvent('highatomic_reserve', 1, z.nid);
  }

  /** Gives the high-order atomic reserve back when memory is short (`unreserve_highatomic_pageblock`). */
  unreserveHighatomicPageblock(z: ZoneRef): boolean {
    const za = z.a;
    if (!za[z.b + Z_NR_RESERVED_HIGHATOMIC]) return false;
    this.lock(za, z.b + Z_LOCK);
    let done = false;
    for (let o = 0; o <= MAX_PAGE_ORDER && !done; o++) {
      const head = za[z.b + Z_FREE_HEAD + freeListIndex(o, MIGRATE_HIGHATOMIC)]!;
      if (!head) continue;
      const pfn = head - 1;
      if (this.getPageblockMigratetype(pfn) === MIGRATE_HIGHATOMIC) {
        za[z.b + Z_NR_RESERVED_HIGHATOMIC] = Math.max(
          0,
          za[z.b + Z_NR_RESERVED_HIGHATOMIC]! - pageblock_nr_pages,
        );
        this.setPageblockMigratetype(pfn, MIGRATE_MOVABLE);
      }
      this.moveFreepagesBlock(z, pfn, this.getPageblockMigratetype(pfn));
      done = true;
    }
    this.unlock(za, z.b + Z_LOCK);
    return done;
  }

  private gfpToAllocFlags(gfp: number): number {
    let flags = WMARK_MIN;
    if (gfp & __GFP_HIGH) flags |= ALLOC_MIN_RESERVE;
    if (!(gfp & __GFP_DIRECT_RECLAIM)) {
      flags |= ALLOC_NON_BLOCK;
      if (gfp & __GFP_HIGH) flags |= ALLOC_HIGHATOMIC;
    }
    if (gfp & __GFP_MEMALLOC && !(gfp & __GFP_NOMEMALLOC)) flags |= ALLOC_NO_WATERMARKS;
    return flags;
  }

  private allocSlowpath(
    gfp: number,
    order: number,
    highest: number,
    mt: number,
    prefNid: number,
    thisnode: boolean,
    nodemask: readonly number[] | undefined,
  ): number {
    const allocFlags = this.gfpToAllocFlags(gfp);
    const retry = (): number =>
      this.getPageFromFreelist(
        gfp,
        order,
        allocFlags & ALLOC_WMARK_MASK,
        highest,
        mt,
        prefNid,
        thisnode,
        nodemask,
        allocFlags,
      );
    if (gfp & __GFP_KSWAPD_RECLAIM) this.wakeAllKswapds(order, highest, prefNid);
    let pfn = retry();
    if (pfn >= 0) return pfn;
    if (gfp & __GFP_DIRECT_RECLAIM) {
      let drained = false;
      for (let tries = 0; tries < 16; tries++) {
        this.countEvent(
          highest === 0
            ? 'allocstall_dma32'
            : highest === 1
              ? 'allocstall_normal'
              : 'allocstall_movable',
          1,
          prefNid,
        );
        const progress = this.directReclaim(
          Math.max(32, 1 << order),
          gfp,
          thisnode ? prefNid : undefined,
        );
        pfn = retry();
        if (pfn >= 0) return pfn;
        if (!drained) {
          for (const z of this.zonelists[prefNid]!) this.unreserveHighatomicPageblock(z);
          this.drainAllPages();
          drained = true;
          pfn = retry();
          if (pfn >= 0) return pfn;
        }
        if (!progress || gfp & __GFP_NORETRY) break;
      }
    } else if (order > 0 || allocFlags & ALLOC_HIGHATOMIC) {
      // Atomic context: per-CPU lists may hold what a high-order request needs.
      this.drainLocalPages();
      pfn = retry();
      if (pfn >= 0) return pfn;
    }
    this.countEvent('pgalloc_fail', 1, prefNid);
    if (!(gfp & __GFP_NOWARN) || gfp & __GFP_NOFAIL) this.warnAlloc(gfp, order, nodemask);
    return NO_PAGE;
  }

  /** Asks the reclaimers for `nrPages`; returns pages freed (`try_to_free_pages`). */
  directReclaim(nrPages: number, gfp: number, nid: number | undefined): number {
    let freed = 0;
    for (const r of this.reclaimers) {
      if (freed >= nrPages) break;
      freed += r.reclaim(nrPages - freed, gfp, nid);
    }
    return freed;
  }

  /** Wakes kswapd on the nodes an allocation could use (`wakeup_kswapd`). */
  private wakeAllKswapds(order: number, highest: number, prefNid: number): void {
    const nid = prefNid;
    const a = this.nodeArr[nid]!;
    const b = this.nodeBase[nid]!;
    Atomics.store(a, b + N_KSWAPD_ORDER, Math.max(order, a[b + N_KSWAPD_ORDER]!));
    Atomics.store(a, b + N_KSWAPD_ZONEIDX, Math.max(highest, a[b + N_KSWAPD_ZONEIDX]!));
    Atomics.store(a, b + N_KSWAPD_WAKE, 1);
    if (this.kswapdInline) this.kswapdRun(nid);
  }

  /** Whether kswapd of `nid` was woken and has not run since. */
  kswapdPending(nid: number): boolean {
    return Atomics.load(this.nodeArr[nid]!, this.nodeBase[nid]! + N_KSWAPD_WAKE) !== 0;
  }

  /**
   * One kswapd pass for a node (`balance_pgdat`): reclaims until each zone is above its
   * high watermark or reclaim makes no progress. Returns pages reclaimed.
   */
  kswapdRun(nid: number): number {
    const a = this.nodeArr[nid]!;
    const b = this.nodeBase[nid]!;
    if (!Atomics.exchange(a, b + N_KSWAPD_WAKE, 0)) return 0;
    const highest = a[b + N_KSWAPD_ZONEIDX]!;
    a[b + N_KSWAPD_ORDER] = 0;
    a[b + N_KSWAPD_ZONEIDX] = 0;
    this.countEvent('pageoutrun', 1, nid);
    let total = 0;
    for (let pass = 0; pass < 8; pass++) {
      let need = 0;
      for (let zid = 0; zid <= highest; zid++) {
        const z = this.zones[nid * MAX_NR_ZONES + zid]!;
        if (!z.a[z.b + Z_MANAGED]) continue;
        const deficit = this.wmark(z, WMARK_HIGH) - this.zoneFreePages(z);
        if (deficit > 0) need += deficit;
      }
      if (need <= 0) break;
      let got = 0;
      for (const r of this.reclaimers) got += r.reclaim(need, GFP_KERNEL, nid, true);
      total += got;
      if (!got) break;
    }
    return total;
  }

  /** Initialises a block that leaves the allocator (`prep_new_page`). */
  private prepNewPage(pfn: number, order: number, gfp: number): void {
    const n = 1 << order;
    for (let p = pfn; p < pfn + n; p++) {
      const a = this.secI32[p >>> this.sectionShift]!;
      const i = MEMMAP_WORD + ((p & this.sectionMask) << 3);
      const f = a[i + P_FLAGS]!;
      if (
        f & PAGE_FLAGS_CHECK_AT_PREP ||
        a[i + P_MAPCOUNT] !== -1 ||
        a[i + P_REFCOUNT] !== 0 ||
        a[i + P_MAPPING] !== 0
      ) {
        // check_new_page: the page was corrupted while free.
        this.badPage(
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
    const ha = this.secI32[pfn >>> this.sectionShift]!;
    const hi = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
    // Nobody else can see the page yet: a plain store; the next lock release publishes it.
    ha[hi + P_REFCOUNT] = 1;
    if (gfp & __GFP_ZERO) this.pageBytes(pfn, order).fill(0);
    if (gfp & __GFP_COMP && order > 0) {
      ha[hi + P_FLAGS] = ha[hi + P_FLAGS]! | (1 << PG_head);
      for (let p = pfn + 1; p < pfn + n; p++) {
        const a = this.secI32[p >>> this.sectionShift]!;
        const i = MEMMAP_WORD + ((p & this.sectionMask) << 3);
        a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_tail);
        a[i + P_NEXT] = pfn + 1;
      }
      const t1 = this.secI32[(pfn + 1) >>> this.sectionShift]!;
      const ti = MEMMAP_WORD + (((pfn + 1) & this.sectionMask) << 3);
      t1[ti + P_PRIVATE] = order;
    }
  }

  /** Order of a compound page headed by `pfn` (0 if not compound). */
  compoundOrder(pfn: number): number {
    if (!this.testPageFlag(pfn, PG_head)) return 0;
    return this.pageField(pfn + 1, P_PRIVATE);
  }

  // ---------------------------------------------------------------- freeing

  /**
   * Drops a reference to a block of 2^order pages and frees it when that was the last
   * (`__free_pages`). A page in a bad state is reported as `bad_page()` does and taken
   * out of circulation; the free lists are never touched with it.
   *
   * @throws KernelError EINVAL for a PFN outside memory, a bad order or alignment, a
   *   double free (refcount already 0) or a page in a bad state (after reporting it).
   * @see mm/page_alloc.c: __free_pages, free_pages_prepare, free_unref_page, bad_page
   */
  freePages(pfn: number, order: number): void {
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order))
      throw new KernelError('EINVAL', `free of order ${order}: orders are 0..${MAX_PAGE_ORDER}`);
    const a = pfn >= 0 && (pfn | 0) === pfn ? this.secI32[pfn >>> this.sectionShift] : undefined;
    if (!a)
      throw new KernelError('EINVAL', `free of pfn ${pfn}: not in any present memory section`);
    if (pfn & ((1 << order) - 1))
      throw new KernelError(
        'EINVAL',
        `free of pfn 0x${pfn.toString(16)} order ${order}: not aligned to its order`,
      );
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
      (f & (PAGE_FLAGS_CHECK_AT_FREE | (1 << PG_head))) === 0 &&
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

  /** Reports a double free as `bad_page()` does (the page stays where it is) and throws. */
  private doubleFree(pfn: number, order: number): never {
    this.badPage(pfn, 'VM_BUG_ON_PAGE(page_ref_count(page) == 0)', false);
    throw new KernelError(
      'EINVAL',
      `double free of pfn 0x${pfn.toString(16)} order ${order} (refcount already 0)`,
    );
  }

  /**
   * The general free path: compound pages, multi-page blocks and bad-page checks
   * (`free_pages_prepare`). The refcount has just dropped to zero.
   */
  private freePagesPrepare(pfn: number, order: number, a: Int32Array, i: number): void {
    if (a[i + P_FLAGS]! & (1 << PG_head)) {
      const co = this.compoundOrder(pfn);
      if (co !== order) {
        Atomics.store(a, i + P_REFCOUNT, 1);
        throw new KernelError(
          'EINVAL',
          `free of compound page pfn 0x${pfn.toString(16)} with order ${order}, but it has order ${co}`,
        );
      }
      a[i + P_FLAGS] = a[i + P_FLAGS]! & ~(1 << PG_head);
      for (let p = pfn + 1; p < pfn + (1 << order); p++) {
        const pa = this.secI32[p >>> this.sectionShift]!;
        const pi = MEMMAP_WORD + ((p & this.sectionMask) << 3);
        pa[pi + P_FLAGS] = pa[pi + P_FLAGS]! & ~(1 << PG_tail);
        pa[pi + P_NEXT] = 0;
        pa[pi + P_PRIVATE] = 0;
      }
    }
    // Every page of the block must be clean.
    let bad = false;
    for (let p = pfn; p < pfn + (1 << order); p++) {
      if (this.pageBadReason(p) !== '') {
        this.badPage(p, this.pageBadReason(p));
        bad = true;
      }
    }
    if (bad)
      throw new KernelError(
        'EINVAL',
        `Bad page state freeing pfn 0x${pfn.toString(16)} order ${order}: ${this.pageBadReason(pfn) || 'a page of the block is bad'}`,
      );
    for (let p = pfn; p < pfn + (1 << order); p++) {
      const pa = this.secI32[p >>> this.sectionShift]!;
      const pi = MEMMAP_WORD + ((p & this.sectionMask) << 3);
      pa[pi + P_FLAGS] = pa[pi + P_FLAGS]! & ~PAGE_FLAGS_CHECK_AT_PREP;
    }
    this.countEventIdx(EV_PGFREE, 1 << order, a[i + P_FLAGS]! >>> NODES_PGSHIFT);
    this.freeUnrefPage(pfn, order);
  }

  /** Why a page cannot be freed (`page_bad_reason`), or '' if it can. */
  pageBadReason(pfn: number): string {
    const a = this.secI32[pfn >>> this.sectionShift]!;
    const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
    let reason = '';
    if (a[i + P_MAPCOUNT] !== -1) reason = 'nonzero mapcount';
    if (a[i + P_MAPPING] !== 0) reason = 'non-NULL mapping';
    if (a[i + P_REFCOUNT] !== 0) reason = 'nonzero _refcount';
    if (a[i + P_FLAGS]! & PAGE_FLAGS_CHECK_AT_FREE) reason = 'PAGE_FLAGS_CHECK_AT_FREE flag(s) set';
    return reason;
  }

  /** Frees a clean block: to this CPU's lists for small orders, else to the buddy lists. */
  private freeUnrefPage(pfn: number, order: number): void {
    const pa0 = this.secI32[pfn >>> this.sectionShift]!;
    const f = pa0[MEMMAP_WORD + ((pfn & this.sectionMask) << 3) + P_FLAGS]!;
    const z = this.zones[(f >>> NODES_PGSHIFT) * MAX_NR_ZONES + ((f >>> ZONES_PGSHIFT) & 3)]!;
    const mt =
      this.sections[pfn >>> this.sectionShift]!.usemap[
        (pfn & this.sectionMask) >>> pageblock_order
      ]!;
    // The count is already 0: if this CPU's lists cannot be had, the buddy lists take
    // the block rather than an EBUSY losing it.
    if (order <= PAGE_ALLOC_COSTLY_ORDER && mt < MIGRATE_PCPTYPES && this.pcpTryOwn()) {
      const pa = z.a;
      const pb = z.pcp;
      const a = this.secI32[pfn >>> this.sectionShift]!;
      const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
      a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_pcp);
      a[i + P_PRIVATE] = order;
      a[i + P_INDEX] = 0;
      const pindex = orderToPindex(mt, order);
      this.pcpPushHead(pa, pb, pindex, pfn, a, i);
      const count = (pa[pb + PCP_COUNT]! += 1 << order);
      if (count >= pa[pb + PCP_HIGH]!)
        this.freePcppagesBulk(z, pa, pb, pa[pb + PCP_BATCH]!, pindex - 1);
      return;
    }
    this.lock(z.a, z.b + Z_LOCK);
    this.freeOneBlock(z, pfn, order, mt);
    this.unlock(z.a, z.b + Z_LOCK);
  }

  // ---------------------------------------------------------------- reports

  /** Prints a warning through the log, if any. */
  warn(text: string): void {
    this.log?.printk(4, text);
  }

  /**
   * Reports a page in a bad state as `bad_page()` does and, unless `takeOut` is false,
   * takes it out of circulation (PG_hwpoison, mapcount reset, never freed).
   * @see mm/page_alloc.c: bad_page, mm/debug.c: dump_page
   */
  badPage(pfn: number, reason: string, takeOut = true): void {
    const log = this.log;
    if (log) {
      log.printk(
        1,
        `BUG: Bad page state in process ${this.comm()}  pfn:${pfn.toString(16).padStart(5, '0')}`,
      );
      for (const line of this.dumpPage(pfn, reason)) log.printk(1, line);
    }
    this.countEvent('bad_page');
    if (takeOut) {
      const a = this.secI32[pfn >>> this.sectionShift]!;
      const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
      a[i + P_MAPCOUNT] = -1;
      a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_hwpoison);
    }
  }

  /** Lines of `dump_page()` for a page. */
  dumpPage(pfn: number, reason?: string): string[] {
    const a = this.secI32[pfn >>> this.sectionShift]!;
    const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
    const hex16 = (n: number): string => n.toString(16).padStart(16, '0');
    const mapping = a[i + P_MAPPING]!;
    const lines = [
      `page:${hex16(this.pageStructPaddr(pfn))} refcount:${a[i + P_REFCOUNT]} mapcount:${a[i + P_MAPCOUNT]! + 1} mapping:${hex16(mapping >>> 0)} index:0x${(a[i + P_INDEX]! >>> 0).toString(16)} pfn:0x${pfn.toString(16)}`,
      `flags: ${formatPageFlags(a[i + P_FLAGS]!)}`,
      `raw: ${Array.from(a.subarray(i, i + PAGE_WORDS), (w) => (w >>> 0).toString(16).padStart(8, '0')).join(' ')}`,
    ];
    if (reason) lines.push(`page dumped because: ${reason}`);
    return lines;
  }

  /** Prints an allocation failure as `warn_alloc()` does, with the free-area summary of `show_mem()`. */
  private warnAlloc(gfp: number, order: number, nodemask: readonly number[] | undefined): void {
    const log = this.log;
    if (!log) return;
    log.printk(
      4,
      `${this.comm()}: page allocation failure: order:${order}, mode:${formatGfp(gfp)}, nodemask=${nodemask ? bitmapList(nodemask) : '(null)'},cpuset=/,mems_allowed=${bitmapList([...Array(this.nrNodes).keys()])}`,
    );
    log.printk(4, 'Mem-Info:');
    for (const line of this.showFreeAreas()) log.printk(4, line);
  }

  /**
   * A zone's pages on each LRU list (Linux order: inactive/active anon, inactive/active
   * file, unevictable) and its dirty or writeback file pages (NR_ZONE_WRITE_PENDING),
   * counted by walking the node's LRU lists: the LRU counters here are per node.
   */
  private zoneLruCounts(z: ZoneRef): { lru: number[]; writePending: number } {
    const lru = [0, 0, 0, 0, 0];
    let writePending = 0;
    const na = this.nodeArr[z.nid]!;
    const nb = this.nodeBase[z.nid]!;
    for (let l = 0; l < NR_LRU_LISTS; l++) {
      for (let h = na[nb + N_LRU_HEAD + l]!, guard = 0; h && guard < 1 << 30; guard++) {
        const pfn = h - 1;
        const a = this.secI32[pfn >>> this.sectionShift];
        if (!a) break;
        const i = MEMMAP_WORD + ((pfn & this.sectionMask) << 3);
        const f = a[i + P_FLAGS]!;
        if (((f >>> ZONES_PGSHIFT) & 3) === z.zid) {
          lru[l]!++;
          if (l >= LRU_INACTIVE_FILE && f & ((1 << PG_dirty) | (1 << PG_writeback))) writePending++;
        }
        h = a[i + P_NEXT]!;
      }
    }
    return { lru, writePending };
  }

  /**
   * The per-zone lines of `show_free_areas()` (mm/show_mem.c): the zone summary with
   * Linux's fields (those that do not exist here, such as boost, mlocked, bounce and CMA,
   * print 0), `lowmem_reserve[]`, and the free blocks by order with their migrate types.
   */
  showFreeAreas(): string[] {
    const lines: string[] = [];
    const letters = ['U', 'M', 'E', 'H', 'I'];
    for (const z of this.zones) {
      const za = z.a;
      if (!za[z.b + Z_PRESENT]) continue;
      const k = (p: number): string => `${p * 4}kB`;
      const { lru, writePending } = this.zoneLruCounts(z);
      const localPcp = za[z.pcp + PCP_COUNT]!;
      lines.push(
        `Node ${z.nid} ${zoneNames[z.zid]} free:${k(this.zoneFreePages(z))} boost:0kB min:${k(this.wmark(z, WMARK_MIN))} low:${k(this.wmark(z, WMARK_LOW))} high:${k(this.wmark(z, WMARK_HIGH))} reserved_highatomic:${za[z.b + Z_NR_RESERVED_HIGHATOMIC]! * 4}KB active_anon:${k(lru[LRU_ACTIVE_ANON]!)} inactive_anon:${k(lru[LRU_INACTIVE_ANON]!)} active_file:${k(lru[LRU_ACTIVE_FILE]!)} inactive_file:${k(lru[LRU_INACTIVE_FILE]!)} unevictable:${k(lru[LRU_UNEVICTABLE]!)} writepending:${k(writePending)} present:${k(za[z.b + Z_PRESENT]!)} managed:${k(za[z.b + Z_MANAGED]!)} mlocked:0kB bounce:0kB free_pcp:${k(this.zonePcpPages(z))} local_pcp:${k(localPcp)} free_cma:0kB`,
      );
      const reserve: number[] = [];
      for (let j = 0; j < MAX_NR_ZONES; j++) reserve.push(za[z.b + Z_LOWMEM_RESERVE + j]!);
      lines.push(`lowmem_reserve[]: ${reserve.join(' ')}`);
      let total = 0;
      const parts: string[] = [];
      for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
        const n = za[z.b + Z_FREE_NR + o]!;
        total += n << o;
        let types = '';
        for (let mt = 0; mt < MIGRATE_TYPES; mt++)
          if (za[z.b + Z_FREE_MT_NR + freeListIndex(o, mt)]) types += letters[mt];
        parts.push(`${n}*${4 << o}kB ${types ? `(${types}) ` : ''}`);
      }
      lines.push(`Node ${z.nid} ${zoneNames[z.zid]}: ${parts.join('')}= ${total * 4}kB`);
    }
    return lines;
  }

  /** Zone spanned/start (for /proc/zoneinfo). */
  zoneSpan(z: ZoneRef): { start: number; spanned: number; present: number; managed: number } {
    const za = z.a;
    return {
      start: za[z.b + Z_START_PFN]!,
      spanned: za[z.b + Z_SPANNED]!,
      present: za[z.b + Z_PRESENT]!,
      managed: za[z.b + Z_MANAGED]!,
    };
  }

  /** Pageblocks isolated in a zone. */
  zoneIsolatedPageblocks(z: ZoneRef): number {
    return z.a[z.b + Z_NR_ISOLATE_PAGEBLOCK]!;
  }

  /** Per-CPU list parameters of (cpu, zone). */
  pcpInfo(cpu: number, z: ZoneRef): { count: number; high: number; batch: number } {
    const b = this.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
    return { count: z.a[b + PCP_COUNT]!, high: z.a[b + PCP_HIGH]!, batch: z.a[b + PCP_BATCH]! };
  }

  /** Whether PG_reserved is set (memmap, memblock reservations). */
  isReserved(pfn: number): boolean {
    return this.testPageFlag(pfn, PG_reserved);
  }
}
