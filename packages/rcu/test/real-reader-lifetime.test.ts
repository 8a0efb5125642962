// A reader's lifetime: a reader object used after rcuUnregisterThread() never writes the
// slot another thread may own by then; unregistering inside a read section is refused;
// threads that die reading or in a grace period can be reaped; grace periods held up too
// long are reported (RCU CPU stall warnings).
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock, isKernelError } from '@kern/core';
import { attachRcuDomain, createRcuDomain, type RcuFlavor } from '../src/real/domain.js';
import { GP_LOCK, R_CTR, readerLine } from '../src/real/layout.js';
import {
  nextMessage,
  sleep,
  spawn,
  stillPending,
  terminateAll,
  within,
} from './fixtures/real-spawn.js';
import { attempt } from './fixtures/attempt.js';

afterEach(terminateAll);

const FLAVORS: RcuFlavor[] = ['qsbr', 'mb'];

describe('a reader used after rcuUnregisterThread()', () => {
  it("QSBR: rcuThreadOnline, runTask, wrap, waitOffline and rcuQuiescentState of a stale reader throw EINVAL and leave the slot's new owner alone", async () => {
    const a = createRcuDomain({ maxReaders: 1 });
    const b = attachRcuDomain(a.handle);
    const stale = a.rcuRegisterThread();
    stale.rcuUnregisterThread();
    const owner = b.rcuRegisterThread(); // the same slot, online: grace periods wait for it
    expect(owner.slot).toBe(stale.slot);
    const ctr = new Int32Array(a.handle.buffer);
    const at = readerLine(owner.slot) + R_CTR;
    const before = ctr[at];
    const word = new Int32Array(new SharedArrayBuffer(4));
    const errors: unknown[] = [];
    for (const use of [
      () => stale.rcuThreadOnline(),
      () => stale.runTask(() => 0),
      () => stale.wrap(() => 0)(),
      () => stale.waitOffline(word, 0, 1, 0),
      () => stale.rcuQuiescentState(),
      () => stale.rcuThreadOffline(),
    ]) {
      const e = attempt(use);
      expect(ctr[at], `the owner's snapshot after ${String(use)}`).toBe(before);
      errors.push(e);
    }
    for (const e of errors) {
      expect(isKernelError(e, 'EINVAL'), String(e)).toBe(true);
      expect(String(e)).toMatch(/reader slot 0 was unregistered/);
    }
    // Grace periods still wait for the owner.
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    owner.rcuQuiescentState();
    await gp;
    expect(() => stale.rcuUnregisterThread()).not.toThrow(); // a second unregister is a no-op
    expect(owner.online).toBe(true);
  });

  it("MB: a stale reader's rcuReadLock throws EINVAL and never writes the slot's new owner's snapshot", async () => {
    const a = createRcuDomain({ flavor: 'mb' as RcuFlavor, maxReaders: 1 });
    const b = attachRcuDomain(a.handle);
    const stale = a.rcuRegisterThread();
    stale.rcuUnregisterThread();
    const owner = b.rcuRegisterThread();
    owner.rcuReadLock();
    const ctr = new Int32Array(a.handle.buffer);
    const at = readerLine(owner.slot) + R_CTR;
    const before = ctr[at];
    expect(before).not.toBe(0);
    for (let i = 0; i < 3; i++) {
      const locked = attempt(() => stale.rcuReadLock());
      expect(ctr[at], "the owner's snapshot after a stale lock").toBe(before);
      const unlocked = attempt(() => stale.rcuReadUnlock());
      expect(ctr[at], "the owner's snapshot after a stale unlock").toBe(before);
      expect(isKernelError(locked, 'EINVAL'), String(locked)).toBe(true);
      expect(isKernelError(unlocked, 'EINVAL'), String(unlocked)).toBe(true);
    }
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    owner.rcuReadUnlock();
    await gp;
  });
});

describe('rcuUnregisterThread() inside a read-side critical section', () => {
  it('MB: EBUSY, and the slot stays registered and waited for (so does close())', async () => {
    const a = createRcuDomain({ flavor: 'mb', maxReaders: 1 });
    const b = attachRcuDomain(a.handle);
    const r = b.rcuRegisterThread();
    r.rcuReadLock();
    r.rcuReadLock();
    const e = attempt(() => r.rcuUnregisterThread());
    expect(isKernelError(e, 'EBUSY'), String(e)).toBe(true);
    expect(String(e)).toMatch(/inside a read-side critical section .*slot 0, nesting 2/);
    expect(
      isKernelError(
        attempt(() => b.close()),
        'EBUSY',
      ),
    ).toBe(true);
    expect(b.isClosed).toBe(false);
    expect(() => attachRcuDomain(a.handle).rcuRegisterThread()).toThrow(/ENOSPC/);
    const gp = a.synchronizeRcu();
    expect(await stillPending(gp, 30)).toBe(true);
    r.rcuReadUnlock();
    r.rcuReadUnlock();
    await within(gp, 10_000, 'grace period after the unlock');
    r.rcuUnregisterThread();
    expect(b.reader).toBe(null);
  });
});

