import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { PAGECACHE_TAG_DIRTY, createAddressSpace, type AddressSpace } from '../src/filemap.js';
import { GFP_KERNEL, GFP_NOFS, __GFP_NOWARN } from '../src/gfp.js';
import { LRU_ACTIVE_FILE, LRU_INACTIVE_FILE, P_REFCOUNT } from '../src/layout.js';
import { WMARK_HIGH, type Memory } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { lruCount, verifyLru } from '../src/swap.js';
import { createPageReclaim, type ReclaimDebugBreak } from '../src/vmscan.js';

const NR_FILES = 3;
/** Files stay below this size (50 pages), so a few files fill a good part of the spare memory. */
const MAX_POS = 50 * PAGE_SIZE;

type Op =
  | { kind: 'write'; f: number; pos: number; len: number; seed: number }
  | { kind: 'read'; f: number; pos: number; len: number }
  | { kind: 'truncate'; f: number; size: number }
  | { kind: 'writeback'; f: number; max: number }
  | { kind: 'sync'; f: number }
  | { kind: 'delete'; f: number; index: number }
  | { kind: 'reclaim'; n: number; mayWrite: boolean }
  | { kind: 'pressure'; n: number }
  | { kind: 'drop'; level: 1 | 2 | 3 }
  | { kind: 'hold'; f: number; index: number }
  | { kind: 'release'; pick: number };

