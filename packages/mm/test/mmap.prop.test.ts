import { KernelError } from '@kern/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { _PAGE_SPECIAL } from '../src/fault.js';
import { P_MAPPING, P_REFCOUNT } from '../src/layout.js';
import { mappingIsAnon } from '../src/mapping.js';
import type { Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Mm,
  createMm,
} from '../src/mmap.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { pageMapcount } from '../src/rmap.js';
import { verifyLru } from '../src/swap.js';
import { type FakeFile, createFakeFile, fileByte } from './fakes.js';

// ---------------------------------------------------------------- the model

/** What one virtual page holds, as the model sees it. */
type PageModel =
  | { prot: number; kind: 'anon'; data: Uint8Array | null }
  | {
      prot: number;
      kind: 'file';
      file: number;
      index: number;
      shared: boolean;
      cow: Uint8Array | null;
    };

const FILE_SIZES = [6 * PAGE_SIZE + 100, 4 * PAGE_SIZE];
const WINDOW = 0x10000000;
const WINDOW_PAGES = 24;

interface World {
  mem: Memory;
  mm: Mm;
  files: FakeFile[];
  /** File contents (whole pages) as the model expects them. */
  fileData: Uint8Array[];
  /** Virtual page number → model. */
  pages: Map<number, PageModel>;
}

function newWorld(zeroPage: boolean): World & { free0: number } {
  const mem = createMemory({ size: '64M', sectionSize: '16M' });
  mem.drainAllPages();
  const free0 = mem.nrFreePages();
  const files = FILE_SIZES.map((s, id) =>
    createFakeFile(mem, s, { id, migratable: false, countMajorFaults: false }),
  );
  const fileData = FILE_SIZES.map((s, f) => {
    const d = new Uint8Array(Math.ceil(s / PAGE_SIZE) * PAGE_SIZE);
    for (let k = 0; k < d.length; k++) d[k] = fileByte(Math.floor(k / PAGE_SIZE), k % PAGE_SIZE, f);
    return d;
  });
  return { mem, mm: createMm(mem, { zeroPage }), files, fileData, pages: new Map(), free0 };
}

/** The bytes a readable page shows, or null if reading it faults (SIGSEGV or SIGBUS). */
function modelPage(w: World, vpn: number, write: boolean): Uint8Array | null {
  const p = w.pages.get(vpn);
  if (!p) return null;
  if (write ? !(p.prot & PROT_WRITE) : p.prot === PROT_NONE) return null;
  if (p.kind === 'anon') return p.data ?? new Uint8Array(PAGE_SIZE);
  if (p.index * PAGE_SIZE >= FILE_SIZES[p.file]!) return null;
  if (p.cow) return p.cow;
  return w.fileData[p.file]!.subarray(p.index * PAGE_SIZE, (p.index + 1) * PAGE_SIZE);
}

/** Applies a store to one page of the model (the caller checked it is allowed). */
function modelStore(w: World, vpn: number, off: number, bytes: Uint8Array): void {
  const p = w.pages.get(vpn)!;
  if (p.kind === 'anon') {
    p.data ??= new Uint8Array(PAGE_SIZE);
    p.data.set(bytes, off);
  } else if (p.shared) {
    w.fileData[p.file]!.set(bytes, p.index * PAGE_SIZE + off);
  } else {
    p.cow ??= modelPage(w, vpn, false)!.slice();
    p.cow.set(bytes, off);
  }
}

/** Splits [addr, addr + len) into per-page pieces. */
function pieces(addr: number, len: number): { vpn: number; off: number; at: number; n: number }[] {
  const out = [];
  for (let done = 0; done < len;) {
    const va = addr + done;
    const off = va % PAGE_SIZE;
    const n = Math.min(len - done, PAGE_SIZE - off);
    out.push({ vpn: Math.floor(va / PAGE_SIZE), off, at: done, n });
    done += n;
  }
  return out;
}

// ---------------------------------------------------------------- operations

/**
 * Where an operation lands: usually a page the model has mapped (the `pick`-th, shifted
 * by `rel` pages), else (`raw`, or nothing mapped) page `page` of the window, so most
 * accesses reach mappings and some fall outside them.
 */
interface Where {
  page: number;
  raw: boolean;
  pick: number;
  rel: number;
}

