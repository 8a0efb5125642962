/**
 * Linux's /proc memory text interfaces: `/proc/buddyinfo`, `/proc/pagetypeinfo`,
 * `/proc/meminfo`, `/proc/vmstat` and `/proc/zoneinfo`, printed byte for byte in the
 * formats of current mainline Linux so existing scripts and habits work on them.
 *
 * Each function reads a `Memory` and returns the file's text; nothing is changed.
 * Lines or counters kern has no source for are left out rather than printed as a
 * made-up value; counters of features kern does not have (swap, CMA, watermark
 * boosting) print the 0 a Linux kernel without them would print.
 *
 * @see mm/vmstat.c, fs/proc/meminfo.c, mm/show_mem.c (si_mem_available)
 */

import { zoneLock, zoneUnlock } from './internal/buddy.js';
import {
  NR_BOUNCE,
  NR_MLOCK,
  NR_ZONE_ACTIVE_ANON,
  NR_ZONE_ACTIVE_FILE,
  NR_ZONE_INACTIVE_ANON,
  NR_ZONE_INACTIVE_FILE,
  NR_ZONE_STAT_ITEMS,
  NR_ZONE_UNEVICTABLE,
  NR_ZONE_WRITE_PENDING,
  SECTION_IS_ONLINE,
  Z_FREE_MT_NR,
  Z_FREE_NR,
  Z_LOWMEM_RESERVE,
  Z_MANAGED,
  Z_PRESENT,
  Z_SPANNED,
  Z_START_PFN,
  Z_VMSTAT,
  freeListIndex,
} from './layout.js';
import { WMARK_HIGH, WMARK_LOW, WMARK_MIN, type Memory, type ZoneRef } from './memory.js';
import {
  MAX_NR_ZONES,
  MIGRATE_ISOLATE,
  MIGRATE_TYPES,
  NR_PAGE_ORDERS,
  PAGE_SHIFT,
  migratetypeNames,
  pageblock_nr_pages,
  pageblock_order,
  zoneNames,
} from './mmzone.js';
import { nodeStatItems, vmEventItems, type NodeStatItem } from './vmstat-items.js';
import { checkMemory } from './internal/value.js';

// ---------------------------------------------------------------- helpers

/** C's `%<width>lu` / `%<width>s`: right-aligned in `width`, never truncated. */
const pad = (v: number | string, width: number): string => String(v).padStart(width);

/** `%8s` of a zone's name, as every per-zone line prints it. */
const zoneName8 = (z: ZoneRef): string => pad(zoneNames[z.zid]!, 8);

/** `populated_zone()`: the zone has present pages. */
function populatedZone(mem: Memory, z: ZoneRef): boolean {
  return mem.zoneWord(z, Z_PRESENT) > 0;
}

/** The zones of node `nid`, lowest first (`pgdat->node_zones`). */
function nodeZones(mem: Memory, nid: number): ZoneRef[] {
  const zones: ZoneRef[] = [];
  for (let zid = 0; zid < MAX_NR_ZONES; zid++) zones.push(mem.zone(nid, zid));
  return zones;
}

/**
 * Calls `print` for each zone of a node, under the zone lock, skipping unpopulated
 * zones when `assertPopulated` is set (`walk_zones_in_node`).
 */
function walkZonesInNode(
  mem: Memory,
  nid: number,
  assertPopulated: boolean,
  print: (z: ZoneRef) => string,
): string {
  let out = '';
  for (const z of nodeZones(mem, nid)) {
    if (assertPopulated && !populatedZone(mem, z)) continue;
    zoneLock(mem, z);
    try {
      out += print(z);
    } finally {
      zoneUnlock(mem, z);
    }
  }
  return out;
}

/** `node_state(nid, N_MEMORY)`: some zone of the node has memory. */
function nodeHasMemory(mem: Memory, nid: number): boolean {
  return nodeZones(mem, nid).some((z) => populatedZone(mem, z));
}

/** A counter as Linux reads it with CONFIG_SMP: a transiently negative sum reads as 0. */
const clamp0 = (x: number): number => (x < 0 ? 0 : x);

/** Names of the per-zone counters at Z_VMSTAT (`enum zone_stat_item`, kern's subset). */
const zoneVmstatNames: readonly string[] = (() => {
  const names: string[] = [];
  names[NR_ZONE_INACTIVE_ANON] = 'nr_zone_inactive_anon';
  names[NR_ZONE_ACTIVE_ANON] = 'nr_zone_active_anon';
  names[NR_ZONE_INACTIVE_FILE] = 'nr_zone_inactive_file';
  names[NR_ZONE_ACTIVE_FILE] = 'nr_zone_active_file';
  names[NR_ZONE_UNEVICTABLE] = 'nr_zone_unevictable';
  names[NR_ZONE_WRITE_PENDING] = 'nr_zone_write_pending';
  names[NR_MLOCK] = 'nr_mlock';
  names[NR_BOUNCE] = 'nr_bounce';
  return names;
})();

