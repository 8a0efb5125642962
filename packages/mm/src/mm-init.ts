/**
 * Booting memory: lay out nodes and sections, reserve what boot needs with memblock,
 * build the node and zone structures in physical memory, free everything else to the
 * buddy allocator and set the watermarks. And attaching another thread to it.
 *
 * @see mm/mm_init.c (free_area_init, memmap_init, memblock_free_all),
 *      mm/page_alloc.c (setup_per_zone_wmarks, setup_per_zone_lowmem_reserve, zone_batchsize)
 */

import {
  KernelError,
  formatMemSize,
  parseCmdline,
  parseCrashkernel,
  type CrashkernelSpec,
} from '@kern/core';
import { freeOneBlock, zoneLock, zoneUnlock } from './internal/buddy.js';
import { checkMemoryConfig, toBytes } from './internal/config.js';
import { reserveCrashkernel } from './internal/crash-reserve.js';
import { checkMemory } from './internal/value.js';
import {
  NODE_MAGIC,
  N_ID,
  N_MAGIC,
  N_NR_CPUS,
  N_PRESENT,
  N_SPANNED,
  N_START_PFN,
  PAGE_WORDS,
  PCP_BATCH,
  PCP_HIGH,
  P_FLAGS,
  SECTION_IS_ONLINE,
  SEC_STATE,
  SEC_ZONE,
  Z_LOWMEM_RESERVE,
  Z_MANAGED,
  Z_PRESENT,
  Z_SPANNED,
  Z_START_PFN,
  Z_WMARK,
  nodeDataWords,
  pcpBase,
} from './layout.js';
import { Memory, WMARK_HIGH, WMARK_LOW, WMARK_MIN } from './memory.js';
import { type MemoryHandle, type MmLog } from './memory-types.js';
import {
  MAX_NR_ZONES,
  MAX_NUMNODES,
  MAX_PAGE_ORDER,
  PAGE_SIZE,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
} from './mmzone.js';
import { Memblock } from './memblock.js';
import { checkMemoryBlockSize, setMemoryBlockSize } from './memory-block.js';
import { PG_reserved, ZONES_PGSHIFT } from './page-flags.js';
import { MEMMAP_WORD, type MemSection, checkSectionSize, createSection } from './sparse.js';

/** A size in bytes or as `memparse` reads it (`'64M'`). */
export type Size = number | string;

/** A boot-time reservation request. */
export interface ReserveRequest {
  /** What it is for (`'log_buf'`); shows in `memblock.reserved`. */
  name: string;
  size: Size;
  /** Alignment in bytes (default one page). */
  align?: number;
  /** Fixed physical address; otherwise found top-down. */
  base?: number;
  /** Node to place it on. */
  nid?: number;
}

