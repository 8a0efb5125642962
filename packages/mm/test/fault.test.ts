import { KernelError, isKernelError } from '@kern/core';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_SPECIAL } from '../src/fault.js';
import { GFP_HIGHUSER_MOVABLE, __GFP_NOWARN } from '../src/gfp.js';
import { LRU_ACTIVE_ANON, P_INDEX, P_MAPCOUNT, P_MAPPING, P_REFCOUNT } from '../src/layout.js';
import { createAddressSpace } from '../src/filemap.js';
import { migratePages } from '../src/migrate.js';
import type { FileBacking, RmapVma } from '../src/mapping.js';
import type { Memory } from '../src/memory.js';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Mm,
  type Vma,
  createMm,
} from '../src/mmap.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { PG_dirty, PG_swapbacked } from '../src/page-flags.js';
import { AnonVma, pageMapcount, rmapWalk } from '../src/rmap.js';
import { lruCount, verifyLru } from '../src/swap.js';
import { type FakeFile, createFakeFile, fileByte } from './fakes.js';
import { boot, thrown } from './helpers.js';

// ---------------------------------------------------------------- helpers

function expectAllBack(mem: Memory, free0: number): void {
  mem.drainAllPages();
  expect(verifyMemory(mem).errors).toEqual([]);
  expect(mem.nrFreePages()).toBe(free0);
  expect(mem.nodeState('nr_anon_pages')).toBe(0);
  expect(mem.nodeState('nr_mapped')).toBe(0);
  expect(mem.nodeState('nr_page_table_pages')).toBe(0);
  expect(verifyLru(mem)).toEqual([]);
  expect(lruCount(mem, 0, LRU_ACTIVE_ANON)).toBe(0);
}

function anon(mm: Mm, pages: number, prot = PROT_READ | PROT_WRITE): number {
  return mm.mmap({ length: pages * PAGE_SIZE, prot, flags: MAP_PRIVATE | MAP_ANONYMOUS });
}

const refcount = (mem: Memory, pfn: number): number => mem.pageField(pfn, P_REFCOUNT);

/** Boots, then makes a fake file of `sizeBytes` and an mm to map it in. */
function bootWithFile(sizeBytes: number): { mem: Memory; free0: number; f: FakeFile; mm: Mm } {
  const { mem, free0 } = boot();
  const f = createFakeFile(mem, sizeBytes);
  return { mem, free0, f, mm: createMm(mem) };
}

/** Maps `pages` pages of `file`, from byte `offset` on, into `mm`. */
function mapFile(
  mm: Mm,
  file: FileBacking,
  pages: number,
  prot: number,
  flags: number,
  offset = 0,
): number {
  return mm.mmap({ length: pages * PAGE_SIZE, prot, flags, file, offset });
}

// ---------------------------------------------------------------- anonymous faults

