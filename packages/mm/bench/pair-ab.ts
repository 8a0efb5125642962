/**
 * The order-0 pair on two builds in one process (argv[2]: configuration, argv[3] and
 * argv[4]: the builds' dist/index.js), each through its own loop (two loops in the
 * source, so neither sees the other's objects), in alternating rounds: prints JSON
 * { first, second, ratio } with the median ns per pair of each and the median of the
 * per-round ratios first/second. Drifts in the host's speed hit both builds alike, so
 * the ratio is steady to about ±1 % where separate processes differ by ±30 %.
 * bench/index.ts runs it for KERN_MM_BENCH_COMPARE, in both orders.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type * as MmModule from '@kern/mm';
import { quick } from '../../../scripts/bench-harness.js';

type Mm = typeof MmModule;
type Mem = ReturnType<Mm['createMemory']>;
const [config = 'smp', distA, distB] = process.argv.slice(2);
if (!distA || !distB) throw new Error('usage: pair-ab.ts <config> <dist A> <dist B>');
const load = async (dist: string): Promise<Mm> => (await import(pathToFileURL(dist).href)) as Mm;
const [mmA, mmB] = [await load(distA), await load(distB)];

/** The configuration's Memory on one build (an older build's `handle` was a method). */
function make(mm: Mm): Mem {
  if (config === 'up') return mm.createMemory({ size: '256M', nrCpus: 1, smp: false });
  const mem = mm.createMemory({ size: '256M', nrCpus: 2 });
  if (config === 'smp-shared') {
    const h = mem.handle as unknown;
    mm.attachMemory((typeof h === 'function' ? h.call(mem) : h) as Mem['handle'], { cpu: 1 });
  }
  return mem;
}
const memA = make(mmA);
const memB = make(mmB);
const gfpA = mmA.GFP_KERNEL;
const gfpB = mmB.GFP_KERNEL;
function loopA(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const p = memA.allocPages(gfpA, 0)!;
    s += p;
    memA.freePages(p, 0);
  }
  return s;
}
function loopB(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const q = memB.allocPages(gfpB, 0)!;
    s += q;
    memB.freePages(q, 0);
  }
  return s;
}
const n = quick ? 1000 : 1_000_000;
const rounds = quick ? 3 : 31;
let sink = loopA(n >> 2) + loopB(n >> 2);
const tA: number[] = [];
const tB: number[] = [];
const time = (loop: (n: number) => number, into: number[]): void => {
  const t0 = performance.now();
  sink += loop(n);
  into.push(((performance.now() - t0) * 1e6) / n);
};
for (let r = 0; r < rounds; r++) {
  if (r % 2) {
    time(loopA, tA);
    time(loopB, tB);
  } else {
    time(loopB, tB);
    time(loopA, tA);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
process.stdout.write(
  JSON.stringify({
    first: median(tA),
    second: median(tB),
    ratio: median(tA.map((a, i) => a / tB[i]!)),
    sink: sink > 0,
  }),
);