/** How to build a machine's memory. */
export interface MemoryConfig {
  /** Memory of each NUMA node. Default: one node of `size`. */
  nodes?: Size[];
  /** Memory of a single-node machine (default 256M). */
  size?: Size;
  /** Section size: a power of two from 4M to 2G (default 128M, as on x86_64). */
  sectionSize?: Size;
  /**
   * Memory block size (`memory_block_size_bytes()`): a power-of-two multiple of the
   * section size (default one section, as x86_64 with less than 64 GiB).
   */
  memoryBlockSize?: Size;
  /** CPUs with per-CPU lists (default 1). */
  nrCpus?: number;
  /** CPU → node (default: CPUs spread over nodes in contiguous blocks). */
  cpuToNode?: number[];
  /** Node distances (default 10 local, 20 remote). */
  distances?: number[][];
  /** End of ZONE_DMA32 (default 4G). */
  dma32Limit?: Size;
  /**
   * Bytes at the top of memory for ZONE_MOVABLE (`movablecore=`), rounded up to whole
   * sections. As much as all of memory or more leaves no ZONE_MOVABLE (ignored, as
   * Linux's find_zone_movable_pfns_for_nodes ignores it), with a warning.
   */
  movablecore?: Size;
  /**
   * Bytes for the zones that are not ZONE_MOVABLE (`kernelcore=`), rounded up to whole
   * sections; the rest of memory is ZONE_MOVABLE. With `movablecore` too, the larger
   * kernel share wins, as in Linux. As much as all of memory or more is ignored.
   */
  kernelcore?: Size;
  /**
   * Use only this much memory (`mem=`). Memory comes in whole sections here, so the
   * limit is rounded down to a multiple of `sectionSize` (with a warning saying what
   * was used); below one section is EINVAL; `mem=0` is ignored with Linux's
   * "Malformed early option 'mem'".
   */
  mem?: Size;
  /** `crashkernel=` value or spec: reserves the capture kernel's region. */
  crashkernel?: string | CrashkernelSpec;
  /**
   * A boot command line; its `mem=`, `crashkernel=`, `movablecore=`, `kernelcore=` and
   * `nr_cpus=` apply (an option given here as well wins over the command line's).
   */
  cmdline?: string;
  /** Further boot reservations (the printk buffer, say). */
  reserve?: ReserveRequest[];
  /**
   * Allow worker threads to attach (default true). false builds a uniprocessor machine:
   * no lock words taken and no atomics, faster for single-threaded simulation.
   */
  smp?: boolean;
  /** Group allocations by migrate type (default true; false is the single-list baseline). */
  groupByMobility?: boolean;
  /** `vm.min_free_kbytes` (default computed as Linux does). */
  minFreeKbytes?: number;
  /**
   * Where warnings, `warn_alloc` and bad-page reports go. Default: stderr, in the
   * kernel log's format (`<4>text`, levels 0–4); `null` drops them.
   */
  log?: MmLog | null;
}

/** A booted machine's memory: the allocator, and the memblock record of boot reservations. */
export interface BootedMemory {
  mem: Memory;
  memblock: Memblock;
}

/**
 * Boots a machine's memory and returns its allocator.
 * @throws KernelError EINVAL for a malformed configuration (naming the option and the
 *   value with its type, or an unknown option), ENOMEM when the reservations do not fit.
 */
export function createMemory(config: MemoryConfig = {}): Memory {
  return bootMemory(config).mem;
}

/**
 * Like {@link createMemory}, also returning the memblock record (crash kernel region, etc.).
 * @throws KernelError as createMemory.
 */
