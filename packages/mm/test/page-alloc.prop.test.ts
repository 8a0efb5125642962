import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStructPage, structPageOffset, verifyMemory } from '../src/debug.js';
import {
  GFP_ATOMIC,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
} from '../src/gfp.js';
import {
  NODE_MAGIC,
  N_ID,
  N_MAGIC,
  N_NR_CPUS,
  PAGE_STRUCT_SIZE,
  PCP_COUNT,
  PCP_HEADS,
  PCP_TAILS,
  P_FLAGS,
  P_INDEX,
  P_MAPCOUNT,
  P_MAPPING,
  P_NEXT,
  P_PREV,
  P_PRIVATE,
  P_REFCOUNT,
  SECTION_MAGIC,
  SEC_MAGIC,
  SEC_MEMMAP_OFFSET,
  SEC_NR,
  SEC_NR_PAGES,
  Z_FREE_HEAD,
  Z_FREE_MT_NR,
  Z_FREE_NR,
  Z_FREE_TAIL,
  Z_NR_FREE,
  pcpBase,
  zoneBase,
} from '../src/layout.js';
import {
  MAX_NR_ZONES,
  MIGRATE_ISOLATE,
  MIGRATE_PCPTYPES,
  MIGRATE_TYPES,
  NR_PAGE_ORDERS,
  NR_PCP_LISTS,
  PAGE_SIZE,
} from '../src/mmzone.js';
import { NODES_PGSHIFT, PG_buddy, PG_pcp, PG_reserved, ZONES_PGSHIFT } from '../src/page-flags.js';
import type { Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';

type Op =
  | { kind: 'alloc'; gfp: number; order: number; cpu: number; nid: number }
  | { kind: 'free'; pick: number; cpu: number }
  | { kind: 'drain' };

const gfps = [GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_ATOMIC, GFP_KERNEL | __GFP_RECLAIMABLE].map(
  (g) => g | __GFP_NOWARN,
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      gfp: fc.constantFrom(...gfps),
      order: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) },
        { weight: 1, arbitrary: fc.integer({ min: 5, max: 10 }) },
      ),
      cpu: fc.integer({ min: 0, max: 1 }),
      nid: fc.integer({ min: 0, max: 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('free' as const),
      pick: fc.nat(),
      cpu: fc.integer({ min: 0, max: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
);

/** Runs ops against a two-node machine, checking the invariants after every step. */
function run(ops: Op[], groupByMobility: boolean): { mem: Memory; live: Map<number, number> } {
  const mem = createMemory({
    nodes: ['16M', '16M'],
    sectionSize: '16M',
    nrCpus: 2,
    groupByMobility,
  });
  const live = new Map<number, number>(); // pfn -> order
  const owner = new Int32Array(mem.sections.length * 4096).fill(-1);
  for (const o of ops) {
    if (o.kind === 'alloc') {
      mem.cpu = o.cpu;
      const pfn = mem.allocPages(o.gfp, o.order, o.nid);
      if (pfn === null) continue;
      expect(pfn % (1 << o.order)).toBe(0);
      for (let p = pfn; p < pfn + (1 << o.order); p++) {
        // no two allocations overlap
        expect(owner[p]).toBe(-1);
        owner[p] = pfn;
      }
      live.set(pfn, o.order);
    } else if (o.kind === 'free') {
      if (live.size === 0) continue;
      mem.cpu = o.cpu;
      const pfn = [...live.keys()][o.pick % live.size]!;
      const order = live.get(pfn)!;
      mem.freePages(pfn, order);
      live.delete(pfn);
      owner.fill(-1, pfn, pfn + (1 << order));
    } else mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    const allocated = [...live.values()].reduce((s, order) => s + (1 << order), 0);
    // free + allocated + reserved = total
    expect(r.buddy + r.pcp + allocated + r.reserved).toBe(r.total);
  }
  return { mem, live };
}

describe('page allocator properties', () => {
  it('free + allocated + reserved = total and no overlap, after every operation', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.boolean(), (ops, grouped) => {
        run(ops, grouped);
      }),
      { numRuns: 60 },
    );
  });

  it('after freeing everything the free lists are maximally coalesced', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const { mem, live } = run(ops, true);
        for (const [pfn, order] of live) mem.freePages(pfn, order);
        mem.drainAllPages();
        const r = verifyMemory(mem);
        expect(r.errors).toEqual([]);
        expect(r.uncoalesced).toBe(0);
        expect(r.buddy + r.reserved).toBe(r.total);
      }),
      { numRuns: 40 },
    );
  });

  it('an independent decoder rebuilds every free list and count from a raw copy of the sections, and agrees with the allocator for every page', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.boolean(), (ops, drain) => {
        const { mem, live } = run(ops, true);
        if (drain) mem.drainAllPages();
        const raw = rawCopy(mem); // what a dump holds: bytes only
        const view = decodeRaw(raw, mem.handle.nodeDataPaddr);
        expect(view.errors).toEqual([]);
        expect(compareWithAllocator(mem, view, live)).toEqual([]);
      }),
      { numRuns: 12 },
    );
  });

  it('decodeStructPage (the API dump readers use) reads every struct page as the raw decoder does', () => {
    const { mem } = run(
      [
        { kind: 'alloc', gfp: GFP_KERNEL | __GFP_RECLAIMABLE, order: 2, cpu: 1, nid: 1 },
        { kind: 'alloc', gfp: GFP_HIGHUSER_MOVABLE, order: 0, cpu: 0, nid: 0 },
      ],
      true,
    );
    const raw = rawCopy(mem);
    const perSection = mem.sectionBytes / PAGE_SIZE;
    for (const [nr, bytes] of raw)
      for (let pfn = nr * perSection; pfn < (nr + 1) * perSection; pfn++) {
        const d = decodeStructPage(bytes, structPageOffset(pfn, perSection));
        const at = rawStructPagePaddr(mem.sectionBytes, pfn);
        const w = (f: number): number => peek(raw, at + f * 4);
        const got = [
          d.flags,
          d.refcount,
          d.mapcount,
          d.private,
          d.next,
          d.prev,
          d.mapping,
          d.index,
        ];
        const want = [
          w(P_FLAGS) >>> 0,
          w(P_REFCOUNT),
          w(P_MAPCOUNT),
          w(P_PRIVATE),
          w(P_NEXT),
          w(P_PREV),
          w(P_MAPPING) >>> 0,
          w(P_INDEX) >>> 0,
        ];
        if (got.some((v, i) => v !== want[i]))
          expect.fail(`pfn ${pfn}: ${got.join(',')} != ${want.join(',')}`);
        if (d.nid !== w(P_FLAGS) >>> 26 || d.zone !== ((w(P_FLAGS) >>> 24) & 3))
          expect.fail(`pfn ${pfn}: node/zone ${d.nid}/${d.zone}`);
      }
  });

  it('negative control: the raw decoder notices a broken link, a wrong counter and a double free', () => {
    const { mem, live } = run(
      [
        { kind: 'alloc', gfp: GFP_KERNEL, order: 0, cpu: 0, nid: 0 },
        { kind: 'alloc', gfp: GFP_KERNEL, order: 3, cpu: 1, nid: 1 },
        { kind: 'alloc', gfp: GFP_HIGHUSER_MOVABLE, order: 5, cpu: 0, nid: 0 },
      ],
      true,
    );
    const good = rawCopy(mem);
    const paddrs = mem.handle.nodeDataPaddr;
    expect(decodeRaw(good, paddrs).errors).toEqual([]);
    expect(compareWithAllocator(mem, decodeRaw(good, paddrs), live)).toEqual([]);

    // A free list whose second block's prev link is wrong.
    const z = mem.zone(0, 0);
    let li = -1;
    for (let k = 0; k < NR_PAGE_ORDERS * MIGRATE_TYPES && li < 0; k++) {
      const head = mem.zoneWord(z, Z_FREE_HEAD + k);
      if (head && mem.pageField(head - 1, P_NEXT)) li = k;
    }
    const second = mem.pageField(mem.zoneWord(z, Z_FREE_HEAD + li) - 1, P_NEXT) - 1;
    const badLink = rawCopy(mem);
    poke(badLink, structPagePaddr(mem, second) + P_PREV * 4, 0);
    expect(decodeRaw(badLink, paddrs).errors.join('\n')).toMatch(/prev/);

    // NR_FREE_PAGES one off.
    const badCount = rawCopy(mem);
    const nrFree = mem.nodeDataPaddr[0]! + (zoneBase(0) + Z_NR_FREE) * 4;
    poke(badCount, nrFree, peek(badCount, nrFree) + 1);
    const v = decodeRaw(badCount, paddrs);
    expect([...v.errors, ...compareWithAllocator(mem, v, live)].join('\n')).toMatch(
      /NR_FREE_PAGES/,
    );

    // A block freed behind the test's record (a leak of a freed page): free and "allocated".
    const [small, smallOrder] = [...live].find(([, o]) => o === 0)!;
    mem.freePages(small, smallOrder);
    const leaked = decodeRaw(rawCopy(mem), paddrs);
    expect(leaked.errors).toEqual([]);
    expect(compareWithAllocator(mem, leaked, live).join('\n')).toMatch(
      new RegExp(`pfn ${small}: (pcp|buddy), allocated`),
    );
    live.delete(small);

    // A double free let through: the block sits on a list with refcount -1.
    mem.debugBreak = 'skip-double-free-check';
    const [pfn, order] = [...live].find(([, o]) => o === 3)!;
    mem.freePages(pfn, order);
    mem.freePages(pfn, order);
    mem.debugBreak = 'none';
    live.delete(pfn);
    expect(decodeRaw(rawCopy(mem), paddrs).errors.join('\n')).toMatch(
      new RegExp(`free pfn ${pfn} has refcount -1`),
    );
  });

  it('negative control: with coalescing broken the coalescing property fails', () => {
    const mem = createMemory({ size: '16M', sectionSize: '16M' });
    mem.debugBreak = 'no-coalesce';
    const ps = Array.from({ length: 64 }, () => mem.allocPages(GFP_KERNEL, 0)!);
    for (const p of ps) mem.freePages(p, 0);
    mem.drainAllPages();
    expect(verifyMemory(mem).uncoalesced).toBeGreaterThan(0);
  });

  it('negative control: without the double-free check a double free corrupts the lists and verifyMemory sees it', () => {
    const mem = createMemory({ size: '16M', sectionSize: '16M' });
    mem.debugBreak = 'skip-double-free-check';
    const p = mem.allocPages(GFP_KERNEL, 2)!;
    mem.freePages(p, 2);
    mem.freePages(p, 2);
    expect(verifyMemory(mem).errors.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- an independent raw decoder
//
// Written from docs/design.md's byte layout (sections, struct page words, zone free-list
// heads and tails, per-CPU list heads and tails, all links PFN + 1, little-endian 32-bit
// words), using only the offsets of src/layout.ts: it walks every list itself, in a byte
// copy of the sections, with no Memory object.

/** A byte copy of every present section, by section number: what a dump holds. */
type RawSections = Map<number, Uint8Array>;

function rawCopy(mem: Memory): RawSections {
  const raw: RawSections = new Map();
  for (const sec of mem.sections) if (sec) raw.set(sec.nr, sec.bytes.slice());
  return raw;
}

/** Bytes per section, from the first header (SEC_NR_PAGES). */
function sectionBytesOf(raw: RawSections): number {
  const first = raw.values().next().value!;
  return new DataView(first.buffer).getInt32(SEC_NR_PAGES * 4, true) * PAGE_SIZE;
}

function locate(raw: RawSections, paddr: number): [DataView, number] {
  const size = sectionBytesOf(raw);
  const bytes = raw.get(Math.floor(paddr / size));
  if (!bytes)
    throw new Error(`physical address 0x${paddr.toString(16)} is in no section of the dump`);
  return [new DataView(bytes.buffer, bytes.byteOffset), paddr % size];
}

/** The signed 32-bit little-endian word at a physical address. */
function peek(raw: RawSections, paddr: number): number {
  const [dv, off] = locate(raw, paddr);
  return dv.getInt32(off, true);
}

function poke(raw: RawSections, paddr: number, value: number): void {
  const [dv, off] = locate(raw, paddr);
  dv.setInt32(off, value, true);
}

/** Physical address of a PFN's struct page: its section's memmap starts one page in. */
function rawStructPagePaddr(sectionBytes: number, pfn: number): number {
  const perSection = sectionBytes / PAGE_SIZE;
  const sec = Math.floor(pfn / perSection);
  return sec * sectionBytes + SEC_MEMMAP_OFFSET + (pfn - sec * perSection) * PAGE_STRUCT_SIZE;
}

function structPagePaddr(mem: Memory, pfn: number): number {
  return rawStructPagePaddr(mem.sectionBytes, pfn);
}

interface RawView {
  /** Free pages on buddy lists per zone ('nid/zid'), isolate lists excluded, as NR_FREE_PAGES counts. */
  buddyFree: Map<string, number>;
  /** Pages on each CPU's lists per zone ('cpu/nid/zid'). */
  pcpPages: Map<string, number>;
  /** Free blocks per (zone, order) ('nid/zid/order'). */
  nrFree: Map<string, number>;
  /** Every free page: 'buddy' or 'pcp', with the head PFN and order of its block. */
  freePages: Map<number, { where: 'buddy' | 'pcp'; head: number; order: number }>;
  /** Pages in present sections. */
  totalPages: number;
  /** Pages with PG_reserved in their raw flags. */
  reserved: Set<number>;
  errors: string[];
}

function decodeRaw(raw: RawSections, nodeDataPaddr: readonly number[]): RawView {
  const sectionBytes = sectionBytesOf(raw);
  const perSection = sectionBytes / PAGE_SIZE;
  const errors: string[] = [];
  const err = (s: string): void => void (errors.length < 40 && errors.push(s));
  const view: RawView = {
    buddyFree: new Map(),
    pcpPages: new Map(),
    nrFree: new Map(),
    freePages: new Map(),
    totalPages: 0,
    reserved: new Set(),
    errors,
  };
  const pfnPresent = (pfn: number): boolean => raw.has(Math.floor(pfn / perSection));
  for (const [nr, bytes] of raw) {
    const h = new DataView(bytes.buffer, bytes.byteOffset);
    if (h.getUint32(SEC_MAGIC * 4, true) !== SECTION_MAGIC) err(`section ${nr}: bad magic`);
    if (h.getInt32(SEC_NR * 4, true) !== nr)
      err(`section ${nr}: header says ${h.getInt32(4, true)}`);
    view.totalPages += perSection;
    for (let k = 0; k < perSection; k++)
      if (
        h.getInt32(SEC_MEMMAP_OFFSET + k * PAGE_STRUCT_SIZE + P_FLAGS * 4, true) &
        (1 << PG_reserved)
      )
        view.reserved.add(nr * perSection + k);
  }
  const page = (pfn: number, field: number): number =>
    peek(raw, rawStructPagePaddr(sectionBytes, pfn) + field * 4);

  /**
   * Walks one list from head to tail: doubly linked (free lists: every prev link checked)
   * or singly linked (per-CPU lists: every prev link 0). Returns the PFNs in order.
   */
  const walk = (name: string, headAddr: number, tailAddr: number, singly = false): number[] => {
    const out: number[] = [];
    let prev = 0;
    let cur = peek(raw, headAddr);
    while (cur) {
      const pfn = cur - 1;
      if (!pfnPresent(pfn)) {
        err(`${name}: link to pfn ${pfn} outside the dump`);
        return out;
      }
      if (out.length > view.totalPages) {
        err(`${name}: does not end`);
        return out;
      }
      if (page(pfn, P_PREV) !== (singly ? 0 : prev))
        err(`${name}: pfn ${pfn} has prev ${page(pfn, P_PREV)}, expected ${singly ? 0 : prev}`);
      out.push(pfn);
      prev = cur;
      cur = page(pfn, P_NEXT);
    }
    if (peek(raw, tailAddr) !== prev)
      err(`${name}: tail ${peek(raw, tailAddr)} but last is ${prev}`);
    return out;
  };

  const claim = (where: 'buddy' | 'pcp', head: number, order: number, name: string): void => {
    if (page(head, P_REFCOUNT) !== 0)
      err(`${name}: free pfn ${head} has refcount ${page(head, P_REFCOUNT)}`);
    for (let p = head; p < head + (1 << order); p++) {
      if (view.freePages.has(p)) err(`${name}: pfn ${p} is on two lists`);
      view.freePages.set(p, { where, head, order });
    }
  };

  nodeDataPaddr.forEach((base, nid) => {
    if (peek(raw, base + N_MAGIC * 4) >>> 0 !== NODE_MAGIC) err(`node ${nid}: bad magic`);
    if (peek(raw, base + N_ID * 4) !== nid)
      err(`node ${nid}: header says ${peek(raw, base + N_ID * 4)}`);
    const nrCpus = peek(raw, base + N_NR_CPUS * 4);
    for (let zid = 0; zid < MAX_NR_ZONES; zid++) {
      const zb = base + zoneBase(zid) * 4;
      const zw = (field: number): number => peek(raw, zb + field * 4);
      let free = 0;
      for (let order = 0; order < NR_PAGE_ORDERS; order++) {
        let perOrder = 0;
        for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
          const li = order * MIGRATE_TYPES + mt; // free_area[order].free_list[mt]
          const name = `node ${nid} zone ${zid} order ${order} mt ${mt}`;
          const pfns = walk(name, zb + (Z_FREE_HEAD + li) * 4, zb + (Z_FREE_TAIL + li) * 4);
          for (const pfn of pfns) {
            const f = page(pfn, P_FLAGS);
            if (!(f & (1 << PG_buddy))) err(`${name}: pfn ${pfn} lacks PG_buddy`);
            if (page(pfn, P_PRIVATE) !== order)
              err(`${name}: pfn ${pfn} says order ${page(pfn, P_PRIVATE)}`);
            if (page(pfn, P_INDEX) !== mt)
              err(`${name}: pfn ${pfn} says list ${page(pfn, P_INDEX)}`);
            if (pfn % (1 << order)) err(`${name}: pfn ${pfn} not aligned`);
            if (((f >>> ZONES_PGSHIFT) & 3) !== zid || f >>> NODES_PGSHIFT !== nid)
              err(
                `${name}: pfn ${pfn} is in node ${f >>> NODES_PGSHIFT} zone ${(f >>> ZONES_PGSHIFT) & 3}`,
              );
            claim('buddy', pfn, order, name);
            if (mt !== MIGRATE_ISOLATE) free += 1 << order;
          }
          if (zw(Z_FREE_MT_NR + li) !== pfns.length)
            err(`${name}: counter ${zw(Z_FREE_MT_NR + li)}, list has ${pfns.length}`);
          perOrder += pfns.length;
        }
        if (zw(Z_FREE_NR + order) !== perOrder)
          err(
            `node ${nid} zone ${zid}: nr_free[${order}] ${zw(Z_FREE_NR + order)}, lists have ${perOrder}`,
          );
        view.nrFree.set(`${nid}/${zid}/${order}`, perOrder);
      }
      if (zw(Z_NR_FREE) !== free)
        err(`node ${nid} zone ${zid}: NR_FREE_PAGES word ${zw(Z_NR_FREE)}, lists hold ${free}`);
      view.buddyFree.set(`${nid}/${zid}`, free);
      for (let cpu = 0; cpu < nrCpus; cpu++) {
        const pb = base + pcpBase(cpu, zid) * 4;
        let pages = 0;
        for (let pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
          const order = Math.floor(pindex / MIGRATE_PCPTYPES); // order_to_pindex
          const name = `cpu ${cpu} node ${nid} zone ${zid} pcp list ${pindex}`;
          const pfns = walk(
            name,
            pb + (PCP_HEADS + pindex) * 4,
            pb + (PCP_TAILS + pindex) * 4,
            true,
          );
          for (const pfn of pfns) {
            const f = page(pfn, P_FLAGS);
            if (!(f & (1 << PG_pcp))) err(`${name}: pfn ${pfn} lacks PG_pcp`);
            if (f & (1 << PG_buddy)) err(`${name}: pfn ${pfn} has PG_buddy`);
            if (page(pfn, P_PRIVATE) !== order)
              err(`${name}: pfn ${pfn} says order ${page(pfn, P_PRIVATE)}`);
            if (page(pfn, P_INDEX) !== 0)
              err(`${name}: pfn ${pfn} has index ${page(pfn, P_INDEX)} (0 on a per-CPU list)`);
            if (((f >>> ZONES_PGSHIFT) & 3) !== zid || f >>> NODES_PGSHIFT !== nid)
              err(`${name}: pfn ${pfn} is in another zone`);
            claim('pcp', pfn, order, name);
            pages += 1 << order;
          }
        }
        if (peek(raw, pb + PCP_COUNT * 4) !== pages)
          err(
            `cpu ${cpu} node ${nid} zone ${zid}: pcp count word ${peek(raw, pb + PCP_COUNT * 4)}, lists hold ${pages}`,
          );
        view.pcpPages.set(`${cpu}/${nid}/${zid}`, pages);
      }
    }
  });
  // A page with PG_buddy or PG_pcp must head a block found on a list.
  for (const [nr] of raw)
    for (let k = 0; k < perSection; k++) {
      const pfn = nr * perSection + k;
      const f = page(pfn, P_FLAGS);
      const at = view.freePages.get(pfn);
      if (f & (1 << PG_buddy) && !(at?.where === 'buddy' && at.head === pfn))
        err(`pfn ${pfn} has PG_buddy but heads no buddy list entry`);
      if (f & (1 << PG_pcp) && !(at?.where === 'pcp' && at.head === pfn))
        err(`pfn ${pfn} has PG_pcp but heads no per-CPU list entry`);
    }
  return view;
}

/**
 * Compares what the raw decoder found with the allocator's own view (zone counters,
 * pcpInfo, verifyMemory) and with the test's record of what it allocated: every page is
 * exactly one of free on a buddy list, free on a per-CPU list, allocated, or reserved.
 */
function compareWithAllocator(
  mem: Memory,
  view: RawView,
  live: ReadonlyMap<number, number>,
): string[] {
  const out: string[] = [];
  for (const z of mem.zones) {
    const k = `${z.nid}/${z.zid}`;
    if (view.buddyFree.get(k) !== mem.zoneFreePages(z))
      out.push(
        `zone ${k}: raw lists hold ${view.buddyFree.get(k)}, NR_FREE_PAGES says ${mem.zoneFreePages(z)}`,
      );
    for (let order = 0; order < NR_PAGE_ORDERS; order++)
      if (view.nrFree.get(`${k}/${order}`) !== mem.zoneWord(z, Z_FREE_NR + order))
        out.push(
          `zone ${k} order ${order}: raw ${view.nrFree.get(`${k}/${order}`)}, allocator ${mem.zoneWord(z, Z_FREE_NR + order)}`,
        );
    for (let cpu = 0; cpu < mem.nrCpus; cpu++)
      if (view.pcpPages.get(`${cpu}/${k}`) !== mem.pcpInfo(cpu, z).count)
        out.push(
          `cpu ${cpu} zone ${k}: raw ${view.pcpPages.get(`${cpu}/${k}`)}, pcpInfo ${mem.pcpInfo(cpu, z).count}`,
        );
  }
  const r = verifyMemory(mem);
  let buddy = 0;
  let pcp = 0;
  for (const { where } of view.freePages.values())
    if (where === 'buddy') buddy++;
    else pcp++;
  if (buddy !== r.buddy || pcp !== r.pcp)
    out.push(
      `raw free pages buddy ${buddy} pcp ${pcp}; verifyMemory buddy ${r.buddy} pcp ${r.pcp}`,
    );
  if (buddy + pcp !== mem.nrFreePages())
    out.push(`raw free ${buddy + pcp}, nrFreePages ${mem.nrFreePages()}`);
  if (view.totalPages !== r.total)
    out.push(`raw total ${view.totalPages}, verifyMemory ${r.total}`);
  // Every page, one thing.
  const allocated = new Set<number>();
  for (const [pfn, order] of live) for (let p = pfn; p < pfn + (1 << order); p++) allocated.add(p);
  for (const sec of mem.sections) {
    if (!sec) continue;
    for (let pfn = sec.startPfn; pfn < sec.startPfn + sec.nrPages; pfn++) {
      const is = [
        view.freePages.get(pfn)?.where === 'buddy',
        view.freePages.get(pfn)?.where === 'pcp',
        allocated.has(pfn),
        view.reserved.has(pfn),
      ].filter(Boolean).length;
      if (is !== 1) {
        out.push(
          `pfn ${pfn}: ${view.freePages.get(pfn)?.where ?? 'not free'}, ${allocated.has(pfn) ? 'allocated' : 'not allocated'}, ${view.reserved.has(pfn) ? 'reserved' : 'not reserved'}`,
        );
        if (out.length > 40) return out;
      }
    }
  }
  return out;
}
