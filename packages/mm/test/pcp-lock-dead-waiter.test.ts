import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL } from '../src/gfp.js';
import { PCP_REVOKE, pcpBase } from '../src/layout.js';
import { createMemory } from '../src/mm-init.js';

const bootstrap = new URL('../../../scripts/ts-worker.mjs', import.meta.url);
const script = new URL('./fixtures/alloc-worker.ts', import.meta.url).href;

type Mem = ReturnType<typeof createMemory>;

function spawn(mem: Mem, cpu: number, role: 'drain' | 'churn', start: Int32Array, iterations = 0) {
  return new Worker(bootstrap, {
    workerData: {
      script,
      handle: mem.handle,
      id: cpu,
      cpu,
      iterations,
      seed: 5,
      maxOrder: 0,
      start,
      role,
    },
    execArgv: ['--conditions=@kern/source'],
  });
}

/** Busy-waits (without returning to the event loop, so this thread keeps its lazy holds). */
function spinUntil(cond: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) if (cond()) return true;
  return cond();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a waiter that dies while announced on a pcp lock', () => {
  it("does not wedge the CPU's next owner in an endless wait", async () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M', nrCpus: 2 });
    const revoke = mem.nodeBase[0]! + pcpBase(1, 0) + PCP_REVOKE; // CPU 1's PCP_REVOKE count
    const node0 = mem.nodeArr[0]!;

    // 1. A drainer (CPU 0) that drains every CPU's lists in a loop, forever.
    //    start[0] = 1 and start[1] = 2: its start barrier passes as soon as it has attached,
    //    and its loop (while start[2] < start[1] - 1) never ends.
    // 2. This thread takes CPU 1's lists (lazily), leaves a page there and, without
    //    returning to the event loop, waits until the drainer has announced itself on
    //    CPU 1's lock, then terminates it while it waits (well inside its 1 s timeout).
    let leaked = 0;
    for (let attempt = 0; attempt < 3 && leaked === 0; attempt++) {
      const dStart = new Int32Array(new SharedArrayBuffer(16));
      dStart[0] = 1;
      dStart[1] = 2;
      const d = spawn(mem, 0, 'drain', dStart);
      const dExit = new Promise((r) => d.once('exit', r));
      while (Atomics.load(dStart, 0) < 2) await sleep(5); // attached, draining
      mem.cpu = 1;
      mem.freePages(mem.allocPages(GFP_KERNEL, 0)!, 0);
      const announced = spinUntil(() => Atomics.load(node0, revoke) > 0, 3000);
      void d.terminate();
      spinUntil(() => false, 300); // keep holding while the termination lands
      mem.releasePcpLocks();
      await Promise.race([dExit, sleep(3000)]);
      expect(announced).toBe(true);
      leaked = Atomics.load(node0, revoke);
    }
    // The drainer is gone, but its announcement is still counted.
    expect(leaked).toBeGreaterThan(0);

    // 3. A new thread runs as CPU 1 and makes two allocator calls. The lock is free; the
    //    second call reads the stale PCP_REVOKE and lets go of its lock for a waiter that
    //    never comes (before the fix it then waited for the count to reach 0 forever).
    const cStart = new Int32Array(new SharedArrayBuffer(16));
    cStart[1] = 1;
    const c = spawn(mem, 1, 'churn', cStart, 2);
    const finished = await Promise.race([
      new Promise<unknown>((resolve, reject) => {
        c.once('message', resolve);
        c.once('error', reject);
      }),
      sleep(15_000).then(() => 'still waiting after 15 s'),
    ]);
    await c.terminate();
    // The owner waits out the dead waiter's hand-over once (at most a second), remembers
    // its count as stale, and finishes.
    expect(finished).not.toBe('still waiting after 15 s');
    expect((finished as { crashed: string }).crashed).toBe('');
  }, 60_000);
});