export function bootMemory(config: MemoryConfig = {}): BootedMemory {
  config = checkMemoryConfig(config);
  const boot = config.cmdline ? parseCmdline(config.cmdline) : undefined;
  // What boot says before the log exists, printed once the Memory is made.
  const msgs: [level: number, text: string][] = [];
  const sectionBytes = toBytes('sectionSize', config.sectionSize ?? '128M');
  checkSectionSize(sectionBytes);
  const blockBytes =
    config.memoryBlockSize === undefined
      ? sectionBytes
      : toBytes('memoryBlockSize', config.memoryBlockSize);
  checkMemoryBlockSize(
    blockBytes,
    sectionBytes,
    `memoryBlockSize ${String(config.memoryBlockSize)} (${blockBytes} bytes)`,
  );
  let nodeSizes = (config.nodes ?? [config.size ?? '256M']).map((s, i) =>
    toBytes(config.nodes ? `nodes[${i}]` : 'size', s),
  );
  if (nodeSizes.length === 0 || nodeSizes.length > MAX_NUMNODES)
    throw new KernelError(
      'EINVAL',
      `${nodeSizes.length} nodes: a machine has 1 to ${MAX_NUMNODES}`,
    );
  nodeSizes.forEach((s, i) => {
    if (s === 0 || s % sectionBytes !== 0)
      throw new KernelError(
        'EINVAL',
        `node ${i} size ${s} is not a non-zero multiple of the section size ${sectionBytes} (sectionSize, default 128M)`,
      );
  });
  const memLimit = config.mem !== undefined ? toBytes('mem', config.mem) : boot?.mem;
  if (memLimit !== undefined) nodeSizes = limitMemory(nodeSizes, memLimit, sectionBytes, msgs);
  const nrNodes = nodeSizes.length;
  const nrCpus = config.nrCpus ?? boot?.nrCpus ?? 1;
  if (!Number.isInteger(nrCpus) || nrCpus < 1 || nrCpus > 4096)
    throw new KernelError('EINVAL', `nrCpus ${nrCpus} must be an integer from 1 to 4096`);
  const cpuToNode =
    config.cpuToNode ??
    Array.from({ length: nrCpus }, (_, c) =>
      Math.min(nrNodes - 1, Math.floor((c * nrNodes) / nrCpus)),
    );
  if (
    cpuToNode.length !== nrCpus ||
    cpuToNode.some((n) => !Number.isInteger(n) || n < 0 || n >= nrNodes)
  )
    throw new KernelError(
      'EINVAL',
      `cpuToNode [${cpuToNode.join(',')}] must give a node below ${nrNodes} for each of ${nrCpus} CPUs`,
    );
  const distances =
    config.distances ??
    Array.from({ length: nrNodes }, (_, a) =>
      Array.from({ length: nrNodes }, (_, b) => (a === b ? 10 : 20)),
    );
  if (
    distances.length !== nrNodes ||
    distances.some(
      (r, a) => r.length !== nrNodes || r[a] !== 10 || r.some((d) => !(d >= 10 && d <= 254)),
    )
  )
    throw new KernelError(
      'EINVAL',
      `distances must be a ${nrNodes}×${nrNodes} matrix with 10 on the diagonal and 10..254 elsewhere`,
    );
  const dma32Limit = toBytes('dma32Limit', config.dma32Limit ?? '4G');
  const movablecore =
    config.movablecore !== undefined
      ? toBytes('movablecore', config.movablecore)
      : (boot?.movablecore ?? 0);
  const kernelcore =
    config.kernelcore !== undefined
      ? toBytes('kernelcore', config.kernelcore)
      : (boot?.kernelcore ?? 0);

  // Sections, node by node, contiguous in physical address space.
  const sections: (MemSection | undefined)[] = [];
  const memblock = new Memblock();
  const nodeSections: MemSection[][] = [];
  let nextSec = 0;
  for (let nid = 0; nid < nrNodes; nid++) {
    const list: MemSection[] = [];
    for (let k = 0; k < nodeSizes[nid]! / sectionBytes; k++) {
      const sec = createSection(nextSec, sectionBytes, nid);
      sections[nextSec++] = sec;
      list.push(sec);
      memblock.add(sec.startPfn * PAGE_SIZE, sectionBytes, nid);
      memblock.reserve(sec.startPfn * PAGE_SIZE, sec.memmapPages * PAGE_SIZE, 'memmap');
    }
    nodeSections.push(list);
  }
  const totalBytes = memblock.totalSize;

  // Zones: DMA32 below the limit, MOVABLE for the top sections kernelcore/movablecore
  // leave to it, NORMAL between.
  const movableSections = new Set<number>();
  let movLeft = zoneMovableSections(sections.length, sectionBytes, kernelcore, movablecore, msgs);
  for (let s = sections.length - 1; s >= 0 && movLeft > 0; s--, movLeft--) movableSections.add(s);
  const sectionZone = (sec: MemSection): number =>
    movableSections.has(sec.nr)
      ? ZONE_MOVABLE
      : sec.startPfn * PAGE_SIZE < dma32Limit
        ? ZONE_DMA32
        : ZONE_NORMAL;

  // Boot reservations: node data on each node, the crash kernel, the caller's.
  const nodeDataBytes = Math.ceil((nodeDataWords(nrCpus) * 4) / PAGE_SIZE) * PAGE_SIZE;
  const nodeDataPaddr: number[] = [];
  for (let nid = 0; nid < nrNodes; nid++) {
    const at = memblock.alloc(nodeDataBytes, PAGE_SIZE, `node_data[${nid}]`, { nid });
    if (at === null)
      throw new KernelError('ENOMEM', `no room for node ${nid}'s data (${nodeDataBytes} bytes)`);
    nodeDataPaddr.push(at);
  }
  const ck = config.crashkernel ?? boot?.crashkernel;
  if (ck !== undefined)
    reserveCrashkernel(memblock, typeof ck === 'string' ? parseCrashkernel(ck) : ck, totalBytes);
  for (const req of config.reserve ?? []) {
    const size = Math.ceil(toBytes(`reserve ${req.name} size`, req.size) / PAGE_SIZE) * PAGE_SIZE;
    if (req.base !== undefined) memblock.reserve(req.base, size, req.name);
    else {
      const opts = req.nid === undefined ? {} : { nid: req.nid };
      if (memblock.alloc(size, req.align ?? PAGE_SIZE, req.name, opts) === null)
        throw new KernelError('ENOMEM', `cannot reserve ${size} bytes for ${req.name}`);
    }
  }

  const handle: MemoryHandle = {
    sections: sections.map((s) => s?.buffer ?? null),
    sectionBytes,
    nrCpus,
    nrNodes,
    nodeDataPaddr,
    distances,
    cpuToNode,
    groupByMobility: config.groupByMobility ?? true,
    smp: config.smp ?? true,
  };
  // Node headers.
  for (let nid = 0; nid < nrNodes; nid++) {
    const sec = sections[Math.floor(nodeDataPaddr[nid]! / sectionBytes)]!;
    const nb = (nodeDataPaddr[nid]! - sec.startPfn * PAGE_SIZE) >> 2;
    const a = sec.i32;
    const list = nodeSections[nid]!;
    a[nb + N_MAGIC] = NODE_MAGIC;
    a[nb + N_ID] = nid;
    a[nb + N_START_PFN] = list[0]!.startPfn;
    a[nb + N_SPANNED] = list.length * list[0]!.nrPages;
    a[nb + N_PRESENT] = list.length * list[0]!.nrPages;
    a[nb + N_NR_CPUS] = nrCpus;
  }
  const mem = new Memory(handle, sections);
  if (config.log !== undefined) mem.log = config.log;
  for (const [level, text] of msgs) mem.log?.printk(level, text);
  setMemoryBlockSize(mem, blockBytes);

  // Online every section into its zone and free what memblock did not reserve.
  for (let nid = 0; nid < nrNodes; nid++)
    for (const sec of nodeSections[nid]!)
      onlineSectionPages(mem, sec, sectionZone(sec), (paddr) => memblock.isReserved(paddr));

  setupPerZoneWmarks(mem, config.minFreeKbytes);
  return { mem, memblock };
}

