/**
 * Per-CPU reader-writer semaphore for worker threads, built on rcu_sync: while no writer
 * is active a reader's lock and unlock touch only its own cache line (a plain increment of
 * its slot's counter); a writer forces readers onto the slow path with one grace period,
 * excludes them with `block`, and waits for the per-slot counters to drain.
 *
 * Layout (Int32 words, 64-byte lines):
 *
 * | word | what | guarded by |
 * | --- | --- | --- |
 * | line 0: BLOCK | 1 while a writer holds or is acquiring the lock | writers compare-exchange 0→1, store 0 on release; readers load it after their seq-cst increment |
 * | line 0: WRITER_FUTEX | -1 while the writer sleeps waiting for readers to drain | writer stores -1; slow-path readers store 0 and notify |
 * | line 1 | the rcu_sync (STATE, COUNT, LOCK) | see `rcu-sync.ts` |
 * | line 2+i: READ_COUNT | readers held by reader slot i (the domain's reader slots) | written only by slot i's thread: plain on the fast path (inside an RCU read-side section while rcu_sync is idle), `Atomics.add/sub` on the slow path; the writer sums with `Atomics.load` after the rcu_sync grace period |
 *
 * A reader uses the fast path only when its thread is an online QSBR reader (or inside an
 * MB read-side section, which costs the MB barrier) of the domain the rcu_sync waits on,
 * and the rcu_sync is idle; everyone else takes the slow path, which is always correct.
 * A read lock is released by the thread that took it, so a slot's counter never goes
 * negative and only its owner ever writes it (atomics are for ordering, not atomicity).
 *
 * @see kernel/locking/percpu-rwsem.c: percpu_down_read(), __percpu_down_read(),
 *      percpu_up_read(), percpu_down_write(), percpu_up_write(), readers_active_check()
 */
import { KernelError } from '@kern/core';
import { describeValue } from '../describe.js';
import { isObjectWithHandle, type RcuDomain, type RcuReader } from './domain.js';
import { assertMayBlock, driveAsync, driveSync, nextBackoff, type WaitStep } from './futex.js';
import { LINE_WORDS } from './layout.js';
import { RcuSync, checkDomain } from './rcu-sync.js';

const BLOCK = 0;
const WRITER_FUTEX = 1;
const SYNC_LINE = LINE_WORDS;
const COUNT_BASE = 2 * LINE_WORDS;

/** What another thread needs to attach to a percpu rw-semaphore. */
export interface PercpuRwsemHandle {
  /** The semaphore's shared memory. */
  readonly buffer: SharedArrayBuffer;
}

/**
 * Creates a percpu rw-semaphore with one counter per reader slot of `domain`.
 * @throws KernelError EINVAL if `domain` is not an {@link RcuDomain} of this thread.
 * @see kernel/locking/percpu-rwsem.c: __percpu_init_rwsem()
 */
export function createPercpuRwsem(domain: RcuDomain): PercpuRwsem {
  checkDomain('createPercpuRwsem', domain);
  const buffer = new SharedArrayBuffer((COUNT_BASE + domain.maxReaders * LINE_WORDS) * 4);
  return new PercpuRwsem(domain, { buffer });
}

/**
 * Attaches to a percpu rw-semaphore made in another thread, from its `sem.handle` (a
 * property, as `domain.handle`).
 * @throws KernelError EINVAL if `domain` is not an {@link RcuDomain}, if `handle` is not a
 *   semaphore's handle (in particular the semaphore object itself, or its
 *   structured-clone copy, instead of `sem.handle`), or if it was made for a domain with
 *   another number of slots.
 * @see kernel/locking/percpu-rwsem.c
 */
export function attachPercpuRwsem(domain: RcuDomain, handle: PercpuRwsemHandle): PercpuRwsem {
  checkDomain('attachPercpuRwsem', domain);
  if (handle instanceof PercpuRwsem || isObjectWithHandle(handle))
    throw new KernelError(
      'EINVAL',
      'attachPercpuRwsem: pass sem.handle, not the semaphore object (workerData: { sem: sem.handle })',
    );
  const buffer: unknown = (handle as { buffer?: unknown } | null | undefined)?.buffer;
  if (Object.prototype.toString.call(buffer) !== '[object SharedArrayBuffer]')
    throw new KernelError(
      'EINVAL',
      `attachPercpuRwsem: expected sem.handle ({ buffer }), got ${describeValue(handle)}`,
    );
  return new PercpuRwsem(domain, handle);
}

/** @see kernel/locking/percpu-rwsem.c: struct percpu_rw_semaphore */
export class PercpuRwsem {
  /** The rcu_sync that switches readers between fast and slow paths. */
  readonly rss: RcuSync;
  private readonly a: Int32Array;
  /** Fast-path and slow-path read acquisitions by this thread (for tests and benchmarks). */
  readonly stats = { fast: 0, slow: 0 };