const file = fc.integer({ min: 0, max: NR_FILES - 1 });
const pos = fc.oneof(
  fc.integer({ min: 0, max: MAX_POS }),
  fc.integer({ min: 0, max: 49 }).map((p) => p * PAGE_SIZE), // page-aligned
);
const index = fc.integer({ min: 0, max: 50 });

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      f: file,
      pos,
      len: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 12 * PAGE_SIZE })),
      seed: fc.integer({ min: 1, max: 255 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      f: file,
      pos,
      len: fc.integer({ min: 0, max: 6 * PAGE_SIZE }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      f: file,
      size: fc.integer({ min: 0, max: MAX_POS }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('writeback' as const),
      f: file,
      max: fc.integer({ min: 1, max: 20 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), f: file }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), f: file, index }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('reclaim' as const),
      n: fc.integer({ min: 1, max: 200 }),
      mayWrite: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('pressure' as const),
      n: fc.integer({ min: 50, max: 600 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('drop' as const),
      level: fc.constantFrom(1 as const, 2 as const, 3 as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hold' as const), f: file, index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
);

const scenario = fc.array(op, { minLength: 10, maxLength: 80, size: 'max' });

/** A filesystem's blocks for one file: whole pages by index; absent pages read as zeros. */
class Store {
  readonly pages = new Map<number, Uint8Array>();
  readonly readPage = (i: number, b: Uint8Array): void => {
    const p = this.pages.get(i);
    if (p) b.set(p);
  };
  readonly writePage = (i: number, b: Uint8Array): void => {
    this.pages.set(i, b.slice());
  };
  /** What the filesystem does on truncate: free blocks beyond, zero the partial block's tail. */
  truncate(size: number): void {
    const first = Math.ceil(size / PAGE_SIZE);
    for (const i of [...this.pages.keys()]) if (i >= first) this.pages.delete(i);
    const partial = size % PAGE_SIZE;
    if (partial) this.pages.get(first - 1)?.fill(0, partial);
  }
}

/** The model of a file: its bytes. */
class Model {
  bytes = new Uint8Array(0);
  write(pos: number, data: Uint8Array): void {
    if (pos + data.length > this.bytes.length) this.resize(pos + data.length);
    this.bytes.set(data, pos);
  }
  resize(size: number): void {
    const b = new Uint8Array(size);
    b.set(this.bytes.subarray(0, Math.min(size, this.bytes.length)));
    this.bytes = b;
  }
}

function fillPattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed + i * 11 + (i >>> 10)) & 0xff || 1;
  return b;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Allocates order-5 blocks without reclaim until free memory is down to `target` pages above the high watermark. */
function ballast(mem: Memory, target: number): number[] {
  const out: number[] = [];
  const spare = (): number =>
    mem.zones.reduce(
      (s, z) =>
        s + Math.max(0, mem.zoneFreePages(z) + mem.zonePcpPages(z) - mem.wmark(z, WMARK_HIGH)),
      0,
    );
  while (spare() > target) {
    const p = mem.allocPages(__GFP_NOWARN, 5);
    if (p === null) break;
    out.push(p);
  }
  return out;
}

/**
 * Runs a sequence on a fresh machine whose spare memory is small, so the page cache
 * lives under real pressure (kswapd and direct reclaim through the allocator, besides
 * explicit reclaim and drop_caches). Checks: every read returns the model's bytes,
 * sizes agree, the allocator and LRU invariants hold, the cache's counters match; at
 * the end every file reads back whole, and with everything torn down every page is
 * back with the allocator.
 */
function run(ops: readonly Op[], debugBreak: ReclaimDebugBreak = 'none'): void {
  const mem = createMemory({ size: '64M', sectionSize: '16M' });
  mem.drainAllPages();
  const start = mem.nrFreePages();
  const pr = createPageReclaim(mem, { debugBreak });
  const stores = Array.from({ length: NR_FILES }, () => new Store());
  const models = Array.from({ length: NR_FILES }, () => new Model());
  const files: AddressSpace[] = stores.map((s) =>
    createAddressSpace(mem, { readPage: s.readPage, writePage: s.writePage }),
  );
  const weight = ballast(mem, 150);
  const held: number[] = [];

  const check = (where: string): void => {
    const errs = verifyMemory(mem).errors;
    if (errs.length) throw new Error(`${where}: verifyMemory: ${errs.join('; ')}`);
    const lru = verifyLru(mem);
    if (lru.length) throw new Error(`${where}: verifyLru: ${lru.join('; ')}`);
    const cachedPages = files.reduce((s, a) => s + a.nrPages, 0);
    expect(mem.nodeState('nr_file_pages')).toBe(cachedPages);
    expect(lruCount(mem, 0, LRU_INACTIVE_FILE) + lruCount(mem, 0, LRU_ACTIVE_FILE)).toBe(
      cachedPages,
    );
    let dirty = 0;
    for (const a of files)
      for (const p of a.findGetPagesTag(PAGECACHE_TAG_DIRTY, 0, Infinity)) {
        dirty++;
        mem.putPage(p);
      }
    expect(mem.nodeState('nr_dirty')).toBe(dirty);
    expect(mem.nodeState('nr_writeback')).toBe(0);
  };

  const readCheck = (f: number, p: number, len: number, where: string): void => {
    const got = files[f]!.read(p, len);
    const m = models[f]!.bytes;
    const want = m.subarray(Math.min(p, m.length), Math.min(p + len, m.length));
    const d = firstDiff(got, want);
    if (d >= 0)
      throw new Error(
        `${where}: file ${f} read(${p}, ${len}) differs from the model at byte ${p + d}: got ${got[d]}, want ${want[d]} (lengths ${got.length}/${want.length})`,
      );
  };

  ops.forEach((o, step) => {
    const where = `step ${step} ${JSON.stringify(o)}`;
    switch (o.kind) {
      case 'write': {
        const data = fillPattern(o.len, o.seed);
        files[o.f]!.write(o.pos, data);
        models[o.f]!.write(o.pos, data);
        break;
      }
      case 'read':
        readCheck(o.f, o.pos, o.len, where);
        break;
      case 'truncate':
        files[o.f]!.truncate(o.size);
        stores[o.f]!.truncate(o.size);
        models[o.f]!.resize(o.size);
        break;
      case 'writeback':
        files[o.f]!.writebackPages({ max: o.max });
        break;
      case 'sync':
        files[o.f]!.syncAll();
        break;
      case 'delete':
        files[o.f]!.deletePage(o.index);
        break;
      case 'reclaim':
        pr.reclaim(o.n, o.mayWrite ? GFP_KERNEL : GFP_NOFS);
        break;
      case 'pressure': {
        const got: number[] = [];
        for (let k = 0; k < o.n; k++) {
          const p = mem.allocPages(GFP_KERNEL | __GFP_NOWARN, 0);
          if (p === null) break;
          got.push(p);
        }
        for (const p of got) mem.putPage(p);
        break;
      }
      case 'drop':
        pr.dropCaches(o.level);
        break;
      case 'hold': {
        const p = files[o.f]!.findGetPage(o.index);
        if (p !== null) held.push(p);
        break;
      }
      case 'release': {
        if (!held.length) break;
        const [p] = held.splice(o.pick % held.length, 1);
        expect(mem.pageField(p!, P_REFCOUNT)).toBeGreaterThan(0);
        mem.putPage(p!);
        break;
      }
    }
    for (let f = 0; f < NR_FILES; f++)
      if (files[f]!.size() !== models[f]!.bytes.length)
        throw new Error(
          `${where}: file ${f} size ${files[f]!.size()} != model ${models[f]!.bytes.length}`,
        );
    if (step % 8 === 7) check(where);
  });

  // Everything once more, whole, after the cache is emptied of what can go.
  check('end');
  pr.dropCaches(1);
  for (let f = 0; f < NR_FILES; f++) readCheck(f, 0, models[f]!.bytes.length, 'final read');
  for (const p of held.splice(0)) mem.putPage(p);
  for (const a of files) a.destroy();
  for (const p of weight) mem.freePages(p, 5);
  pr.destroy();
  expect(mem.nodeState('nr_file_pages')).toBe(0);
  expect(mem.nodeState('nr_dirty')).toBe(0);
  expect(lruCount(mem, 0, LRU_INACTIVE_FILE) + lruCount(mem, 0, LRU_ACTIVE_FILE)).toBe(0);
  check('teardown');
  mem.drainAllPages();
  const lost = start - mem.nrFreePages();
  if (lost !== 0) throw new Error(`${lost} pages are not back with the page allocator`);
}

describe('page cache properties', () => {
  it('reads return what was written through writeback, reclaim, truncation and pressure', () => {
    fc.assert(
      fc.property(scenario, (ops) => run(ops)),
      { numRuns: 60 },
    );
  });

  // Negative control: the same checks catch a reclaimer that drops dirty pages.
  const lostWrite: Op[] = [
    { kind: 'write', f: 0, pos: 0, len: 3 * PAGE_SIZE, seed: 7 },
    { kind: 'reclaim', n: 100, mayWrite: false },
    { kind: 'read', f: 0, pos: 0, len: 3 * PAGE_SIZE },
  ];

  it('catches dirty data dropped by reclaim (broken mode reclaim-dirty)', () => {
    expect(() => run(lostWrite)).not.toThrow();
    expect(() => run(lostWrite, 'reclaim-dirty')).toThrow(/differs from the model/);
  });

  it('random scenarios catch the broken mode reclaim-dirty', () => {
    const r = fc.check(
      fc.property(scenario, (ops) => run(ops, 'reclaim-dirty')),
      { numRuns: 60, seed: 20240611, endOnFailure: true },
    );
    expect(r.failed).toBe(true);
    expect(String(r.errorInstance)).toMatch(/differs from the model/);
  });
});
