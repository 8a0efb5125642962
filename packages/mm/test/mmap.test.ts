import type { KernelError } from '@kern/core';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import {
  VM_EXEC,
  VM_GROWSDOWN,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  _PAGE_RW,
} from '../src/fault.js';
import type { Memory } from '../src/memory.js';
import {
  DEFAULT_MMAP_MIN_ADDR,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  STACK_GUARD_GAP,
  TASK_SIZE,
  type Mm,
  createMm,
} from '../src/mmap.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { verifyLru } from '../src/swap.js';
import { createFakeFile, fileByte } from './fakes.js';
import { boot, thrown } from './helpers.js';

// ---------------------------------------------------------------- helpers

/** The fake file as these tests use it: `migratePage` refuses and no `pgmajfault` is counted. */
const PLAIN_FILE = { migratable: false, countMajorFaults: false } as const;

function expectAllBack(mem: Memory, free0: number): void {
  mem.drainAllPages();
  expect(verifyMemory(mem).errors).toEqual([]);
  expect(verifyLru(mem)).toEqual([]);
  expect(mem.nrFreePages()).toBe(free0);
  expect(mem.nodeState('nr_anon_pages')).toBe(0);
  expect(mem.nodeState('nr_mapped')).toBe(0);
  expect(mem.nodeState('nr_page_table_pages')).toBe(0);
}

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function anon(
  mm: Mm,
  pages: number,
  prot = RW,
  extra: { addr?: number; flags?: number } = {},
): number {
  return mm.mmap({
    length: pages * PAGE_SIZE,
    prot,
    flags: ANON | (extra.flags ?? 0),
    ...(extra.addr !== undefined ? { addr: extra.addr } : {}),
  });
}

const ranges = (mm: Mm): [number, number][] => mm.vmas.map((v) => [v.start, v.end]);

// ---------------------------------------------------------------- mmap