describe('anonymous faults', () => {
  it('maps the shared zero page read-only on a read of a never-touched page', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 4);
    expect(mm.read(a + 100, 16)).toEqual(new Uint8Array(16));
    const pte = mm.getPte(a)!;
    expect(pte.flags & _PAGE_SPECIAL).toBeTruthy();
    expect(pte.flags & _PAGE_RW).toBe(0);
    expect(pte.pfn).toBe(mm.zeroPage());
    // No per-entry accounting for the zero page.
    expect(mem.pageField(pte.pfn, P_MAPCOUNT)).toBe(-1);
    expect(refcount(mem, pte.pfn)).toBe(1);
    expect(mm.rssAnon).toBe(0);
    expect(mem.nodeState('nr_anon_pages')).toBe(0);
    // Another page reads the same zero page.
    mm.read(a + PAGE_SIZE, 1);
    expect(mm.getPte(a + PAGE_SIZE)!.pfn).toBe(pte.pfn);
    // A write replaces it by a private zeroed page.
    mm.write(a + 8, new Uint8Array([1, 2, 3]));
    const after = mm.getPte(a)!;
    expect(after.pfn).not.toBe(pte.pfn);
    expect(after.flags & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    expect(mm.read(a, 12)).toEqual(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0]));
    expect(mem.pageBytes(pte.pfn).every((b) => b === 0)).toBe(true);
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('with zeroPage: false a read fault allocates a writable zeroed page', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem, { zeroPage: false });
    const a = anon(mm, 1);
    mm.read(a, 1);
    const pte = mm.getPte(a)!;
    expect(pte.flags & _PAGE_SPECIAL).toBe(0);
    expect(pte.flags & _PAGE_RW).toBeTruthy();
    expect(mm.rssAnon).toBe(1);
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('a write fault allocates a zeroed page owned by the anon_vma, as Linux sets up struct page', () => {
    const { mem, free0 } = boot();
    // Dirty some free memory first so a non-zeroing allocation would show.
    const junk: number[] = [];
    for (let i = 0; i < 64; i++) {
      const p = mem.allocPages(GFP_HIGHUSER_MOVABLE, 0)!;
      mem.pageBytes(p).fill(0xa5);
      junk.push(p);
    }
    for (const p of junk) mem.putPage(p);
    const mm = createMm(mem);
    const a = anon(mm, 8);
    const faults0 = mem.eventCount('pgfault');
    mm.write(a + 3 * PAGE_SIZE + 5, new Uint8Array([42]));
    expect(mem.eventCount('pgfault')).toBe(faults0 + 1);
    const pfn = mm.getPte(a + 3 * PAGE_SIZE)!.pfn;
    const vma = mm.vmaLookup(a)!;
    expect(vma.anonVma).toBeInstanceOf(AnonVma);
    const word = mem.pageField(pfn, P_MAPPING) >>> 0;
    expect(word).toBe(vma.anonVma!.mappingWord);
    expect(word & 1).toBe(1);
    // P_INDEX is 32 bits: the linear index modulo 2^32 (anonymous pgoff is addr / 4096).
    expect(mem.pageField(pfn, P_INDEX) >>> 0).toBe((vma.pgoff + 3) % 2 ** 32);
    expect(vma.pgoff).toBe(a / PAGE_SIZE);
    expect(mem.pageField(pfn, P_MAPCOUNT)).toBe(0);
    expect(pageMapcount(mem, pfn)).toBe(1);
    expect(refcount(mem, pfn)).toBe(1);
    expect(mem.testPageFlag(pfn, PG_swapbacked)).toBe(true);
    expect(mem.nodeState('nr_anon_pages')).toBe(1);
    // On the active anon LRU (folio_add_lru_vma).
    expect(lruCount(mem, 0, LRU_ACTIVE_ANON)).toBe(1);
    const bytes = mem.pageBytes(pfn);
    expect(bytes[5]).toBe(42);
    expect(bytes.filter((b) => b !== 0).length).toBe(1);
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('counts page-table pages: PGD at creation, then PUD, PMD and PTE tables on the first fault', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    expect(mem.nodeState('nr_page_table_pages')).toBe(1);
    const a = anon(mm, 1);
    mm.write(a, new Uint8Array([1]));
    expect(mem.nodeState('nr_page_table_pages')).toBe(4);
    expect(mm.pt.nrPages).toBe(4);
    mm.munmap(a, PAGE_SIZE);
    expect(mem.nodeState('nr_page_table_pages')).toBe(1);
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('the page table is real x86-64 format in physical memory: a raw walk finds the page', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    mm.write(a + PAGE_SIZE + 77, new Uint8Array([0xee]));
    let table = mm.pt.pgd;
    const va = a + PAGE_SIZE + 77;
    let entry = 0n;
    for (const shift of [39, 30, 21, 12]) {
      const idx = Math.floor(va / 2 ** shift) % 512;
      const raw = mem.readPhys(table * PAGE_SIZE + idx * 8, 8);
      entry = new DataView(raw.buffer).getBigUint64(0, true);
      expect(entry & 1n).toBe(1n);
      table = Number((entry >> 12n) & 0xffffffffffn);
    }
    expect(Number(entry & 0x7n)).toBe(_PAGE_PRESENT | _PAGE_RW | 4);
    expect(mem.readPhys(table * PAGE_SIZE + 77, 1)[0]).toBe(0xee);
    expect(mm.translate(va)).toBe(table * PAGE_SIZE + 77);
    mm.destroy();
  });

  it('fails a fault with ENOMEM when no page is left, changing nothing', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    mm.write(a, new Uint8Array([1])); // page tables exist now
    const hog: number[] = [];
    for (;;) {
      const p = mem.allocPages(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, 0);
      if (p === null) break;
      hog.push(p);
    }
    const e = thrown(() => mm.write(a + PAGE_SIZE, new Uint8Array([2])));
    expect(e.errno).toBe('ENOMEM');
    expect(mm.getPte(a + PAGE_SIZE)).toBeNull();
    for (const p of hog) mem.putPage(p);
    mm.write(a + PAGE_SIZE, new Uint8Array([2]));
    expect(mm.read(a, PAGE_SIZE + 1)[PAGE_SIZE]).toBe(2);
    mm.destroy();
    expectAllBack(mem, free0);
  });
});