type Op =
  | {
      kind: 'mmap';
      page: number;
      pages: number;
      prot: number;
      fixed: boolean;
      file: number; // −1: anonymous
      shared: boolean;
      fileOff: number;
    }
  | ({ kind: 'munmap'; pages: number } & Where)
  | ({ kind: 'mprotect'; pages: number; prot: number } & Where)
  | ({ kind: 'read'; off: number; len: number } & Where)
  | ({ kind: 'write'; off: number; len: number; seed: number } & Where)
  | { kind: 'fork'; pick: number; seed: number };

const prot = fc.oneof(
  { weight: 3, arbitrary: fc.constant(PROT_READ | PROT_WRITE) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(PROT_NONE, PROT_READ, PROT_READ | PROT_EXEC, PROT_WRITE),
  },
);
const page = fc.integer({ min: -1, max: WINDOW_PAGES });
const pages = fc.integer({ min: 1, max: 6 });
const where = {
  page,
  raw: fc.oneof(
    { weight: 1, arbitrary: fc.constant(true) },
    { weight: 5, arbitrary: fc.constant(false) },
  ),
  pick: fc.nat(),
  rel: fc.oneof(
    { weight: 6, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1) },
  ),
};

const mmapArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('mmap' as const),
  page: fc.integer({ min: 0, max: WINDOW_PAGES - 1 }),
  pages,
  prot,
  fixed: fc.boolean(),
  file: fc.integer({ min: -1, max: FILE_SIZES.length - 1 }),
  shared: fc.boolean(),
  fileOff: fc.integer({ min: 0, max: 5 }),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: mmapArb },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('munmap' as const), ...where, pages }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('mprotect' as const), ...where, pages, prot }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      ...where,
      off: fc.integer({ min: 0, max: PAGE_SIZE - 1 }),
      len: fc.integer({ min: 1, max: 2 * PAGE_SIZE }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      ...where,
      off: fc.integer({ min: 0, max: PAGE_SIZE - 1 }),
      len: fc.integer({ min: 1, max: 2 * PAGE_SIZE }),
      seed: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fork' as const),
      pick: fc.nat(),
      seed: fc.integer({ min: 0, max: 255 }),
    }),
  },
);

function expectFault(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError && e.errno === 'EFAULT') return;
    throw e;
  }
  throw new Error(`${what} should have faulted`);
}

/** The window page an operation aims at (see {@link Where}). */
function aim(w: World, at: Where): number {
  const mapped = [...w.pages.keys()].sort((a, b) => a - b);
  if (!mapped.length || at.raw) return at.page;
  return mapped[at.pick % mapped.length]! + at.rel - WINDOW / PAGE_SIZE;
}

