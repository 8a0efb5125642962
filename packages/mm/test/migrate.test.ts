import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { createAddressSpace, type AddressSpace } from '../src/filemap.js';
import { GFP_KERNEL } from '../src/gfp.js';
import { P_MAPCOUNT, P_REFCOUNT } from '../src/layout.js';
import { migratePages } from '../src/migrate.js';
import { createMemory } from '../src/mm-init.js';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  createMm,
  type Mm,
} from '../src/mmap.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import {
  firstUnmovablePage,
  isSectionMemmap,
  offlineIsolatedPages,
  startIsolatePageRange,
  testPagesIsolated,
  undoIsolatePageRange,
} from '../src/page-isolation.js';
import { PG_offline } from '../src/page-flags.js';
import type { Memory } from '../src/memory.js';

const boot = (): Memory => createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });

/** Bytes that differ from page to page (so a frame holding another page's data shows). */
function pattern(seed: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + Math.floor(i / PAGE_SIZE) * 29) & 0xff;
  return b;
}

/** A file of `pages` pages in the page cache, mapped shared and touched, plus anonymous memory. */
function setup(
  mem: Memory,
  pages: number,
): { as: AddressSpace; mm: Mm; fileAddr: number; anonAddr: number } {
  const as = createAddressSpace(mem);
  as.write(0, pattern(1, pages * PAGE_SIZE));
  const mm = createMm(mem);
  const fileAddr = mm.mmap({
    length: pages * PAGE_SIZE,
    prot: PROT_READ | PROT_WRITE,
    flags: MAP_SHARED,
    file: as,
  });
  mm.read(fileAddr, pages * PAGE_SIZE);
  const anonAddr = mm.mmap({
    length: pages * PAGE_SIZE,
    prot: PROT_READ | PROT_WRITE,
    flags: MAP_PRIVATE | MAP_ANONYMOUS,
  });
  mm.write(anonAddr, pattern(2, pages * PAGE_SIZE));
  return { as, mm, fileAddr, anonAddr };
}

const pfnAt = (mm: Mm, addr: number): number => Math.floor(mm.translate(addr)! / PAGE_SIZE);

