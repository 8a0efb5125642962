import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { GFP_ATOMIC, GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_NOWARN } from '../src/gfp.js';
import { nodeDataWords } from '../src/layout.js';
import type { Memblock, MemblockRegion } from '../src/memblock.js';
import type { Memory } from '../src/memory.js';
import { bootMemory, type ReserveRequest } from '../src/mm-init.js';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../src/mmzone.js';
import { PG_reserved } from '../src/page-flags.js';
import { memmapPagesFor } from '../src/sparse.js';
import { thrown } from './helpers.js';

const M = 1 << 20;
/** Pages of one node's data with `nrCpus` CPUs (one page up to several CPUs). */
const nodeDataPages = (nrCpus: number): number =>
  Math.ceil((nodeDataWords(nrCpus) * 4) / PAGE_SIZE);

/** Allocates until nothing is left (every GFP class, largest orders first); returns every PFN handed out. */
function exhaust(mem: Memory): Set<number> {
  const got = new Set<number>();
  for (const gfp of [GFP_HIGHUSER_MOVABLE, GFP_KERNEL, GFP_ATOMIC])
    for (let order = MAX_PAGE_ORDER; order >= 0; order--)
      for (;;) {
        const pfn = mem.allocPages(gfp | __GFP_NOWARN, order);
        if (pfn === null) break;
        for (let p = pfn; p < pfn + (1 << order); p++) got.add(p);
      }
  mem.drainAllPages();
  return got;
}

/**
 * PG_reserved is set on exactly the pages memblock reserved (every page of the machine
 * checked), and the region is among them.
 */
function expectReservedExactly(mem: Memory, memblock: Memblock, r: MemblockRegion): void {
  for (let p = r.base / PAGE_SIZE; p < (r.base + r.size) / PAGE_SIZE; p++)
    if (!mem.isReserved(p)) expect.fail(`${r.name} pfn ${p} is not PG_reserved`);
  for (const sec of mem.sections)
    for (let p = sec?.startPfn ?? 0; sec && p < sec.startPfn + sec.nrPages; p++)
      if (mem.isReserved(p) !== memblock.isReserved(p * PAGE_SIZE))
        expect.fail(
          `pfn ${p}: PG_reserved ${mem.isReserved(p)} but memblock says ${!mem.isReserved(p)}`,
        );
}

