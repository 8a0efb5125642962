// The order-0 alloc+free pair alone in a fresh process, on the built package (run
// `pnpm build` first): one machine per process, SMP or uniprocessor, median of rounds.
//   node packages/mm/bench/pair-isolated.mjs [smp|up]
import { createMemory, GFP_KERNEL } from '@kern/mm';

const smp = process.argv[2] !== 'up';
const mem = createMemory({ size: '256M', nrCpus: smp ? 2 : 1, smp });
const quick = process.env.KERN_BENCH_QUICK === '1';
const n = quick ? 1000 : 2_000_000;
const times = [];
for (let r = 0; r < (quick ? 1 : 7); r++) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) mem.freePages(mem.allocPages(GFP_KERNEL, 0), 0);
  times.push(((performance.now() - t0) * 1e6) / n);
}
times.sort((a, b) => a - b);
console.log(
  `${smp ? 'SMP' : 'UP'}: ${times[times.length >> 1].toFixed(1)} ns per order-0 alloc+free pair (median of ${times.length})`,
);