describe('migratePages', () => {
  it('moves page-cache and anonymous pages; every mapping follows and the bytes stay', () => {
    const mem = boot();
    const { as, mm, fileAddr, anonAddr } = setup(mem, 8);
    const old = [...Array(8).keys()].flatMap((k) => [
      pfnAt(mm, fileAddr + k * PAGE_SIZE),
      pfnAt(mm, anonAddr + k * PAGE_SIZE),
    ]);
    const r = migratePages(mem, old);
    expect(r.failed).toEqual([]);
    expect(r.moved.size).toBe(16);
    for (let k = 0; k < 8; k++) {
      const f = pfnAt(mm, fileAddr + k * PAGE_SIZE);
      const a = pfnAt(mm, anonAddr + k * PAGE_SIZE);
      expect(r.moved.get(old[2 * k]!)).toBe(f);
      expect(r.moved.get(old[2 * k + 1]!)).toBe(a);
      // page cache (1) + one PTE (1); one mapping
      expect(mem.pageField(f, P_REFCOUNT)).toBe(2);
      expect(mem.pageField(f, P_MAPCOUNT)).toBe(0);
      expect(as.findGetPage(k)).toBe(f);
      mem.putPage(f);
    }
    expect(mm.read(fileAddr, 8 * PAGE_SIZE)).toEqual(pattern(1, 8 * PAGE_SIZE));
    expect(as.read(0, 8 * PAGE_SIZE)).toEqual(pattern(1, 8 * PAGE_SIZE));
    expect(mm.read(anonAddr, 8 * PAGE_SIZE)).toEqual(pattern(2, 8 * PAGE_SIZE));
    expect(verifyMemory(mem).errors).toEqual([]);
    expect(mem.eventCount('pgmigrate_success')).toBe(16);
    // Writes through the mapping after migration land in the new page.
    mm.write(fileAddr, new Uint8Array([9, 9, 9]));
    expect(as.read(0, 3)).toEqual(new Uint8Array([9, 9, 9]));
  });

  it('a pinned page stays (EAGAIN) until the extra reference is dropped', () => {
    const mem = boot();
    const { mm, fileAddr } = setup(mem, 1);
    const pfn = pfnAt(mm, fileAddr);
    mem.getPage(pfn); // e.g. nfsd handing the page to a socket
    const r = migratePages(mem, [pfn], { tries: 2 });
    expect(r.failed).toEqual([
      { pfn, errno: 'EAGAIN', reason: expect.stringMatching(/pinned: refcount 4/) as string },
    ]);
    expect(pfnAt(mm, fileAddr)).toBe(pfn);
    mem.putPage(pfn);
    expect(migratePages(mem, [pfn]).moved.size).toBe(1);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('kernel pages are not movable (EBUSY); free pages are skipped', () => {
    const mem = boot();
    const k = mem.allocPages(GFP_KERNEL, 0)!;
    const r = migratePages(mem, [k]);
    expect(r.failed).toEqual([{ pfn: k, errno: 'EBUSY', reason: 'unmovable kernel page' }]);
    mem.freePages(k, 0);
    mem.drainAllPages();
    expect(migratePages(mem, [k]).free).toBe(1);
    expect(() => migratePages(mem, [1 << 30])).toThrow(/EINVAL/);
  });

  it('property: any subset migrates with bytes and mappings intact', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 0, max: 1 }),
        (pick, nid) => {
          const mem = createMemory({ nodes: ['32M', '32M'], sectionSize: '16M', nrCpus: 2 });
          const s = setup(mem, 6);
          const chosen = pages(s, 6).filter((_, i) => pick[i]);
          const r = migratePages(
            mem,
            chosen.map((c) => c.old),
            { nid },
          );
          expect(r.failed).toEqual([]);
          for (const c of chosen) expect(mem.pageToNid(pfnAt(s.mm, c.addr))).toBe(nid);
          expect(migrationViolations(mem, s, 6, chosen, r)).toEqual([]);
          expect(verifyMemory(mem).errors).toEqual([]);
          s.mm.destroy();
          s.as.destroy();
          mem.drainAllPages();
          const end = verifyMemory(mem);
          expect(end.errors).toEqual([]);
          expect(end.buddy + end.reserved).toBe(end.total);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('negative control: migration that skips the copy or leaves a stale PTE fails that property', () => {
    const found: Record<string, string[]> = {};
    for (const debugBreak of ['none', 'skip-copy', 'stale-pte'] as const) {
      const mem = createMemory({ nodes: ['32M', '32M'], sectionSize: '16M', nrCpus: 2 });
      const s = setup(mem, 6);
      const chosen = pages(s, 6);
      const r = migratePages(
        mem,
        chosen.map((c) => c.old),
        { nid: 1, debugBreak },
      );
      expect(r.failed).toEqual([]);
      found[debugBreak] = migrationViolations(mem, s, 6, chosen, r);
    }
    expect(found.none).toEqual([]);
    expect(found['skip-copy']!.join('\n')).toMatch(/bytes differ/);
    expect(found['stale-pte']!.join('\n')).toMatch(/maps pfn 0x[0-9a-f]+, not the new frame/);
    expect(found['stale-pte']!.join('\n')).toMatch(/old frame 0x[0-9a-f]+ is still in use/);
  });
});

/** One page of the test's mappings: its address and the frame it was in before migration. */
interface Chosen {
  addr: number;
  old: number;
  /** Page index in the file, for file pages. */
  fileIndex?: number;
}

/** The 2 × n pages `setup` mapped: file page k, then anonymous page k. */
function pages(s: ReturnType<typeof setup>, n: number): Chosen[] {
  return [...Array(n).keys()].flatMap((k) => [
    {
      addr: s.fileAddr + k * PAGE_SIZE,
      old: pfnAt(s.mm, s.fileAddr + k * PAGE_SIZE),
      fileIndex: k,
    },
    { addr: s.anonAddr + k * PAGE_SIZE, old: pfnAt(s.mm, s.anonAddr + k * PAGE_SIZE) },
  ]);
}

/**
 * What must hold after `migratePages` moved `chosen`: each page-table entry and
 * page-cache slot points at the page's new frame, each old frame is free (or another
 * moved page's new frame), and every byte reads back through the mappings and the page
 * cache — after the freed old frames are overwritten, so that nothing can still be
 * reading them (as CONFIG_PAGE_POISONING poisons freed pages). Returns the violations.
 */
function migrationViolations(
  mem: Memory,
  s: ReturnType<typeof setup>,
  n: number,
  chosen: Chosen[],
  r: ReturnType<typeof migratePages>,
): string[] {
  const out: string[] = [];
  const hex = (p: number): string => `0x${p.toString(16)}`;
  for (const c of chosen) {
    const now = r.moved.get(c.old);
    if (now === undefined) {
      out.push(`pfn ${hex(c.old)} was not moved`);
      continue;
    }
    const mapped = pfnAt(s.mm, c.addr);
    if (mapped !== now)
      out.push(`${hex(c.addr)} maps pfn ${hex(mapped)}, not the new frame ${hex(now)}`);
    if (c.fileIndex !== undefined) {
      const cached = s.as.findGetPage(c.fileIndex);
      if (cached !== null) mem.putPage(cached);
      if (cached !== now)
        out.push(`page cache index ${c.fileIndex} holds ${cached}, not ${hex(now)}`);
    }
  }
  // Each old frame is free now, unless a later page of the same call took it as its
  // target (the per-CPU list hands the just-freed frame out first).
  const targets = new Set(r.moved.values());
  for (const c of chosen) {
    if (targets.has(c.old)) continue;
    const ref = mem.pageField(c.old, P_REFCOUNT);
    if (ref !== 0) out.push(`old frame ${hex(c.old)} is still in use (refcount ${ref})`);
    else mem.pageBytes(c.old).fill(0xee);
  }
  const same = (what: string, got: Uint8Array, want: Uint8Array): void => {
    const at = got.findIndex((b, i) => b !== want[i]);
    if (at >= 0) out.push(`${what}: bytes differ at offset ${at}`);
  };
  same('file mapping', s.mm.read(s.fileAddr, n * PAGE_SIZE), pattern(1, n * PAGE_SIZE));
  same('anonymous mapping', s.mm.read(s.anonAddr, n * PAGE_SIZE), pattern(2, n * PAGE_SIZE));
  same('page cache', s.as.read(0, n * PAGE_SIZE), pattern(1, n * PAGE_SIZE));
  return out;
}

describe('page isolation', () => {
  it('an isolated range hands out nothing; undo gives it back coalesced', () => {
    const mem = boot();
    const start = 4096; // section 1, all free
    startIsolatePageRange(mem, start, start + 2048);
    for (let i = 0; i < 3000; i++) {
      const p = mem.allocPages(GFP_KERNEL, 0)!;
      expect(p >= start && p < start + 2048).toBe(false);
    }
    expect(testPagesIsolated(mem, start, start + 2048)).toBe(-1);
    undoIsolatePageRange(mem, start, start + 2048);
    mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.uncoalesced).toBe(0);
  });

  it('refuses a range with an unmovable page and leaves nothing isolated', () => {
    const mem = boot();
    const k = mem.allocPages(GFP_KERNEL, 0)!;
    const block = k - (k % 512);
    expect(firstUnmovablePage(mem, block, block + 512)).toBe(k);
    expect(() =>
      startIsolatePageRange(mem, block - 512 >= 0 ? block - 512 : block, block + 512),
    ).toThrow(/EBUSY.*not movable/);
    expect(mem.getPageblockMigratetype(block)).not.toBe(4);
    expect(() => startIsolatePageRange(mem, 1, 513)).toThrow(/pageblock .* aligned/);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('isolate, migrate everything out, take the range offline', () => {
    const mem = boot();
    const { as, mm, fileAddr, anonAddr } = setup(mem, 16);
    const inUse = pfnAt(mm, fileAddr);
    const start = inUse - (inUse % 2048);
    const end = start + 2048;
    startIsolatePageRange(mem, start, end);
    const busy: number[] = [];
    for (let p = start; p < end; p++) if (mem.pageField(p, P_REFCOUNT) > 0) busy.push(p);
    const r = migratePages(mem, busy, { avoid: (p) => p >= start && p < end });
    expect(r.failed).toEqual([]);
    expect(testPagesIsolated(mem, start, end)).toBe(-1);
    const taken = offlineIsolatedPages(mem, start, end);
    let own = 0;
    for (let p = start; p < end; p++) {
      if (isSectionMemmap(mem, p)) own++;
      else expect(mem.testPageFlag(p, PG_offline)).toBe(true);
    }
    expect(taken).toBe(2048 - own);
    expect(mm.read(fileAddr, 16 * PAGE_SIZE)).toEqual(pattern(1, 16 * PAGE_SIZE));
    expect(mm.read(anonAddr, 16 * PAGE_SIZE)).toEqual(pattern(2, 16 * PAGE_SIZE));
    expect(as.read(0, 16 * PAGE_SIZE)).toEqual(pattern(1, 16 * PAGE_SIZE));
    expect(verifyMemory(mem).errors).toEqual([]);
  });
});
