// Misuse of the real RCU is diagnosed at the call, with a KernelError that names what was
// wrong and the value with its type — never a hang, a silent acceptance, a raw TypeError
// from inside, or a crash later.
import { afterEach, describe, expect, it } from 'vitest';
import { isKernelError, type Errno } from '@kern/core';
import { attachRcuDomain, createRcuDomain, type RcuDomainHandle } from '../src/real/domain.js';
import { attachPercpuRwsem, createPercpuRwsem } from '../src/real/percpu-rwsem.js';
import {
  rcuAssignPointer,
  rcuCmpxchgPointer,
  rcuDereference,
  rcuXchgPointer,
} from '../src/real/pointer.js';
import { attachRcuSync, createRcuSync } from '../src/real/rcu-sync.js';
import { attempt } from './fixtures/attempt.js';
import { nextMessage, spawn, terminateAll, within } from './fixtures/real-spawn.js';

afterEach(terminateAll);

/** Expects `fn` to throw a KernelError `errno` whose message matches `msg`. */
const expectError = (fn: () => unknown, errno: Errno, msg: RegExp | string): void => {
  const e = attempt(fn);
  expect(isKernelError(e, errno), `expected ${errno}, got ${String(e)}`).toBe(true);
  if (typeof msg === 'string') expect((e as Error).message).toBe(`${errno}: ${msg}`);
  else expect(text(e)).toMatch(msg);
};

/** An error's message without its `ERRNO: ` prefix. */
const text = (e: unknown): string => (e as Error).message.replace(/^[A-Z]+: /, '');

/** Expects `p` to reject with a KernelError `errno` whose message matches `msg`. */
const expectRejection = async (p: Promise<unknown>, errno: Errno, msg: RegExp): Promise<void> => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isKernelError(e, errno), `expected ${errno}, got ${String(e)}`).toBe(true);
  expect(text(e)).toMatch(msg);
};

describe('waiting for a grace period inside one’s own read-side critical section', () => {
  it('memory-barrier flavor: synchronizeRcu(), rcuBarrier(), rcuSyncEnter() and percpuDownWrite() are EDEADLK (lockdep’s message), and work after the unlock', async () => {
    const d = createRcuDomain({ flavor: 'mb' });
    const r = d.rcuRegisterThread();
    const rss = createRcuSync(d);
    const sem = createPercpuRwsem(d);
    r.rcuReadLock();
    r.rcuReadLock();
    const illegal = (what: string): RegExp =>
      new RegExp(
        `^Illegal ${what.replace(/[()]/g, '\\$&')} in RCU read-side critical section: memory-barrier reader slot 0 of this thread is inside one \\(nesting 2\\)`,
      );
    await expectRejection(d.synchronizeRcu(), 'EDEADLK', illegal('synchronizeRcu()'));
    await expectRejection(d.rcuBarrier(), 'EDEADLK', illegal('rcuBarrier()'));
    await expectRejection(rss.rcuSyncEnter(), 'EDEADLK', illegal('rcuSyncEnter()'));
    await expectRejection(sem.percpuDownWrite(), 'EDEADLK', illegal('percpuDownWrite()'));
    expect(rss.count).toBe(0); // nothing was entered
    expect(sem.writeLocked).toBe(false);
    r.rcuReadUnlock();
    r.rcuReadUnlock();
    await within(d.synchronizeRcu(), 10_000, 'synchronizeRcu after the unlock');
    await within(d.rcuBarrier(), 10_000, 'rcuBarrier after the unlock');
    d.close();
  });

  it('memory-barrier flavor in a worker: the blocking synchronizeRcuSync() is EDEADLK instead of hanging forever', async () => {
    const d = createRcuDomain({ flavor: 'mb' });
    const w = spawn('real-thread.ts', { mode: 'sync-in-read', domain: d.handle });
    const { errors } = await nextMessage<{ errors: string[] }>(w, 'errors', 30_000);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^EDEADLK: Illegal synchronizeRcuSync\(\) in RCU read-side/);
    expect(errors[1]).toMatch(/^EDEADLK: Illegal synchronizeRcu\(\) in RCU read-side/);
    expect(errors[2]).toMatch(/^EDEADLK: Illegal rcuBarrier\(\) in RCU read-side/);
  }, 60_000);

  it('QSBR cannot see a read section (its lock is empty): a call from an online reader counts as its quiescent state, as documented', async () => {
    const d = createRcuDomain();
    const r = d.rcuRegisterThread();
    r.rcuReadLock();
    await within(d.synchronizeRcu(), 10_000, 'synchronizeRcu from an online QSBR reader');
    r.rcuReadUnlock();
    d.close();
  });
});

