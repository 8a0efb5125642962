/**
 * The seed article's claim, measured: one grace period of classic RCU (one mask, one
 * lock) against Tree RCU (64/16 fanout, dyntick-idle aware) for 16 .. 4,194,304 CPUs,
 * half of them idle, driven by the bulk event driver (src/sim-bulk.ts) in virtual time.
 *
 * Columns: acquisitions of the hottest lock in one grace period (all of them, and those
 * on the quiescent-state reporting path), the most CPUs waiting on one lock at once
 * (FIFO lock model, 100 ns per hold, busy CPUs' ticks within 1 µs), idle wakeups (times
 * RCU woke a dyntick-idle CPU: classic's reschedule IPIs to idle holdouts; for the tree,
 * IPIs and ticks counted where they are delivered, which the bulk driver routes through
 * the same `rcuSchedClockIrq` as the scheduler driver),
 * virtual duration of the grace period (dominated by the first FQS scan, 3 + N/256
 * jiffies, for both), and wall time to simulate it (median of rounds).
 */
import { performance } from 'node:perf_hooks';
import { VirtualClock } from '@kern/core';
import { printRows } from '../../../scripts/bench-harness.js';
import { createClassicRcu } from '../src/classic.js';
import { planBulkGp, runClassicGpBulk, runTreeGpBulk } from '../src/sim-bulk.js';
import type { BulkGpResult } from '../src/sim-bulk.js';
import { createRcuState } from '../src/tree.js';

const SIZES = [16, 64, 1024, 4096, 65_536, 262_144, 4_194_304];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(2)) + ' ms';
const fmtVirt = (ns: number): string => `${(ns / 1e6).toFixed(2)} ms`;

/**
 * Measures classic versus tree for every size and prints the table. With `quick`,
 * sizes above 65,536 are skipped and each case runs once.
 */
export async function runSimBench(quick: boolean): Promise<void> {
  const rows: (string | number)[][] = [];
  const sizes = quick ? SIZES.filter((n) => n <= 65_536) : SIZES;
  for (const n of sizes) {
    const rounds = quick ? 1 : n >= 1_000_000 ? 3 : n >= 65_536 ? 5 : 9;
    const treeMs: number[] = [];
    const classicMs: number[] = [];
    let tree: BulkGpResult | undefined;
    let classic: BulkGpResult | undefined;
    for (let r = 0; r < rounds; r++) {
      const plan = planBulkGp(n, { seed: 1 + r });
      const rs = createRcuState({ nrCpus: n, clock: new VirtualClock() });
      const firstFqs = rs.jiffiesTillFirstFqs;
      let t0 = performance.now();
      tree = runTreeGpBulk(rs, plan);
      treeMs.push(performance.now() - t0);
      const cr = createClassicRcu({ nrCpus: n, clock: new VirtualClock() });
      t0 = performance.now();
      classic = runClassicGpBulk(cr, plan, firstFqs);
      classicMs.push(performance.now() - t0);
      await Promise.resolve();
    }
    const t = tree!;
    const c = classic!;
    rows.push([
      n.toLocaleString('en-US'),
      `${c.hottestAcquisitions} / ${c.hottestQsAcquisitions}`,
      `${t.hottestAcquisitions} / ${t.hottestQsAcquisitions}`,
      c.maxWaiters,
      t.maxWaiters,
      c.idleWakeups,
      t.idleWakeups,
      fmtVirt(c.gpNs),
      fmtVirt(t.gpNs),
      fmtMs(median(classicMs)),
      fmtMs(median(treeMs)),
    ]);
  }
  printRows(
    'Classic vs Tree RCU: one grace period (half the CPUs dyntick-idle)',
    [
      'CPUs',
      'classic hottest lock acq (all / QS)',
      'tree hottest lock acq (all / QS)',
      'classic max waiters',
      'tree max waiters',
      'classic idle wakeups',
      'tree idle wakeups',
      'classic GP (virtual)',
      'tree GP (virtual)',
      'classic wall',
      'tree wall',
    ],
    rows,
  );
}