/** A per-zone counter (`zone_page_state`). */
function zonePageState(mem: Memory, z: ZoneRef, item: number): number {
  return clamp0(mem.zoneWord(z, Z_VMSTAT + item));
}

/** A per-zone counter summed over all zones (`global_zone_page_state`). */
function globalZonePageState(mem: Memory, item: number): number {
  return clamp0(mem.zones.reduce((s, z) => s + mem.zoneWord(z, Z_VMSTAT + item), 0));
}

/** A node counter summed over nodes (`global_node_page_state`). */
function globalNodePageState(mem: Memory, item: NodeStatItem): number {
  return clamp0(mem.nodeState(item));
}

/**
 * NR_FREE_PAGES_BLOCKS: free pages in blocks of at least a pageblock, isolated
 * pageblocks excluded, as `__add_to_free_list` counts them.
 */
function freePagesBlocks(mem: Memory, z: ZoneRef): number {
  let s = 0;
  for (let o = pageblock_order; o < NR_PAGE_ORDERS; o++)
    for (let mt = 0; mt < MIGRATE_TYPES; mt++)
      if (mt !== MIGRATE_ISOLATE)
        s += mem.zoneWord(z, Z_FREE_MT_NR + freeListIndex(o, mt)) * 2 ** o;
  return s;
}

/**
 * A zone's counters in `enum zone_stat_item` order, as /proc/zoneinfo and /proc/vmstat
 * name them: NR_FREE_PAGES, NR_FREE_PAGES_BLOCKS, kern's Z_VMSTAT words, and
 * NR_FREE_CMA_PAGES (0: kern has no CMA). nr_zspages and nr_unaccepted are config
 * options kern does not have.
 */
function zoneStatItems(mem: Memory, z: ZoneRef): [string, number][] {
  const items: [string, number][] = [
    ['nr_free_pages', clamp0(mem.zoneFreePages(z))],
    ['nr_free_pages_blocks', freePagesBlocks(mem, z)],
  ];
  for (let i = 0; i < NR_ZONE_STAT_ITEMS; i++)
    items.push([zoneVmstatNames[i]!, zonePageState(mem, z, i)]);
  items.push(['nr_free_cma', 0]);
  return items;
}

// ---------------------------------------------------------------- /proc/buddyinfo

/**
 * `/proc/buddyinfo`: for each populated zone, the number of free blocks of each order
 * on its buddy lists (`free_area[order].nr_free`, isolated pageblocks included, per-CPU
 * lists not).
 *
 * ```
 * Node 0, zone    DMA32      3      2      1 ...
 * ```
 * @see mm/vmstat.c: frag_show, frag_show_print
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function procBuddyinfo(mem: Memory): string {
  checkMemory(mem, 'procBuddyinfo');
  let out = '';
  for (let nid = 0; nid < mem.nrNodes; nid++)
    out += walkZonesInNode(mem, nid, true, (z) => {
      let line = `Node ${z.nid}, zone ${zoneName8(z)} `;
      for (let order = 0; order < NR_PAGE_ORDERS; order++)
        line += `${pad(mem.zoneWord(z, Z_FREE_NR + order), 6)} `;
      return `${line}\n`;
    });
  return out;
}

// ---------------------------------------------------------------- /proc/pagetypeinfo

/** Linux stops counting a free list at this length and prints `>100000`. */
const PAGETYPEINFO_FREECOUNT_CAP = 100000;

/**
 * Pageblocks of each migrate type among those whose first page is online and in `z`
 * (`pagetypeinfo_showblockcount_print`). Zone lock held.
 */
function zonePageblockCounts(mem: Memory, z: ZoneRef): number[] {
  const count = new Array<number>(MIGRATE_TYPES).fill(0);
  const start = mem.zoneWord(z, Z_START_PFN);
  const end = start + mem.zoneWord(z, Z_SPANNED);
  for (let pfn = start; pfn < end; pfn += pageblock_nr_pages) {
    // pfn_to_online_page(): the page's section is present and online.
    const sec = mem.sections[pfn >>> mem.sectionShift];
    if (!sec || !(sec.state & SECTION_IS_ONLINE)) continue;
    if (mem.pageZonenum(pfn) !== z.zid || mem.pageToNid(pfn) !== z.nid) continue;
    const mt = mem.getPageblockMigratetype(pfn);
    if (mt < MIGRATE_TYPES) count[mt]!++;
  }
  return count;
}