describe('callRcu and its callbacks', () => {
  it('callRcu with a non-function is EINVAL at the call, naming the value; nothing is queued', () => {
    const d = createRcuDomain();
    for (const [fn, shown] of [
      [5, '5'],
      ['free', "'free' (string)"],
      [undefined, 'undefined'],
      [{}, 'an empty object'],
    ] as const) {
      expectError(
        () => d.callRcu(fn as unknown as () => void),
        'EINVAL',
        `callRcu: fn must be a function, got ${shown}`,
      );
    }
    expect(d.stats().queued).toBe(0);
    d.close();
  });

  it('a throwing callback goes to onCallbackError; the rest of its batch runs and the domain keeps working', async () => {
    const errors: unknown[] = [];
    const d = createRcuDomain({ onCallbackError: (e) => errors.push(e) });
    const ran: number[] = [];
    const boom = new Error('boom');
    d.callRcu(() => ran.push(1));
    d.callRcu(() => {
      throw boom;
    });
    d.callRcu(() => ran.push(3));
    await within(d.rcuBarrier(), 10_000, 'barrier');
    expect(ran).toEqual([1, 3]);
    expect(errors).toEqual([boom]);
    d.callRcu(() => ran.push(4));
    await within(d.rcuBarrier(), 10_000, 'second barrier');
    expect(ran).toEqual([1, 3, 4]);
    expect(d.stats().invoked).toBe(4);
    d.close();
  });

  it('without a hook, the error is rethrown as an uncaught exception after the batch has run (a worker ends with it)', async () => {
    const d = createRcuDomain();
    const w = spawn('real-thread.ts', { mode: 'throwing-callback', domain: d.handle });
    const seen: unknown[] = [];
    w.on('message', (m: { type: string; n?: number }) => seen.push(m.n ?? m.type));
    const error = new Promise<Error>((resolve) => w.once('error', resolve));
    const code = new Promise<number>((resolve) => w.once('exit', resolve));
    expect((await within(error, 30_000, 'the worker error')).message).toBe('boom');
    expect(await code).toBe(1);
    expect(seen.slice(0, 3)).toEqual(['queued', 1, 3]);
  }, 60_000);

  it('hooks and clocks of the wrong type are EINVAL at creation', () => {
    expectError(
      () => createRcuDomain({ onCallbackError: 'log' as never }),
      'EINVAL',
      "onCallbackError must be a function, got 'log' (string)",
    );
    expectError(
      () => createRcuDomain({ log: console.log as never }),
      'EINVAL',
      /^log must be an object with a printk/,
    );
    expectError(
      () => createRcuDomain({ clock: {} as never }),
      'EINVAL',
      /^clock must be a Clock .*got an empty object/,
    );
    expectError(
      () => attachRcuDomain(createRcuDomain().handle, 5 as never),
      'EINVAL',
      'attachRcuDomain options must be an object, got 5',
    );
  });
});