describe('crashkernel= reserves the capture kernel region at boot', () => {
  it('crashkernel=SIZE: the highest 16M-aligned free range below 4G, reserved, never allocated', () => {
    const { mem, memblock } = bootMemory({ size: '256M', cmdline: 'crashkernel=64M' });
    // Top-down from 256M: node_data[0] holds the last page, so the first 16M-aligned
    // 64M range under it is [176M, 240M); section 1's memmap sits at 128M, below it.
    const ck = memblock.find('Crash kernel')!;
    expect(ck).toEqual({ base: 176 * M, size: 64 * M, nid: 0, name: 'Crash kernel' });
    expect(memblock.reserved.map((r) => [r.name, r.base])).toEqual([
      ['memmap', 0],
      ['memmap', 128 * M],
      ['Crash kernel', 176 * M],
      ['node_data[0]', 256 * M - PAGE_SIZE],
    ]);
    expectReservedExactly(mem, memblock, ck);
    expect(mem.testPageFlag(ck.base / PAGE_SIZE, PG_reserved)).toBe(true);
    expect(memblock.isReserved(ck.base + ck.size - 1)).toBe(true);

    const before = verifyMemory(mem);
    expect(before.errors).toEqual([]);
    expect(before.reserved).toBe(2 * memmapPagesFor(32768) + nodeDataPages(1) + 16384);
    expect(mem.totalManagedPages()).toBe(65536 - before.reserved);

    const handedOut = exhaust(mem);
    expect(handedOut.size).toBeGreaterThan(40000);
    for (let p = ck.base / PAGE_SIZE; p < (ck.base + ck.size) / PAGE_SIZE; p++)
      if (handedOut.has(p)) expect.fail(`crash kernel pfn ${p} was allocated`);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('crashkernel=SIZE@OFFSET: exactly there', () => {
    const { mem, memblock } = bootMemory({ size: '256M', cmdline: 'crashkernel=64M@64M' });
    const ck = memblock.find('Crash kernel')!;
    expect([ck.base, ck.size]).toEqual([64 * M, 64 * M]);
    expectReservedExactly(mem, memblock, ck);
  });

  it('the range form picks the size by system RAM (after mem=); no matching range reserves nothing', () => {
    const ranges = bootMemory({ size: '256M', cmdline: 'crashkernel=128M-1G:32M,1G-:64M' });
    expect(ranges.memblock.find('Crash kernel')).toMatchObject({ base: 208 * M, size: 32 * M });

    const capped = bootMemory({ size: '256M', cmdline: 'mem=128M crashkernel=64M-200M:32M' });
    expect(capped.mem.totalPresentPages()).toBe(32768);
    expect(capped.memblock.find('Crash kernel')).toMatchObject({ base: 80 * M, size: 32 * M });

    const none = bootMemory({ size: '256M', cmdline: 'crashkernel=512M-:64M' });
    expect(none.memblock.find('Crash kernel')).toBeUndefined();
    expect(verifyMemory(none.mem).reserved).toBe(2 * memmapPagesFor(32768) + nodeDataPages(1));
  });

  it('config.crashkernel takes the value or a parsed spec; it wins over the command line', () => {
    const a = bootMemory({ size: '256M', crashkernel: '32M' });
    const b = bootMemory({ size: '256M', crashkernel: { kind: 'fixed', size: 32 * M } });
    const c = bootMemory({ size: '256M', cmdline: 'crashkernel=64M', crashkernel: '32M' });
    for (const { memblock } of [a, b, c])
      expect(memblock.find('Crash kernel')).toMatchObject({ base: 208 * M, size: 32 * M });
    // ,high: anywhere; on a machine below 4G that is the same top-down answer.
    const high = bootMemory({ size: '256M', cmdline: 'crashkernel=64M,high' });
    expect(high.memblock.find('Crash kernel')!.base).toBe(176 * M);
  });

  it('on a NUMA machine the region is placed by address, and shows its node', () => {
    const { mem, memblock } = bootMemory({
      nodes: ['128M', '128M'],
      nrCpus: 2,
      crashkernel: '32M',
    });
    const ck = memblock.find('Crash kernel')!;
    expect(ck).toMatchObject({ base: 208 * M, size: 32 * M, nid: 1 });
    expect(mem.pageToNid(ck.base / PAGE_SIZE)).toBe(1);
    expectReservedExactly(mem, memblock, ck);
  });

  it('bad values give a clear KernelError naming the value, and boot nothing', () => {
    const cases: [string, string, RegExp][] = [
      ['crashkernel=abc', 'EINVAL', /crashkernel: memory value expected in 'abc'/],
      ['crashkernel=', 'EINVAL', /crashkernel: memory value expected in ''/],
      ['crashkernel=64M@foo', 'EINVAL', /offset expected after @/],
      ['crashkernel=0', 'EINVAL', /invalid size 0/],
      [
        'crashkernel=256M',
        'EINVAL',
        /crashkernel=256M: size 268435456 is not below system RAM 268435456 \(crashkernel: invalid size\)/,
      ],
      [
        'crashkernel=0-:512M',
        'EINVAL',
        /crashkernel=0-:512M: size 536870912 is not below system RAM/,
      ],
      [
        'crashkernel=64M@1M',
        'EINVAL',
        /crashkernel=64M@1M: base 0x100000 is not aligned to CRASH_ALIGN \(16M\)/,
      ],
      [
        'crashkernel=64M@0',
        'EBUSY',
        /crashkernel=64M@0: crashkernel reservation failed: memblock: Crash kernel \[0x0000000000000000-0x0000000003ffffff\] overlaps memmap/,
      ],
      [
        'crashkernel=64M@1G',
        'EINVAL',
        /crashkernel=64M@1G: crashkernel reservation failed: memblock: Crash kernel \[.*\] is not inside memory/,
      ],
      [
        'crashkernel=200M',
        'ENOMEM',
        /crashkernel=200M: cannot find 209715200 bytes for the crash kernel below 4G/,
      ],
    ];
    for (const [cmdline, errno, message] of cases) {
      const e = thrown(() => bootMemory({ size: '256M', cmdline }));
      expect([cmdline, e.errno]).toEqual([cmdline, errno]);
      expect(e.message).toMatch(message);
    }
  });
});

describe('caller reservations (config.reserve)', () => {
  it('are placed top-down, at a fixed base, on a node or aligned; page-rounded and never allocated', () => {
    const { mem, memblock } = bootMemory({
      nodes: ['128M', '128M'],
      nrCpus: 2,
      reserve: [
        { name: 'log_buf', size: '1M' },
        { name: 'fixed', size: 5000, base: 32 * M },
        { name: 'on_node0', size: '64K', nid: 0, align: 2 * M },
      ],
    });
    const logBuf = memblock.find('log_buf')!;
    // The highest free MiB: just under node_data[1], the last page of memory.
    expect(logBuf).toEqual({ base: 256 * M - PAGE_SIZE - M, size: M, nid: 1, name: 'log_buf' });
    expect(memblock.find('fixed')).toEqual({ base: 32 * M, size: 8192, nid: 0, name: 'fixed' });
    // Top of node 0 is 128M minus node_data[0]'s page; 2M-aligned below that.
    expect(memblock.find('on_node0')).toEqual({
      base: 126 * M,
      size: 64 * 1024,
      nid: 0,
      name: 'on_node0',
    });
    const regions = ['log_buf', 'fixed', 'on_node0'].map((n) => memblock.find(n)!);
    for (const r of regions) expectReservedExactly(mem, memblock, r);
    // The physical memory of a reservation is the caller's to use (the printk buffer).
    mem.writePhys(logBuf.base, new Uint8Array([1, 2, 3]));
    expect(mem.readPhys(logBuf.base, 3)).toEqual(new Uint8Array([1, 2, 3]));
    const handedOut = exhaust(mem);
    for (const r of regions)
      for (let p = r.base / PAGE_SIZE; p < (r.base + r.size) / PAGE_SIZE; p++)
        if (handedOut.has(p)) expect.fail(`${r.name} pfn ${p} was allocated`);
    expect(mem.readPhys(logBuf.base, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('refuse overlaps, memory outside RAM, sizes that do not fit or are not sizes', () => {
    const boot = (reserve: ReserveRequest[]): unknown =>
      bootMemory({ size: '64M', sectionSize: '16M', reserve });
    const overlap = thrown(() => boot([{ name: 'a', size: 8192, base: 0 }]));
    expect(overlap.errno).toBe('EBUSY');
    expect(overlap.message).toMatch(
      /memblock: a \[0x0000000000000000-0x0000000000001fff\] overlaps memmap/,
    );
    const twice = thrown(() =>
      boot([
        { name: 'a', size: 8192, base: 20 * M },
        { name: 'b', size: 4096, base: 20 * M + 4096 },
      ]),
    );
    expect(twice.message).toMatch(/memblock: b .* overlaps a/);
    expect(thrown(() => boot([{ name: 'far', size: 4096, base: 1 << 30 }])).message).toMatch(
      /EINVAL: memblock: far .* is not inside memory/,
    );
    const big = thrown(() => boot([{ name: 'huge', size: '32M' }]));
    expect([big.errno, big.message]).toEqual([
      'ENOMEM',
      'ENOMEM: cannot reserve 33554432 bytes for huge',
    ]);
    expect(thrown(() => boot([{ name: 'x', size: 'lots' }])).errno).toBe('EINVAL');
  });
});
