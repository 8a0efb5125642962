import { describe, expect, it } from 'vitest';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_NOWARN } from '../src/gfp.js';
import { moveFreepagesBlock, setPageblockMigratetype } from '../src/internal/buddy.js';
import * as layout from '../src/layout.js';
import type { Memory, ZoneRef } from '../src/memory.js';
import { WMARK_HIGH, WMARK_LOW, WMARK_MIN } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import {
  MAX_NR_ZONES,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_TYPES,
  NR_PAGE_ORDERS,
  migratetypeNames,
  pageblock_nr_pages,
  pageblock_order,
  zoneNames,
} from '../src/mmzone.js';
import { PG_buddy } from '../src/page-flags.js';
import {
  procBuddyinfo,
  procMeminfo,
  procPagetypeinfo,
  procVmstat,
  procZoneinfo,
} from '../src/proc.js';
import { nodeStatItems, vmEventItems } from '../src/vmstat-items.js';

/**
 * The subset of C's printf these files use (`%d %i %u %lu %ld %s`, a `-` flag and a
 * width), so the goldens below are built from Linux's format strings verbatim.
 */
function cfmt(fmt: string, ...args: (string | number)[]): string {
  let i = 0;
  return fmt.replace(/%(-?)(\d*)l?([dius%])/g, (_m, left: string, width: string, conv: string) => {
    if (conv === '%') return '%';
    if (i >= args.length) throw new Error(`cfmt: too few arguments for ${fmt}`);
    const v = String(args[i++]);
    const w = width ? Number(width) : 0;
    return left ? v.padEnd(w) : v.padStart(w);
  });
}

const small = (): Memory => createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });
const numa = (): Memory =>
  createMemory({ nodes: ['32M', '32M'], sectionSize: '16M', nrCpus: 2, movablecore: '16M' });

const word = (mem: Memory, z: ZoneRef, w: number): number => mem.zoneWord(z, w);
const populated = (mem: Memory, z: ZoneRef): boolean => word(mem, z, layout.Z_PRESENT) > 0;
const pcpPages = (mem: Memory): number => mem.zones.reduce((s, z) => s + mem.zonePcpPages(z), 0);
const buddyFree = (mem: Memory): number => mem.zones.reduce((s, z) => s + mem.zoneFreePages(z), 0);

/** Pages on the buddy lists according to /proc/buddyinfo. */
function buddyinfoPages(text: string): number {
  let pages = 0;
  for (const line of text.trimEnd().split('\n')) {
    const counts = line
      .replace(/^Node \d+, zone +\S+ /, '')
      .trim()
      .split(/ +/)
      .map(Number);
    counts.forEach((n, order) => (pages += n * 2 ** order));
  }
  return pages;
}

/** /proc/meminfo as label → kB. */
function meminfo(mem: Memory): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of procMeminfo(mem).trimEnd().split('\n')) {
    const r = /^(\S+):\s+(\d+) kB$/.exec(line);
    if (!r) throw new Error(`bad meminfo line ${JSON.stringify(line)}`);
    m.set(r[1]!, Number(r[2]));
  }
  return m;
}

/** /proc/vmstat as name → value. */
function vmstat(mem: Memory): Map<string, number> {
  return new Map(
    procVmstat(mem)
      .trimEnd()
      .split('\n')
      .map((l) => {
        const [k, v] = l.split(' ');
        return [k!, Number(v)] as const;
      }),
  );
}

/** Linux's `enum zone_stat_item` names, kern's subset, in vmstat_text order. */
// prettier-ignore
const zoneStatNames = [
  'nr_free_pages', 'nr_free_pages_blocks', 'nr_zone_inactive_anon', 'nr_zone_active_anon',
  'nr_zone_inactive_file', 'nr_zone_active_file', 'nr_zone_unevictable', 'nr_zone_write_pending',
  'nr_mlock', 'nr_bounce', 'nr_free_cma',
];

