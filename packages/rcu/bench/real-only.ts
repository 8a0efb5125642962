// Runs only the real-thread benchmarks: tsx --conditions=@kern/source bench/real-only.ts
import { printEnv, quick } from '../../../scripts/bench-harness.js';
import { runRealBench } from './real.js';

await runRealBench(quick);
printEnv();
