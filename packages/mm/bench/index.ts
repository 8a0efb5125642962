/**
 * @kern/mm benchmarks, each beside its baseline in the same process.
 * Run: pnpm --filter @kern/mm bench   (KERN_BENCH_QUICK=1 for a smoke run)
 * KERN_MM_BENCH_COMPARE=<path to another build's dist/index.js> also runs the order-0
 * pair on that build: both builds in one process in alternating rounds (pair-ab.ts), and
 * in processes alternating with this build's (KERN_MM_BENCH_COMPARE_LABEL names it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import {
  endOfHotRows,
  printEnv,
  printRows,
  printTable,
  quick,
  type BenchResult,
} from '../../../scripts/bench-harness.js';
import { PAGE_STRUCT_SIZE } from '../src/layout.js';
import { createMemory } from '../src/mm-init.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { memmapPagesFor } from '../src/sparse.js';
import { fragmentation, mixedChurn } from './workloads.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * Builds @kern/core and this package with tsup where dist/index.js is missing or older
 * than a source file (the pair's children import the built package).
 */
function buildIfStale(): void {
  const packages = fileURLToPath(new URL('../..', import.meta.url));
  const tsup = path.join(packages, '..', 'node_modules', '.bin', 'tsup');
  for (const name of ['core', 'mm']) {
    const root = path.join(packages, name);
    const dist = path.join(root, 'dist', 'index.js');
    const sources = readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' });
    const newest = Math.max(...sources.map((f) => statSync(path.join(root, 'src', f)).mtimeMs));
    if (existsSync(dist) && statSync(dist).mtimeMs >= newest) continue;
    execFileSync(tsup, [], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

// ---- 1. order-0 alloc+free pair through the per-CPU lists
// Each kern configuration runs with the baselines interleaved in its own child processes
// (bench/pair-child.ts); several children, because a process's memory placement and JIT
// decisions move the pair's time by ±30% between processes while its rounds agree.
// The children import the built package (dist/), so build it if the source is newer.
buildIfStale();
const childRuns = quick ? 1 : 5;
const configs = ['smp', 'smp-shared', 'up'];
// KERN_MM_BENCH_COMPARE=<another build's dist/index.js>: each configuration also runs on
// that build, in processes alternating with this build's, and a table compares them.
const compare = process.env.KERN_MM_BENCH_COMPARE;
const compareLabel = process.env.KERN_MM_BENCH_COMPARE_LABEL ?? compare;
/** One child process's results for a configuration, on this build or the compared one. */
function pairChild(config: string, dist?: string): BenchResult[] {
  const env = { ...process.env };
  if (dist) env.KERN_MM_BENCH_DIST = dist;
  else delete env.KERN_MM_BENCH_DIST;
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./pair-child.ts', import.meta.url)), config],
    { encoding: 'utf8', env },
  );
  return JSON.parse(out) as BenchResult[];
}
// For each configuration, its processes' results (the same rows in each process).
const runs = new Map<string, BenchResult[][]>(configs.map((c) => [c, []]));
const compareRuns = new Map<string, BenchResult[][]>(configs.map((c) => [c, []]));
for (let k = 0; k < childRuns; k++)
  for (const config of configs) {
    // Alternate which build goes first, so a drift in the host's speed hits both alike.
    if (compare && k % 2) compareRuns.get(config)!.push(pairChild(config, compare));
    runs.get(config)!.push(pairChild(config));
    if (compare && !(k % 2)) compareRuns.get(config)!.push(pairChild(config, compare));
  }
const allRuns = [...runs.values()].flat();
const baselineRows = allRuns[0]!.slice(0, -1).map((c, i): BenchResult => {
  const meds = allRuns.map((r) => r[i]!.nsPerOp);
  return { name: c.name, nsPerOp: median(meds), samples: meds };
});
const kernRows = configs.map((config): BenchResult => {
  const rs = runs.get(config)!;
  const meds = rs.map((r) => r[r.length - 1]!.nsPerOp);
  return { name: rs[0]![rs[0]!.length - 1]!.name, nsPerOp: median(meds), samples: meds };
});
printTable(
  `order-0 alloc+free pair (per-CPU lists): each kern row the median of its ${childRuns} processes, baselines of all ${allRuns.length}`,
  [...baselineRows, ...kernRows],
  'new ArrayBuffer(4096)',
);
printRows(
  "order-0 pair: each process's median (ns), with the reference loop in the same process",
  ['case', ...Array.from({ length: childRuns }, (_, k) => `process ${k + 1}`)],
  configs.flatMap((config, c) => {
    const rs = runs.get(config)!;
    return [
      [kernRows[c]!.name, ...kernRows[c]!.samples.map((x) => x.toFixed(1))],
      ['  reference loop, same process', ...rs.map((r) => r[0]!.nsPerOp.toFixed(1))],
    ];
  }),
);

endOfHotRows(); // KERN_BENCH_ROWS=hot: the order-0 pair is mm's hot path

if (compare) {
  // The sharper comparison: both builds in one process, alternating rounds (pair-ab.ts),
  // each process once with this build first and once second.
  const thisDist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const ab = configs.map((config) => {
    const ratios: number[] = [];
    for (let k = 0; k < childRuns * 2; k++) {
      const [first, second] = k % 2 ? [compare, thisDist] : [thisDist, compare];
      const out = execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(new URL('./pair-ab.ts', import.meta.url)),
          config,
          first,
          second,
        ],
        { encoding: 'utf8', env: process.env },
      );
      const r = JSON.parse(out) as { ratio: number };
      ratios.push(k % 2 ? 1 / r.ratio : r.ratio);
    }
    return ratios;
  });
  printRows(
    `order-0 pair, this build / ${compareLabel}, both in one process (alternating rounds, ${childRuns * 2} processes, each build first in half)`,
    ['case', 'median ratio', 'lowest', 'highest'],
    configs.map((_, c) => {
      const rs = ab[c]!;
      return [
        kernRows[c]!.name,
        median(rs).toFixed(3),
        Math.min(...rs).toFixed(3),
        Math.max(...rs).toFixed(3),
      ];
    }),
  );
  // Per process: the pair's time over the same process's reference loop; then medians.
  const perRef = (rs: BenchResult[][]): number[] =>
    rs.map((r) => r[r.length - 1]!.nsPerOp / r[0]!.nsPerOp);
  const pairNs = (rs: BenchResult[][]): number => median(rs.map((r) => r[r.length - 1]!.nsPerOp));
  printRows(
    `order-0 pair, this build against ${compareLabel}: medians of ${childRuns} processes each, alternating`,
    [
      'case',
      'this build',
      'ratio to reference loop',
      'compared build',
      'ratio to reference loop',
      'this / compared (reference-loop ratios)',
    ],
    configs.map((config, c) => {
      const mine = runs.get(config)!;
      const theirs = compareRuns.get(config)!;
      const a = median(perRef(mine));
      const b = median(perRef(theirs));
      return [
        kernRows[c]!.name,
        `${pairNs(mine).toFixed(1)} ns`,
        `${a.toFixed(2)}×`,
        `${pairNs(theirs).toFixed(1)} ns`,
        `${b.toFixed(2)}×`,
        `${(a / b).toFixed(3)}`,
      ];
    }),
  );
  printRows(
    "order-0 pair, compared build: each process's median (ns), with the reference loop",
    ['case', ...Array.from({ length: childRuns }, (_, k) => `process ${k + 1}`)],
    configs.flatMap((config, c) => {
      const rs = compareRuns.get(config)!;
      return [
        [kernRows[c]!.name, ...rs.map((r) => r[r.length - 1]!.nsPerOp.toFixed(1))],
        ['  reference loop, same process', ...rs.map((r) => r[0]!.nsPerOp.toFixed(1))],
      ];
    }),
  );
}