  /** @internal Use {@link createPercpuRwsem} or {@link attachPercpuRwsem}. */
  constructor(
    private readonly domain: RcuDomain,
    readonly handle: PercpuRwsemHandle,
  ) {
    this.a = new Int32Array(handle.buffer);
    if (this.a.length !== COUNT_BASE + domain.maxReaders * LINE_WORDS)
      throw new KernelError(
        'EINVAL',
        `percpu rwsem of ${this.a.length} words was made for another domain size (this domain has ${domain.maxReaders} reader slots)`,
      );
    this.rss = new RcuSync(domain, { buffer: handle.buffer, index: SYNC_LINE });
  }

  private slotOf(): RcuReader {
    const r = this.domain.reader;
    if (!r) throw new KernelError('EINVAL', 'percpu rwsem reader: register the thread first');
    return r;
  }

  /**
   * Tries to take the lock for reading without waiting: the fast path when possible,
   * else the slow path; `false` if a writer holds or waits for it.
   * @throws KernelError EINVAL if this thread is not a registered reader of the domain.
   * @see kernel/locking/percpu-rwsem.c: percpu_down_read_trylock()
   */
  percpuDownReadTrylock(): boolean {
    const r = this.slotOf();
    const at = COUNT_BASE + r.slot * LINE_WORDS;
    if (r.flavor === 'qsbr') {
      if (r.online && this.rss.rcuSyncIsIdle()) {
        this.a[at] = this.a[at]! + 1;
        this.stats.fast++;
        return true;
      }
    } else {
      r.rcuReadLock();
      const idle = this.rss.rcuSyncIsIdle();
      if (idle) this.a[at] = this.a[at]! + 1;
      r.rcuReadUnlock();
      if (idle) {
        this.stats.fast++;
        return true;
      }
    }
    return this.slowDownRead(at);
  }

  /** @see kernel/locking/percpu-rwsem.c: __percpu_down_read() */
  private slowDownRead(at: number): boolean {
    Atomics.add(this.a, at, 1);
    if (Atomics.load(this.a, BLOCK) === 0) {
      this.stats.slow++;
      return true;
    }
    Atomics.sub(this.a, at, 1);
    this.wakeWriter();
    return false;
  }

  /**
   * Takes the lock for reading, blocking while a writer holds it (workers only; the
   * thread goes offline while blocked so it holds up no grace period).
   * @throws KernelError EPERM on the main thread — always, even when the lock is free
   *   (use percpuDownReadAsync() or percpuDownReadTrylock() there) — EINVAL if not
   *   registered.
   * @see kernel/locking/percpu-rwsem.c: percpu_down_read()
   */
  percpuDownRead(): void {
    assertMayBlock('percpuDownRead()');
    if (this.percpuDownReadTrylock()) return;
    const r = this.slotOf();
    while (!this.percpuDownReadTrylock()) r.waitOffline(this.a, BLOCK, 1, 5);
  }

  /**
   * Takes the lock for reading; never blocks the event loop.
   * @throws KernelError EINVAL if not registered, ESHUTDOWN if the domain closes.
   * @see kernel/locking/percpu-rwsem.c: percpu_down_read()
   */
  async percpuDownReadAsync(): Promise<void> {
    if (this.percpuDownReadTrylock()) return;
    await driveAsync(this.waitUnblocked(() => this.percpuDownReadTrylock()));
  }

  /**
   * Releases a read lock taken by this thread.
   * @throws KernelError EINVAL if this thread holds no read lock (its slot's count is 0;
   *   nothing is changed) or is not registered.
   * @see kernel/locking/percpu-rwsem.c: percpu_up_read()
   */
  percpuUpRead(): void {
    const r = this.slotOf();
    const at = COUNT_BASE + r.slot * LINE_WORDS;
    // Only this thread writes its slot's count, so a plain read sees its own last write.
    const held = this.a[at]!;
    if (held <= 0)
      throw new KernelError(
        'EINVAL',
        `percpuUpRead() without percpuDownRead(): reader slot ${r.slot} holds ${held} read locks`,
      );
    if (r.flavor === 'qsbr' && r.online && this.rss.rcuSyncIsIdle()) {
      this.a[at] = this.a[at]! - 1;
      return;
    }
    Atomics.sub(this.a, at, 1);
    this.wakeWriter();
  }

