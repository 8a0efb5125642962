import { afterEach, describe, expect, it } from 'vitest';
import { isKernelError } from '@kern/core';
import { attachRcuDomain, createRcuDomain, rcuSeqDone, rcuSeqSnap } from '../src/real/domain.js';
import { GP_CTR, R_CTR, readerLine } from '../src/real/layout.js';
import type { QsbrReader } from '../src/real/qsbr.js';
import {
  nextMessage,
  sleep,
  spawn,
  stillPending,
  terminateAll,
  within,
} from './fixtures/real-spawn.js';

afterEach(terminateAll);

/** A second attachment in this thread stands in for another thread's. */
const twoThreads = (opts: Parameters<typeof createRcuDomain>[0] = {}) => {
  const a = createRcuDomain(opts);
  const b = attachRcuDomain(a.handle);
  return { a, b };
};

describe('real RCU domain: layout and registration', () => {
  it('attaches by handle, shares pointer slots and refuses a foreign buffer', () => {
    const { a, b } = twoThreads({ pointerSlots: 4 });
    a.rcuAssignPointer(2, 42);
    expect(b.rcuDereference(2)).toBe(42);
    expect(b.flavor).toBe('qsbr');
    expect(() => attachRcuDomain({ buffer: new SharedArrayBuffer(4096) })).toThrow(/EINVAL/);
    expect(() => createRcuDomain({ maxReaders: 0 })).toThrow(/EINVAL/);
  });

  it('registers one reader per thread, each on its own line, and runs out with ENOSPC', () => {
    const a = createRcuDomain({ maxReaders: 2 });
    const b = attachRcuDomain(a.handle);
    const c = attachRcuDomain(a.handle);
    const ra = a.rcuRegisterThread();
    expect(() => a.rcuRegisterThread()).toThrow(/EBUSY/);
    const rb = b.rcuRegisterThread();
    expect([ra.slot, rb.slot]).toEqual([0, 1]);
    expect(() => c.rcuRegisterThread()).toThrow(/ENOSPC/);
    rb.rcuUnregisterThread();
    expect(c.rcuRegisterThread().slot).toBe(1);
  });
});

describe('real RCU, QSBR flavor', () => {
  it('read side is empty: lock/unlock do nothing, dereference is a plain read', () => {
    const { a } = twoThreads();
    const r = a.rcuRegisterThread();
    const h = new Int32Array(a.handle.buffer);
    const before = Array.from(h);
    r.rcuReadLock();
    a.rcuAssignPointer(0, 7);
    expect(r.rcuDereference(0)).toBe(7);
    r.rcuReadUnlock();
    const after = Array.from(h);
    after[readerLine(0) + R_CTR] = before[readerLine(0) + R_CTR]!;
    expect(after.filter((v, i) => v !== before[i])).toEqual([7]); // only the pointer slot
  });

  it('a grace period waits for an online reader until it announces a quiescent state', async () => {
    const { a, b } = twoThreads();
    const r = b.rcuRegisterThread();
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    r.rcuQuiescentState();
    // Two phases: the reader must announce the second counter value too.
    await sleep(5);
    r.rcuQuiescentState();
    await within(gp, 2000, 'grace period');
    expect(rcuSeqDone(a.gpSeq, rcuSeqSnap(a.gpSeq))).toBe(false);
  });

  it('never waits for an offline reader, nor for an idle thread that runs tasks with runTask', async () => {
    const { a, b } = twoThreads();
    const r = b.rcuRegisterThread() as QsbrReader;
    r.rcuThreadOffline();
    await within(a.synchronizeRcu(), 2000, 'grace period with offline reader');
    expect(r.runTask(() => r.online)).toBe(true);
    expect(r.online).toBe(false);
    const handler = r.wrap((x: number) => x + 1);
    expect(handler(1)).toBe(2);
    expect(r.online).toBe(false);
    await within(a.synchronizeRcu(), 2000, 'grace period after tasks');
  });

  it('an online reader that runs tasks announces a quiescent state after each', async () => {
    const { a, b } = twoThreads();
    const r = b.rcuRegisterThread();
    const gp = a.synchronizeRcu();
    const timer = setInterval(() => r.runTask(() => 0), 1);
    try {
      await within(gp, 2000, 'grace period');
    } finally {
      clearInterval(timer);
    }
  });

  it('the caller may be an online reader itself (it reports its own quiescent states)', async () => {
    const a = createRcuDomain();
    a.rcuRegisterThread();
    await within(a.synchronizeRcu(), 2000, 'self grace period');
  });

  it('grace periods advance GP_SEQ by 2 and GP_CTR by two phases, and are shared by concurrent callers', async () => {
    const { a, b } = twoThreads();
    const s0 = a.gpSeq;
    const c0 = a.gpCtr;
    await a.synchronizeRcu();
    expect((a.gpSeq - s0) | 0).toBe(2);
    expect((a.gpCtr - c0) | 0).toBe(2);
    // Uncontended, each call runs its own grace period; while one is held up by a reader,
    // 20 concurrent callers on two attachments share the next one.
    const r = b.rcuRegisterThread();
    const s1 = a.gpSeq;
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => (i & 1 ? b : a).synchronizeRcu()));
    await sleep(20);
    const timer = setInterval(() => r.rcuQuiescentState(), 1);
    try {
      await within(all, 5000, '20 grace periods');
    } finally {
      clearInterval(timer);
    }
    expect(((a.gpSeq - s1) | 0) / 2).toBe(2);
  });

  describe('32-bit counter wrap', () => {
    for (const [name, start] of [
      ['across 2^32 (-1 → 1)', -9],
      ['across 2^31 (signed overflow)', 0x7ffffff1],
    ] as const) {
      it(`grace periods still wait for readers ${name}`, async () => {
        const { a, b } = twoThreads({ gpCtrStart: start, gpSeqStart: start - 1 });
        const r = b.rcuRegisterThread();
        const seen = new Set<number>();
        for (let i = 0; i < 12; i++) {
          const gp = a.synchronizeRcu();
          expect(await stillPending(gp, 2)).toBe(true);
          // Announce until done (two phases).
          while (await stillPending(gp, 1)) r.rcuQuiescentState();
          await gp;
          seen.add(a.gpCtr);
          expect(a.gpCtr & 1).toBe(1); // never 0, the offline value
        }
        expect([...seen].some((v) => v > 0) && [...seen].some((v) => v < 0)).toBe(true);
      });
    }

    it('a stale snapshot equal to the next counter value (a reader preempted for 2^31 grace periods) is still waited for', async () => {
      const { a, b } = twoThreads();
      b.rcuRegisterThread();
      const h = new Int32Array(a.handle.buffer);
      // The reader loaded GP_CTR 2^31 grace periods ago and stores it now: after the wrap
      // it equals the value this grace period advances to. A single-phase wait would
      // count it as quiescent; the two-phase wait must not.
      const stale = (Atomics.load(h, GP_CTR) + 2) | 0;
      Atomics.store(h, readerLine(0) + R_CTR, stale);
      const gp = a.synchronizeRcu();
      expect(await stillPending(gp, 50)).toBe(true);
      // A real quiescent state (load the current counter, store it) releases it.
      Atomics.store(h, readerLine(0) + R_CTR, Atomics.load(h, GP_CTR));
      await sleep(5);
      Atomics.store(h, readerLine(0) + R_CTR, Atomics.load(h, GP_CTR));
      await within(gp, 2000, 'grace period');
    });
  });
});

