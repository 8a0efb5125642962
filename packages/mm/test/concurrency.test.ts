import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { createMemory } from '../src/mm-init.js';

const bootstrap = new URL('../../../scripts/ts-worker.mjs', import.meta.url);
const script = new URL('./fixtures/alloc-worker.ts', import.meta.url).href;

interface Result {
  held: [number, number][];
  corrupt: number;
  failures: number;
  crashed: string;
}

/** Runs `n` workers as CPUs 0..n-1 on one machine, started together. */
export async function runWorkers(
  mem: ReturnType<typeof createMemory>,
  n: number,
  iterations: number,
  seed: number,
  breakLocks = false,
): Promise<Result[]> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  start[1] = n;
  const results = await Promise.all(
    Array.from(
      { length: n },
      (_, cpu) =>
        new Promise<Result>((resolve, reject) => {
          const w = new Worker(bootstrap, {
            workerData: {
              script,
              handle: mem.handle(),
              id: cpu,
              // The broken-lock control puts both on CPU 0's lists so they race on them too.
              cpu: breakLocks ? 0 : cpu,
              iterations,
              seed: seed + cpu,
              maxOrder: 3,
              start,
              breakLocks,
            },
            execArgv: ['--conditions=@kern/source'],
          });
          w.once('message', (m: Result) => resolve(m));
          w.once('error', reject);
          w.once(
            'exit',
            (code) => code !== 0 && reject(new Error(`worker ${cpu} exited with ${code}`)),
          );
        }),
    ),
  );
  return results;
}

describe('two worker threads on one machine', () => {
  it('allocate and free at once without sharing a page, and every invariant holds afterwards', async () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });
    const results = await runWorkers(mem, 2, 40_000, 1234);
    for (const r of results) expect([r.corrupt, r.crashed]).toEqual([0, '']);
    const heldPages = results.flatMap((r) => r.held).reduce((s, [, order]) => s + (1 << order), 0);
    const report = verifyMemory(mem);
    expect(report.errors).toEqual([]);
    expect(report.buddy + report.pcp + heldPages + report.reserved).toBe(report.total);
    // The main thread can free what the workers left, and everything coalesces back.
    for (const r of results) for (const [pfn, order] of r.held) mem.freePages(pfn, order);
    mem.drainAllPages();
    const after = verifyMemory(mem);
    expect(after.errors).toEqual([]);
    expect(after.uncoalesced).toBe(0);
    expect(after.buddy + after.reserved).toBe(after.total);
  }, 120_000);

  it('negative control: without the zone and per-CPU locks the same run is caught', async () => {
    // Races need the two workers to overlap; on a loaded machine one run may not, so try
    // a few (each a fresh machine) and require that one is caught.
    let caught = 0;
    for (let attempt = 0; attempt < 4 && caught === 0; attempt++) {
      const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });
      // Both workers use CPU 0's lists too, so the unlocked lists are shared.
      const results = await runWorkers(mem, 2, 40_000, 1234 + attempt, true);
      const corrupt = results.reduce((s, r) => s + r.corrupt, 0);
      const crashed = results.filter((r) => r.crashed).length;
      caught = corrupt + crashed + verifyMemory(mem).errors.length;
    }
    expect(caught).toBeGreaterThan(0);
  }, 240_000);
});