describe('values of the wrong type are named with their type', () => {
  it('createRcuDomain options', () => {
    expectError(
      () => createRcuDomain({ maxReaders: '8' as never }),
      'EINVAL',
      "maxReaders must be an integer 1..4096, got '8' (string)",
    );
    expectError(
      () => createRcuDomain({ pointerSlots: 1.5 }),
      'EINVAL',
      'pointerSlots must be an integer 1..1048576, got 1.5',
    );
    expectError(
      () => createRcuDomain({ stallTimeoutMs: -1 }),
      'EINVAL',
      'stallTimeoutMs must be an integer 0..2147483647, got -1',
    );
    expectError(
      () => createRcuDomain({ flavor: 7 as never }),
      'EINVAL',
      "flavor must be 'qsbr' or 'mb', got 7",
    );
    expectError(
      () => createRcuDomain('qsbr' as never),
      'EINVAL',
      "createRcuDomain options must be an object, got 'qsbr' (string)",
    );
  });

  it('pointer slots and Int32 handles: EINVAL, and nothing is stored', () => {
    const d = createRcuDomain({ pointerSlots: 2 });
    d.rcuAssignPointer(1, 9);
    expectError(
      () => d.rcuAssignPointer('0' as never, 5),
      'EINVAL',
      "pointer slot '0' (string) is not an integer in 0..1",
    );
    for (const [value, shown] of [
      [2 ** 40, '1099511627776'],
      [{}, 'an empty object'],
      ['hello', "'hello' (string)"],
      [1.5, '1.5'],
      [2 ** 31, '2147483648'],
    ] as const)
      expectError(
        () => d.rcuAssignPointer(1, value as never),
        'EINVAL',
        `rcuAssignPointer: value must be an Int32 handle (an integer in -2^31..2^31-1), got ${shown}`,
      );
    expect(Array.from(d.pointers)).toEqual([0, 9]);
    d.rcuAssignPointer(1, -(2 ** 31)); // the whole Int32 range is a handle
    const r = d.rcuRegisterThread();
    expect(r.rcuDereference(1)).toBe(-(2 ** 31));
    for (const slot of [2, -1, 0.5])
      expectError(
        () => r.rcuDereference(slot),
        'EINVAL',
        `pointer slot ${slot} is not an integer in 0..1`,
      );
    d.close();
  });

  it('the free pointer functions: a bad index or value is EINVAL, not a RangeError, a truncation or undefined', () => {
    const a = new Int32Array(new SharedArrayBuffer(16));
    expectError(
      () => rcuAssignPointer(a, 0, 2 ** 40),
      'EINVAL',
      'rcuAssignPointer: value must be an Int32 handle (an integer in -2^31..2^31-1), got 1099511627776',
    );
    expectError(
      () => rcuAssignPointer(a, 4, 1),
      'EINVAL',
      'rcuAssignPointer: index 4 is not an integer in 0..3',
    );
    expectError(
      () => rcuDereference(a, 4),
      'EINVAL',
      'rcuDereference: index 4 is not an integer in 0..3',
    );
    expectError(
      () => rcuXchgPointer(a, -1, 1),
      'EINVAL',
      'rcuXchgPointer: index -1 is not an integer in 0..3',
    );
    expectError(
      () => rcuCmpxchgPointer(a, 0, 0.5, 1),
      'EINVAL',
      'rcuCmpxchgPointer: value must be an Int32 handle (an integer in -2^31..2^31-1), got 0.5',
    );
    expect(Array.from(a)).toEqual([0, 0, 0, 0]);
    rcuAssignPointer(a, 3, 7);
    expect(rcuDereference(a, 3)).toBe(7);
    expect(rcuXchgPointer(a, 3, 8)).toBe(7);
    expect(rcuCmpxchgPointer(a, 3, 8, 9)).toBe(8);
  });
});

describe('the percpu rw-semaphore', () => {
  it('percpuDownRead() on the main thread is EPERM even when the lock is free, and takes nothing', () => {
    const d = createRcuDomain();
    d.rcuRegisterThread();
    const sem = createPercpuRwsem(d);
    expectError(
      () => sem.percpuDownRead(),
      'EPERM',
      /^percpuDownRead\(\) blocks with Atomics.wait/,
    );
    expect(sem.readCount()).toBe(0);
    expect(sem.percpuDownReadTrylock()).toBe(true); // the non-blocking forms stay usable
    sem.percpuUpRead();
    d.close();
  });

  it('percpuUpWrite() without the lock is EINVAL naming percpuUpWrite, not an internal function, and changes nothing', async () => {
    const d = createRcuDomain();
    const sem = createPercpuRwsem(d);
    expectError(
      () => sem.percpuUpWrite(),
      'EINVAL',
      'percpuUpWrite() without percpuDownWrite(): the semaphore is not write-locked',
    );
    expect(sem.rss.count).toBe(0);
    await within(sem.percpuDownWrite(), 10_000, 'write lock');
    sem.percpuUpWrite();
    expectError(
      () => sem.percpuUpWrite(),
      'EINVAL',
      /^percpuUpWrite\(\) without percpuDownWrite\(\)/,
    );
    d.close();
  });
});