describe('mmap', () => {
  it('places mappings top-down from mmap_base and merges compatible neighbours', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    expect(mm.mmapBase).toBe(0x7ffff7fff000); // TASK_SIZE − 128 MiB, as without ASLR
    const a = anon(mm, 4);
    expect(a).toBe(mm.mmapBase - 4 * PAGE_SIZE);
    const b = anon(mm, 2);
    expect(b).toBe(a - 2 * PAGE_SIZE);
    expect(ranges(mm)).toEqual([[b, mm.mmapBase]]); // merged (vma_merge)
    const c = anon(mm, 1, PROT_READ);
    expect(c).toBe(b - PAGE_SIZE);
    expect(mm.mapCount).toBe(2); // different protection: not merged
    expect(mm.totalVm).toBe(7);
    expect(mm.vmas[1]!.flags & (VM_READ | VM_WRITE | VM_EXEC)).toBe(VM_READ | VM_WRITE);
    expect(mm.vmas[1]!.pgoff).toBe(b / PAGE_SIZE);
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('uses a free hint address and skips an occupied one', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const hint = 0x10000000;
    expect(anon(mm, 2, RW, { addr: hint })).toBe(hint);
    // Rounded up to a page: hint + 2 pages, which is free.
    expect(anon(mm, 1, PROT_READ, { addr: hint + PAGE_SIZE + 1 })).toBe(hint + 2 * PAGE_SIZE);
    const other = anon(mm, 1, PROT_EXEC, { addr: hint });
    expect(other).not.toBe(hint);
    expect(other).toBe(mm.mmapBase - PAGE_SIZE);
    mm.destroy();
  });

  it('keeps the stack guard gap free below a VM_GROWSDOWN mapping', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const stack = mm.mmap({
      addr: mm.mmapBase - 16 * PAGE_SIZE,
      length: 16 * PAGE_SIZE,
      prot: RW,
      flags: ANON | MAP_FIXED | MAP_GROWSDOWN,
    });
    expect(mm.vmaLookup(stack)!.flags & VM_GROWSDOWN).toBeTruthy();
    const a = anon(mm, 1);
    expect(a).toBe(stack - STACK_GUARD_GAP - PAGE_SIZE);
    mm.destroy();
  });

  it('MAP_FIXED replaces what was there; MAP_FIXED_NOREPLACE refuses', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 4);
    mm.write(a, new Uint8Array(4 * PAGE_SIZE).fill(0x11));
    const anonBefore = mem.nodeState('nr_anon_pages');
    expect(anonBefore).toBe(4);
    const r = mm.mmap({
      addr: a + PAGE_SIZE,
      length: 2 * PAGE_SIZE,
      prot: PROT_READ,
      flags: ANON | MAP_FIXED,
    });
    expect(r).toBe(a + PAGE_SIZE);
    expect(mem.nodeState('nr_anon_pages')).toBe(2);
    expect(mm.read(a + PAGE_SIZE, 4)).toEqual(new Uint8Array(4));
    expect(mm.read(a, 1)[0]).toBe(0x11);
    expect(mm.read(a + 3 * PAGE_SIZE, 1)[0]).toBe(0x11);
    expect(ranges(mm)).toEqual([
      [a, a + PAGE_SIZE],
      [a + PAGE_SIZE, a + 3 * PAGE_SIZE],
      [a + 3 * PAGE_SIZE, a + 4 * PAGE_SIZE],
    ]);
    const e = thrown(() =>
      mm.mmap({ addr: a, length: PAGE_SIZE, prot: RW, flags: ANON | MAP_FIXED_NOREPLACE }),
    );
    expect(e.errno).toBe('EEXIST');
    expect(mm.read(a, 1)[0]).toBe(0x11);
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('rejects bad arguments, naming what was wrong', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const f = createFakeFile(mem, PAGE_SIZE, PLAIN_FILE);
    const cases: [Partial<Parameters<Mm['mmap']>[0]>, string, RegExp][] = [
      [{ length: 0 }, 'EINVAL', /length 0/],
      [{ length: -5 }, 'EINVAL', /length -5/],
      [{ length: 1.5 }, 'EINVAL', /length 1.5/],
      [{ flags: MAP_ANONYMOUS }, 'EINVAL', /MAP_SHARED and MAP_PRIVATE/],
      [{ flags: ANON | 0x4 }, 'EINVAL', /MAP_SHARED and MAP_PRIVATE/],
      [{ prot: 8 }, 'EINVAL', /prot 0x8/],
      [{ flags: MAP_SHARED | MAP_ANONYMOUS }, 'EINVAL', /shmem/],
      [{ flags: ANON, file: f }, 'EINVAL', /MAP_ANONYMOUS was also given a file/],
      [{ flags: MAP_PRIVATE }, 'EBADF', /needs a file/],
      [{ flags: MAP_PRIVATE, file: f, offset: 100 }, 'EINVAL', /offset 100/],
      [{ flags: MAP_PRIVATE, file: f, offset: -PAGE_SIZE }, 'EINVAL', /offset -4096/],
      [{ flags: ANON | MAP_FIXED, addr: 0x10001 }, 'EINVAL', /0x10001|65537/],
      [{ flags: ANON | MAP_FIXED, addr: 0x1000 }, 'EPERM', /mmap_min_addr/],
      [
        { flags: ANON | MAP_FIXED, addr: TASK_SIZE - PAGE_SIZE, length: 2 * PAGE_SIZE },
        'ENOMEM',
        /TASK_SIZE/,
      ],
      [{ length: TASK_SIZE + PAGE_SIZE }, 'ENOMEM', /exceeds/],
      [{ flags: MAP_SHARED_VALIDATE | 0x400000, file: f }, 'EOPNOTSUPP', /0x400000/],
      [{ flags: MAP_SHARED, file: f, fileWritable: false }, 'EACCES', /not opened for writing/],
    ];
    for (const [over, errno, msg] of cases) {
      const e = thrown(() => mm.mmap({ length: PAGE_SIZE, prot: RW, flags: ANON, ...over }));
      expect([errno, e.message]).toEqual([errno, expect.stringMatching(msg)]);
    }
    expect(mm.mapCount).toBe(0);
    mm.destroy();
    f.release();
  });

  it('fails with ENOMEM when no free range is left', () => {
    const { mem } = boot();
    const mm = createMm(mem, { taskSize: 0x1000000, mmapBase: 0xc00000 });
    const big = mm.mmap({ length: 0x800000, prot: RW, flags: ANON });
    expect(big).toBe(0x400000);
    expect(thrown(() => mm.mmap({ length: 0x1000000, prot: RW, flags: ANON })).message).toMatch(
      /no free range/,
    );
    // 1 MiB pieces: three fit below `big` (above mmap_min_addr), four more above mmap_base
    // through the bottom-up fallback, then nothing.
    const got: number[] = [];
    for (;;) {
      try {
        got.push(mm.mmap({ length: 0x100000, prot: got.length % 2 ? PROT_READ : RW, flags: ANON }));
      } catch (e) {
        expect((e as KernelError).errno).toBe('ENOMEM');
        break;
      }
    }
    expect(got).toEqual([0x300000, 0x200000, 0x100000, 0xc00000, 0xd00000, 0xe00000, 0xf00000]);
    mm.destroy();
  });

  it('enforces vm.max_map_count as Linux does (mmap checks count > max)', () => {
    const { mem } = boot();
    const mm = createMm(mem, { maxMapCount: 3 });
    anon(mm, 1, PROT_READ);
    anon(mm, 1, RW);
    const c = anon(mm, 3, PROT_READ);
    // mmap refuses only once the count is above the limit.
    const d = anon(mm, 1, RW);
    expect(mm.mapCount).toBe(4);
    expect(thrown(() => anon(mm, 1, PROT_READ)).errno).toBe('ENOMEM');
    // Punching a hole needs room for one more VMA; mprotect's splits too.
    expect(thrown(() => mm.munmap(c + PAGE_SIZE, PAGE_SIZE)).errno).toBe('ENOMEM');
    expect(thrown(() => mm.mprotect(c + PAGE_SIZE, PAGE_SIZE, RW)).errno).toBe('ENOMEM');
    // Trimming an end needs none.
    mm.munmap(c, PAGE_SIZE);
    mm.munmap(d, PAGE_SIZE);
    expect(mm.mapCount).toBe(3);
    mm.destroy();
  });

  it('file mappings join file.iMmap, with pgoff from the offset', () => {
    const { mem, free0 } = boot();
    const f = createFakeFile(mem, 8 * PAGE_SIZE, PLAIN_FILE);
    const mm = createMm(mem);
    const a = mm.mmap({
      length: 4 * PAGE_SIZE,
      prot: PROT_READ,
      flags: MAP_SHARED,
      file: f,
      offset: 2 * PAGE_SIZE,
    });
    const v = mm.vmaLookup(a)!;
    expect(v.pgoff).toBe(2);
    expect(v.flags & (VM_SHARED | VM_MAYSHARE | VM_MAYWRITE)).toBe(
      VM_SHARED | VM_MAYSHARE | VM_MAYWRITE,
    );
    expect(f.iMmap.has(v)).toBe(true);
    expect(mm.read(a + PAGE_SIZE, 2)).toEqual(new Uint8Array([fileByte(3, 0), fileByte(3, 1)]));
    // Splitting puts both halves in iMmap.
    mm.mprotect(a + 2 * PAGE_SIZE, PAGE_SIZE, PROT_NONE);
    expect(f.iMmap.size).toBe(3);
    expect(mm.vmas.map((x) => x.pgoff)).toEqual([2, 4, 5]);
    mm.munmap(a, 4 * PAGE_SIZE);
    expect(f.iMmap.size).toBe(0);
    // A read-only file mapped shared loses VM_SHARED and VM_MAYWRITE.
    const r = mm.mmap({
      length: PAGE_SIZE,
      prot: PROT_READ,
      flags: MAP_SHARED,
      file: f,
      fileWritable: false,
    });
    expect(mm.vmaLookup(r)!.flags & (VM_SHARED | VM_MAYWRITE | VM_MAYSHARE)).toBe(VM_MAYSHARE);
    expect(thrown(() => mm.mprotect(r, PAGE_SIZE, RW)).errno).toBe('EACCES');
    mm.destroy();
    f.release();
    expectAllBack(mem, free0);
  });

  it('MAP_POPULATE faults the mapping in', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 3, RW, { flags: MAP_POPULATE });
    expect(mm.rssAnon).toBe(3);
    expect(mm.getPte(a + 2 * PAGE_SIZE)!.flags & _PAGE_RW).toBeTruthy();
    mm.destroy();
    expectAllBack(mem, free0);
  });
});