/** A zone counter read straight from the zone's words. */
function zoneStat(mem: Memory, z: ZoneRef, name: string): number {
  if (name === 'nr_free_pages') return mem.zoneFreePages(z);
  if (name === 'nr_free_cma') return 0;
  if (name === 'nr_free_pages_blocks') {
    let blocks = 0;
    for (let o = pageblock_order; o < NR_PAGE_ORDERS; o++)
      for (let mt = 0; mt < MIGRATE_TYPES; mt++)
        if (mt !== MIGRATE_ISOLATE)
          blocks += word(mem, z, layout.Z_FREE_MT_NR + layout.freeListIndex(o, mt)) << o;
    return blocks;
  }
  const idx = zoneStatNames.indexOf(name) - 2;
  if (idx < 0 || idx >= layout.NR_ZONE_STAT_ITEMS) throw new Error(`no zone counter ${name}`);
  return word(mem, z, layout.Z_VMSTAT + idx);
}

/** A free order-`order` buddy block in `z` (first PFN), or -1. */
function findFreeBlock(mem: Memory, z: ZoneRef, order: number): number {
  const start = word(mem, z, layout.Z_START_PFN);
  for (let pfn = start; pfn < start + word(mem, z, layout.Z_SPANNED); pfn += 2 ** order)
    if (mem.testPageFlag(pfn, PG_buddy) && mem.pageField(pfn, layout.P_PRIVATE) === order)
      return pfn;
  return -1;
}

describe('cfmt (the golden generator)', () => {
  it('formats as C printf does', () => {
    expect(cfmt('%8s|%-12s|%6lu |%ld', 'DMA32', 'nr_mapped', 42, -3)).toBe(
      '   DMA32|nr_mapped   |    42 |-3',
    );
    expect(cfmt('%-43s ', 'Free pages count per migrate type at order')).toBe(
      'Free pages count per migrate type at order  ',
    );
    // Never truncates, as C does not.
    expect(cfmt('%-12s %lu', 'nr_inactive_anon', 7)).toBe('nr_inactive_anon 7');
  });
});

describe('procBuddyinfo', () => {
  it('prints each populated zone with frag_show_print formats, trailing space included', () => {
    const mem = small();
    const text = procBuddyinfo(mem);
    let golden = '';
    for (const z of mem.zones) {
      if (!populated(mem, z)) continue;
      golden += cfmt('Node %d, zone %8s ', z.nid, zoneNames[z.zid]!);
      for (let order = 0; order < NR_PAGE_ORDERS; order++)
        golden += cfmt('%6lu ', word(mem, z, layout.Z_FREE_NR + order));
      golden += '\n';
    }
    expect(text).toBe(golden);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Node 0, zone {4}DMA32( +\d+){11} $/);
    // Negative control: the same line without Linux's trailing space does not pass.
    expect(lines[0]!.trimEnd()).not.toMatch(/^Node 0, zone {4}DMA32( +\d+){11} $/);
  });

  it('counts the buddy lists: all free pages but those on per-CPU lists', () => {
    const mem = small();
    for (let i = 0; i < 10; i++) mem.allocPages(GFP_KERNEL, 0);
    expect(pcpPages(mem)).toBeGreaterThan(0);
    expect(buddyinfoPages(procBuddyinfo(mem))).toBe(mem.nrFreePages() - pcpPages(mem));
  });

  it('follows an allocation and its free', () => {
    const mem = small();
    const before = procBuddyinfo(mem);
    const pfn = mem.allocPages(GFP_HIGHUSER_MOVABLE, 5);
    expect(pfn).not.toBeNull();
    const during = procBuddyinfo(mem);
    expect(buddyinfoPages(during)).toBe(buddyinfoPages(before) - 32);
    expect(during).not.toBe(before);
    mem.freePages(pfn!, 5);
    // The block merges back with its buddies: the same lists as before.
    expect(procBuddyinfo(mem)).toBe(before);
  });

  it('lists zones by node and skips empty ones', () => {
    const mem = numa();
    const heads = procBuddyinfo(mem)
      .trimEnd()
      .split('\n')
      .map((l) => /^Node \d+, zone +\S+/.exec(l)?.[0]);
    expect(heads).toEqual([
      'Node 0, zone    DMA32',
      'Node 1, zone    DMA32',
      'Node 1, zone  Movable',
    ]);
  });
});

