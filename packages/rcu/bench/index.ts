/**
 * @kern/rcu benchmarks: the simulated classic-versus-tree table (the seed article's
 * claim, measured) and real RCU on worker threads against an unsynchronized loop and an
 * Atomics reader-writer lock, each beside its baseline in the same run.
 * Run: pnpm --filter @kern/rcu bench   (KERN_BENCH_QUICK=1 for a smoke run)
 */
import { hotRowsOnly, printEnv, quick } from '../../../scripts/bench-harness.js';
import { runRealBench } from './real.js';
import { runRwsemBench } from './rwsem.js';
import { runSimBench } from './sim.js';

// KERN_BENCH_ROWS=hot: real RCU's read side and grace periods are the hot paths.
if (!hotRowsOnly) await runSimBench(quick);
await runRealBench(quick);
await runRwsemBench(quick);
printEnv();
