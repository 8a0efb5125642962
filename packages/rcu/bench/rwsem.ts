/**
 * percpu rw-semaphore: how many read acquisitions take the fast path (own line, no
 * atomics) while a writer comes and goes, beside the same readers with no writer at all
 * (the baseline: every acquisition fast). Moved here from test/real-rwsem.test.ts, which
 * asserts only exclusion: the share depends on the host's speed, so it is measured, not
 * asserted. Called by bench/index.ts: `runRwsemBench(quick)`.
 */
import { printRows } from '../../../scripts/bench-harness.js';
import { createRcuDomain } from '../src/real/domain.js';
import { createPercpuRwsem } from '../src/real/percpu-rwsem.js';
import { nextMessage, spawn } from '../test/fixtures/real-spawn.js';

interface Done {
  violations: number;
  held: number;
  fast: number;
  slow: number;
}

async function readersFor(ms: number, writerEveryMs: number | null): Promise<Done[]> {
  const d = createRcuDomain();
  const sem = createPercpuRwsem(d);
  const shared = new Int32Array(new SharedArrayBuffer(12));
  const workers = [0, 1].map(() =>
    spawn('real-rwsem-worker.ts', { domain: d.handle, sem: sem.handle, shared: shared.buffer }),
  );
  await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
  const done = workers.map((w) => nextMessage<Done>(w, 'done', 120_000));
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (writerEveryMs === null) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    await sem.percpuDownWrite();
    Atomics.store(shared, 0, 1);
    await new Promise((r) => setTimeout(r, 1));
    Atomics.store(shared, 0, 0);
    sem.percpuUpWrite();
    await new Promise((r) => setTimeout(r, writerEveryMs));
  }
  Atomics.store(shared, 1, 1);
  const res = await Promise.all(done);
  await d.rcuBarrier();
  await Promise.all(workers.map((w) => w.terminate()));
  d.close();
  return res;
}

/** Runs the fast-path-share benchmark and prints its table. */
export async function runRwsemBench(quick: boolean): Promise<void> {
  const ms = quick ? 100 : 1000;
  const rows: (string | number)[][] = [];
  for (const [label, every] of [
    ['no writer (baseline)', null],
    ['writer holds 1 ms every 100 ms', 100],
    ['writer holds 1 ms every 10 ms', 10],
  ] as const) {
    const res = await readersFor(ms, every);
    const held = res.reduce((s, r) => s + r.held, 0);
    const fast = res.reduce((s, r) => s + r.fast, 0);
    const bad = res.reduce((s, r) => s + r.violations, 0);
    rows.push([label, held.toLocaleString('en-US'), `${((100 * fast) / held).toFixed(1)} %`, bad]);
  }
  printRows(
    `percpu rw-semaphore, two reader workers for ${ms} ms: read acquisitions on the fast path`,
    ['writer', 'read acquisitions', 'fast path', 'exclusion violations'],
    rows,
  );
}