describe('procPagetypeinfo', () => {
  const header =
    'Page block order: 9\n' +
    'Pages per block:  512\n' +
    '\n' +
    'Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 \n';
  const blockHeader =
    '\nNumber of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate \n';

  /** pagetypeinfo_show built from Linux's format strings. */
  function golden(mem: Memory): string {
    let out = '';
    for (let nid = 0; nid < mem.nrNodes; nid++) {
      const zones = mem.zones.filter((z) => z.nid === nid && populated(mem, z));
      if (zones.length === 0) continue;
      out += cfmt('Page block order: %d\n', pageblock_order);
      out += cfmt('Pages per block:  %lu\n', pageblock_nr_pages);
      out += '\n';
      out += cfmt('%-43s ', 'Free pages count per migrate type at order');
      for (let order = 0; order < NR_PAGE_ORDERS; order++) out += cfmt('%6d ', order);
      out += '\n';
      for (const z of zones)
        for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
          out += cfmt(
            'Node %4d, zone %8s, type %12s ',
            nid,
            zoneNames[z.zid]!,
            migratetypeNames[mt]!,
          );
          for (let order = 0; order < NR_PAGE_ORDERS; order++)
            out += cfmt(
              '%6lu ',
              word(mem, z, layout.Z_FREE_MT_NR + layout.freeListIndex(order, mt)),
            );
          out += '\n';
        }
      out += cfmt('\n%-23s', 'Number of blocks type ');
      for (let mt = 0; mt < MIGRATE_TYPES; mt++) out += cfmt('%12s ', migratetypeNames[mt]!);
      out += '\n';
      for (const z of zones) {
        // Independent count: every pageblock of every section, by the zone of its first page.
        const count = new Array<number>(MIGRATE_TYPES).fill(0);
        for (const sec of mem.sections) {
          if (!sec) continue;
          for (let pb = 0; pb < sec.usemap.length; pb++) {
            const pfn = sec.startPfn + pb * pageblock_nr_pages;
            if (mem.pageZonenum(pfn) === z.zid && mem.pageToNid(pfn) === nid)
              count[mem.getPageblockMigratetype(pfn)]!++;
          }
        }
        out += cfmt('Node %d, zone %8s ', nid, zoneNames[z.zid]!);
        for (const n of count) out += cfmt('%12lu ', n);
        out += '\n';
      }
    }
    return out;
  }

  /** Block counts per zone from the "Number of blocks type" table. */
  function blockCounts(text: string): Map<string, number[]> {
    const m = new Map<string, number[]>();
    for (const line of text.split('\n')) {
      const r = /^(Node \d+, zone +\S+) ((?: +\d+ ){5})$/.exec(line);
      if (r) m.set(r[1]!, r[2]!.trim().split(/ +/).map(Number));
    }
    return m;
  }

  it('matches pagetypeinfo_show on one node', () => {
    const mem = small();
    const text = procPagetypeinfo(mem);
    expect(text.startsWith(header)).toBe(true);
    expect(text).toContain(blockHeader);
    expect(text).toBe(golden(mem));
    expect(text).toMatch(/^Node {4}0, zone {4}DMA32, type {4}Unmovable( +\d+){11} $/m);
    expect(text).toMatch(/^Node {4}0, zone {4}DMA32, type {6}Isolate( +\d+){11} $/m);
  });

  it('repeats the whole report per node, as Linux does', () => {
    const mem = numa();
    const text = procPagetypeinfo(mem);
    expect(text).toBe(golden(mem));
    expect(text.split('Page block order: 9\n')).toHaveLength(3);
    expect(text.split(blockHeader)).toHaveLength(3);
    expect(text).toMatch(/^Node {4}1, zone {2}Movable, type {6}Movable( +\d+){11} $/m);
  });

  it('free counts by type add up to buddyinfo', () => {
    const mem = small();
    mem.allocPages(GFP_KERNEL, 2);
    const sums = new Array<number>(NR_PAGE_ORDERS).fill(0);
    for (const line of procPagetypeinfo(mem).split('\n')) {
      const r = /^Node +0, zone +DMA32, type +\S+ ((?: +\d+ ){11})$/.exec(line);
      if (r)
        r[1]!
          .trim()
          .split(/ +/)
          .forEach((n, o) => (sums[o]! += Number(n)));
    }
    const buddy = procBuddyinfo(mem)
      .replace(/^Node 0, zone +DMA32 /, '')
      .trim()
      .split(/ +/)
      .map(Number);
    expect(sums).toEqual(buddy);
  });

  it('counts every pageblock of each zone once', () => {
    for (const mem of [small(), numa()]) {
      const counts = blockCounts(procPagetypeinfo(mem));
      for (const z of mem.zones) {
        if (!populated(mem, z)) continue;
        const row = counts.get(cfmt('Node %d, zone %8s', z.nid, zoneNames[z.zid]!));
        expect(row).toBeDefined();
        expect(row!.reduce((s, n) => s + n, 0)).toBe(
          word(mem, z, layout.Z_SPANNED) / pageblock_nr_pages,
        );
      }
    }
  });

  it('shows a pageblock stolen for unmovable memory', () => {
    const mem = small();
    const key = 'Node 0, zone    DMA32';
    const before = blockCounts(procPagetypeinfo(mem)).get(key)!;
    expect(before[0]).toBe(0);
    const pfn = mem.allocPages(GFP_KERNEL, pageblock_order);
    expect(pfn).not.toBeNull();
    const after = blockCounts(procPagetypeinfo(mem)).get(key)!;
    expect(after[0]).toBeGreaterThanOrEqual(1);
    expect(after[MIGRATE_MOVABLE]).toBe(before[MIGRATE_MOVABLE]! - after[0]!);
  });

  it('shows an isolated pageblock, whose free pages buddyinfo keeps and MemFree and nr_free_pages_blocks drop', () => {
    const mem = small();
    const z = mem.zone(0, 0);
    const pfn = findFreeBlock(mem, z, pageblock_order);
    expect(pfn).toBeGreaterThanOrEqual(0);
    const buddy = procBuddyinfo(mem);
    const memFree = meminfo(mem).get('MemFree')!;
    const pagetypes = procPagetypeinfo(mem);
    const blocksFree = vmstat(mem).get('nr_free_pages_blocks')!;
    setPageblockMigratetype(mem, pfn, MIGRATE_ISOLATE);
    moveFreepagesBlock(mem, z, pfn, MIGRATE_ISOLATE);
    const text = procPagetypeinfo(mem);
    const iso = /^Node {4}0, zone {4}DMA32, type {6}Isolate ((?: +\d+ ){11})$/m
      .exec(text)![1]!
      .trim()
      .split(/ +/);
    expect(iso[pageblock_order]).toBe('1');
    expect(blockCounts(text).get('Node 0, zone    DMA32')![MIGRATE_ISOLATE]).toBe(1);
    expect(procBuddyinfo(mem)).toBe(buddy);
    expect(meminfo(mem).get('MemFree')).toBe(memFree - pageblock_nr_pages * 4);
    expect(vmstat(mem).get('nr_free_pages_blocks')).toBe(blocksFree - pageblock_nr_pages);
    // And back.
    setPageblockMigratetype(mem, pfn, MIGRATE_MOVABLE);
    moveFreepagesBlock(mem, z, pfn, MIGRATE_MOVABLE);
    expect(procPagetypeinfo(mem)).toBe(pagetypes);
  });
});