describe('threads that die: reaping', () => {
  for (const flavor of FLAVORS)
    for (const how of ['exit', 'throw', 'spin'] as const)
      it(`${flavor}: a reader that died inside its read section (${how === 'spin' ? 'terminated' : how === 'exit' ? 'process.exit in the worker' : 'uncaught error'}) holds grace periods until it is reaped`, async () => {
        const d = createRcuDomain({ flavor });
        const w = spawn('real-thread.ts', { mode: 'die-reading', domain: d.handle, how });
        w.on('error', () => {}); // the 'throw' case
        const tid = w.threadId;
        const exited = new Promise((resolve) => w.once('exit', resolve));
        // Not nextMessage: a crashing worker's 'error' may overtake its last message,
        // which Node still delivers before 'exit'.
        const reading = new Promise<{ slot: number }>((resolve) =>
          w.on('message', (m: { type: string; slot: number }) => {
            if (m.type === 'reading') resolve(m);
          }),
        );
        if (how === 'spin') await within(reading, 30_000, "the worker's read section");
        if (how === 'spin') await w.terminate();
        await within(exited, 30_000, 'worker exit');
        const { slot } = await within(reading, 1000, "the dead worker's last message");
        const gp = d.synchronizeRcu();
        // Safety first: the dead reader's section is still honoured until the reap.
        expect(await stillPending(gp, 50)).toBe(true);
        expect(d.rcuReapThread(tid)).toEqual({ slots: [slot], gpLockReleased: false });
        await within(gp, 10_000, 'grace period after the reap');
        expect(d.rcuReapThread(tid)).toEqual({ slots: [], gpLockReleased: false });
        // The slot is free for a new thread.
        expect(attachRcuDomain(d.handle).rcuRegisterThread().slot).toBe(slot);
        d.close();
      }, 60_000);

  it('the recipe: rcuReapOnExit(worker) reaps a reader that exits dirty and reports it', async () => {
    const lines: string[] = [];
    const d = createRcuDomain({
      log: { printk: (level, text) => lines.push(`<${level}>${text}`) },
    });
    const w = spawn('real-thread.ts', { mode: 'die-reading', domain: d.handle, how: 'exit' });
    const tid = w.threadId;
    d.rcuReapOnExit(w);
    const { slot } = await nextMessage<{ slot: number }>(w, 'reading');
    await within(d.synchronizeRcu(), 30_000, 'grace period (reaped on exit)');
    expect(lines).toEqual([
      `<4>rcu: thread ${tid} exited without rcuUnregisterThread(): reaped reader slot ${slot}`,
    ]);
    d.close();
  }, 60_000);

  it('an updater that died holding the grace-period lock is reported by a waiter, and reaping it lets grace periods go on', async () => {
    const clock = createVirtualClock();
    const lines: string[] = [];
    const d = createRcuDomain({
      flavor: 'mb',
      clock,
      log: { printk: (level, text) => lines.push(`<${level}>${text}`) },
    });
    const r = d.rcuRegisterThread();
    r.rcuReadLock(); // the worker's grace period waits for this
    const w = spawn('real-thread.ts', { mode: 'die-in-gp', domain: d.handle });
    const { threadId: tid } = await nextMessage<{ threadId: number }>(w, 'calling');
    const words = new Int32Array(d.handle.buffer);
    await within(
      (async () => {
        while (Atomics.load(words, GP_LOCK) !== tid + 1) await sleep(2);
      })(),
      30_000,
      'the worker taking the grace-period lock',
    );
    const seq = d.gpSeq;
    expect(seq & 1).toBe(1);
    await w.terminate();
    r.rcuReadUnlock();
    const gp = d.synchronizeRcu();
    expect(await stillPending(gp, 50)).toBe(true); // wedged by the dead holder
    await within(
      (async () => {
        while (!lines.some((l) => l.includes('holds the grace-period lock'))) {
          clock.advance(1e9);
          await sleep(5);
        }
      })(),
      30_000,
      'the lock-holder stall warning',
    );
    // The virtual clock advances 1 s per poll, so how far past the 21 s timeout the
    // warning fires depends on when the waiter runs: only the lower bound is checked.
    const m = new RegExp(
      `^<3>rcu: INFO: rcu_mb grace period g=${seq} has not ended for (\\d+) ms \\(detected by thread 0\\); thread ${tid} holds the grace-period lock$`,
    ).exec(lines[0] ?? '');
    expect(m, lines[0]).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(21_000);
    expect(lines[1]).toBe(
      `<3>rcu: if thread ${tid} has exited, reap it so grace periods go on: domain.rcuReapThread(${tid})`,
    );
    expect(d.rcuReapThread(tid)).toEqual({ slots: [], gpLockReleased: true });
    await within(gp, 10_000, 'grace period after the reap');
    // The dead holder's grace period was rolled back (seq - 1); this call, made while it
    // was in progress, then needed two full grace periods (rcu_seq_snap).
    expect(d.gpSeq).toBe((seq + 3) | 0);
    d.close();
  }, 60_000);

  it('refuses what is not a threadId, the calling thread, and a threadId read after the exit', () => {
    const d = createRcuDomain();
    for (const [tid, msg] of [
      [-1, /worker.threadId reads -1 once the worker has exited/],
      ['3', /expected a threadId .*got '3' \(string\)/],
      [1.5, /got 1.5/],
      [0, /is the calling thread/],
    ] as const) {
      const e = attempt(() => d.rcuReapThread(tid as number));
      expect(isKernelError(e, 'EINVAL'), String(e)).toBe(true);
      expect(String(e)).toMatch(msg);
    }
    expect(() => d.rcuReapOnExit({} as never)).toThrow(
      /EINVAL: rcuReapOnExit: expected a running Worker/,
    );
  });
});