/**
 * `/proc/pagetypeinfo`: per node, the free block counts of each zone by migrate type
 * and order (`free_area[order].free_list[mt]` lengths), then the number of pageblocks
 * of each migrate type. Memoryless nodes print nothing, as in Linux; the
 * PAGE_OWNER-only "Number of mixed blocks" table is not printed.
 *
 * @see mm/vmstat.c: pagetypeinfo_show, pagetypeinfo_showfree_print, pagetypeinfo_showblockcount_print
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function procPagetypeinfo(mem: Memory): string {
  checkMemory(mem, 'procPagetypeinfo');
  let out = '';
  for (let nid = 0; nid < mem.nrNodes; nid++) {
    if (!nodeHasMemory(mem, nid)) continue;
    out += `Page block order: ${pageblock_order}\n`;
    out += `Pages per block:  ${pageblock_nr_pages}\n`;
    out += '\n';
    // pagetypeinfo_showfree
    out += `${'Free pages count per migrate type at order'.padEnd(43)} `;
    for (let order = 0; order < NR_PAGE_ORDERS; order++) out += `${pad(order, 6)} `;
    out += '\n';
    out += walkZonesInNode(mem, nid, true, (z) => {
      let lines = '';
      for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
        lines += `Node ${pad(z.nid, 4)}, zone ${zoneName8(z)}, type ${pad(migratetypeNames[mt]!, 12)} `;
        for (let order = 0; order < NR_PAGE_ORDERS; order++) {
          const n = mem.zoneWord(z, Z_FREE_MT_NR + freeListIndex(order, mt));
          lines +=
            n >= PAGETYPEINFO_FREECOUNT_CAP
              ? `>${pad(PAGETYPEINFO_FREECOUNT_CAP, 6)} `
              : `${pad(n, 6)} `;
        }
        lines += '\n';
      }
      return lines;
    });
    // pagetypeinfo_showblockcount
    out += `\n${'Number of blocks type '.padEnd(23)}`;
    for (let mt = 0; mt < MIGRATE_TYPES; mt++) out += `${pad(migratetypeNames[mt]!, 12)} `;
    out += '\n';
    out += walkZonesInNode(mem, nid, true, (z) => {
      let line = `Node ${z.nid}, zone ${zoneName8(z)} `;
      for (const n of zonePageblockCounts(mem, z)) line += `${pad(n, 12)} `;
      return `${line}\n`;
    });
  }
  return out;
}

// ---------------------------------------------------------------- /proc/meminfo

/**
 * `totalreserve_pages`: per zone, its largest lowmem reserve plus its high watermark,
 * capped at its managed pages, summed.
 * @see mm/page_alloc.c: calculate_totalreserve_pages
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function totalreservePages(mem: Memory): number {
  checkMemory(mem, 'totalreservePages');
  let reserve = 0;
  for (const z of mem.zones) {
    let max = 0;
    for (let j = z.zid; j < MAX_NR_ZONES; j++)
      max = Math.max(max, mem.zoneWord(z, Z_LOWMEM_RESERVE + j));
    max += mem.wmark(z, WMARK_HIGH);
    reserve += Math.min(max, mem.zoneWord(z, Z_MANAGED));
  }
  return reserve;
}

/**
 * Linux's estimate of the memory available for new allocations without swapping:
 * free pages above the reserves, plus the page cache and reclaimable slab that could be
 * freed, keeping back half of each or the low watermarks, whichever is smaller. In pages.
 * @see mm/show_mem.c: si_mem_available
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function siMemAvailable(mem: Memory): number {
  checkMemory(mem, 'siMemAvailable');
  let wmarkLow = 0;
  for (const z of mem.zones) wmarkLow += mem.wmark(z, WMARK_LOW);
  let available = nrFreePagesGlobal(mem) - totalreservePages(mem);
  let pagecache =
    globalNodePageState(mem, 'nr_active_file') + globalNodePageState(mem, 'nr_inactive_file');
  pagecache -= Math.min(Math.floor(pagecache / 2), wmarkLow);
  available += pagecache;
  // NR_SLAB_RECLAIMABLE_B + NR_KERNEL_MISC_RECLAIMABLE (kern has no other reclaimable kernel memory).
  let reclaimable = globalNodePageState(mem, 'nr_slab_reclaimable');
  reclaimable -= Math.min(Math.floor(reclaimable / 2), wmarkLow);
  available += reclaimable;
  return available < 0 ? 0 : available;
}

/** `global_zone_page_state(NR_FREE_PAGES)`: buddy free pages, not per-CPU lists or isolated pageblocks. */
function nrFreePagesGlobal(mem: Memory): number {
  return clamp0(mem.zones.reduce((s, z) => s + mem.zoneFreePages(z), 0));
}