function run(w: World, op: Op): void {
  const { mm } = w;
  const addrOf = (pg: number): number => WINDOW + pg * PAGE_SIZE;
  if (op.kind !== 'mmap' && op.kind !== 'fork') op = { ...op, page: aim(w, op) };
  switch (op.kind) {
    case 'mmap': {
      const file = op.file >= 0 ? w.files[op.file]! : null;
      const addr = mm.mmap({
        addr: addrOf(op.page),
        length: op.pages * PAGE_SIZE,
        prot: op.prot,
        flags:
          (file && op.shared ? MAP_SHARED : MAP_PRIVATE) |
          (file ? 0 : MAP_ANONYMOUS) |
          (op.fixed ? MAP_FIXED : 0),
        file,
        offset: op.fileOff * PAGE_SIZE,
      });
      const vpn0 = addr / PAGE_SIZE;
      if (op.fixed) expect(addr).toBe(addrOf(op.page));
      for (let k = 0; k < op.pages; k++) {
        if (!op.fixed) expect(w.pages.has(vpn0 + k)).toBe(false); // never over a mapping
        w.pages.set(
          vpn0 + k,
          file
            ? {
                prot: op.prot,
                kind: 'file',
                file: op.file,
                index: op.fileOff + k,
                shared: op.shared,
                cow: null,
              }
            : { prot: op.prot, kind: 'anon', data: null },
        );
      }
      return;
    }
    case 'munmap': {
      mm.munmap(addrOf(op.page), op.pages * PAGE_SIZE);
      const v0 = addrOf(op.page) / PAGE_SIZE;
      for (let k = 0; k < op.pages; k++) w.pages.delete(v0 + k);
      return;
    }
    case 'mprotect': {
      const v0 = addrOf(op.page) / PAGE_SIZE;
      let hole = false;
      for (let k = 0; k < op.pages; k++) if (!w.pages.has(v0 + k)) hole = true;
      if (hole) {
        expect(() => mm.mprotect(addrOf(op.page), op.pages * PAGE_SIZE, op.prot)).toThrow(/ENOMEM/);
        return;
      }
      mm.mprotect(addrOf(op.page), op.pages * PAGE_SIZE, op.prot);
      for (let k = 0; k < op.pages; k++) w.pages.get(v0 + k)!.prot = op.prot;
      return;
    }
    case 'read': {
      const addr = addrOf(op.page) + op.off;
      const expected = new Uint8Array(op.len);
      for (const p of pieces(addr, op.len)) {
        const m = modelPage(w, p.vpn, false);
        if (!m) {
          expectFault(() => mm.read(addr, op.len), `read at 0x${addr.toString(16)}`);
          return;
        }
        expected.set(m.subarray(p.off, p.off + p.n), p.at);
      }
      expect(mm.read(addr, op.len)).toEqual(expected);
      return;
    }
    case 'write': {
      const addr = addrOf(op.page) + op.off;
      const bytes = new Uint8Array(op.len).map((_, i) => (op.seed + i * 13) & 0xff);
      let ok = true;
      for (const p of pieces(addr, op.len)) {
        if (!modelPage(w, p.vpn, true)) {
          ok = false;
          break;
        }
        modelStore(w, p.vpn, p.off, bytes.subarray(p.at, p.at + p.n));
      }
      if (ok) mm.write(addr, bytes);
      else expectFault(() => mm.write(addr, bytes), `write at 0x${addr.toString(16)}`);
      return;
    }
    case 'fork': {
      // The child sees the parent's memory; its stores reach the parent only through
      // shared file mappings.
      const child = mm.fork();
      const vpns = [...w.pages.keys()].sort((a, b) => a - b);
      for (const vpn of vpns) {
        const m = modelPage(w, vpn, false);
        if (m) expect(child.read(vpn * PAGE_SIZE, PAGE_SIZE)).toEqual(m);
      }
      const writable = vpns.filter((v) => modelPage(w, v, true));
      if (writable.length) {
        const vpn = writable[op.pick % writable.length]!;
        const p = w.pages.get(vpn)!;
        child.write(vpn * PAGE_SIZE + 7, new Uint8Array([op.seed]));
        if (p.kind === 'file' && p.shared) modelStore(w, vpn, 7, new Uint8Array([op.seed]));
      }
      child.destroy();
      return;
    }
  }
}

/** Everything the model says, checked against the mm; returns the problems found. */
function check(w: World): string[] {
  const errors: string[] = [];
  const { mm, mem } = w;
  for (const [vpn, p] of w.pages) {
    const m = modelPage(w, vpn, false);
    if (!m) continue;
    const got = mm.read(vpn * PAGE_SIZE, PAGE_SIZE);
    const bad = got.findIndex((b, i) => b !== m[i]);
    if (bad >= 0)
      errors.push(`page 0x${vpn.toString(16)} (${p.kind}) byte ${bad}: ${got[bad]} != ${m[bad]}`);
  }
  // Entries and counters agree: each entry holds one reference and one mapcount.
  let anonEntries = 0;
  let fileEntries = 0;
  const entriesOf = new Map<number, number>();
  for (const v of mm.vmas)
    for (let va = v.start; va < v.end; va += PAGE_SIZE) {
      const pte = mm.getPte(va);
      if (!pte || pte.flags & _PAGE_SPECIAL) continue;
      entriesOf.set(pte.pfn, (entriesOf.get(pte.pfn) ?? 0) + 1);
      if (mappingIsAnon(mem.pageField(pte.pfn, P_MAPPING) >>> 0)) anonEntries++;
      else fileEntries++;
    }
  if (mm.rssAnon !== anonEntries) errors.push(`rssAnon ${mm.rssAnon} != ${anonEntries} entries`);
  if (mm.rssFile !== fileEntries) errors.push(`rssFile ${mm.rssFile} != ${fileEntries} entries`);
  for (const [pfn, n] of entriesOf) {
    const anon = mappingIsAnon(mem.pageField(pfn, P_MAPPING) >>> 0);
    if (pageMapcount(mem, pfn) !== n)
      errors.push(`pfn ${pfn}: mapcount ${pageMapcount(mem, pfn)} != ${n}`);
    const want = n + (anon ? 0 : 1);
    if (mem.pageField(pfn, P_REFCOUNT) !== want)
      errors.push(`pfn ${pfn}: refcount ${mem.pageField(pfn, P_REFCOUNT)} != ${want}`);
  }
  if (mem.nodeState('nr_anon_pages') !== anonEntries)
    errors.push(`nr_anon_pages ${mem.nodeState('nr_anon_pages')} != ${anonEntries}`);
  return errors;
}