/**
 * Applies `mem=`: keeps the first `limit` bytes of memory, node by node, dropping nodes
 * left empty. Linux removes what lies above the limit from the e820 map at byte
 * granularity; memory here comes in whole sections, so the limit is rounded down to
 * one, with a warning naming what was used. `mem=0` is refused as Linux's
 * `parse_memopt` refuses it, with do_early_param's warning, and ignored.
 * @throws KernelError EINVAL for a limit below one section (nothing to boot with).
 * @see arch/x86/kernel/e820.c: parse_memopt, init/main.c: do_early_param
 */
function limitMemory(
  nodeSizes: number[],
  limit: number,
  sectionBytes: number,
  msgs: [number, string][],
): number[] {
  if (limit === 0) {
    msgs.push([4, "Malformed early option 'mem'"]);
    return nodeSizes;
  }
  const total = nodeSizes.reduce((x, y) => x + y, 0);
  if (limit >= total) return nodeSizes;
  if (limit < sectionBytes)
    throw new KernelError(
      'EINVAL',
      `mem=${formatMemSize(limit)} is less than one memory section (${formatMemSize(sectionBytes)}): memory comes in whole sections here (sectionSize)`,
    );
  let left = Math.floor(limit / sectionBytes) * sectionBytes;
  if (left !== limit)
    msgs.push([
      4,
      `mem=${formatMemSize(limit)}: memory comes in ${formatMemSize(sectionBytes)} sections here; using ${formatMemSize(left)}`,
    ]);
  const kept = nodeSizes.map((s) => {
    const keep = Math.min(s, left);
    left -= keep;
    return keep;
  });
  while (kept.length > 1 && kept[kept.length - 1] === 0) kept.pop();
  return kept;
}

