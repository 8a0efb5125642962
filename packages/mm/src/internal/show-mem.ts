/**
 * What the allocator prints about memory when an allocation fails: `warn_alloc()`'s
 * line and `show_free_areas()`'s per-zone summary, in Linux's exact formats.
 *
 * @see mm/page_alloc.c: warn_alloc, mm/show_mem.c: show_free_areas
 */

import { formatGfp } from '../gfp.js';
import {
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_UNEVICTABLE,
  N_LRU_HEAD,
  NR_LRU_LISTS,
  P_FLAGS,
  P_NEXT,
  PCP_COUNT,
  WMARK_HIGH,
  WMARK_LOW,
  WMARK_MIN,
  Z_FREE_MT_NR,
  Z_FREE_NR,
  Z_LOWMEM_RESERVE,
  Z_MANAGED,
  Z_NR_RESERVED_HIGHATOMIC,
  Z_PRESENT,
  freeListIndex,
} from '../layout.js';
import type { Memory } from '../memory.js';
import { MAX_NR_ZONES, MAX_PAGE_ORDER, MIGRATE_TYPES, zoneNames, type ZoneRef } from '../mmzone.js';
import { PG_dirty, PG_writeback, ZONES_PGSHIFT } from '../page-flags.js';
import { MEMMAP_WORD } from '../sparse.js';

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

/** Prints an allocation failure as `warn_alloc()` does, with the free-area summary of `show_mem()`. */
export function warnAlloc(
  mem: Memory,
  gfp: number,
  order: number,
  nodemask: readonly number[] | undefined,
): void {
  const log = mem.log;
  if (!log) return;
  log.printk(
    4,
    `${mem.comm()}: page allocation failure: order:${order}, mode:${formatGfp(gfp)}, nodemask=${nodemask ? bitmapList(nodemask) : '(null)'},cpuset=/,mems_allowed=${bitmapList([...Array(mem.nrNodes).keys()])}`,
  );
  log.printk(4, 'Mem-Info:');
  for (const line of showFreeAreas(mem)) log.printk(4, line);
}

/**
 * A zone's pages on each LRU list (Linux order: inactive/active anon, inactive/active
 * file, unevictable) and its dirty or writeback file pages (NR_ZONE_WRITE_PENDING),
 * counted by walking the node's LRU lists: the LRU counters here are per node.
 */
function zoneLruCounts(mem: Memory, z: ZoneRef): { lru: number[]; writePending: number } {
  const lru = [0, 0, 0, 0, 0];
  let writePending = 0;
  const na = mem.nodeArr[z.nid]!;
  const nb = mem.nodeBase[z.nid]!;
  for (let l = 0; l < NR_LRU_LISTS; l++) {
    for (let h = na[nb + N_LRU_HEAD + l]!, guard = 0; h && guard < 1 << 30; guard++) {
      const pfn = h - 1;
      const a = mem.secI32[pfn >>> mem.sectionShift];
      if (!a) break;
      const i = MEMMAP_WORD + ((pfn & mem.sectionMask) << 3);
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
export function showFreeAreas(mem: Memory): string[] {
  const lines: string[] = [];
  const letters = ['U', 'M', 'E', 'H', 'I'];
  for (const z of mem.zones) {
    const za = z.a;
    if (!za[z.b + Z_PRESENT]) continue;
    const k = (p: number): string => `${p * 4}kB`;
    const { lru, writePending } = zoneLruCounts(mem, z);
    const localPcp = za[z.pcp + PCP_COUNT]!;
    lines.push(
      `Node ${z.nid} ${zoneNames[z.zid]} free:${k(mem.zoneFreePages(z))} boost:0kB min:${k(mem.wmark(z, WMARK_MIN))} low:${k(mem.wmark(z, WMARK_LOW))} high:${k(mem.wmark(z, WMARK_HIGH))} reserved_highatomic:${za[z.b + Z_NR_RESERVED_HIGHATOMIC]! * 4}KB active_anon:${k(lru[LRU_ACTIVE_ANON]!)} inactive_anon:${k(lru[LRU_INACTIVE_ANON]!)} active_file:${k(lru[LRU_ACTIVE_FILE]!)} inactive_file:${k(lru[LRU_INACTIVE_FILE]!)} unevictable:${k(lru[LRU_UNEVICTABLE]!)} writepending:${k(writePending)} present:${k(za[z.b + Z_PRESENT]!)} managed:${k(za[z.b + Z_MANAGED]!)} mlocked:0kB bounce:0kB free_pcp:${k(mem.zonePcpPages(z))} local_pcp:${k(localPcp)} free_cma:0kB`,
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
