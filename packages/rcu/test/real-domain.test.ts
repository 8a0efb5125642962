import { afterEach, describe, expect, it } from 'vitest';
import { isKernelError } from '@kern/core';
import {
  attachRcuDomain,
  createRcuDomain,
  rcuSeqDone,
  rcuSeqSnap,
  type RcuDomain,
  type RcuFlavor,
} from '../src/real/domain.js';
import {
  GP_CTR,
  GP_FUTEX,
  H_NR_READERS,
  H_PROBE,
  MB_GP_PHASE,
  R_CTR,
  readerLine,
} from '../src/real/layout.js';
import { MbReader } from '../src/real/mb.js';
import { QsbrReader } from '../src/real/qsbr.js';
import { seqCstCopyFor, sharedWasmMemory } from '../src/real/wasm-store.js';
import {
  nextMessage,
  sleep,
  spawn,
  stillPending,
  terminateAll,
  within,
} from './fixtures/real-spawn.js';

afterEach(terminateAll);

/** What `fn` threw (fails the test if it returned). */
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an exception');
};

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

  it('refuses bad options, bad pointer slots and non-domain buffers with a KernelError EINVAL, writing nothing', () => {
    expect(() => createRcuDomain({ flavor: 'bogus' as RcuFlavor })).toThrow(
      /EINVAL: flavor must be 'qsbr' or 'mb', got 'bogus'/,
    );
    const a = createRcuDomain({ pointerSlots: 4 });
    for (const slot of [-1, 4, 99, 1.5, NaN]) {
      const msg = `EINVAL: pointer slot ${slot} is not an integer in 0..3`;
      expect(() => a.rcuAssignPointer(slot, 1)).toThrow(msg);
      expect(() => a.rcuDereference(slot)).toThrow(msg);
    }
    expect(Array.from(a.pointers)).toEqual([0, 0, 0, 0]);
    const mem = createRcuDomain({ flavor: 'mb' }).handle.memory!;
    // Too small, not whole words, not shared: EINVAL (not a RangeError), with or without memory.
    for (const buffer of [0, 6, 16, 20, 64].map((n) => new SharedArrayBuffer(n))) {
      for (const handle of [{ buffer }, { buffer, memory: mem }])
        expect(
          isKernelError(
            thrown(() => attachRcuDomain(handle)),
            'EINVAL',
          ),
        ).toBe(true);
    }
    const notShared = new ArrayBuffer(4096) as unknown as SharedArrayBuffer;
    expect(() => attachRcuDomain({ buffer: notShared })).toThrow(/EINVAL.*SharedArrayBuffer/);
    // A foreign buffer is refused before anything is written to it (the magic comes first).
    const foreign = new Int32Array(new SharedArrayBuffer(4096)).fill(7);
    expect(() => attachRcuDomain({ buffer: foreign.buffer, memory: mem })).toThrow(
      /EINVAL.*bad magic/,
    );
    expect(foreign.every((v) => v === 7)).toBe(true);
    // A header that does not fit its buffer (here: 4000 readers in a 64-reader domain).
    const corrupt = new Int32Array(new SharedArrayBuffer(a.handle.buffer.byteLength));
    corrupt.set(new Int32Array(a.handle.buffer));
    corrupt[H_NR_READERS] = 4000;
    expect(() => attachRcuDomain({ buffer: corrupt.buffer })).toThrow(/EINVAL.*header is corrupt/);
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
    const snap = rcuSeqSnap(a.gpSeq);
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    expect(a.gpSeq & 1).toBe(1); // in progress
    expect(rcuSeqDone(a.gpSeq, snap)).toBe(false);
    // Phase 1 passed at once (the reader registered at the current counter); phase 2
    // waits for it to show the advanced one.
    const words = new Int32Array(a.handle.buffer);
    expect(words[readerLine(0) + R_CTR]).not.toBe(a.gpCtr);
    r.rcuQuiescentState();
    await within(gp, 2000, 'grace period');
    expect(a.gpSeq & 1).toBe(0);
    expect(rcuSeqDone(a.gpSeq, snap)).toBe(true);
  });

  it('rcuSeqSnap/rcuSeqDone: a snapshot is done only after the next full grace period, across the wrap', () => {
    expect(rcuSeqSnap(4)).toBe(6); // idle: the next grace period
    expect(rcuSeqSnap(5)).toBe(8); // in progress: it may predate the call, so the one after
    expect(rcuSeqDone(5, rcuSeqSnap(4))).toBe(false);
    expect(rcuSeqDone(6, rcuSeqSnap(4))).toBe(true);
    expect(rcuSeqDone(7, rcuSeqSnap(5))).toBe(false);
    expect(rcuSeqDone(8, rcuSeqSnap(5))).toBe(true);
    // 2^32 wrap (-1 is 0xffffffff, in progress) and 2^31 (signed overflow).
    expect(rcuSeqSnap(-1)).toBe(2);
    expect(rcuSeqDone(0, rcuSeqSnap(-1))).toBe(false);
    expect(rcuSeqDone(2, rcuSeqSnap(-1))).toBe(true);
    expect(rcuSeqDone(0x7fffffff, rcuSeqSnap(0x7ffffffe))).toBe(false);
    expect(rcuSeqDone(-0x80000000, rcuSeqSnap(0x7ffffffe))).toBe(true);
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
      // Real quiescent states (load the current counter, store it) release it: one per
      // phase, so the reader keeps announcing, as a QSBR reader does, until it is done
      // (two announcements 5 ms apart could both fall in the first phase on a busy host).
      let done = false;
      void gp.then(() => (done = true));
      const announce = (async () => {
        for (let k = 0; k < 400 && !done; k++) {
          Atomics.store(h, readerLine(0) + R_CTR, Atomics.load(h, GP_CTR));
          await sleep(5);
        }
      })();
      await within(gp, 2000, 'grace period');
      await announce;
    });
  });
});