/**
 * How many of the top sections become ZONE_MOVABLE for `kernelcore=` and `movablecore=`
 * (bytes; 0 when not given), as `find_zone_movable_pfns_for_nodes` decides: movablecore
 * is rounded up (here to whole sections, Linux to MAX_ORDER blocks) and capped at all
 * of memory, the kernel keeps the larger of kernelcore and what movablecore leaves, and
 * a kernel share of nothing or of all memory means no ZONE_MOVABLE. Linux says nothing
 * when it ignores the option; here a warning says so.
 * @see mm/mm_init.c: find_zone_movable_pfns_for_nodes
 */
function zoneMovableSections(
  nrSections: number,
  sectionBytes: number,
  kernelcore: number,
  movablecore: number,
  msgs: [number, string][],
): number {
  if (!kernelcore && !movablecore) return 0;
  let requiredKernelcore = Math.ceil(kernelcore / sectionBytes);
  if (movablecore) {
    const movable = Math.min(nrSections, Math.ceil(movablecore / sectionBytes));
    requiredKernelcore = Math.max(requiredKernelcore, nrSections - movable);
  }
  if (requiredKernelcore > 0 && requiredKernelcore < nrSections)
    return nrSections - requiredKernelcore;
  const opt = movablecore
    ? `movablecore=${formatMemSize(movablecore)}`
    : `kernelcore=${formatMemSize(kernelcore)}`;
  msgs.push([
    4,
    `${opt}: in whole ${formatMemSize(sectionBytes)} sections that leaves ${requiredKernelcore ? 'no movable memory' : 'no memory for the kernel'} out of ${formatMemSize(nrSections * sectionBytes)}; ignored, no ZONE_MOVABLE`,
  ]);
  return 0;
}