/**
 * `/proc/meminfo`, each line as `show_val_kb` prints it: the label padded to 16
 * columns, the value in kB right-aligned in 8, then ` kB`.
 *
 * MemFree is NR_FREE_PAGES, as in Linux: pages on per-CPU lists and in isolated
 * pageblocks are not counted (so MemFree is less than `mem.nrFreePages()`). Cached is
 * NR_FILE_PAGES less swap cache and buffers, both 0 here (shmem stays in Cached, as in
 * Linux). Lines whose value kern does not track (KernelStack, CommitLimit,
 * Committed_AS, Vmalloc*, Percpu) are left out; lines for features kern lacks (swap,
 * buffers, NFS unstable, FUSE writeback, secondary page tables, balloon) print 0; lines
 * behind config options kern does not have (HIGHMEM, ZSWAP, THP, CMA, hugetlb) are
 * absent, as in a kernel built without them.
 *
 * @see fs/proc/meminfo.c: meminfo_proc_show, show_val_kb
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function procMeminfo(mem: Memory): string {
  checkMemory(mem, 'procMeminfo');
  const node = (item: NodeStatItem): number => globalNodePageState(mem, item);
  const activeAnon = node('nr_active_anon');
  const inactiveAnon = node('nr_inactive_anon');
  const activeFile = node('nr_active_file');
  const inactiveFile = node('nr_inactive_file');
  const sreclaimable = node('nr_slab_reclaimable');
  const sunreclaim = node('nr_slab_unreclaimable');
  const bufferram = 0;
  const swapcache = 0;
  const cached = Math.max(0, node('nr_file_pages') - swapcache - bufferram);
  const rows: [string, number][] = [
    ['MemTotal:', mem.totalManagedPages()],
    ['MemFree:', nrFreePagesGlobal(mem)],
    ['MemAvailable:', siMemAvailable(mem)],
    ['Buffers:', bufferram],
    ['Cached:', cached],
    ['SwapCached:', swapcache],
    ['Active:', activeAnon + activeFile],
    ['Inactive:', inactiveAnon + inactiveFile],
    ['Active(anon):', activeAnon],
    ['Inactive(anon):', inactiveAnon],
    ['Active(file):', activeFile],
    ['Inactive(file):', inactiveFile],
    ['Unevictable:', node('nr_unevictable')],
    ['Mlocked:', globalZonePageState(mem, NR_MLOCK)],
    ['SwapTotal:', 0],
    ['SwapFree:', 0],
    ['Dirty:', node('nr_dirty')],
    ['Writeback:', node('nr_writeback')],
    ['AnonPages:', node('nr_anon_pages')],
    ['Mapped:', node('nr_mapped')],
    ['Shmem:', node('nr_shmem')],
    // + NR_KERNEL_MISC_RECLAIMABLE, which kern does not have.
    ['KReclaimable:', sreclaimable],
    ['Slab:', sreclaimable + sunreclaim],
    ['SReclaimable:', sreclaimable],
    ['SUnreclaim:', sunreclaim],
    ['PageTables:', node('nr_page_table_pages')],
    ['SecPageTables:', 0],
    ['NFS_Unstable:', 0],
    ['Bounce:', globalZonePageState(mem, NR_BOUNCE)],
    ['WritebackTmp:', 0],
    ['Balloon:', 0],
  ];
  let out = '';
  for (const [label, pages] of rows) out += showValKb(label, pages);
  return out;
}

/** One meminfo line: `seq_put_decimal_ull_width(m, s, PG2KB(num), 8)` then ` kB\n`. */
function showValKb(label: string, pages: number): string {
  return `${label.padEnd(16)}${pad(pages * 2 ** (PAGE_SHIFT - 10), 8)} kB\n`;
}

// ---------------------------------------------------------------- /proc/vmstat