describe('RCU CPU stall warnings', () => {
  for (const flavor of FLAVORS)
    it(`${flavor}: a reader holding a grace period past the timeout is reported with its slot and thread, then again every three timeouts`, async () => {
      const clock = createVirtualClock();
      const lines: string[] = [];
      const d = createRcuDomain({
        flavor,
        clock,
        stallTimeoutMs: 21_000,
        log: { printk: (level, text) => lines.push(`<${level}>${text}`) },
      });
      const ctl = new Int32Array(new SharedArrayBuffer(4));
      const w = spawn('real-thread.ts', { mode: 'hold', domain: d.handle, ctl: ctl.buffer });
      const { slot, threadId } = await nextMessage<{ slot: number; threadId: number }>(
        w,
        'holding',
      );
      const gp = d.synchronizeRcu();
      // No warning before the timeout, however long the wait in real time.
      expect(await stillPending(gp, 50)).toBe(true);
      expect(lines).toEqual([]);
      const warnings = (): number => lines.filter((l) => l.includes('detected stalls')).length;
      const advanceUntil = async (n: number): Promise<void> => {
        while (warnings() < n) {
          clock.advance(1e9);
          await sleep(2);
        }
      };
      await within(advanceUntil(1), 30_000, 'the first stall warning');
      const ms = (s: string): number => Number(/t=(\d+) ms/.exec(s)![1]);
      expect(lines[0]).toBe(`<3>rcu: INFO: rcu_${flavor} detected stalls on reader threads:`);
      expect(lines[1]).toMatch(
        new RegExp(
          `^<3>rcu: \\tslot ${slot} \\(thread ${threadId}\\): ${flavor === 'qsbr' ? 'online, no quiescent state since counter 0x[0-9a-f]+ \\(now 0x[0-9a-f]+\\)' : 'in a read-side critical section begun in phase [01] \\(now [01]\\)'}$`,
        ),
      );
      expect(lines[2]).toMatch(
        new RegExp(`^<3>\\t\\(detected by thread 0, t=\\d+ ms, g=${d.gpSeq}, q=1 nreaders=64\\)$`),
      );
      expect(ms(lines[2]!)).toBeGreaterThanOrEqual(21_000);
      expect(lines[3]).toMatch(/rcu: a reader thread that exited without rcuUnregisterThread\(\)/);
      await within(advanceUntil(2), 30_000, 'the second stall warning');
      expect(ms(lines[6]!) - ms(lines[2]!)).toBeGreaterThanOrEqual(63_000);
      Atomics.store(ctl, 0, 1);
      await within(gp, 30_000, 'grace period after the release');
      d.close();
    }, 60_000);

  it('stallTimeoutMs: 0 turns them off; the timeout is the domain’s, stored in its memory', async () => {
    const clock = createVirtualClock();
    const lines: string[] = [];
    const d = createRcuDomain({ stallTimeoutMs: 0 });
    const other = attachRcuDomain(d.handle, {
      clock,
      log: { printk: (_l, text) => lines.push(text) },
    });
    expect(other.stallTimeoutMs).toBe(0);
    const r = d.rcuRegisterThread(); // online, never quiescent until the end
    const gp = other.synchronizeRcu();
    for (let i = 0; i < 20; i++) {
      clock.advance(100e9);
      await sleep(2);
    }
    expect(lines).toEqual([]);
    r.rcuQuiescentState();
    await within(gp, 10_000, 'grace period');
    expect(createRcuDomain().stallTimeoutMs).toBe(21_000);
  });
});