// ---------------------------------------------------------------- munmap

describe('munmap', () => {
  it('splits a VMA, frees the anonymous pages and the emptied page tables', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 5);
    mm.write(
      a,
      new Uint8Array(5 * PAGE_SIZE).map((_, i) => i >> 12),
    );
    const ptPages = mem.nodeState('nr_page_table_pages');
    mm.munmap(a + PAGE_SIZE, 2 * PAGE_SIZE);
    expect(ranges(mm)).toEqual([
      [a, a + PAGE_SIZE],
      [a + 3 * PAGE_SIZE, a + 5 * PAGE_SIZE],
    ]);
    expect(mm.vmas[1]!.pgoff).toBe((a + 3 * PAGE_SIZE) / PAGE_SIZE);
    expect(mm.vmas[1]!.anonVma).toBe(mm.vmas[0]!.anonVma);
    expect(mm.rssAnon).toBe(3);
    expect(mem.nodeState('nr_anon_pages')).toBe(3);
    expect(mem.nodeState('nr_page_table_pages')).toBe(ptPages); // the PTE table still holds pages
    expect(mm.read(a, 1)[0]).toBe(0);
    expect(mm.read(a + 4 * PAGE_SIZE, 1)[0]).toBe(4);
    expect(thrown(() => mm.read(a + PAGE_SIZE, 1)).errno).toBe('EFAULT');
    mm.munmap(a, 5 * PAGE_SIZE);
    expect(mm.mapCount).toBe(0);
    expect(mem.nodeState('nr_page_table_pages')).toBe(1); // only the PGD
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('is fine over holes and rejects bad arguments', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    mm.munmap(0x10000000, 0x100000);
    expect(thrown(() => mm.munmap(0x10000001, PAGE_SIZE)).errno).toBe('EINVAL');
    expect(thrown(() => mm.munmap(0x10000000, 0)).errno).toBe('EINVAL');
    expect(thrown(() => mm.munmap(TASK_SIZE, PAGE_SIZE)).errno).toBe('EINVAL');
    mm.destroy();
  });

  it('spanning several VMAs unmaps all of them', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2, PROT_READ);
    const b = anon(mm, 2, RW);
    const c = anon(mm, 2, PROT_READ);
    expect([b, c]).toEqual([a - 2 * PAGE_SIZE, a - 4 * PAGE_SIZE]);
    mm.write(b, new Uint8Array(2 * PAGE_SIZE).fill(1));
    mm.read(c, 2 * PAGE_SIZE);
    mm.munmap(c + PAGE_SIZE, 4 * PAGE_SIZE);
    expect(ranges(mm)).toEqual([
      [c, c + PAGE_SIZE],
      [a + PAGE_SIZE, a + 2 * PAGE_SIZE],
    ]);
    mm.destroy();
    expectAllBack(mem, free0);
  });
});

