import { describe, expect, it } from 'vitest';
import { createTopology, MAX_NUMNODES } from '../src/topology.js';
import { KernelError } from '../src/errno.js';

function errOf(fn: () => unknown): KernelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('expected a KernelError');
}

describe('createTopology layout', () => {
  it('defaults to one node, one package, one thread per core', () => {
    const t = createTopology({ nrCpus: 4 });
    expect(t.nrNodes).toBe(1);
    expect(t.nrPackages).toBe(1);
    expect([0, 1, 2, 3].map((c) => t.cpuToNode(c))).toEqual([0, 0, 0, 0]);
    expect([0, 1, 2, 3].map((c) => t.cpuCore(c))).toEqual([0, 1, 2, 3]);
    expect(t.siblingsOf(2)).toEqual([2]);
    expect(t.nodeDistance(0, 0)).toBe(10);
    expect(t.possible.toList()).toBe('0-3');
    expect(t.present.toList()).toBe('0-3');
    expect(t.online.toList()).toBe('0-3');
  });

  it('assigns nodes, packages, cores and SMT siblings in contiguous blocks', () => {
    // 2 nodes x 2 packages x 2 cores x 2 threads = 16 CPUs
    const t = createTopology({ nrCpus: 16, nrNodes: 2, packagesPerNode: 2, threadsPerCore: 2 });
    expect(t.cpumaskOfNode(0).toList()).toBe('0-7');
    expect(t.cpumaskOfNode(1).toList()).toBe('8-15');
    expect(Array.from({ length: 16 }, (_, c) => t.cpuPackage(c))).toEqual([
      0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
    ]);
    expect(Array.from({ length: 16 }, (_, c) => t.cpuCore(c))).toEqual([
      0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1,
    ]);
    expect(t.siblingsOf(5)).toEqual([4, 5]);
    expect(t.siblingsOf(14)).toEqual([14, 15]);
    expect(t.nodeDistance(0, 1)).toBe(20);
    expect(t.nodeDistance(1, 1)).toBe(10);
  });

  it('splits uneven counts as evenly as possible, lower nodes first', () => {
    const t = createTopology({ nrCpus: 10, nrNodes: 4 });
    expect([0, 1, 2, 3].map((n) => t.cpumaskOfNode(n).toList())).toEqual([
      '0-2',
      '3-5',
      '6-7',
      '8-9',
    ]);
    for (let c = 0; c < 10; c++) expect(t.cpumaskOfNode(t.cpuToNode(c)).test(c)).toBe(true);
    // 5 CPUs per package, 2 threads per core: the last core has one thread.
    const u = createTopology({ nrCpus: 5, threadsPerCore: 2 });
    expect(u.siblingsOf(4)).toEqual([4]);
    expect(u.siblingsOf(3)).toEqual([2, 3]);
  });

  it('handles 4,194,304 CPUs on 1024 nodes without per-CPU objects', () => {
    // Its cost is measured in bench/index.ts ("scale"), not timed here.
    const nrCpus = 4_194_304;
    const t = createTopology({
      nrCpus,
      nrNodes: MAX_NUMNODES,
      packagesPerNode: 2,
      threadsPerCore: 2,
    });
    expect(t.cpuToNode(0)).toBe(0);
    expect(t.cpuToNode(4095)).toBe(0);
    expect(t.cpuToNode(4096)).toBe(1);
    expect(t.cpuToNode(nrCpus - 1)).toBe(1023);
    expect(t.cpuPackage(nrCpus - 1)).toBe(2047);
    expect(t.cpuCore(nrCpus - 1)).toBe(1023);
    expect(t.siblingsOf(nrCpus - 1)).toEqual([nrCpus - 2, nrCpus - 1]);
    expect(t.cpumaskOfNode(512).toList()).toBe('2097152-2101247');
    expect(t.online.weight()).toBe(nrCpus);
    expect(t.nodesByDistance(1023).slice(0, 3)).toEqual([1023, 0, 1]);
  });
});

describe('node distances', () => {
  const slit = [
    [10, 21, 31, 41],
    [21, 10, 21, 31],
    [31, 21, 10, 21],
    [41, 31, 21, 10],
  ];

  it('takes a SLIT and orders fallback nodes nearest first (zonelist order)', () => {
    const t = createTopology({ nrCpus: 8, nrNodes: 4, distances: slit });
    expect(t.nodeDistance(0, 3)).toBe(41);
    expect(t.nodesByDistance(0)).toEqual([0, 1, 2, 3]);
    expect(t.nodesByDistance(3)).toEqual([3, 2, 1, 0]);
    expect(t.nodesByDistance(1)).toEqual([1, 0, 2, 3]); // tie 21/21: lower id first
    expect(t.nodesByDistance(2)).toEqual([2, 1, 3, 0]);
  });

  it('formats /sys/devices/system/node/nodeN/distance', () => {
    const t = createTopology({ nrCpus: 8, nrNodes: 4, distances: slit });
    expect(t.formatNodeDistances(1)).toBe('21 10 21 31\n');
    expect(t.formatNodeDistances()).toBe('10 21 31 41\n21 10 21 31\n31 21 10 21\n41 31 21 10\n');
    expect(createTopology({ nrCpus: 2, nrNodes: 2 }).formatNodeDistances(0)).toBe('10 20\n');
  });

  it('accepts an asymmetric matrix', () => {
    const t = createTopology({
      nrCpus: 2,
      nrNodes: 2,
      distances: [
        [10, 20],
        [30, 10],
      ],
    });
    expect(t.nodeDistance(0, 1)).toBe(20);
    expect(t.nodeDistance(1, 0)).toBe(30);
  });

  it('rejects a bad matrix with EINVAL naming the entry', () => {
    const cases: [number[][], RegExp][] = [
      [[[10, 20]], /1 rows, expected 2/],
      [[[10, 20], [20]], /row 1 has 1 entries/],
      [
        [
          [10, 20],
          [20, 11],
        ],
        /distances\[1\]\[1\] = 11/,
      ],
      [
        [
          [10, 255],
          [20, 10],
        ],
        /distances\[0\]\[1\] = 255/,
      ],
      [
        [
          [10, 9],
          [20, 10],
        ],
        /distances\[0\]\[1\] = 9/,
      ],
      [
        [
          [10, 20.5],
          [20, 10],
        ],
        /distances\[0\]\[1\] = 20.5/,
      ],
    ];
    for (const [distances, msg] of cases) {
      const e = errOf(() => createTopology({ nrCpus: 2, nrNodes: 2, distances }));
      expect(e.errno).toBe('EINVAL');
      expect(e.message).toMatch(msg);
    }
  });
});

