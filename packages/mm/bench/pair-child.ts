/**
 * One process's run of the order-0 pair benchmark: kern's pair in one configuration
 * (argv[2]: smp, smp-shared, up) beside `new ArrayBuffer(4096)`, a first-fit bitmap and
 * a fixed reference loop, interleaved rounds; prints the results as JSON for bench/index.ts.
 */
// The built package, as `import '@kern/mm'` loads it (bench/index.ts builds it first):
// the bundle is what users run, and it inlines the layout constants the source imports.
// KERN_MM_BENCH_DIST names another build's dist/index.js instead (bench/index.ts sets it
// for KERN_MM_BENCH_COMPARE).
import { pathToFileURL } from 'node:url';
import type * as MmModule from '@kern/mm';
import { runCases } from '../../../scripts/bench-harness.js';

type Mm = typeof MmModule;
const other = process.env.KERN_MM_BENCH_DIST;
const { attachMemory, createMemory, GFP_KERNEL } = (
  other ? await import(pathToFileURL(other).href) : await import('@kern/mm')
) as Mm;

/** A plain first-fit bitmap page allocator: the simplest thing that could work. */
class FirstFitBitmap {
  private readonly bits: Uint32Array;
  constructor(readonly nrPages: number) {
    this.bits = new Uint32Array(nrPages >>> 5);
  }
  alloc(): number {
    const b = this.bits;
    for (let w = 0; w < b.length; w++) {
      const x = b[w]!;
      if (x !== 0xffffffff) {
        const bit = 31 - Math.clz32(~x & (x + 1));
        b[w] = x | (1 << bit);
        return (w << 5) + bit;
      }
    }
    return -1;
  }
  free(pfn: number): void {
    this.bits[pfn >>> 5]! &= ~(1 << (pfn & 31));
  }
}

// One kern configuration per process (argv[2]), as an application runs one: in a
// process that runs all three, V8 compiles the shared methods for all of them.
const config = process.argv[2] ?? 'smp';
const CONFIGS: Record<string, { name: string; make: () => ReturnType<typeof createMemory> }> = {
  smp: {
    name: 'kern allocPages+freePages, SMP, one thread attached',
    make: () => createMemory({ size: '256M', nrCpus: 2 }),
  },
  'smp-shared': {
    name: 'kern allocPages+freePages, SMP, two threads attached',
    make: () => {
      // Another thread attached (here a second instance in this thread, which counts the
      // same): from then on every count drop is an Atomics.sub. (Older builds, which
      // KERN_MM_BENCH_COMPARE may load, had `handle()` as a method.)
      const m = createMemory({ size: '256M', nrCpus: 2 });
      const h = m.handle as unknown;
      attachMemory((typeof h === 'function' ? h.call(m) : h) as typeof m.handle, { cpu: 1 });
      return m;
    },
  },
  up: {
    name: 'kern allocPages+freePages, UP (smp: false)',
    make: () => createMemory({ size: '256M', nrCpus: 1, smp: false }),
  },
};
const chosen = CONFIGS[config];
if (!chosen)
  throw new Error(`unknown configuration ${config}: one of ${Object.keys(CONFIGS).join(', ')}`);
const mem = chosen.make();
const bitmap = new FirstFitBitmap(65536);
// A realistic bitmap: the first half in use, so first-fit scans 1024 words per call.
for (let i = 0; i < 32768; i++) bitmap.alloc();
const pairOps = 1_000_000;
// Machine-speed reference: a fixed plain typed-array loop (10 dependent load/store steps
// per op). The shared host's speed drifts by up to 2× between minutes; the pair tracks it.
const ref = new Int32Array(new SharedArrayBuffer(1 << 16));
const pairResults = runCases([
  {
    name: 'reference: 10 typed-array load+store steps',
    ops: 1_000_000,
    run: (n) => {
      let s = 0;
      for (let i = 0; i < n * 10; i++) {
        const k = (i * 7) & 1023;
        ref[k] = ref[(k + 5) & 1023]! + 1;
        s += ref[k + 1]!;
      }
      return s;
    },
  },
  {
    name: 'new ArrayBuffer(4096)',
    ops: pairOps / 10,
    run: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += new ArrayBuffer(4096).byteLength;
      return s;
    },
  },
  {
    name: 'first-fit bitmap (half full)',
    ops: pairOps / 10,
    run: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = bitmap.alloc();
        s += p;
        bitmap.free(p);
      }
      return s;
    },
  },
  {
    name: chosen.name,
    ops: pairOps,
    run: (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = mem.allocPages(GFP_KERNEL, 0)!;
        s += p;
        mem.freePages(p, 0);
      }
      return s;
    },
  },
]);
process.stdout.write(JSON.stringify(pairResults));