// ---------------------------------------------------------------- mprotect

describe('mprotect', () => {
  it('splits, write-protects the entries, and merges back', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 4);
    mm.write(a, new Uint8Array(4 * PAGE_SIZE).fill(5));
    mm.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ);
    expect(mm.mapCount).toBe(3);
    expect(mm.getPte(a + PAGE_SIZE)!.flags & _PAGE_RW).toBe(0);
    expect(mm.getPte(a)!.flags & _PAGE_RW).toBeTruthy();
    expect(thrown(() => mm.write(a + PAGE_SIZE, new Uint8Array([1]))).errno).toBe('EFAULT');
    mm.write(a + 2 * PAGE_SIZE, new Uint8Array([6]));
    mm.mprotect(a + PAGE_SIZE, PAGE_SIZE, RW);
    expect(mm.mapCount).toBe(1);
    // Write access comes back through a fault that reuses the page (only user).
    const pfn = mm.getPte(a + PAGE_SIZE)!.pfn;
    mm.write(a + PAGE_SIZE, new Uint8Array([7]));
    expect(mm.getPte(a + PAGE_SIZE)!.pfn).toBe(pfn);
    expect(mm.read(a + PAGE_SIZE - 1, 3)).toEqual(new Uint8Array([5, 7, 5]));
    mm.destroy();
    expectAllBack(mem, free0);
  });

  it('fails with ENOMEM over a hole and EINVAL on bad arguments, changing nothing', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const a = anon(mm, 2);
    mm.munmap(a + PAGE_SIZE, PAGE_SIZE);
    const b = anon(mm, 1, RW, { addr: a + 2 * PAGE_SIZE });
    expect(b).toBe(a + 2 * PAGE_SIZE);
    expect(thrown(() => mm.mprotect(a, 3 * PAGE_SIZE, PROT_READ)).errno).toBe('ENOMEM');
    expect(mm.vmas.every((v) => v.flags & VM_WRITE)).toBe(true);
    expect(thrown(() => mm.mprotect(a + 1, PAGE_SIZE, PROT_READ)).errno).toBe('EINVAL');
    expect(thrown(() => mm.mprotect(a, PAGE_SIZE, 0x10)).errno).toBe('EINVAL');
    mm.mprotect(a, 0, PROT_NONE); // zero length: nothing
    expect(mm.vmas[0]!.flags & VM_WRITE).toBeTruthy();
    mm.destroy();
  });
});