describe('real RCU, memory-barrier flavor', () => {
  it('waits for a reader inside a (nested) critical section, not for one outside', async () => {
    const { a, b } = twoThreads({ flavor: 'mb' });
    const r = b.rcuRegisterThread();
    await within(a.synchronizeRcu(), 2000, 'idle GP');
    r.rcuReadLock();
    r.rcuReadLock();
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    r.rcuReadUnlock();
    expect(await stillPending(gp, 30)).toBe(true);
    r.rcuReadUnlock();
    await within(gp, 2000, 'GP after unlock');
    // A section begun after the grace period started is not waited for by it.
    r.rcuReadLock();
    const gp2 = a.synchronizeRcu();
    expect(await stillPending(gp2, 20)).toBe(true);
    r.rcuReadUnlock();
    await within(gp2, 2000, 'second GP');
  });

  it('its seq-cst store goes through wasm on a WebAssembly.Memory, through Atomics without one', async () => {
    const a = createRcuDomain({ flavor: 'mb' });
    expect(a.handle.memory).toBeDefined();
    expect(a.handle.memory!.buffer.byteLength).toBeGreaterThanOrEqual(a.handle.buffer.byteLength);
    // The same domain attached with only its buffer: the Atomics path.
    const plain = attachRcuDomain({ buffer: a.handle.buffer });
    const viaWasm = attachRcuDomain(a.handle);
    const words = new Int32Array(a.handle.buffer);
    for (const d of [viaWasm, plain]) {
      const r = d.rcuRegisterThread();
      const at = readerLine(r.slot) + R_CTR;
      r.rcuReadLock();
      expect(words[at]).toBe(words[GP_CTR]);
      expect(words[at]).not.toBe(0);
      const gp = a.synchronizeRcu();
      expect(await stillPending(gp, 30)).toBe(true);
      r.rcuReadUnlock();
      expect(words[at]).toBe(0);
      await within(gp, 2000, 'GP after unlock');
      r.rcuUnregisterThread();
    }
  });

  it('refuses a handle whose memory is not the memory of its buffer', () => {
    const a = createRcuDomain({ flavor: 'mb' });
    const b = createRcuDomain({ flavor: 'mb' });
    expect(() => attachRcuDomain({ buffer: a.handle.buffer, memory: b.handle.memory! })).toThrow(
      /EINVAL.*not the memory/,
    );
  });
});