// ---------------------------------------------------------------- segfaults

describe('access errors', () => {
  it('faults outside any VMA are EFAULT with a segfault message', () => {
    const { mem } = boot();
    const mm = createMm(mem, { pid: 42, comm: 'a.out' });
    const a = anon(mm, 1);
    const e = thrown(() => mm.write(a + PAGE_SIZE, new Uint8Array([1])));
    expect(e.errno).toBe('EFAULT');
    expect(e.message).toMatch(
      /a\.out\[42\]: segfault at [0-9a-f]+ ip [0-9a-f]{16} sp [0-9a-f]{16} error 6/,
    );
    expect(thrown(() => mm.read(0, 1)).message).toMatch(/segfault at 0 .*error 4/);
    expect(thrown(() => mm.handleFault(2 ** 47, { write: false })).errno).toBe('EFAULT');
    mm.destroy();
  });

  it('a write to a read-only mapping is EFAULT (error 7 once the page is present)', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 1, PROT_READ);
    expect(thrown(() => mm.write(a, new Uint8Array([1]))).message).toMatch(/error 6/);
    mm.read(a, 1);
    const e = thrown(() => mm.write(a, new Uint8Array([1])));
    expect(e.errno).toBe('EFAULT');
    expect(e.message).toMatch(/error 7 .*without PROT_WRITE/);
    mm.destroy();
  });

  it('PROT_NONE refuses reads and writes but keeps the data', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    mm.write(a, new Uint8Array([9, 8, 7]));
    mm.mprotect(a, PAGE_SIZE, PROT_NONE);
    expect(mm.getPte(a)!.flags & _PAGE_PRESENT).toBe(0);
    expect(mm.translate(a)).toBeNull();
    expect(thrown(() => mm.read(a, 1)).message).toMatch(/PROT_NONE/);
    expect(thrown(() => mm.write(a, new Uint8Array([1]))).errno).toBe('EFAULT');
    mm.mprotect(a, PAGE_SIZE, PROT_READ);
    expect(mm.read(a, 3)).toEqual(new Uint8Array([9, 8, 7]));
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('an exec fault needs PROT_EXEC', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 1);
    expect(thrown(() => mm.handleFault(a, { write: false, exec: true })).message).toMatch(
      /error 20 .*PROT_EXEC/,
    );
    mm.destroy();
  });
});

// ---------------------------------------------------------------- file faults