/** Tears everything down and reports what did not come back. */
function teardown(w: World & { free0: number }): string[] {
  w.mm.destroy();
  for (const f of w.files) {
    if (f.iMmap.size) return [`file still has ${f.iMmap.size} VMAs after destroy`];
    f.release();
  }
  w.mem.drainAllPages();
  const errors = [...verifyMemory(w.mem).errors, ...verifyLru(w.mem)];
  if (w.mem.nrFreePages() !== w.free0)
    errors.push(`free pages ${w.mem.nrFreePages()} != ${w.free0}`);
  for (const item of ['nr_anon_pages', 'nr_mapped', 'nr_page_table_pages'] as const)
    if (w.mem.nodeState(item)) errors.push(`${item} is ${w.mem.nodeState(item)} after teardown`);
  return errors;
}

/** Runs per property; KERN_PROP_RUNS=2000 for a long search. */
const RUNS = Number(process.env.KERN_PROP_RUNS ?? 60);

describe('address spaces against a model of virtual memory', () => {
  it(
    'reads see what the model says, faults happen exactly outside permissions, and everything comes back',
    () => {
      fc.assert(
        fc.property(
          fc.boolean(),
          fc.array(mmapArb, { minLength: 2, maxLength: 5 }),
          fc.array(opArb, { minLength: 1, maxLength: 50 }),
          (zeroPage, maps, ops) => {
            const w = newWorld(zeroPage);
            for (const op of [...maps, ...ops]) run(w, op);
            expect(check(w)).toEqual([]);
            expect(teardown(w)).toEqual([]);
          },
        ),
        { numRuns: RUNS },
      );
    },
    60_000 + RUNS * 200,
  );

  it('negative control: the checks catch a byte changed behind the model and a leaked reference', () => {
    const w = newWorld(true);
    run(w, {
      kind: 'mmap',
      page: 0,
      pages: 2,
      prot: PROT_READ | PROT_WRITE,
      fixed: true,
      file: -1,
      shared: false,
      fileOff: 0,
    });
    run(w, {
      kind: 'mmap',
      page: 4,
      pages: 2,
      prot: PROT_READ | PROT_WRITE,
      fixed: true,
      file: 0,
      shared: true,
      fileOff: 0,
    });
    run(w, {
      kind: 'write',
      page: 0,
      raw: true,
      pick: 0,
      rel: 0,
      off: 10,
      len: 3 * PAGE_SIZE,
      seed: 1,
    });
    run(w, { kind: 'write', page: 4, raw: true, pick: 0, rel: 0, off: 0, len: 100, seed: 2 });
    expect(check(w)).toEqual([]);
    // Corrupt one byte of the anonymous page in physical memory.
    const pfn = w.mm.getPte(WINDOW)!.pfn;
    w.mem.pageBytes(pfn)[11]! ^= 0xff;
    expect(check(w).join()).toMatch(/byte 11/);
    w.mem.pageBytes(pfn)[11]! ^= 0xff;
    // Leak a reference on the file page: the refcount check and the teardown both see it.
    const fp = w.mm.getPte(WINDOW + 4 * PAGE_SIZE)!.pfn;
    w.mem.getPage(fp);
    expect(check(w).join()).toMatch(/refcount 3 != 2/);
    expect(teardown(w).join()).toMatch(/free pages \d+ != \d+/);
    expect(w.mem.nrFreePages()).toBe(w.free0 - 1);
  });
});