describe('callRcu and rcuBarrier', () => {
  it('batches: callbacks queued during one grace period share the next one', async () => {
    const a = createRcuDomain();
    const ran: number[] = [];
    for (let i = 0; i < 100; i++) a.callRcu(() => ran.push(i));
    expect(ran).toEqual([]);
    // These are queued while the first batch's grace period is in flight.
    for (let i = 100; i < 150; i++) a.callRcu(() => ran.push(i));
    await within(a.rcuBarrier(), 2000, 'barrier');
    expect(ran).toEqual(Array.from({ length: 150 }, (_, i) => i));
    const s = a.stats();
    expect(s.invoked).toBe(150);
    expect(s.batches).toBe(2);
    expect(s.gpsRun).toBe(2); // 150 callbacks, 2 grace periods
  });

  it('runs a callback only after readers present at callRcu time have passed a quiescent state', async () => {
    const { a, b } = twoThreads();
    const r = b.rcuRegisterThread();
    let freed = false;
    a.callRcu(() => (freed = true));
    await sleep(30);
    expect(freed).toBe(false);
    const timer = setInterval(() => r.rcuQuiescentState(), 1);
    try {
      await within(a.rcuBarrier(), 2000, 'barrier');
    } finally {
      clearInterval(timer);
    }
    expect(freed).toBe(true);
    await within(a.rcuBarrier(), 100, 'empty barrier');
  });

  it('shutdown aborts a pending grace period: nothing is reclaimed, waiters get ESHUTDOWN', async () => {
    const { a, b } = twoThreads();
    b.rcuRegisterThread(); // online, never quiescent: the grace period cannot end
    let freed = 0;
    for (let i = 0; i < 10; i++) a.callRcu(() => freed++);
    const gp = a.synchronizeRcu();
    const barrier = a.rcuBarrier().then(
      () => null,
      (e: unknown) => e,
    );
    await sleep(20);
    const seqBefore = a.gpSeq;
    a.close();
    await expect(gp).rejects.toSatisfy((e) => isKernelError(e, 'ESHUTDOWN'));
    expect(isKernelError(await barrier, 'ESHUTDOWN')).toBe(true);
    await sleep(20);
    expect(freed).toBe(0);
    expect(a.stats().dropped).toBe(10);
    expect(seqBefore & 1).toBe(1); // it was in progress...
    expect(b.gpSeq & 1).toBe(0); // ...and was rolled back, never counted as elapsed
    expect(() => a.callRcu(() => freed++)).toThrow(/ESHUTDOWN/);
  });

  it('synchronizeRcuSync refuses to block the main thread', () => {
    const a = createRcuDomain();
    expect(() => a.synchronizeRcuSync()).toThrow(/EPERM/);
  });
});

describe('real RCU with worker threads', () => {
  for (const flavor of ['qsbr', 'mb'] as const) {
    it(`${flavor}: grace periods complete while two workers read; offline workers are not waited for`, async () => {
      const a = createRcuDomain({ flavor });
      const pool = new Int32Array(new SharedArrayBuffer(4 * 64));
      const ctl = new Int32Array(new SharedArrayBuffer(8));
      pool[1] = 7;
      a.rcuAssignPointer(0, 1);
      const progress = new Int32Array(new SharedArrayBuffer(8));
      const readers = [0, 1].map((index) =>
        spawn('real-reader.ts', {
          mode: 'read',
          domain: a.handle,
          pool: pool.buffer,
          ctl: ctl.buffer,
          progress: progress.buffer,
          index,
        }),
      );
      const sleeper = spawn('real-reader.ts', {
        mode: 'offline',
        domain: a.handle,
        ctl: ctl.buffer,
      });
      await Promise.all([...readers, sleeper].map((w) => nextMessage(w, 'ready')));
      // At least 20 grace periods, and until both readers have been reading during them
      // (an MB grace period need not wait for a reader between sections, so 20 can pass
      // before a reader thread has been scheduled at all).
      for (
        let i = 0;
        i < 20 || Atomics.load(progress, 0) < 4 || Atomics.load(progress, 1) < 4;
        i++
      ) {
        if (i > 100_000) throw new Error('the reader workers never ran');
        const h = 2 + (i % 60);
        pool[h] = h * 7;
        const old = a.rcuDereference(0);
        a.rcuAssignPointer(0, h);
        // Generous: a correctness check, not a timing one (CI runs torture beside it).
        await within(a.synchronizeRcu(), 15_000, 'grace period with readers');
        pool[old] = -1; // poison: a reader still holding `old` would count it as bad
      }
      const done = readers.map((w) => nextMessage<{ reads: number; bad: number }>(w, 'done'));
      Atomics.store(ctl, 0, 1);
      Atomics.store(ctl, 1, 1);
      Atomics.notify(ctl, 1);
      const results = await Promise.all(done);
      for (const r of results) {
        expect(r.bad).toBe(0);
        expect(r.reads).toBeGreaterThan(0);
      }
    }, 120_000);
  }

  it('a worker may block in synchronizeRcuSync; grace periods from two threads interleave', async () => {
    const a = createRcuDomain();
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const w = spawn('real-reader.ts', {
      mode: 'sync',
      domain: a.handle,
      ctl: ctl.buffer,
      count: 200,
    });
    const done = nextMessage<{ stats: { synchronizes: number } }>(w, 'done');
    for (let i = 0; i < 200; i++) await a.synchronizeRcu();
    const m = await done;
    expect(m.stats.synchronizes).toBe(200);
  });
});