describe('procMeminfo', () => {
  // prettier-ignore
  const labels = [
    'MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached', 'SwapCached', 'Active', 'Inactive',
    'Active(anon)', 'Inactive(anon)', 'Active(file)', 'Inactive(file)', 'Unevictable', 'Mlocked',
    'SwapTotal', 'SwapFree', 'Dirty', 'Writeback', 'AnonPages', 'Mapped', 'Shmem', 'KReclaimable',
    'Slab', 'SReclaimable', 'SUnreclaim', 'PageTables', 'SecPageTables', 'NFS_Unstable', 'Bounce',
    'WritebackTmp', 'Balloon',
  ];

  it('prints show_val_kb lines in meminfo_proc_show order', () => {
    const mem = small();
    const lines = procMeminfo(mem).trimEnd().split('\n');
    expect(lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(labels);
    for (const l of lines) {
      // "%-16s" label then "%8lu kB": the number ends in column 24.
      expect(l).toMatch(/^[A-Za-z()_]+: *\d+ kB$/);
      expect(l).toHaveLength(27);
    }
    const total = mem.totalManagedPages() * 4;
    expect(lines[0]).toBe(cfmt('MemTotal:       %8lu kB', total));
    expect(lines[3]).toBe('Buffers:               0 kB');
  });

  it('MemTotal is managed memory; MemFree is NR_FREE_PAGES, without per-CPU lists', () => {
    const mem = small();
    for (let i = 0; i < 5; i++) mem.allocPages(GFP_KERNEL, 0);
    const m = meminfo(mem);
    expect(m.get('MemTotal')).toBe(mem.totalManagedPages() * 4);
    expect(m.get('MemFree')).toBe(buddyFree(mem) * 4);
    expect(m.get('MemFree')).toBe((mem.nrFreePages() - pcpPages(mem)) * 4);
    expect(m.get('MemFree')).toBeLessThan(m.get('MemTotal')!);
    const pfn = mem.allocPages(GFP_HIGHUSER_MOVABLE, 6)!;
    expect(meminfo(mem).get('MemFree')).toBe(m.get('MemFree')! - 64 * 4);
    mem.freePages(pfn, 6);
    expect(meminfo(mem).get('MemFree')).toBe(m.get('MemFree'));
  });

  it('reports the node counters and si_mem_available', () => {
    const mem = numa();
    mem.modNodeState(0, 'nr_active_file', 1000);
    mem.modNodeState(1, 'nr_inactive_file', 600);
    mem.modNodeState(0, 'nr_file_pages', 1500);
    mem.modNodeState(1, 'nr_file_pages', 100);
    mem.modNodeState(0, 'nr_shmem', 40);
    mem.modNodeState(0, 'nr_active_anon', 7);
    mem.modNodeState(1, 'nr_inactive_anon', 9);
    mem.modNodeState(1, 'nr_slab_reclaimable', 300);
    mem.modNodeState(0, 'nr_slab_unreclaimable', 20);
    mem.modNodeState(0, 'nr_dirty', 3);
    mem.modNodeState(1, 'nr_page_table_pages', 11);
    const m = meminfo(mem);
    expect(m.get('Cached')).toBe(1600 * 4); // shmem stays in Cached, as in Linux
    expect(m.get('Shmem')).toBe(40 * 4);
    expect(m.get('Active')).toBe((1000 + 7) * 4);
    expect(m.get('Inactive')).toBe((600 + 9) * 4);
    expect(m.get('Active(file)')).toBe(1000 * 4);
    expect(m.get('Inactive(anon)')).toBe(9 * 4);
    expect(m.get('Slab')).toBe(320 * 4);
    expect(m.get('KReclaimable')).toBe(300 * 4);
    expect(m.get('SUnreclaim')).toBe(20 * 4);
    expect(m.get('Dirty')).toBe(3 * 4);
    expect(m.get('PageTables')).toBe(11 * 4);
    // si_mem_available, by hand.
    let wmarkLow = 0;
    let totalreserve = 0;
    for (const z of mem.zones) {
      wmarkLow += mem.wmark(z, WMARK_LOW);
      let max = 0;
      for (let j = z.zid; j < MAX_NR_ZONES; j++)
        max = Math.max(max, word(mem, z, layout.Z_LOWMEM_RESERVE + j));
      totalreserve += Math.min(max + mem.wmark(z, WMARK_HIGH), word(mem, z, layout.Z_MANAGED));
    }
    expect(totalreserve).toBeGreaterThan(0);
    const pagecache = 1600 - Math.min(800, wmarkLow);
    const reclaimable = 300 - Math.min(150, wmarkLow);
    expect(m.get('MemAvailable')).toBe(
      (buddyFree(mem) - totalreserve + pagecache + reclaimable) * 4,
    );
  });

  it('MemAvailable never goes below 0', () => {
    const mem = small();
    while (mem.allocPages(GFP_KERNEL | __GFP_NOWARN, 0) !== null);
    expect(mem.allocPages(GFP_KERNEL | __GFP_NOWARN, 0)).toBeNull();
    expect(meminfo(mem).get('MemAvailable')).toBe(0);
  });
});

describe('procVmstat', () => {
  it('prints zone counters, node counters, then events, as vmstat_text orders them', () => {
    const mem = small();
    const lines = procVmstat(mem).trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^[a-z0-9_]+ \d+$/);
    const names = lines.map((l) => l.split(' ')[0]);
    expect(names).toEqual([...zoneStatNames, ...nodeStatItems, ...vmEventItems, 'nr_unstable']);
    expect(lines[lines.length - 1]).toBe('nr_unstable 0');
  });

  it('agrees with meminfo and the zones', () => {
    const mem = numa();
    mem.allocPages(GFP_KERNEL, 0);
    const v = vmstat(mem);
    expect(v.get('nr_free_pages')! * 4).toBe(meminfo(mem).get('MemFree'));
    const blocks = mem.zones.reduce((sum, z) => sum + zoneStat(mem, z, 'nr_free_pages_blocks'), 0);
    expect(blocks).toBeGreaterThan(0);
    expect(v.get('nr_free_pages_blocks')).toBe(blocks);
    // Zone counters are summed over zones, node counters over nodes.
    for (const z of [mem.zone(0, 0), mem.zone(1, 2)])
      Atomics.add(z.a, z.b + layout.Z_VMSTAT + layout.NR_ZONE_ACTIVE_ANON, 5);
    mem.modNodeState(0, 'nr_mapped', 2);
    mem.modNodeState(1, 'nr_mapped', 3);
    const w = vmstat(mem);
    expect(w.get('nr_zone_active_anon')).toBe(10);
    expect(w.get('nr_mapped')).toBe(5);
  });

  it('counts allocations and frees', () => {
    const mem = small();
    const before = vmstat(mem);
    const pfn = mem.allocPages(GFP_HIGHUSER_MOVABLE, 4)!;
    const mid = vmstat(mem);
    expect(mid.get('pgalloc_dma32')).toBe(before.get('pgalloc_dma32')! + 16);
    expect(mid.get('pgfree')).toBe(before.get('pgfree'));
    mem.freePages(pfn, 4);
    const after = vmstat(mem);
    expect(after.get('pgfree')).toBe(before.get('pgfree')! + 16);
    const p0 = mem.allocPages(GFP_KERNEL, 0)!;
    expect(vmstat(mem).get('pgalloc_dma32')).toBe(after.get('pgalloc_dma32')! + 1);
    mem.freePages(p0, 0);
    expect(vmstat(mem).get('pgfree')).toBe(after.get('pgfree')! + 1);
  });

  it('prints pgpgin and pgpgout in kB from sector counts', () => {
    const mem = small();
    mem.countEvent('pgpgin', 16);
    mem.countEvent('pgpgout', 9);
    const v = vmstat(mem);
    expect(v.get('pgpgin')).toBe(8);
    expect(v.get('pgpgout')).toBe(4);
  });
});