/**
 * Puts a section's pages into a zone and frees every page `isReserved` does not claim to
 * the buddy allocator (`online_pages` / `memblock_free_all`). Used at boot and by hotplug.
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function onlineSectionPages(
  mem: Memory,
  sec: MemSection,
  zid: number,
  isReserved: (paddr: number) => boolean = () => false,
): number {
  checkMemory(mem, 'onlineSectionPages');
  const nid = sec.nid;
  const z = mem.zone(nid, zid);
  const a = sec.i32;
  // Grow the zone span.
  const za = z.a;
  const start = za[z.b + Z_START_PFN]!;
  const end = start + za[z.b + Z_SPANNED]!;
  const newStart = za[z.b + Z_SPANNED] ? Math.min(start, sec.startPfn) : sec.startPfn;
  const newEnd = Math.max(za[z.b + Z_SPANNED] ? end : 0, sec.startPfn + sec.nrPages);
  za[z.b + Z_START_PFN] = newStart;
  za[z.b + Z_SPANNED] = newEnd - newStart;
  za[z.b + Z_PRESENT]! += sec.nrPages;
  for (let i = 0; i < sec.nrPages; i++) {
    const w = MEMMAP_WORD + i * PAGE_WORDS + P_FLAGS;
    a[w] = (a[w]! & ~(3 << ZONES_PGSHIFT)) | (zid << ZONES_PGSHIFT);
  }
  a[SEC_ZONE] = zid;
  // Free runs of unreserved pages in the largest aligned blocks.
  let freed = 0;
  zoneLock(mem, z);
  let pfn = sec.startPfn + sec.memmapPages;
  const endPfn = sec.startPfn + sec.nrPages;
  while (pfn < endPfn) {
    if (isReserved(pfn * PAGE_SIZE)) {
      pfn++;
      continue;
    }
    let order = MAX_PAGE_ORDER;
    while (
      order > 0 &&
      (pfn & ((1 << order) - 1) ||
        pfn + (1 << order) > endPfn ||
        !runFree(pfn, 1 << order, isReserved))
    )
      order--;
    for (let p = pfn; p < pfn + (1 << order); p++) {
      const w = MEMMAP_WORD + (p - sec.startPfn) * PAGE_WORDS + P_FLAGS;
      a[w] = a[w]! & ~(1 << PG_reserved);
    }
    freeOneBlock(mem, z, pfn, order, mem.getPageblockMigratetype(pfn));
    freed += 1 << order;
    pfn += 1 << order;
  }
  za[z.b + Z_MANAGED]! += freed;
  zoneUnlock(mem, z);
  a[SEC_STATE] = a[SEC_STATE]! | SECTION_IS_ONLINE;
  mem.buildZonelists();
  return freed;
}

function runFree(pfn: number, n: number, isReserved: (paddr: number) => boolean): boolean {
  for (let p = pfn; p < pfn + n; p++) if (isReserved(p * PAGE_SIZE)) return false;
  return true;
}

/**
 * Sets min/low/high watermarks, lowmem reserves and per-CPU list sizes from managed
 * pages, as Linux does (`init_per_zone_wmark_min`, `__setup_per_zone_wmarks`,
 * `setup_per_zone_lowmem_reserve`, `zone_batchsize`).
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function setupPerZoneWmarks(mem: Memory, minFreeKbytes?: number): void {
  checkMemory(mem, 'setupPerZoneWmarks');
  let lowmem = 0;
  for (const z of mem.zones) if (z.zid !== ZONE_MOVABLE) lowmem += z.a[z.b + Z_MANAGED]!;
  const minKb =
    minFreeKbytes ?? Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmem * 4 * 16))));
  const pagesMin = minKb >> 2;
  for (const z of mem.zones) {
    const za = z.a;
    const managed = za[z.b + Z_MANAGED]!;
    let min: number;
    if (z.zid === ZONE_MOVABLE) min = Math.min(128, Math.max(32, managed >> 10));
    else min = lowmem ? Math.floor((pagesMin * managed) / lowmem) : 0;
    if (!managed) min = 0;
    const step = Math.max(min >> 2, Math.floor((managed * 10) / 10000));
    za[z.b + Z_WMARK + WMARK_MIN] = min;
    za[z.b + Z_WMARK + WMARK_LOW] = managed ? min + step : 0;
    za[z.b + Z_WMARK + WMARK_HIGH] = managed ? min + 2 * step : 0;
    // zone_batchsize()
    let batch = Math.min(managed >> 10, (1 << 20) / PAGE_SIZE) >> 2;
    if (batch < 1) batch = 1;
    batch = (1 << Math.floor(Math.log2(batch + (batch >> 1)))) - 1 || 1;
    const high = Math.max(4 * batch, 6 * batch);
    for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
      const pb = mem.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
      za[pb + PCP_BATCH] = batch;
      za[pb + PCP_HIGH] = high;
    }
  }
  // lowmem_reserve: pages a lower zone keeps back from allocations that could use a higher one.
  const ratio = [256, 32, 0];
  for (let nid = 0; nid < mem.nrNodes; nid++)
    for (let i = 0; i < MAX_NR_ZONES; i++) {
      const z = mem.zone(nid, i);
      let sum = 0;
      for (let j = 0; j < MAX_NR_ZONES; j++) {
        if (j > i) sum += mem.zone(nid, j).a[mem.zone(nid, j).b + Z_MANAGED]!;
        z.a[z.b + Z_LOWMEM_RESERVE + j] = j > i && ratio[i] ? Math.floor(sum / ratio[i]!) : 0;
      }
    }
}
