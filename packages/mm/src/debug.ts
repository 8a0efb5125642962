/**
 * Whole-allocator consistency checks (what CONFIG_DEBUG_VM would catch, done
 * exhaustively), a decoder for `struct page` from raw bytes, and the bad-page report
 * (`bad_page()` with `dump_page()`).
 *
 * @see mm/debug.c, mm/page_alloc.c: check_new_page, bad_page
 */

import {
  PAGE_WORDS,
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
  SEC_MEMMAP_OFFSET,
  Z_FREE_HEAD,
  Z_FREE_MT_NR,
  Z_FREE_NR,
  Z_FREE_TAIL,
  Z_NR_FREE,
  freeListIndex,
  pcpBase,
} from './layout.js';
import type { Memory } from './memory.js';
import {
  MAX_PAGE_ORDER,
  MIGRATE_ISOLATE,
  MIGRATE_PCPTYPES,
  MIGRATE_TYPES,
  NR_PCP_LISTS,
  pageblock_order,
} from './mmzone.js';
import {
  NODES_PGSHIFT,
  PG_buddy,
  PG_hwpoison,
  PG_pcp,
  PG_reserved,
  ZONES_PGSHIFT,
  formatPageFlags,
} from './page-flags.js';
import { MEMMAP_WORD } from './sparse.js';
import { verifyLru } from './swap.js';
import { checkMemory } from './internal/value.js';

/** A `struct page` decoded from raw bytes. */
export interface StructPage {
  flags: number;
  refcount: number;
  mapcount: number;
  private: number;
  next: number;
  prev: number;
  mapping: number;
  index: number;
  zone: number;
  nid: number;
}

/**
 * Decodes the `struct page` at byte `offset` of `bytes` (little-endian words), with no
 * help from a live allocator: what a crash-dump reader does.
 */
export function decodeStructPage(bytes: Uint8Array, offset: number): StructPage {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, PAGE_WORDS * 4);
  const w = (i: number): number => dv.getInt32(i * 4, true);
  const flags = w(P_FLAGS);
  return {
    flags: flags >>> 0,
    refcount: w(P_REFCOUNT),
    mapcount: w(P_MAPCOUNT),
    private: w(P_PRIVATE),
    next: w(P_NEXT),
    prev: w(P_PREV),
    mapping: w(P_MAPPING) >>> 0,
    index: w(P_INDEX) >>> 0,
    zone: (flags >>> ZONES_PGSHIFT) & 3,
    nid: flags >>> NODES_PGSHIFT,
  };
}

/** Lines of `dump_page()` for a page. */
export function dumpPage(mem: Memory, pfn: number, reason?: string): string[] {
  const [a, i] = mem.pageWords(pfn);
  const hex16 = (n: number): string => n.toString(16).padStart(16, '0');
  const mapping = a[i + P_MAPPING]!;
  const lines = [
    `page:${hex16(mem.pageStructPaddr(pfn))} refcount:${a[i + P_REFCOUNT]} mapcount:${a[i + P_MAPCOUNT]! + 1} mapping:${hex16(mapping >>> 0)} index:0x${(a[i + P_INDEX]! >>> 0).toString(16)} pfn:0x${pfn.toString(16)}`,
    `flags: ${formatPageFlags(a[i + P_FLAGS]!)}`,
    `raw: ${Array.from(a.subarray(i, i + PAGE_WORDS), (w) => (w >>> 0).toString(16).padStart(8, '0')).join(' ')}`,
  ];
  if (reason) lines.push(`page dumped because: ${reason}`);
  return lines;
}

/**
 * Reports a page in a bad state as `bad_page()` does (through `mem.log`, counted in
 * the `bad_page` event) and, unless `takeOut` is false, takes it out of circulation:
 * PG_hwpoison, mapcount reset, never freed (Linux leaks it and taints the kernel).
 * @see mm/page_alloc.c: bad_page, mm/debug.c: dump_page
 */
export function badPage(mem: Memory, pfn: number, reason: string, takeOut = true): void {
  const log = mem.log;
  if (log) {
    log.printk(
      1,
      `BUG: Bad page state in process ${mem.comm()}  pfn:${pfn.toString(16).padStart(5, '0')}`,
    );
    for (const line of dumpPage(mem, pfn, reason)) log.printk(1, line);
  }
  mem.countEvent('bad_page');
  if (takeOut) {
    const [a, i] = mem.pageWords(pfn);
    a[i + P_MAPCOUNT] = -1;
    a[i + P_FLAGS] = a[i + P_FLAGS]! | (1 << PG_hwpoison);
  }
}