// ---- 2. mixed-order churn: throughput and resulting fragmentation
const churnRows: (string | number)[][] = [];
for (const grouped of [true, false]) {
  const times: number[] = [];
  let frag = fragmentation(createMemory({ size: '128M', sectionSize: '128M', smp: false }));
  for (let r = 0; r < (quick ? 1 : 5); r++) {
    const mem = createMemory({
      size: '128M',
      sectionSize: '128M',
      groupByMobility: grouped,
      smp: false,
    });
    const t0 = performance.now();
    const { ops } = mixedChurn(mem, 7 + r, quick ? 2000 : 150_000);
    times.push(((performance.now() - t0) * 1e6) / ops);
    frag = fragmentation(mem, 9);
  }
  times.sort((a, b) => a - b);
  churnRows.push([
    grouped
      ? 'grouped by migrate type (Linux)'
      : 'single free list (page_group_by_mobility_disabled)',
    `${times[times.length >> 1]!.toFixed(1)} ns`,
    frag.largestOrder,
    frag.suitableBlocks,
    frag.unusableIndex.toFixed(3),
  ]);
}
printRows(
  'mixed churn (8% kernel order 0–2, movable order 0, to 90% full, then page cache dropped), 128M',
  [
    'free lists',
    'median per op',
    'largest free order',
    'free pageblocks (order ≥ 9)',
    'unusable index at order 9',
  ],
  churnRows,
);