describe('numa fake', () => {
  it('splits each physical node, siblings at distance 10', () => {
    const t = createTopology({
      nrCpus: 16,
      nrNodes: 2,
      numaFake: 4,
      distances: [
        [10, 30],
        [30, 10],
      ],
    });
    expect(t.nrNodes).toBe(4);
    expect(t.nrPhysNodes).toBe(2);
    expect([0, 1, 2, 3].map((n) => t.cpumaskOfNode(n).toList())).toEqual([
      '0-3',
      '4-7',
      '8-11',
      '12-15',
    ]);
    expect([0, 1, 2, 3].map((n) => t.physNode(n))).toEqual([0, 0, 1, 1]);
    expect(t.formatNodeDistances()).toBe('10 10 30 30\n10 10 30 30\n30 30 10 10\n30 30 10 10\n');
    expect(t.nodesByDistance(1)).toEqual([1, 0, 2, 3]); // itself first even at equal distance
    expect(t.cpuPackage(7)).toBe(0); // packages stay physical
  });

  it('rejects a fake count that is not a multiple of the physical nodes', () => {
    expect(errOf(() => createTopology({ nrCpus: 8, nrNodes: 2, numaFake: 3 })).errno).toBe(
      'EINVAL',
    );
  });
});

describe('online / present masks', () => {
  it('boots maxcpus online and toggles CPUs with validation', () => {
    const t = createTopology({ nrCpus: 8, maxcpus: 6 });
    expect(t.online.toList()).toBe('0-5');
    t.setCpuOnline(7, true);
    t.setCpuOnline(2, false);
    expect(t.online.toList()).toBe('0-1,3-5,7');
    expect(errOf(() => t.setCpuOnline(8, true)).errno).toBe('EINVAL');
    expect(errOf(() => t.setCpuOnline(-1, false)).errno).toBe('EINVAL');
    expect(errOf(() => t.setCpuPresent(3, false)).errno).toBe('EBUSY');
    t.setCpuPresent(6, false);
    const e = errOf(() => t.setCpuOnline(6, true));
    expect(e.errno).toBe('EINVAL');
    expect(e.message).toMatch(/CPU 6 is not present/);
    expect(t.possible.weight()).toBe(8);
  });

  it('refuses to offline the last online CPU', () => {
    const t = createTopology({ nrCpus: 2 });
    t.setCpuOnline(0, false);
    expect(errOf(() => t.setCpuOnline(1, false)).errno).toBe('EBUSY');
  });

  it('rejects bad options', () => {
    expect(errOf(() => createTopology({ nrCpus: 0 })).errno).toBe('EINVAL');
    expect(errOf(() => createTopology({ nrCpus: 4_194_305 })).errno).toBe('EINVAL');
    expect(errOf(() => createTopology({ nrCpus: 3, nrNodes: 2, packagesPerNode: 2 })).errno).toBe(
      'EINVAL',
    );
    expect(errOf(() => createTopology({ nrCpus: 4, maxcpus: 5 })).errno).toBe('EINVAL');
    expect(errOf(() => createTopology({ nrCpus: 4 }).cpuToNode(4)).errno).toBe('EINVAL');
    expect(errOf(() => createTopology({ nrCpus: 4 }).nodeDistance(0, 1)).errno).toBe('EINVAL');
  });

  it('prints an lscpu-like summary', () => {
    const t = createTopology({ nrCpus: 8, nrNodes: 2, packagesPerNode: 1, threadsPerCore: 2 });
    t.setCpuOnline(7, false);
    const out = t.formatLscpu();
    expect(out).toMatch(/^CPU\(s\): +8$/m);
    expect(out).toMatch(/^On-line CPU\(s\) list: +0-6$/m);
    expect(out).toMatch(/^Off-line CPU\(s\) list: +7$/m);
    expect(out).toMatch(/^Thread\(s\) per core: +2$/m);
    expect(out).toMatch(/^Core\(s\) per socket: +2$/m);
    expect(out).toMatch(/^Socket\(s\): +2$/m);
    expect(out).toMatch(/^NUMA node1 CPU\(s\): +4-7$/m);
  });
});