describe('procZoneinfo', () => {
  /** zoneinfo_show_print built from Linux's format strings. */
  function golden(mem: Memory): string {
    let out = '';
    for (const z of mem.zones) {
      out += cfmt('Node %d, zone %8s', z.nid, zoneNames[z.zid]!);
      const first = mem.zones.find((c) => c.nid === z.nid && populated(mem, c));
      if (first === z) {
        out += '\n  per-node stats';
        for (const item of nodeStatItems)
          out += cfmt('\n      %-12s %lu', item, mem.nodeState(item, z.nid));
      }
      const low = mem.wmark(z, WMARK_LOW);
      const high = mem.wmark(z, WMARK_HIGH);
      out += cfmt(
        '\n  pages free     %lu' +
          '\n        boost    %lu' +
          '\n        min      %lu' +
          '\n        low      %lu' +
          '\n        high     %lu' +
          '\n        promo    %lu' +
          '\n        spanned  %lu' +
          '\n        present  %lu' +
          '\n        managed  %lu' +
          '\n        cma      %lu',
        mem.zoneFreePages(z),
        0,
        mem.wmark(z, WMARK_MIN),
        low,
        high,
        high + (high - low),
        word(mem, z, layout.Z_SPANNED),
        word(mem, z, layout.Z_PRESENT),
        word(mem, z, layout.Z_MANAGED),
        0,
      );
      out += cfmt('\n        protection: (%ld', word(mem, z, layout.Z_LOWMEM_RESERVE));
      for (let i = 1; i < MAX_NR_ZONES; i++)
        out += cfmt(', %ld', word(mem, z, layout.Z_LOWMEM_RESERVE + i));
      out += ')';
      if (!populated(mem, z)) {
        out += '\n';
        continue;
      }
      for (const name of zoneStatNames)
        out += cfmt('\n      %-12s %lu', name, zoneStat(mem, z, name));
      out += '\n  pagesets';
      for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
        const pcp = mem.pcpInfo(cpu, z);
        out += cfmt(
          '\n    cpu: %i' +
            '\n              count:    %i' +
            '\n              high:     %i' +
            '\n              batch:    %i' +
            '\n              high_min: %i' +
            '\n              high_max: %i',
          cpu,
          pcp.count,
          pcp.high,
          pcp.batch,
          pcp.high,
          pcp.high,
        );
        out += cfmt('\n  vm stats threshold: %d', 0);
      }
      out += cfmt(
        '\n  node_unreclaimable:  %u' + '\n  start_pfn:           %lu',
        0,
        word(mem, z, layout.Z_START_PFN),
      );
      out += '\n';
    }
    return out;
  }

  it('matches zoneinfo_show_print for every zone, populated or not', () => {
    for (const mem of [small(), numa()]) {
      mem.allocPages(GFP_KERNEL, 0);
      mem.modNodeState(mem.nrNodes - 1, 'nr_file_pages', 12);
      Atomics.add(mem.zone(0, 0).a, mem.zone(0, 0).b + layout.Z_VMSTAT + layout.NR_MLOCK, 3);
      expect(procZoneinfo(mem)).toBe(golden(mem));
    }
  });

  it('lists all zones of each node, node counters once per node', () => {
    const mem = numa();
    const text = procZoneinfo(mem);
    const heads = text.split('\n').filter((l) => l.startsWith('Node '));
    expect(heads).toEqual([
      'Node 0, zone    DMA32',
      'Node 0, zone   Normal',
      'Node 0, zone  Movable',
      'Node 1, zone    DMA32',
      'Node 1, zone   Normal',
      'Node 1, zone  Movable',
    ]);
    expect(text.split('\n  per-node stats\n')).toHaveLength(3);
    expect(text).toContain('Node 1, zone    DMA32\n  per-node stats\n      nr_inactive_anon 0\n');
    // An empty zone stops after its protection line.
    expect(text).toContain('Node 0, zone   Normal\n  pages free     0\n');
    expect(text).toMatch(/ {8}protection: \(0, 0, 0\)\nNode 0, zone {2}Movable\n/);
    // Node 1's DMA32 keeps pages back from movable allocations.
    const z = mem.zone(1, 0);
    expect(word(mem, z, layout.Z_LOWMEM_RESERVE + 2)).toBeGreaterThan(0);
    expect(text).toContain(
      `        protection: (0, 0, ${word(mem, z, layout.Z_LOWMEM_RESERVE + 2)})\n      nr_free_pages `,
    );
  });

  it('follows the per-CPU lists', () => {
    const mem = small();
    const z = mem.zone(0, 0);
    mem.cpu = 1;
    mem.allocPages(GFP_KERNEL, 0);
    const count = mem.pcpInfo(1, z).count;
    expect(count).toBeGreaterThan(0);
    const text = procZoneinfo(mem);
    expect(text).toContain(`\n    cpu: 1\n              count:    ${count}\n`);
    expect(text).toContain(`\n  pages free     ${mem.zoneFreePages(z)}\n`);
    mem.drainAllPages();
    expect(procZoneinfo(mem)).toContain('\n    cpu: 1\n              count:    0\n');
  });
});