/**
 * `/proc/vmstat`: one `name value` line per counter, in Linux's order: the zone
 * counters summed over zones, the node counters summed over nodes, then the VM events
 * summed over CPUs, and the deprecated `nr_unstable 0` Linux still prints last. NUMA
 * events (numa_hit...), the dirty thresholds and memmap counts are not printed: kern
 * does not count them. pgpgin and pgpgout are kept in 512-byte sectors, as Linux counts
 * them, and printed in kB (halved), as Linux prints them. Events kern adds beyond Linux's
 * list (pcp_refill...) follow `vmEventItems` order.
 *
 * @see mm/vmstat.c: vmstat_start, vmstat_show, vmstat_text
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function procVmstat(mem: Memory): string {
  checkMemory(mem, 'procVmstat');
  const zoneTotals = new Map<string, number>();
  for (const z of mem.zones)
    for (const [name, v] of zoneStatItems(mem, z))
      zoneTotals.set(name, (zoneTotals.get(name) ?? 0) + v);
  let out = '';
  for (const [name, v] of zoneTotals) out += `${name} ${v}\n`;
  for (const item of nodeStatItems) out += `${item} ${globalNodePageState(mem, item)}\n`;
  for (const item of vmEventItems) {
    let v = mem.eventCount(item);
    if (item === 'pgpgin' || item === 'pgpgout') v = Math.floor(v / 2); // sectors -> kbytes
    out += `${item} ${v}\n`;
  }
  out += 'nr_unstable 0\n';
  return out;
}

// ---------------------------------------------------------------- /proc/zoneinfo

/** `is_zone_first_populated()`: `z` is the lowest populated zone of its node. */
function isZoneFirstPopulated(mem: Memory, z: ZoneRef): boolean {
  for (const c of nodeZones(mem, z.nid)) if (populatedZone(mem, c)) return c.zid === z.zid;
  return false;
}

/**
 * `/proc/zoneinfo`: every zone of every node, populated or not. The first populated
 * zone of a node carries the node's counters (`per-node stats`). Each zone shows its
 * free pages, watermarks (`promo` is high plus the low–high step, as
 * `__setup_per_zone_wmarks` sets WMARK_PROMO; `boost` and `cma` are 0: kern has neither),
 * sizes and lowmem reserves (`protection`); a populated zone then shows its counters and
 * each CPU's per-CPU list (`high_min` = `high_max` = `high`: kern does not tune `high`;
 * `vm stats threshold` 0: kern's counters are exact, never batched per CPU), and
 * `node_unreclaimable` 0 (kswapd failures are not counted). NUMA events are not printed.
 *
 * @see mm/vmstat.c: zoneinfo_show, zoneinfo_show_print
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function procZoneinfo(mem: Memory): string {
  checkMemory(mem, 'procZoneinfo');
  let out = '';
  for (let nid = 0; nid < mem.nrNodes; nid++)
    out += walkZonesInNode(mem, nid, false, (z) => {
      let s = `Node ${z.nid}, zone ${zoneName8(z)}`;
      if (isZoneFirstPopulated(mem, z)) {
        s += '\n  per-node stats';
        for (const item of nodeStatItems)
          s += `\n      ${item.padEnd(12)} ${clamp0(mem.nodeState(item, z.nid))}`;
      }
      const min = mem.wmark(z, WMARK_MIN);
      const low = mem.wmark(z, WMARK_LOW);
      const high = mem.wmark(z, WMARK_HIGH);
      s +=
        `\n  pages free     ${clamp0(mem.zoneFreePages(z))}` +
        `\n        boost    0` +
        `\n        min      ${min}` +
        `\n        low      ${low}` +
        `\n        high     ${high}` +
        `\n        promo    ${high + (high - low)}` +
        `\n        spanned  ${mem.zoneWord(z, Z_SPANNED)}` +
        `\n        present  ${mem.zoneWord(z, Z_PRESENT)}` +
        `\n        managed  ${mem.zoneWord(z, Z_MANAGED)}` +
        `\n        cma      0`;
      const reserve: number[] = [];
      for (let i = 0; i < MAX_NR_ZONES; i++) reserve.push(mem.zoneWord(z, Z_LOWMEM_RESERVE + i));
      s += `\n        protection: (${reserve.join(', ')})`;
      if (!populatedZone(mem, z)) return `${s}\n`;
      for (const [name, v] of zoneStatItems(mem, z)) s += `\n      ${name.padEnd(12)} ${v}`;
      s += '\n  pagesets';
      for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
        const pcp = mem.pcpInfo(cpu, z);
        s +=
          `\n    cpu: ${cpu}` +
          `\n              count:    ${pcp.count}` +
          `\n              high:     ${pcp.high}` +
          `\n              batch:    ${pcp.batch}` +
          `\n              high_min: ${pcp.high}` +
          `\n              high_max: ${pcp.high}` +
          `\n  vm stats threshold: 0`;
      }
      s +=
        `\n  node_unreclaimable:  0` + `\n  start_pfn:           ${mem.zoneWord(z, Z_START_PFN)}`;
      return `${s}\n`;
    });
  return out;
}