// ---- 3. two workers versus one
// Two workers stay up for every round; a round runs worker 0 alone, then both at once,
// so start-up and JIT warm-up are outside the timed loops and the two settings alternate.
const pairMem = createMemory({ size: '256M', nrCpus: 2 });
const pairWorkers = Array.from({ length: 2 }, (_, cpu) => {
  const w = new Worker(new URL('../../../scripts/ts-worker.mjs', import.meta.url), {
    workerData: {
      script: new URL('./fixtures/pair-worker.ts', import.meta.url).href,
      handle: pairMem.handle,
      cpu,
    },
    execArgv: ['--conditions=@kern/source'],
  });
  const waiting: ((m: unknown) => void)[] = [];
  w.on('message', (m) => waiting.shift()?.(m));
  w.on('error', (e) => {
    throw e;
  });
  return { w, next: (): Promise<unknown> => new Promise((resolve) => waiting.push(resolve)) };
});
await Promise.all(pairWorkers.map((p) => p.next()));
async function workersRound(n: number, pairs: number): Promise<number> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  start[1] = n;
  const ws = pairWorkers.slice(0, n);
  const done = ws.map((p) => p.next());
  for (const p of ws) p.w.postMessage({ pairs, start });
  const times = (await Promise.all(done)) as number[];
  return (n * pairs) / Math.max(...times); // pairs per ms
}
const pairs = quick ? 1000 : 2_000_000;
const one: number[] = [];
const two: number[] = [];
for (let r = 0; r < (quick ? 1 : 9); r++) {
  one.push(await workersRound(1, pairs));
  two.push(await workersRound(2, pairs));
}
await Promise.all(pairWorkers.map((p) => p.w.terminate()));

printRows(
  'worker threads allocating at once (order-0 pairs, each on its own CPU lists)',
  ['threads', 'aggregate pairs per µs (median)', 'ratio to one'],
  [
    [1, (median(one) / 1000).toFixed(2), '1.00×'],
    [2, (median(two) / 1000).toFixed(2), `${(median(two) / median(one)).toFixed(2)}×`],
  ],
);

// ---- 4. page metadata
const sectionPages = (128 << 20) / PAGE_SIZE;
const perPage = (memmapPagesFor(sectionPages) * PAGE_SIZE) / sectionPages;
printRows(
  'page metadata',
  ['what', 'bytes per 4 KiB page'],
  [
    ['struct page (kern)', PAGE_STRUCT_SIZE],
    ['struct page + usemap + section header, 128M section, whole pages', perPage.toFixed(2)],
    ['struct page (Linux x86_64)', 64],
  ],
);
printEnv();
