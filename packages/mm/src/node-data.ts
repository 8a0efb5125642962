/**
 * A machine's nodes and their zones, as they live in node data (`pglist_data`, `struct
 * zone`, `struct per_cpu_pages`; layout.ts `N_*`, `Z_*`, `PCP_*`), the zonelists, and
 * the counters kept there: per-CPU VM events and node and zone counters. `Memory`
 * extends it with the allocator.
 *
 * @see include/linux/mmzone.h, mm/vmstat.c, mm/page_alloc.c: build_zonelists
 */

import { KernelError } from '@kern/core';
import {
  N_SMP_ACTIVE,
  N_VMSTAT,
  PCP_BATCH,
  PCP_COUNT,
  PCP_HIGH,
  P_FLAGS,
  Z_FREE_MT_NR,
  Z_MANAGED,
  Z_NR_FREE,
  Z_NR_ISOLATE_PAGEBLOCK,
  Z_PRESENT,
  Z_SPANNED,
  Z_START_PFN,
  Z_WMARK,
  cpuEventsBase,
  freeListIndex,
  pcpBase,
  zoneBase,
} from './layout.js';
import { MemMap } from './memmap.js';
import type { MemoryHandle } from './memory.js';
import {
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_ISOLATE,
  PAGE_SIZE,
  type ZoneRef,
} from './mmzone.js';
import { NODES_PGSHIFT, ZONES_PGSHIFT } from './page-flags.js';
import type { MemSection } from './sparse.js';
import { VM_EVENT, type NodeStatItem, NODE_STAT, type VmEventItem } from './vmstat-items.js';

const EV_PGALLOC = VM_EVENT.pgalloc_dma32; // then normal, movable
const EV_PGFREE = VM_EVENT.pgfree;

/**
 * The nodes and zones of a machine over its page array, and their counters. Each
 * thread's instance points its zones' per-CPU offsets at the CPU it runs as.
 */
export class NodeData extends MemMap {
  readonly nrCpus: number;
  readonly nrNodes: number;
  /** Node data arrays (the Int32Array of the section that holds each node's data). */
  readonly nodeArr: Int32Array[];
  /** Word offset of each node's data in nodeArr[nid]. */
  readonly nodeBase: number[];
  readonly nodeDataPaddr: number[];
  readonly distances: number[][];
  readonly cpuToNode: number[];
  /** zones[nid * MAX_NR_ZONES + zid]. */
  readonly zones: ZoneRef[];
  /** Fallback zonelist of each node: zones by node distance, highest zone first. */
  readonly zonelists: ZoneRef[][];
  /** The CPU this thread runs as (Memory.cpu). @internal */
  cpuNr = 0;
  /** Offset of this CPU's event counters inside node data. @internal */
  cpuEvOff = cpuEventsBase(0);

  /** @throws KernelError EINVAL if a node's data is not in a present section. */
  constructor(h: MemoryHandle, sections: (MemSection | undefined)[]) {
    super(sections, h.sectionBytes);
    this.nrCpus = h.nrCpus;
    this.nrNodes = h.nrNodes;
    this.nodeDataPaddr = h.nodeDataPaddr;
    this.distances = h.distances;
    this.cpuToNode = h.cpuToNode;
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
  }

  /** Points every zone's per-CPU offsets (pcp set, event counters) at `cpu`'s. */
  protected setZoneCpu(cpu: number): void {
    this.cpuNr = cpu;
    this.cpuEvOff = cpuEventsBase(cpu);
    for (const z of this.zones) {
      z.pcp = this.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
      z.ev = this.nodeBase[z.nid]! + cpuEventsBase(cpu);
      z.evAlloc = z.ev + EV_PGALLOC + z.zid;
      z.evFree = z.ev + EV_PGFREE;
    }
  }

  /** The zone a page belongs to. */
  pageZone(pfn: number): ZoneRef {
    const f = this.pageField(pfn, P_FLAGS);
    return this.zones[(f >>> NODES_PGSHIFT) * MAX_NR_ZONES + ((f >>> ZONES_PGSHIFT) & 3)]!;
  }

  /** Zone words accessor for the zone of (nid, zid). @throws KernelError EINVAL if none. */
  zone(nid: number, zid: number): ZoneRef {
    const z = this.zones[nid * MAX_NR_ZONES + zid];
    if (!z) throw new KernelError('EINVAL', `no zone ${zid} on node ${nid}`);
    return z;
  }

  /** Adds to a per-CPU VM event counter. */
  countEvent(item: VmEventItem, delta = 1, nid = this.cpuToNode[this.cpuNr] ?? 0): void {
    this.countEventIdx(VM_EVENT[item], delta, nid);
  }

  /** countEvent by index, for hot paths. Each CPU writes only its own counters. @internal */
  countEventIdx(idx: number, delta: number, nid: number): void {
    const a = this.nodeArr[nid]!;
    const i = this.nodeBase[nid]! + this.cpuEvOff + idx;
    a[i] = (a[i]! + delta) | 0;
  }

  /** Sum of a VM event counter over CPUs and nodes. */
  eventCount(item: VmEventItem): number {
    let s = 0;
    for (let nid = 0; nid < this.nrNodes; nid++)
      for (let cpu = 0; cpu < this.nrCpus; cpu++)
        s += this.nodeArr[nid]![this.nodeBase[nid]! + cpuEventsBase(cpu) + VM_EVENT[item]]!;
    return s;
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

  /** Free pages sitting in isolated pageblocks (not counted in NR_FREE_PAGES). */
  isolatedFreePages(z: ZoneRef): number {
    let s = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++)
      s += z.a[z.b + Z_FREE_MT_NR + freeListIndex(o, MIGRATE_ISOLATE)]! << o;
    return s;
  }

  /** Total free pages (buddy + per-CPU) of all zones. */
  nrFreePages(): number {
    let s = 0;
    for (const z of this.zones)
      s += this.zoneFreePages(z) + this.zonePcpPages(z) + this.isolatedFreePages(z);
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

  /** A zone's watermark (WMARK_MIN/LOW/HIGH), in pages. */
  wmark(z: ZoneRef, which: number): number {
    return z.a[z.b + Z_WMARK + which]!;
  }
}