  /**
   * Takes the lock for writing: waits a grace period (rcu_sync) so every reader sees the
   * slow path, excludes other writers and new readers, then waits for readers to drain.
   * Never blocks the event loop.
   * @throws KernelError (rejects) EDEADLK inside this thread's own memory-barrier
   *   read-side critical section, ESHUTDOWN if the domain closes while waiting.
   * @see kernel/locking/percpu-rwsem.c: percpu_down_write()
   */
  async percpuDownWrite(): Promise<void> {
    this.domain.assertNotReading('percpuDownWrite()');
    await this.rss.rcuSyncEnter();
    try {
      await driveAsync(this.writeSteps());
    } catch (e) {
      this.rss.rcuSyncExit();
      throw e;
    }
  }

  /**
   * Blocking {@link PercpuRwsem.percpuDownWrite} (workers only).
   * @throws KernelError EPERM on the main thread, EDEADLK inside this thread's own
   *   memory-barrier read-side critical section.
   * @see kernel/locking/percpu-rwsem.c: percpu_down_write()
   */
  percpuDownWriteSync(): void {
    assertMayBlock('percpuDownWriteSync()');
    this.domain.assertNotReading('percpuDownWriteSync()');
    const r = this.domain.reader;
    const wasOnline = r?.flavor === 'qsbr' && r.online;
    if (wasOnline) r.rcuThreadOffline();
    try {
      this.rss.rcuSyncEnterSync();
      try {
        driveSync(this.writeSteps());
      } catch (e) {
        this.rss.rcuSyncExit();
        throw e;
      }
    } finally {
      if (wasOnline) r.rcuThreadOnline();
    }
  }

  /**
   * Releases the write lock: readers may enter at once (slow path), and return to the fast
   * path one grace period later (a callRcu: like callRcu, it never announces a quiescent
   * state for this thread's reader, so it may be called with handles held).
   * @throws KernelError EINVAL if the semaphore is not write-locked (nothing is changed).
   * @see kernel/locking/percpu-rwsem.c: percpu_up_write()
   */
  percpuUpWrite(): void {
    if (Atomics.load(this.a, BLOCK) === 0 || this.rss.count <= 0)
      throw new KernelError(
        'EINVAL',
        'percpuUpWrite() without percpuDownWrite(): the semaphore is not write-locked',
      );
    Atomics.store(this.a, BLOCK, 0);
    Atomics.notify(this.a, BLOCK);
    this.rss.rcuSyncExit();
  }

  /**
   * Sum of the per-slot read counters (readers holding the lock).
   * @see kernel/locking/percpu-rwsem.c: readers_active_check()
   */
  readCount(): number {
    let sum = 0;
    for (let i = 0; i < this.domain.maxReaders; i++)
      sum += Atomics.load(this.a, COUNT_BASE + i * LINE_WORDS);
    return sum;
  }

  /** Whether a writer holds or is acquiring the lock. */
  get writeLocked(): boolean {
    return Atomics.load(this.a, BLOCK) !== 0;
  }

  private wakeWriter(): void {
    if (Atomics.load(this.a, WRITER_FUTEX) === -1) {
      Atomics.store(this.a, WRITER_FUTEX, 0);
      Atomics.notify(this.a, WRITER_FUTEX);
    }
  }

  private *waitUnblocked(tryTake: () => boolean): Generator<WaitStep, void, void> {
    let ms = 0;
    for (let spins = 0; ; spins++) {
      if (this.domain.isClosed) throw new KernelError('ESHUTDOWN', 'RCU domain closed');
      ms = nextBackoff(ms, spins);
      yield { array: this.a, index: BLOCK, value: 1, ms };
      if (tryTake()) return;
    }
  }

  /** @see kernel/locking/percpu-rwsem.c: percpu_down_write() after rcu_sync_enter() */
  private *writeSteps(): Generator<WaitStep, void, void> {
    const a = this.a;
    // Exclude other writers and new readers (`block`).
    let ms = 0;
    for (let spins = 0; Atomics.compareExchange(a, BLOCK, 0, 1) !== 0; spins++) {
      if (this.domain.isClosed) throw new KernelError('ESHUTDOWN', 'RCU domain closed');
      ms = nextBackoff(ms, spins);
      yield { array: a, index: BLOCK, value: 1, ms };
    }
    // Wait for the readers already inside to leave.
    ms = 0;
    try {
      for (let spins = 0; ; spins++) {
        if (this.readCount() === 0) return;
        if (this.domain.isClosed) throw new KernelError('ESHUTDOWN', 'RCU domain closed');
        ms = nextBackoff(ms, spins);
        if (ms > 0) {
          Atomics.store(a, WRITER_FUTEX, -1);
          if (this.readCount() === 0) {
            Atomics.store(a, WRITER_FUTEX, 0);
            return;
          }
        }
        yield { array: a, index: WRITER_FUTEX, value: -1, ms };
      }
    } catch (e) {
      Atomics.store(a, BLOCK, 0);
      Atomics.notify(a, BLOCK);
      throw e;
    }
  }
}