describe('real RCU, memory-barrier flavor', () => {
  it('waits for a (nested) critical section begun before it, not for one begun after its phase flip', async () => {
    const { a, b } = twoThreads({ flavor: 'mb' });
    const c = attachRcuDomain(a.handle);
    const r = b.rcuRegisterThread();
    const late = c.rcuRegisterThread();
    await within(a.synchronizeRcu(), 2000, 'idle GP');
    // Begun before the grace period: waited for until the outermost unlock.
    r.rcuReadLock();
    r.rcuReadLock();
    const phase = a.gpCtr & MB_GP_PHASE;
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    r.rcuReadUnlock();
    expect(await stillPending(gp, 30)).toBe(true);
    // Begun after the grace period flipped the phase: not waited for by it, so the grace
    // period ends while `late` is still inside its section...
    expect(a.gpCtr & MB_GP_PHASE).not.toBe(phase);
    late.rcuReadLock();
    r.rcuReadUnlock();
    await within(gp, 2000, 'GP with a later section still open');
    // ...and the next grace period, which began after it, waits for it.
    const gp2 = a.synchronizeRcu();
    expect(await stillPending(gp2, 30)).toBe(true);
    late.rcuReadUnlock();
    await within(gp2, 2000, 'second GP');
  });

  it('an unbalanced rcuReadUnlock throws EINVAL and leaves the reader consistent', async () => {
    const { a, b } = twoThreads({ flavor: 'mb' });
    const r = b.rcuRegisterThread();
    const words = new Int32Array(a.handle.buffer);
    const at = readerLine(r.slot) + R_CTR;
    expect(() => r.rcuReadUnlock()).toThrow(/EINVAL.*without rcuReadLock.*slot 0/);
    expect(r.online).toBe(false);
    // The next section still stores its snapshot and is waited for.
    r.rcuReadLock();
    expect(words[at]).toBe(words[GP_CTR]);
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    r.rcuReadUnlock();
    await within(gp, 2000, 'GP after unlock');
    expect(() => r.rcuReadUnlock()).toThrow(/EINVAL/);
    expect(words[at]).toBe(0);
  });

  it('non-TSO hardware (arm64): the lock is a fenced store (wasm f, or Atomics.exchange) and grace periods still wait for it', async () => {
    // x64 cannot show the reordering the fence forbids; this runs the non-TSO paths and
    // checks they store the right values and are waited for.
    const a = createRcuDomain({ flavor: 'mb', maxReaders: 4 });
    const h = new Int32Array(a.handle.buffer);
    const at = readerLine(3) + R_CTR;
    for (const copy of [seqCstCopyFor(a.handle.memory!, true), undefined]) {
      const r = new MbReader(h, a.pointers, 3, () => {}, false, copy);
      r.rcuReadLock();
      expect(h[at]).toBe(h[GP_CTR]);
      const gp = a.synchronizeRcu();
      expect(await stillPending(gp, 20)).toBe(true);
      r.rcuReadUnlock();
      expect(h[at]).toBe(0);
      await within(gp, 2000, 'GP after unlock');
    }
    const q = createRcuDomain({ maxReaders: 4 });
    const qh = new Int32Array(q.handle.buffer);
    const qr = new QsbrReader(qh, q.pointers, 3, () => {}, false);
    expect(qh[at]).toBe(qh[GP_CTR]); // online: Atomics.exchange
    const gp = q.synchronizeRcu();
    expect(await stillPending(gp, 20)).toBe(true);
    while (await stillPending(gp, 1)) qr.rcuQuiescentState();
    expect(qh[at]).toBe(qh[GP_CTR]);
    qr.rcuThreadOffline();
    expect(qh[at]).toBe(0);
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
    // The reviewer's case: B attached twice more, so its memory's probe word is ahead of
    // A's by as much as an attach of A moves it. Identity is not a counter.
    attachRcuDomain(b.handle);
    attachRcuDomain(b.handle);
    expect(() => attachRcuDomain({ buffer: a.handle.buffer, memory: b.handle.memory! })).toThrow(
      /EINVAL.*another domain/,
    );
    // A copy of A's bytes carries A's id: the nonce written through the buffer is not in it.
    const copy = sharedWasmMemory(a.handle.buffer.byteLength);
    new Int32Array(copy.buffer).set(new Int32Array(a.handle.buffer));
    new Int32Array(copy.buffer)[H_PROBE] = new Int32Array(a.handle.buffer)[H_PROBE]!;
    expect(() => attachRcuDomain({ buffer: a.handle.buffer, memory: copy })).toThrow(
      /EINVAL.*nonce/,
    );
    // The real pair still attaches, any number of times.
    for (let i = 0; i < 3; i++) expect(attachRcuDomain(a.handle).flavor).toBe('mb');
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

  it("callRcu never announces a quiescent state for the caller's QSBR reader: a grace period waiting for it keeps waiting", async () => {
    // The reviewer's case: another attachment's grace period waits in phase 2 for this
    // thread's reader, which may still hold a handle; callRcu() on this thread must not
    // release it, neither in its synchronous body nor at its grace period's wake-ups.
    const { a, b } = twoThreads();
    const r = a.rcuRegisterThread();
    const words = new Int32Array(a.handle.buffer);
    const at = readerLine(r.slot) + R_CTR;
    const gp = b.synchronizeRcu();
    expect(words[at]).not.toBe(a.gpCtr); // phase 2: the counter moved past the reader
    const before = words[at];
    let ran = false;
    a.callRcu(() => (ran = true));
    expect(words[at]).toBe(before);
    expect(await stillPending(gp, 50)).toBe(true);
    expect(words[at]).toBe(before);
    expect(ran).toBe(false);
    r.rcuQuiescentState(); // the thread's own quiescent state releases it
    await within(gp, 2000, 'grace period after the reader announced');
    // rcuBarrier() asserts this thread holds no handle (as liburcu's, which goes offline):
    // its wake-ups announce for the reader, so the callback's grace period completes.
    await within(a.rcuBarrier(), 2000, 'barrier');
    expect(ran).toBe(true);
  });

  it("synchronizeRcu() by an online reader's thread announces only at its wake-ups, never inside the call", async () => {
    const { a, b } = twoThreads();
    const r = a.rcuRegisterThread();
    const words = new Int32Array(a.handle.buffer);
    const at = readerLine(r.slot) + R_CTR;
    const other = b.synchronizeRcu(); // waits for this thread's reader in phase 2
    const before = words[at];
    const mine = a.synchronizeRcu();
    expect(words[at]).toBe(before);
    // Its caller holds no handle across the await (liburcu: offline for the duration),
    // so from the event loop the reader announces and neither waits for it.
    await within(Promise.all([other, mine]), 2000, 'both grace periods');
    expect(words[at]).not.toBe(before);
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

describe('wake-up protocol: an updater asleep waiting for readers is woken by their quiescent states', () => {
  // Each updater here bounds its sleep by a minute (wakeTimeoutMs), so a lost wake-up shows
  // as a hang that the liveness bound (seconds) catches; no timing is compared.
  const LONG = 60_000;
  const LIVE = 10_000;

  /** A reader worker that announces one quiescent state per request (see real-reader.ts). */
  const announcer = async (domain: RcuDomain) => {
    const ctl = new Int32Array(new SharedArrayBuffer(4 * 8));
    const w = spawn('real-reader.ts', { mode: 'announce', domain: domain.handle, ctl: ctl.buffer });
    await nextMessage(w, 'ready');
    return {
      /** 1: rcuQuiescentState(); 2: a bare store of the counter, which wakes nobody. */
      announce: async (kind: 1 | 2): Promise<void> => {
        const acks = Atomics.load(ctl, 4);
        Atomics.store(ctl, 3, kind);
        Atomics.add(ctl, 2, 1);
        Atomics.notify(ctl, 2);
        await within(
          (async () => {
            while (Atomics.load(ctl, 4) === acks) await sleep(1);
          })(),
          LIVE,
          'the announcement',
        );
      },
    };
  };

  it('an asynchronous updater on this thread, asleep, is woken by a worker reader each time', async () => {
    const a = createRcuDomain();
    a.wakeTimeoutMs = LONG;
    const h = new Int32Array(a.handle.buffer);
    const w = await announcer(a);
    for (let i = 0; i < 20; i++) {
      const gp = a.synchronizeRcu();
      // The reader shows the current counter, the grace period advanced it and waits for
      // the reader to show the new one: it announced its sleep before the call returned.
      expect(Atomics.load(h, GP_FUTEX)).toBe(-1);
      await w.announce(1);
      await within(gp, LIVE, `grace period ${i} (a lost wake-up sleeps for a minute)`);
      expect(Atomics.load(h, GP_FUTEX)).toBe(0);
    }
  }, 60_000);

  it('negative control: a quiescent state stored without the wake-up leaves the updater asleep', async () => {
    const a = createRcuDomain();
    a.wakeTimeoutMs = LONG;
    const h = new Int32Array(a.handle.buffer);
    const w = await announcer(a);
    const gp = a.synchronizeRcu();
    expect(Atomics.load(h, GP_FUTEX)).toBe(-1);
    await w.announce(2);
    // The reader is quiescent, but nobody woke the updater: so a lost wake-up is a hang.
    expect(await stillPending(gp, 300)).toBe(true);
    Atomics.store(h, GP_FUTEX, 0);
    Atomics.notify(h, GP_FUTEX);
    await within(gp, LIVE, 'grace period after a manual wake-up');
  }, 60_000);

  it('a blocking updater in a worker, asleep, is woken by a reader on this thread each time', async () => {
    const a = createRcuDomain();
    const r = a.rcuRegisterThread();
    const h = new Int32Array(a.handle.buffer);
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const w = spawn('real-reader.ts', {
      mode: 'sync',
      domain: a.handle,
      ctl: ctl.buffer,
      count: 20,
      wakeTimeoutMs: LONG,
    });
    const done = nextMessage<{ stats: { synchronizes: number } }>(w, 'done', 5 * LIVE);
    let settled = false;
    void done.then(
      () => (settled = true),
      () => (settled = true),
    );
    await within(
      (async () => {
        const at = readerLine(r.slot) + R_CTR;
        const waitedFor = (): boolean =>
          Atomics.load(h, GP_FUTEX) === -1 && Atomics.load(h, at) !== Atomics.load(h, GP_CTR);
        for (;;) {
          // Until the updater sleeps waiting for this thread's reader (or is done) …
          while (!settled && !waitedFor()) await sleep(1);
          if (settled) return;
          r.rcuQuiescentState(); // … whose quiescent state must wake it.
        }
      })(),
      5 * LIVE,
      '20 blocking grace periods (a lost wake-up sleeps for a minute)',
    );
    expect((await done).stats.synchronizes).toBe(20);
  }, 120_000);

  it("an online reader's own synchronizeRcu() and rcuBarrier() never sleep waiting for itself", async () => {
    const a = createRcuDomain();
    a.wakeTimeoutMs = LONG;
    a.rcuRegisterThread();
    for (let i = 0; i < 5; i++) await within(a.synchronizeRcu(), LIVE, 'self grace period');
    let ran = false;
    a.callRcu(() => (ran = true));
    await within(a.rcuBarrier(), LIVE, 'self barrier');
    expect(ran).toBe(true);
  }, 60_000);
});
