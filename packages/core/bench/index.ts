/**
 * @kern/core benchmarks: each subject beside the plain-JS baseline it replaces, in one
 * process, interleaved rounds, medians and ratios.
 * Run: pnpm --filter @kern/core bench   (KERN_BENCH_QUICK=1 for a smoke run)
 */
import { printEnv, printTable, runCases } from '../../../scripts/bench-harness.js';
import { VirtualClock } from '../src/clock.js';
import { Cpumask } from '../src/cpumask.js';
import { NOTIFY_OK, NotifierChain } from '../src/notifier.js';
import { createPrintk } from '../src/printk.js';
import { createRng } from '../src/random.js';
import { createScheduler } from '../src/sched.js';
import { createTopology } from '../src/topology.js';

const clock = new VirtualClock();

// printk into a 64 KiB ring in a SharedArrayBuffer vs pushing strings into a capped array.
const pk = createPrintk({ buffer: new Uint8Array(new SharedArrayBuffer(64 * 1024)), clock });
const line = 'usb 1-1: new high-speed USB device number 2 using xhci_hcd';
const arr: string[] = [];
printTable(
  'printk: one 60-byte record',
  runCases([
    {
      name: 'array.push(string) (capped at 1000)',
      ops: 200_000,
      run: (n) => {
        for (let i = 0; i < n; i++) {
          arr.push(line);
          if (arr.length > 1000) arr.shift();
        }
        return arr.length;
      },
    },
    {
      name: 'printk into the byte ring',
      ops: 200_000,
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += pk.printk(6, line);
        return s;
      },
    },
  ]),
  'array.push(string) (capped at 1000)',
);

// Notifier chain of 4 blocks vs 4 direct calls.
const fns = [0, 1, 2, 3].map((k) => (a: number, d: number) => (a + d + k) & NOTIFY_OK);
const chain = new NotifierChain<number>('bench');
for (const f of fns) chain.register({ call: f });
printTable(
  'notifier chain, 4 blocks',
  runCases([
    {
      name: 'four direct calls',
      ops: 1_000_000,
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) for (const f of fns) s += f(1, i);
        return s;
      },
    },
    {
      name: 'NotifierChain.callChain',
      ops: 1_000_000,
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += chain.callChain(1, i);
        return s;
      },
    },
  ]),
  'four direct calls',
);

// Seeded generator vs Math.random.
const rng = createRng(42);
printTable(
  'random numbers',
  runCases([
    {
      name: 'Math.random()',
      ops: 2_000_000,
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += Math.random();
        return s;
      },
    },
    {
      name: 'createRng(seed).nextFloat()',
      ops: 2_000_000,
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += rng.nextFloat();
        return s;
      },
    },
  ]),
  'Math.random()',
);

// A scheduler step (seeded CPU choice, virtual time) vs resuming a bare generator.
function* spin(): Generator<undefined, void, unknown> {
  for (;;) yield;
}
const bare = spin();
const sched = createScheduler({ nrCpus: 4, seed: 1, clock: new VirtualClock() });
for (let c = 0; c < 4; c++)
  sched.spawn({ name: `spin${c}`, cpu: c }, function* () {
    for (;;) yield;
  });
printTable(
  'scheduling: one task step',
  runCases([
    {
      name: 'generator.next()',
      ops: 500_000,
      run: (n) => {
        for (let i = 0; i < n; i++) bare.next();
        return n;
      },
    },
    { name: 'Scheduler.step() over 4 CPUs', ops: 200_000, run: (n) => sched.run({ maxSteps: n }) },
  ]),
  'generator.next()',
);

// cpumask weight over 4,194,304 CPUs vs counting a boolean array.
const NR = 4_194_304;
const mask = new Cpumask(NR);
const bools = new Uint8Array(NR);
for (let c = 0; c < NR; c += 3) {
  mask.set(c);
  bools[c] = 1;
}
printTable(
  'cpumask weight, 4,194,304 CPUs',
  runCases([
    {
      name: 'count a Uint8Array of flags',
      ops: 5,
      run: (n) => {
        let s = 0;
        for (let k = 0; k < n; k++) for (let i = 0; i < NR; i++) s += bools[i]!;
        return s;
      },
    },
    {
      name: 'Cpumask.weight() (popcount)',
      ops: 5,
      run: (n) => {
        let s = 0;
        for (let k = 0; k < n; k++) s += mask.weight();
        return s;
      },
    },
  ]),
  'count a Uint8Array of flags',
);

// Scale: what a 65,536-CPU scheduler and a 4,194,304-CPU topology cost against the same
// work on 4 CPUs. Neither should cost per CPU; these rows replace the wall-clock bounds
// the unit tests used to assert (test/sched.test.ts, test/topology.test.ts > scale).
function spreadTasks(nrCpus: number): number {
  const s = createScheduler({ nrCpus, seed: 1, clock: new VirtualClock() });
  let finished = 0;
  for (let i = 0; i < 2000; i++)
    s.spawn({ name: `k${i}` }, function* (ctx) {
      yield ctx.sleep(ctx.rng.below(1000));
      yield;
      finished++;
    });
  s.run();
  return finished;
}
printTable(
  'scale: make a scheduler and run 2,000 tasks spread over it',
  runCases([
    { name: '4 CPUs', ops: 3, run: (n) => repeat(n, () => spreadTasks(4)) },
    { name: '65,536 CPUs', ops: 3, run: (n) => repeat(n, () => spreadTasks(65_536)) },
  ]),
  '4 CPUs',
);
const topo = (nrCpus: number, nrNodes: number) => () =>
  createTopology({ nrCpus, nrNodes, packagesPerNode: 2, threadsPerCore: 2 }).online.weight();
printTable(
  'scale: make a topology and count its online CPUs',
  runCases([
    { name: '4,096 CPUs on 1 node', ops: 3, run: (n) => repeat(n, topo(4096, 1)) },
    { name: '4,194,304 CPUs on 1024 nodes', ops: 3, run: (n) => repeat(n, topo(NR, 1024)) },
  ]),
  '4,096 CPUs on 1 node',
);

function repeat(n: number, f: () => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += f();
  return s;
}
printEnv();