/** Byte offset of a page's struct page inside its section's bytes. */
export function structPageOffset(pfn: number, pagesPerSection: number): number {
  return SEC_MEMMAP_OFFSET + (pfn % pagesPerSection) * PAGE_WORDS * 4;
}

/** What {@link verifyMemory} found. */
export interface MemoryReport {
  /** Pages present in all sections. */
  total: number;
  /** Pages in free buddy blocks. */
  buddy: number;
  /** Pages on per-CPU lists. */
  pcp: number;
  /** Pages with a non-zero refcount (heads of allocated blocks and order-0 pages). */
  allocated: number;
  /** Pages that are none of the others: the tail pages of allocated multi-page blocks. */
  other: number;
  /** PG_reserved pages (memmap, boot reservations). */
  reserved: number;
  /** Pages taken out of circulation by bad_page(). */
  bad: number;
  /** Pairs of free buddies that should have merged. */
  uncoalesced: number;
  /** Inconsistencies, each a sentence naming the page or list. Empty when all is well. */
  errors: string[];
}

/**
 * Walks every free list, per-CPU list and struct page and checks that they agree:
 * links are consistent in both directions, every free block is aligned, marked
 * PG_buddy with its order, in its list's zone and counted once; the counters match the
 * lists; every page is exactly one of free, on a per-CPU list, allocated, reserved or
 * bad; and the LRU lists agree with their counts and page flags (`verifyLru`). Takes no
 * locks: call it when no other thread is allocating.
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function verifyMemory(mem: Memory): MemoryReport {
  checkMemory(mem, 'verifyMemory');
  const errors: string[] = [];
  const err = (s: string): void => {
    if (errors.length < 50) errors.push(s);
  };
  const hex = (p: number): string => `0x${p.toString(16)}`;
  // 0 = unseen, 1 = buddy, 2 = pcp
  const owner = new Map<number, number>();
  let buddy = 0;
  let pcp = 0;
  let uncoalesced = 0;
  for (const z of mem.zones) {
    const za = z.a;
    let nrFree = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      let perOrder = 0;
      for (let mt = 0; mt < MIGRATE_TYPES; mt++) {
        const li = freeListIndex(o, mt);
        let count = 0;
        let prev = 0;
        let cur = za[z.b + Z_FREE_HEAD + li]!;
        const name = `node ${z.nid} zone ${z.zid} order ${o} mt ${mt}`;
        while (cur) {
          const pfn = cur - 1;
          if (!mem.pfnValid(pfn)) {
            err(`${name}: link to ${hex(pfn)} outside memory`);
            break;
          }
          if (++count > 1 << 24) {
            err(`${name}: list does not end (cycle)`);
            break;
          }
          const [a, i] = mem.pageWords(pfn);
          const f = a[i + P_FLAGS]!;
          if (a[i + P_PREV] !== prev)
            err(`${name}: ${hex(pfn)} prev ${a[i + P_PREV]! - 1} != ${prev - 1}`);
          if (!(f & (1 << PG_buddy))) err(`${name}: ${hex(pfn)} lacks PG_buddy`);
          if (a[i + P_PRIVATE] !== o) err(`${name}: ${hex(pfn)} has order ${a[i + P_PRIVATE]}`);
          if (a[i + P_INDEX] !== mt) err(`${name}: ${hex(pfn)} records list ${a[i + P_INDEX]}`);
          if (pfn & ((1 << o) - 1)) err(`${name}: ${hex(pfn)} not aligned to order ${o}`);
          if (((f >>> ZONES_PGSHIFT) & 3) !== z.zid || f >>> NODES_PGSHIFT !== z.nid)
            err(
              `${name}: ${hex(pfn)} belongs to node ${f >>> NODES_PGSHIFT} zone ${(f >>> ZONES_PGSHIFT) & 3}`,
            );
          for (let p = pfn; p < pfn + (1 << o); p++) {
            if (owner.has(p)) err(`${name}: page ${hex(p)} is on two free lists`);
            owner.set(p, 1);
          }
          if (o < MAX_PAGE_ORDER) {
            const b = pfn ^ (1 << o);
            if (mem.pfnValid(b)) {
              const [ba, bi] = mem.pageWords(b);
              const bf = ba[bi + P_FLAGS]!;
              if (
                bf & (1 << PG_buddy) &&
                ba[bi + P_PRIVATE] === o &&
                ((bf >>> ZONES_PGSHIFT) & 3) === z.zid &&
                bf >>> NODES_PGSHIFT === z.nid &&
                !(
                  o >= pageblock_order &&
                  (mt === MIGRATE_ISOLATE) !== (ba[bi + P_INDEX] === MIGRATE_ISOLATE)
                ) &&
                pfn < b
              )
                uncoalesced++;
            }
          }
          buddy += 1 << o;
          if (mt !== MIGRATE_ISOLATE) nrFree += 1 << o;
          prev = cur;
          cur = a[i + P_NEXT]!;
        }
        if (za[z.b + Z_FREE_TAIL + li] !== prev)
          err(`${name}: tail ${za[z.b + Z_FREE_TAIL + li]! - 1} != last ${prev - 1}`);
        if (za[z.b + Z_FREE_MT_NR + li] !== count)
          err(`${name}: counter ${za[z.b + Z_FREE_MT_NR + li]} != ${count} on list`);
        perOrder += count;
      }
      if (za[z.b + Z_FREE_NR + o] !== perOrder)
        err(`node ${z.nid} zone ${z.zid}: nr_free[${o}] ${za[z.b + Z_FREE_NR + o]} != ${perOrder}`);
    }
    if (za[z.b + Z_NR_FREE] !== nrFree)
      err(`node ${z.nid} zone ${z.zid}: NR_FREE_PAGES ${za[z.b + Z_NR_FREE]} != ${nrFree}`);
    // Per-CPU lists.
    for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
      const pb = mem.nodeBase[z.nid]! + pcpBase(cpu, z.zid);
      let count = 0;
      for (let li = 0; li < NR_PCP_LISTS; li++) {
        const order = Math.floor(li / MIGRATE_PCPTYPES);
        let prev = 0;
        let cur = za[pb + PCP_HEADS + li]!;
        let n = 0;
        while (cur) {
          const pfn = cur - 1;
          if (!mem.pfnValid(pfn) || ++n > 1 << 24) {
            err(`cpu ${cpu} zone ${z.zid} pcp list ${li}: bad link ${hex(pfn)}`);
            break;
          }
          const [a, i] = mem.pageWords(pfn);
          // Per-CPU lists are singly linked: prev stays 0.
          if (a[i + P_PREV] !== 0) err(`cpu ${cpu} pcp list ${li}: ${hex(pfn)} has a prev link`);
          if (!(a[i + P_FLAGS]! & (1 << PG_pcp)))
            err(`cpu ${cpu} pcp list ${li}: ${hex(pfn)} lacks PG_pcp`);
          if (a[i + P_PRIVATE] !== order)
            err(`cpu ${cpu} pcp list ${li}: ${hex(pfn)} has order ${a[i + P_PRIVATE]}`);
          for (let p = pfn; p < pfn + (1 << order); p++) {
            if (owner.has(p)) err(`page ${hex(p)} is both on a per-CPU list and elsewhere`);
            owner.set(p, 2);
          }
          count += 1 << order;
          prev = cur;
          cur = a[i + P_NEXT]!;
        }
        if (za[pb + PCP_TAILS + li] !== prev)
          err(`cpu ${cpu} zone ${z.zid} pcp list ${li}: tail mismatch`);
      }
      if (za[pb + PCP_COUNT] !== count)
        err(`cpu ${cpu} node ${z.nid} zone ${z.zid}: pcp count ${za[pb + PCP_COUNT]} != ${count}`);
      pcp += count;
    }
  }
  // Every page is one thing.
  let total = 0;
  let allocated = 0;
  let reserved = 0;
  let bad = 0;
  let other = 0;
  for (const sec of mem.sections) {
    if (!sec) continue;
    total += sec.nrPages;
    for (let k = 0; k < sec.nrPages; k++) {
      const pfn = sec.startPfn + k;
      const i = MEMMAP_WORD + k * PAGE_WORDS;
      const f = sec.i32[i + P_FLAGS]!;
      const ref = sec.i32[i + P_REFCOUNT]!;
      const o = owner.get(pfn);
      if (f & (1 << PG_hwpoison)) {
        bad++;
        if (o) err(`bad page ${hex(pfn)} is on a free list`);
      } else if (f & (1 << PG_reserved)) {
        reserved++;
        if (o) err(`reserved page ${hex(pfn)} is on a free list`);
      } else if (ref > 0) {
        allocated++;
        if (o) err(`page ${hex(pfn)} with refcount ${ref} is on a free list`);
      } else if (!o) {
        other++; // a tail page of an allocated multi-page block
      }
      if (ref < 0) err(`page ${hex(pfn)} has negative refcount ${ref}`);
    }
  }
  for (const e of verifyLru(mem)) err(e);
  return { total, buddy, pcp, allocated, reserved, bad, other, uncoalesced, errors };
}