describe('passing an object instead of its handle', () => {
  it('attachRcuDomain(domain) or its structured clone: EINVAL "pass domain.handle"; a domain object clones without error', () => {
    for (const flavor of ['qsbr', 'mb'] as const) {
      const d = createRcuDomain({ flavor, onCallbackError: () => {} });
      d.rcuRegisterThread();
      d.callRcu(() => {});
      const msg = /^attachRcuDomain: pass domain.handle, not the domain object/;
      expectError(() => attachRcuDomain(d as never), 'EINVAL', msg);
      const copy: unknown = structuredClone(d); // no DataCloneError dumping library source
      expectError(() => attachRcuDomain(copy as RcuDomainHandle), 'EINVAL', msg);
      d.close();
    }
    expectError(
      () => attachRcuDomain(undefined as never),
      'EINVAL',
      'attachRcuDomain: expected domain.handle ({ buffer, memory? }), got undefined',
    );
  });

  it('workerData: domain (a mistake) reaches the worker, and attaching to it there says what to pass', async () => {
    const d = createRcuDomain({ flavor: 'mb' });
    const w = spawn('real-thread.ts', { mode: 'attach-object', domain: d.handle, object: d });
    const m = await nextMessage<{ errno: string; message: string }>(w, 'refused', 30_000);
    expect(m.errno).toBe('EINVAL');
    expect(text(m)).toMatch(/^attachRcuDomain: pass domain.handle, not the domain object/);
    const sem = createPercpuRwsem(d);
    const w2 = spawn('real-thread.ts', {
      mode: 'attach-object',
      what: 'sem',
      domain: d.handle,
      object: sem,
    });
    const m2 = await nextMessage<{ errno: string; message: string }>(w2, 'refused', 30_000);
    expect(text(m2)).toMatch(/^attachPercpuRwsem: pass sem.handle, not the semaphore object/);
    d.close();
  }, 60_000);

  it('percpu rwsem and rcu_sync: the object (or its clone) for the handle, or a handle for the domain, are EINVAL', () => {
    const d = createRcuDomain();
    const sem = createPercpuRwsem(d);
    const rss = createRcuSync(d);
    const semMsg = /^attachPercpuRwsem: pass sem.handle, not the semaphore object/;
    expectError(() => attachPercpuRwsem(d, sem as never), 'EINVAL', semMsg);
    expectError(() => attachPercpuRwsem(d, structuredClone(sem) as never), 'EINVAL', semMsg);
    expectError(
      () => attachPercpuRwsem(d, {} as never),
      'EINVAL',
      'attachPercpuRwsem: expected sem.handle ({ buffer }), got an empty object',
    );
    expectError(
      () => attachPercpuRwsem(d.handle as never, sem.handle),
      'EINVAL',
      /^attachPercpuRwsem: domain must be an RcuDomain .*got an object/,
    );
    expectError(
      () => createPercpuRwsem(undefined as never),
      'EINVAL',
      /^createPercpuRwsem: domain must be an RcuDomain/,
    );
    const rssMsg = /^attachRcuSync: pass rss.handle, not the rcu_sync object/;
    expectError(() => attachRcuSync(d, rss as never), 'EINVAL', rssMsg);
    expectError(() => attachRcuSync(d, structuredClone(rss) as never), 'EINVAL', rssMsg);
    expectError(
      () => attachRcuSync(d, { buffer: rss.handle.buffer, index: '0' as never }),
      'EINVAL',
      /^rcu_sync index '0' \(string\) is not a line-aligned word index/,
    );
    expect(attachPercpuRwsem(d, sem.handle).readCount()).toBe(0);
    expect(attachRcuSync(d, rss.handle).state).toBe(rss.state);
    d.close();
  });
});