// ---------------------------------------------------------------- stacks

describe('VM_GROWSDOWN', () => {
  it('grows on a fault below it, up to the stack limit, keeping the guard gap', () => {
    const { mem, free0 } = boot();
    const mm = createMm(mem, { stackLimit: 64 * PAGE_SIZE });
    const top = mm.stackTop;
    const s = mm.mmap({
      addr: top - 4 * PAGE_SIZE,
      length: 4 * PAGE_SIZE,
      prot: RW,
      flags: ANON | MAP_FIXED | MAP_GROWSDOWN,
    });
    mm.write(s - 10 * PAGE_SIZE + 8, new Uint8Array([1]));
    const v = mm.vmaLookup(s)!;
    expect(v.start).toBe(s - 10 * PAGE_SIZE);
    expect(v.pgoff).toBe(v.start / PAGE_SIZE);
    expect(mm.read(s - 10 * PAGE_SIZE + 8, 1)[0]).toBe(1);
    // Beyond RLIMIT_STACK: segfault.
    expect(thrown(() => mm.read(top - 65 * PAGE_SIZE, 1)).errno).toBe('EFAULT');
    // A mapping just below blocks growth into the guard gap.
    const below = mm.mmap({
      addr: v.start - 40 * PAGE_SIZE,
      length: PAGE_SIZE,
      prot: PROT_READ,
      flags: ANON | MAP_FIXED,
    });
    expect(thrown(() => mm.read(v.start - PAGE_SIZE, 1)).errno).toBe('EFAULT');
    mm.munmap(below, PAGE_SIZE);
    mm.read(v.start - PAGE_SIZE, 1);
    mm.destroy();
    expectAllBack(mem, free0);
  });
});

// ---------------------------------------------------------------- lifetime

describe('createMm and destroy', () => {
  it('checks its layout options', () => {
    const { mem } = boot();
    expect(thrown(() => createMm(mem, { taskSize: 2 ** 48 })).errno).toBe('EINVAL');
    expect(thrown(() => createMm(mem, { stackTop: 0x1001 })).errno).toBe('EINVAL');
    expect(thrown(() => createMm(mem, { mmapBase: TASK_SIZE, stackTop: 0x10000000 })).errno).toBe(
      'EINVAL',
    );
    expect(createMm(mem).mmapMinAddr).toBe(DEFAULT_MMAP_MIN_ADDR);
  });

  it('gives every page back, and refuses use afterwards', () => {
    const { mem, free0 } = boot();
    const f = createFakeFile(mem, 16 * PAGE_SIZE, PLAIN_FILE);
    const mm = createMm(mem);
    const a = anon(mm, 64);
    mm.write(a, new Uint8Array(64 * PAGE_SIZE).fill(3));
    mm.read(anon(mm, 8, PROT_READ), 8 * PAGE_SIZE);
    const s = mm.mmap({ length: 16 * PAGE_SIZE, prot: RW, flags: MAP_SHARED, file: f });
    mm.write(s, new Uint8Array(8 * PAGE_SIZE).fill(4));
    const p = mm.mmap({ length: 16 * PAGE_SIZE, prot: RW, flags: MAP_PRIVATE, file: f });
    mm.write(p + 3, new Uint8Array(12 * PAGE_SIZE).fill(5));
    mm.read(p, 16 * PAGE_SIZE);
    mm.mmap({ addr: 0x400000000, length: PAGE_SIZE, prot: RW, flags: ANON | MAP_POPULATE });
    expect(mm.rssAnon).toBe(64 + 13 + 1);
    mm.destroy();
    expect(mm.destroyed).toBe(true);
    expect(f.iMmap.size).toBe(0);
    expect(thrown(() => mm.read(a, 1)).errno).toBe('EINVAL');
    mm.destroy(); // again: nothing
    f.release();
    expectAllBack(mem, free0);
  });
});
