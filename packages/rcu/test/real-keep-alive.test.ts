// A pending grace period keeps its thread alive: Atomics.waitAsync does not ref Node's
// event loop, so without the library's keep-alive timer a worker (or a main thread with
// nothing else alive) that awaits synchronizeRcu() or rcuBarrier() exits with code 13.
import { spawn as spawnProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createRcuDomain, type RcuFlavor } from '../src/real/domain.js';
import { futexWaitAsync } from '../src/real/futex.js';
import { eventLoopHeld, pendingEventLoopHolds } from '../src/real/keep-alive.js';
import { createPercpuRwsem } from '../src/real/percpu-rwsem.js';
import { nextMessage, sleep, spawn, terminateAll, within } from './fixtures/real-spawn.js';

afterEach(terminateAll);

const FLAVORS: RcuFlavor[] = ['qsbr', 'mb'];

/** Resolves with the worker's exit code. */
const exitCode = (w: Worker): Promise<number> => new Promise((resolve) => w.once('exit', resolve));

describe('a pending wait keeps its thread alive', () => {
  for (const flavor of FLAVORS) {
    it(`${flavor}: an updater worker awaiting synchronizeRcu() then rcuBarrier() completes and exits 0 while main holds a read section`, async () => {
      const d = createRcuDomain({ flavor });
      const r = d.rcuRegisterThread();
      r.rcuReadLock(); // MB: a section; QSBR: online, announcing nothing until released
      const w = spawn('real-thread.ts', { mode: 'sync-barrier', domain: d.handle });
      const events: string[] = [];
      const done = new Promise<{ ran: number }>((resolve) =>
        w.on('message', (m: { type: string; ran: number }) => {
          events.push(m.type);
          if (m.type === 'done') resolve(m);
        }),
      );
      const exited = exitCode(w);
      await nextMessage(w, 'calling');
      await sleep(1000); // the worker's grace period sleeps in Atomics.waitAsync meanwhile
      events.push('released');
      r.rcuReadUnlock();
      r.rcuThreadOffline();
      expect(await within(exited, 30_000, 'worker exit')).toBe(0);
      expect((await done).ran).toBe(1);
      // Safety too: the grace period ended only after main's read section.
      expect(events).toEqual(['calling', 'released', 'synced', 'done']);
      d.close();
    }, 90_000);
  }

  it('a worker awaiting percpuDownWrite() (rcu_sync, then readers draining) completes and exits 0', async () => {
    const d = createRcuDomain();
    d.rcuRegisterThread();
    const sem = createPercpuRwsem(d);
    await sem.percpuDownReadAsync(); // held by main while the writer waits
    d.reader!.rcuThreadOffline(); // the read lock is the count: no RCU reader needed
    const w = spawn('real-thread.ts', {
      mode: 'rwsem-writer',
      domain: d.handle,
      sem: sem.handle,
    });
    const exited = exitCode(w);
    const locked = nextMessage(w, 'locked', 60_000);
    locked.catch(() => {}); // awaited below; a worker that dies rejects it at once
    await nextMessage(w, 'calling');
    await within(
      (async () => {
        while (!sem.writeLocked) await sleep(5);
      })(),
      30_000,
      'writer blocking readers',
    );
    await sleep(500); // the writer sleeps waiting for the read lock to drain
    sem.percpuUpRead();
    await locked;
    expect(await within(exited, 30_000, 'worker exit')).toBe(0);
    d.close();
  }, 90_000);

  for (const flavor of FLAVORS) {
    it(`${flavor}: a main thread whose only pending work is synchronizeRcu()/rcuBarrier() finishes them and then exits by itself with code 0`, async () => {
      const script = fileURLToPath(new URL('./fixtures/real-main-waits.ts', import.meta.url));
      const child = spawnProcess(
        process.execPath,
        ['--conditions=@kern/source', '--import', 'tsx', script, flavor],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const code = await within(
        new Promise<number | null>((resolve) => child.once('exit', resolve)),
        60_000,
        'the child (a leaked keep-alive would keep it alive forever)',
      ).finally(() => child.kill());
      expect(out).toBe('synced\ncallback ran\nbarrier done\n');
      expect(code).toBe(0);
    }, 90_000);
  }

  it("a callRcu() batch held up by the calling thread's own online reader does not keep a finished script alive", async () => {
    const script = fileURLToPath(new URL('./fixtures/real-callrcu-exit.ts', import.meta.url));
    const child = spawnProcess(
      process.execPath,
      ['--conditions=@kern/source', '--import', 'tsx', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await within(
      new Promise<number | null>((resolve) => child.once('exit', resolve)),
      30_000,
      'the child (a batch that holds the event loop keeps it alive forever)',
    ).finally(() => child.kill());
    expect(out).toBe('queued\n');
    expect(code).toBe(0);
  }, 60_000);

  it('the keep-alive timer is held only while a wait is pending, and shared by concurrent waits', async () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    expect(pendingEventLoopHolds()).toBe(0);
    const waits = [futexWaitAsync(word, 0, 0, 200), futexWaitAsync(word, 0, 0, 200)];
    expect(pendingEventLoopHolds()).toBe(2);
    expect(eventLoopHeld()).toBe(true);
    Atomics.notify(word, 0);
    await Promise.all(waits);
    expect(pendingEventLoopHolds()).toBe(0);
    expect(eventLoopHeld()).toBe(false);
    // A value that already differs returns at once and holds nothing.
    await futexWaitAsync(word, 0, 1, 200);
    expect(pendingEventLoopHolds()).toBe(0);
  });
});