describe('file faults', () => {
  it('a read fault maps the cache page read-only with a reference and a mapcount', () => {
    const { mem, free0, f, mm } = bootWithFile(4 * PAGE_SIZE);
    const a = mapFile(mm, f, 4, PROT_READ, MAP_SHARED);
    const maj0 = mem.eventCount('pgmajfault');
    expect(mm.read(a + PAGE_SIZE + 10, 3)).toEqual(
      new Uint8Array([fileByte(1, 10), fileByte(1, 11), fileByte(1, 12)]),
    );
    expect(mem.eventCount('pgmajfault')).toBe(maj0 + 1);
    expect(mm.majFlt).toBe(1);
    const pfn = f.cache.get(1)!;
    expect(mm.getPte(a + PAGE_SIZE)!.pfn).toBe(pfn);
    expect(mm.getPte(a + PAGE_SIZE)!.flags & _PAGE_RW).toBe(0);
    expect(refcount(mem, pfn)).toBe(2);
    expect(mem.pageField(pfn, P_MAPCOUNT)).toBe(0);
    expect(mem.nodeState('nr_mapped')).toBe(1);
    expect(mm.rssFile).toBe(1);
    // The page is not reread on a second mm's fault: a minor fault.
    const mm2 = createMm(mem);
    const b = mapFile(mm2, f, 4, PROT_READ, MAP_SHARED);
    mm2.read(b + PAGE_SIZE, 1);
    expect(mm2.majFlt).toBe(0);
    expect(mm2.minFlt).toBe(1);
    mm.destroy();
    mm2.destroy();
    expect(refcount(mem, pfn)).toBe(1);
    f.release();
    expectAllBack(mem, free0);
  });

  it('a page mapped by two VMAs of a shared file has mapcount 2 and refcount 1 + 2', () => {
    const { mem, free0, f, mm } = bootWithFile(2 * PAGE_SIZE);
    const a = mapFile(mm, f, 1, PROT_READ | PROT_WRITE, MAP_SHARED);
    const b = mapFile(mm, f, 1, PROT_READ, MAP_SHARED);
    expect(mm.mapCount).toBe(2);
    expect(f.iMmap.size).toBe(2);
    mm.read(a, 1);
    mm.read(b, 1);
    const pfn = f.cache.get(0)!;
    expect(mem.pageField(pfn, P_MAPCOUNT)).toBe(1);
    expect(pageMapcount(mem, pfn)).toBe(2);
    expect(refcount(mem, pfn)).toBe(3);
    expect(mem.nodeState('nr_mapped')).toBe(1);
    // A store through one mapping is seen through the other.
    mm.write(a + 5, new Uint8Array([0x77]));
    expect(mm.read(b + 5, 1)[0]).toBe(0x77);
    // rmap finds both.
    const seen: RmapVma[] = [];
    expect(rmapWalk(mem, pfn, (v) => void seen.push(v))).toBe(2);
    expect(seen.every((v) => (v as Vma).mapsPage(0, pfn))).toBe(true);
    mm.munmap(b, PAGE_SIZE);
    expect(pageMapcount(mem, pfn)).toBe(1);
    expect(refcount(mem, pfn)).toBe(2);
    expect(f.iMmap.size).toBe(1);
    mm.destroy();
    expect(f.iMmap.size).toBe(0);
    f.release();
    expectAllBack(mem, free0);
  });

  it('a private write fault copies the file page into an anonymous page', () => {
    const { mem, free0, f, mm } = bootWithFile(2 * PAGE_SIZE);
    const a = mapFile(mm, f, 2, PROT_READ | PROT_WRITE, MAP_PRIVATE, PAGE_SIZE);
    mm.write(a + 1, new Uint8Array([0]));
    const filePfn = f.cache.get(1)!;
    const pte = mm.getPte(a)!;
    expect(pte.pfn).not.toBe(filePfn);
    expect(mem.pageField(pte.pfn, P_MAPPING) & 1).toBe(1);
    expect(mem.pageField(pte.pfn, P_INDEX)).toBe(1); // linear index: the file page it copies
    expect(mm.read(a, 3)).toEqual(new Uint8Array([fileByte(1, 0), 0, fileByte(1, 2)]));
    expect(mem.pageBytes(filePfn)[1]).toBe(fileByte(1, 1));
    expect(refcount(mem, filePfn)).toBe(1);
    expect(mem.pageField(filePfn, P_MAPCOUNT)).toBe(-1);
    expect(f.mkwriteCalls).toEqual([]);
    expect(f.dirtied).toEqual([]);
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('a private mapping read first, written later: the file page is unmapped and copied', () => {
    const { mem, free0, f, mm } = bootWithFile(PAGE_SIZE);
    const a = mapFile(mm, f, 1, PROT_READ | PROT_WRITE, MAP_PRIVATE);
    mm.read(a, 1);
    const filePfn = f.cache.get(0)!;
    expect(mm.getPte(a)!.pfn).toBe(filePfn);
    expect(mm.rssFile).toBe(1);
    mm.write(a, new Uint8Array([0xff]));
    expect(mm.getPte(a)!.pfn).not.toBe(filePfn);
    expect(mm.rssFile).toBe(0);
    expect(mm.rssAnon).toBe(1);
    expect(pageMapcount(mem, filePfn)).toBe(0);
    expect(refcount(mem, filePfn)).toBe(1);
    expect(mm.read(a, 2)).toEqual(new Uint8Array([0xff, fileByte(0, 1)]));
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('a shared write calls pageMkwrite before the entry becomes writable, then setPageDirty', () => {
    const { mem, free0, f, mm } = bootWithFile(2 * PAGE_SIZE);
    const a = mapFile(mm, f, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
    // Not present: do_shared_fault.
    mm.write(a, new Uint8Array([1]));
    const p0 = f.cache.get(0)!;
    expect(f.mkwriteCalls).toEqual([{ pfn: p0, index: 0 }]);
    expect(f.dirtied).toEqual([p0]);
    expect(mm.getPte(a)!.flags & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    // Present read-only: wp_page_shared.
    mm.read(a + PAGE_SIZE, 1);
    const p1 = f.cache.get(1)!;
    expect(mm.getPte(a + PAGE_SIZE)!.flags & _PAGE_RW).toBe(0);
    expect(f.mkwriteCalls.length).toBe(1);
    mm.write(a + PAGE_SIZE, new Uint8Array([2]));
    expect(f.mkwriteCalls).toEqual([
      { pfn: p0, index: 0 },
      { pfn: p1, index: 1 },
    ]);
    expect(mem.testPageFlag(p1, PG_dirty)).toBe(true);
    expect(mem.pageBytes(p1)[0]).toBe(2);
    // Further stores do not fault.
    mm.write(a + PAGE_SIZE + 1, new Uint8Array([3]));
    expect(f.mkwriteCalls.length).toBe(2);
    // After writeback write-protects it (page_mkclean), the next store asks again.
    mem.clearPageFlag(p1, PG_dirty);
    for (const v of f.iMmap) (v as Vma).wrprotectPage(1, p1);
    expect(mm.getPte(a + PAGE_SIZE)!.flags & (_PAGE_RW | _PAGE_DIRTY)).toBe(0);
    mm.write(a + PAGE_SIZE + 2, new Uint8Array([4]));
    expect(f.mkwriteCalls.length).toBe(3);
    expect(mem.testPageFlag(p1, PG_dirty)).toBe(true);
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('a pageMkwrite that throws (frozen filesystem) leaves nothing writable or dirty', () => {
    const { mem, free0, f, mm } = bootWithFile(2 * PAGE_SIZE);
    const a = mapFile(mm, f, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
    f.mkwriteError = new KernelError('EAGAIN', 'filesystem is frozen');
    // Entry not present.
    expect(thrown(() => mm.write(a, new Uint8Array([1]))).message).toMatch(/frozen/);
    expect(mm.getPte(a)).toBeNull();
    const p0 = f.cache.get(0)!;
    expect(refcount(mem, p0)).toBe(1);
    expect(pageMapcount(mem, p0)).toBe(0);
    expect(mem.testPageFlag(p0, PG_dirty)).toBe(false);
    expect(mem.pageBytes(p0)[0]).toBe(fileByte(0, 0));
    // Entry present read-only.
    mm.read(a + PAGE_SIZE, 1);
    const p1 = f.cache.get(1)!;
    expect(thrown(() => mm.write(a + PAGE_SIZE, new Uint8Array([1]))).errno).toBe('EAGAIN');
    const pte = mm.getPte(a + PAGE_SIZE)!;
    expect(pte.flags & (_PAGE_RW | _PAGE_DIRTY)).toBe(0);
    expect(mem.testPageFlag(p1, PG_dirty)).toBe(false);
    expect(mem.pageBytes(p1)[0]).toBe(fileByte(1, 0));
    expect(f.dirtied).toEqual([]);
    expect(refcount(mem, p1)).toBe(2);
    // Thaw: the same store now goes through.
    f.mkwriteError = null;
    mm.write(a + PAGE_SIZE, new Uint8Array([1]));
    expect(mem.testPageFlag(p1, PG_dirty)).toBe(true);
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('a fault past the end of the file is SIGBUS (EFAULT)', () => {
    const { mem, free0, f, mm } = bootWithFile(PAGE_SIZE + 10);
    const a = mapFile(mm, f, 4, PROT_READ, MAP_PRIVATE);
    expect(mm.read(a + PAGE_SIZE + 100, 1)[0]).toBe(fileByte(1, 100));
    const e = thrown(() => mm.read(a + 2 * PAGE_SIZE, 1));
    expect(e.errno).toBe('EFAULT');
    expect(e.message).toMatch(/SIGBUS/);
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('truncation unmaps through iMmap (unmapPage) and the next access refaults', () => {
    const { mem, free0, f, mm } = bootWithFile(PAGE_SIZE);
    const a = mapFile(mm, f, 1, PROT_READ, MAP_SHARED);
    mm.read(a, 1);
    const old = f.cache.get(0)!;
    f.truncatePage(0);
    expect(mm.getPte(a)).toBeNull();
    expect(mm.rssFile).toBe(0);
    mm.read(a, 1);
    expect(f.cache.get(0)).toBeDefined();
    expect(mm.getPte(a)!.pfn).toBe(f.cache.get(0));
    void old;
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });
});

// ---------------------------------------------------------------- rmap and migration

/** Moves one page with migrate.ts, as hotplug or compaction would. */
function migrate(mem: Memory, old: number): number {
  const r = migratePages(mem, [old]);
  expect(r.failed).toEqual([]);
  const nw = r.moved.get(old);
  expect(nw).toBeDefined();
  return nw!;
}

describe('anon_vma and reverse mapping', () => {
  it('migratePage repoints every entry, moving the reference and mapcount', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    mm.write(a + PAGE_SIZE, new Uint8Array([5, 6, 7]));
    const old = mm.getPte(a + PAGE_SIZE)!.pfn;
    const owner = mem.mappings.lookup(mem.pageField(old, P_MAPPING) >>> 0)!;
    expect(owner.anon).toBe(true);
    expect(owner.ownerRefs(old)).toBe(0);
    expect(owner.releasePage?.(old, 0)).toBe(false);
    const nw = migrate(mem, old);
    const pte = mm.getPte(a + PAGE_SIZE)!;
    expect(pte.pfn).toBe(nw);
    expect(pte.flags & _PAGE_RW).toBeTruthy();
    expect(refcount(mem, nw)).toBe(1);
    expect(pageMapcount(mem, nw)).toBe(1);
    expect(refcount(mem, old)).toBe(0);
    expect(mem.nodeState('nr_anon_pages')).toBe(1);
    expect(mm.read(a + PAGE_SIZE, 3)).toEqual(new Uint8Array([5, 6, 7]));
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('migrating a file page remaps it in every VMA of the file', () => {
    const { mem, free0, f, mm } = bootWithFile(PAGE_SIZE);
    const a = mapFile(mm, f, 1, PROT_READ, MAP_SHARED);
    const b = mapFile(mm, f, 1, PROT_READ, MAP_PRIVATE);
    mm.read(a, 1);
    mm.read(b, 1);
    const old = f.cache.get(0)!;
    const nw = migrate(mem, old);
    expect(f.cache.get(0)).toBe(nw);
    expect(refcount(mem, old)).toBe(0);
    expect(mm.getPte(a)!.pfn).toBe(nw);
    expect(mm.getPte(b)!.pfn).toBe(nw);
    expect(refcount(mem, nw)).toBe(3);
    expect(pageMapcount(mem, nw)).toBe(2);
    expect(mem.nodeState('nr_mapped')).toBe(1);
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('rmapWalk and pageMapcount see a forked page in both processes', () => {
    const { mem, free0 } = boot();
    const parent = createMm(mem);
    const a = anon(parent, 1);
    parent.write(a, new Uint8Array([1]));
    const pfn = parent.getPte(a)!.pfn;
    const child = parent.fork();
    expect(pageMapcount(mem, pfn)).toBe(2);
    expect(refcount(mem, pfn)).toBe(2);
    let maps = 0;
    rmapWalk(mem, pfn, (v, index) => {
      if ((v as Vma).mapsPage(index, pfn)) maps++;
    });
    expect(maps).toBe(2);
    const nw = migrate(mem, pfn);
    expect(parent.getPte(a)!.pfn).toBe(nw);
    expect(child.getPte(a)!.pfn).toBe(nw);
    expect(pageMapcount(mem, nw)).toBe(2);
    parent.destroy();
    child.destroy();
    expectAllBack(mem, free0);
  });

  it('releases the anon_vma with its last VMA', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 1);
    mm.write(a, new Uint8Array([1]));
    const av = mm.vmaLookup(a)!.anonVma!;
    expect(mem.mappings.lookup(av.mappingWord)).toBe(av);
    mm.munmap(a, PAGE_SIZE);
    expect(av.released).toBe(true);
    expect(mem.mappings.lookup(av.mappingWord)).toBeUndefined();
    mm.destroy();
  });

  it('anonymous pages join the active anon LRU and leave it when freed', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    mm.write(a, new Uint8Array(2 * PAGE_SIZE).fill(1));
    expect(lruCount(mem, 0, LRU_ACTIVE_ANON)).toBe(2);
    expect(mem.nodeState('nr_active_anon')).toBe(2);
    mm.munmap(a, PAGE_SIZE);
    expect(lruCount(mem, 0, LRU_ACTIVE_ANON)).toBe(1);
    mm.destroy();
    expectAllBack(mem, free0);
  });
});

describe('fork', () => {
  it('copy-on-write: each side sees only its own stores, pages are shared until written', () => {
    const { mem, free0 } = boot();
    const parent = createMm(mem);
    const a = anon(parent, 3);
    parent.write(a, new Uint8Array([1, 1, 1]));
    parent.write(a + PAGE_SIZE, new Uint8Array([2]));
    parent.read(a + 2 * PAGE_SIZE, 1); // zero page
    const shared = parent.getPte(a)!.pfn;
    const child = parent.fork({ pid: 2 });
    expect(parent.getPte(a)!.flags & _PAGE_RW).toBe(0);
    expect(child.getPte(a)!.pfn).toBe(shared);
    expect(child.getPte(a + 2 * PAGE_SIZE)!.pfn).toBe(parent.zeroPage());
    expect(refcount(mem, parent.zeroPage())).toBe(2); // one per mm
    expect(child.rssAnon).toBe(2);
    child.write(a, new Uint8Array([9]));
    expect(parent.read(a, 3)).toEqual(new Uint8Array([1, 1, 1]));
    expect(child.read(a, 3)).toEqual(new Uint8Array([9, 1, 1]));
    expect(child.getPte(a)!.pfn).not.toBe(shared);
    expect(refcount(mem, shared)).toBe(1);
    // The parent is now the only user: it reuses the page instead of copying.
    parent.write(a, new Uint8Array([7]));
    expect(parent.getPte(a)!.pfn).toBe(shared);
    parent.write(a + 2 * PAGE_SIZE, new Uint8Array([3]));
    expect(child.read(a + 2 * PAGE_SIZE, 1)[0]).toBe(0);
    // The child's stores to the zero page and the second page do not reach the parent.
    child.write(a + PAGE_SIZE, new Uint8Array([8]));
    expect(parent.read(a + PAGE_SIZE, 1)[0]).toBe(2);
    parent.destroy();
    expect(child.read(a, 3)).toEqual(new Uint8Array([9, 1, 1]));
    expect(child.read(a + PAGE_SIZE, 1)[0]).toBe(8);
    child.destroy();
    expectAllBack(mem, free0);
  });

  it('shared file mappings stay shared across fork', () => {
    const { mem, free0, f, mm: parent } = bootWithFile(PAGE_SIZE);
    const a = mapFile(parent, f, 1, PROT_READ | PROT_WRITE, MAP_SHARED);
    parent.write(a, new Uint8Array([1]));
    const child = parent.fork();
    expect(f.iMmap.size).toBe(2);
    child.write(a, new Uint8Array([2]));
    expect(parent.read(a, 1)[0]).toBe(2);
    parent.destroy();
    child.destroy();
    f.release();
    expectAllBack(mem, free0);
  });
});

describe('a fault is counted', () => {
  it('once per fault, not per access', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    const f0 = mem.eventCount('pgfault');
    mm.write(a, new Uint8Array(PAGE_SIZE + 1));
    mm.write(a, new Uint8Array(10));
    mm.read(a, 2 * PAGE_SIZE);
    expect(mem.eventCount('pgfault') - f0).toBe(2);
    expect(mm.minFlt).toBe(2);
    expect(
      isKernelError(
        thrown(() => mm.read(a - PAGE_SIZE, 1)),
        'EFAULT',
      ),
    ).toBe(true);
    expect(mem.eventCount('pgfault') - f0).toBe(2);
    mm.destroy();
  });
});

describe('with the real page cache (filemap.ts)', () => {
  function space(mem: Memory, pages: number) {
    const disk = new Uint8Array(pages * PAGE_SIZE).map((_, i) => (i * 5 + 1) & 0xff);
    const written: number[] = [];
    const as = createAddressSpace(mem, {
      size: () => disk.length,
      readPage: (index, bytes) =>
        bytes.set(disk.subarray(index * PAGE_SIZE, (index + 1) * PAGE_SIZE)),
      writePage: (index, bytes) => {
        disk.set(bytes, index * PAGE_SIZE);
        written.push(index);
      },
    });
    return { as, disk, written };
  }

  it('shared stores reach the file through writeback, and each clean page asks pageMkwrite again', () => {
    const { mem, free0 } = boot();
    const { as, disk, written } = space(mem, 3);
    const mkwrites: number[] = [];
    as.setPageMkwrite((_pfn, index, next) => {
      mkwrites.push(index);
      next();
    });
    const mm = createMm(mem);
    const a = mapFile(mm, as, 3, PROT_READ | PROT_WRITE, MAP_SHARED);
    expect(mm.read(a + PAGE_SIZE, 2)).toEqual(disk.slice(PAGE_SIZE, PAGE_SIZE + 2));
    mm.write(a + PAGE_SIZE + 1, new Uint8Array([0xaa]));
    expect(mkwrites).toEqual([1]);
    expect(as.writebackPages()).toBe(1);
    expect(written).toEqual([1]);
    expect(disk[PAGE_SIZE + 1]).toBe(0xaa);
    // Writeback write-protected the entry (page_mkclean): the next store faults again.
    expect(mm.getPte(a + PAGE_SIZE)!.flags & _PAGE_RW).toBe(0);
    mm.write(a + PAGE_SIZE + 2, new Uint8Array([0xbb]));
    expect(mkwrites).toEqual([1, 1]);
    as.writebackPages();
    expect(disk[PAGE_SIZE + 2]).toBe(0xbb);
    mm.destroy();
    as.destroy();
    expectAllBack(mem, free0);
  });

  it('a frozen filesystem (pageMkwrite throws) leaves the page clean and read-only', () => {
    const { mem, free0 } = boot();
    const { as } = space(mem, 2);
    const mm = createMm(mem);
    const a = mapFile(mm, as, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
    mm.read(a, 1);
    as.setPageMkwrite(() => {
      throw new KernelError('EAGAIN', 'frozen');
    });
    expect(thrown(() => mm.write(a, new Uint8Array([1]))).message).toMatch(/frozen/);
    expect(thrown(() => mm.write(a + PAGE_SIZE, new Uint8Array([1]))).message).toMatch(/frozen/);
    const pfn = mm.getPte(a)!.pfn;
    expect(mm.getPte(a)!.flags & (_PAGE_RW | _PAGE_DIRTY)).toBe(0);
    expect(mm.getPte(a + PAGE_SIZE)).toBeNull();
    expect(mem.testPageFlag(pfn, PG_dirty)).toBe(false);
    expect(mem.nodeState('nr_dirty')).toBe(0);
    as.setPageMkwrite(null);
    mm.write(a, new Uint8Array([1]));
    expect(mem.testPageFlag(pfn, PG_dirty)).toBe(true);
    mm.destroy();
    as.syncAll();
    as.destroy();
    expectAllBack(mem, free0);
  });

  it('truncation unmaps, and a fault past the new end is SIGBUS', () => {
    const { mem, free0 } = boot();
    const disk = new Uint8Array(3 * PAGE_SIZE);
    let size = disk.length;
    const as = createAddressSpace(mem, { size: () => size });
    const mm = createMm(mem);
    const a = mapFile(mm, as, 3, PROT_READ, MAP_SHARED);
    mm.read(a, 3 * PAGE_SIZE);
    expect(mm.rssFile).toBe(3);
    size = PAGE_SIZE;
    as.truncate(size);
    expect(mm.rssFile).toBe(1);
    expect(mm.getPte(a + PAGE_SIZE)).toBeNull();
    expect(thrown(() => mm.read(a + 2 * PAGE_SIZE, 1)).message).toMatch(/SIGBUS/);
    mm.destroy();
    as.destroy();
    expectAllBack(mem, free0);
  });

  it('migratePages moves a mapped cache page and every entry follows', () => {
    const { mem, free0 } = boot();
    const { as } = space(mem, 1);
    const mm = createMm(mem);
    const child0 = mapFile(mm, as, 1, PROT_READ, MAP_PRIVATE);
    const b = mapFile(mm, as, 1, PROT_READ | PROT_WRITE, MAP_SHARED);
    mm.read(child0, 1);
    mm.write(b, new Uint8Array([0x5a]));
    const old = mm.getPte(b)!.pfn;
    const nw = migrate(mem, old);
    expect(mm.getPte(child0)!.pfn).toBe(nw);
    expect(mm.getPte(b)!.pfn).toBe(nw);
    expect(pageMapcount(mem, nw)).toBe(2);
    expect(refcount(mem, nw)).toBe(3);
    expect(mm.read(child0, 1)[0]).toBe(0x5a);
    mm.destroy();
    as.syncAll();
    as.destroy();
    expectAllBack(mem, free0);
  });
});
