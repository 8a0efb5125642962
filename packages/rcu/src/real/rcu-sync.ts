/**
 * rcu_sync: lets readers take a fast path while no updater is active, and makes them all
 * see the slow path (one grace period) before an updater proceeds. Its state lives in
 * shared memory, so readers and updaters may be in any thread.
 *
 * State machine (`gp_state`, one Int32; `gp_count` counts updaters inside enter/exit):
 *  - GP_IDLE:   no updater; readers may use their fast path (`rcuSyncIsIdle()`).
 *  - GP_ENTER:  the first rcuSyncEnter() is waiting for a grace period.
 *  - GP_PASSED: a grace period passed since GP_ENTER: every reader sees the slow path.
 *  - GP_EXIT:   the last rcuSyncExit() queued a callback; readers still on the slow path
 *               until a grace period passes, then GP_IDLE (or GP_PASSED if a new enter came).
 *  - GP_REPLAY: another enter+exit happened during GP_EXIT; the callback must wait one
 *               more grace period before going idle.
 *
 * Fields (one 64-byte line, at `base`): STATE (written under LOCK with a seq-cst store,
 * read plainly by readers' fast path), COUNT (under LOCK), LOCK (spinlock, never held
 * across a wait). The exit callback runs in the thread that called the last rcuSyncExit().
 *
 * @see kernel/rcu/sync.c: rcu_sync_enter(), rcu_sync_exit(), rcu_sync_func(),
 *      rcu_sync_is_idle()
 */
import { KernelError } from '@kern/core';
import { describeValue } from '../describe.js';
import { RcuDomain, isObjectWithHandle } from './domain.js';
import {
  assertMayBlock,
  driveSync,
  nextBackoff,
  spinLock,
  spinUnlock,
  type WaitStep,
} from './futex.js';
import { LINE_WORDS } from './layout.js';

/** No updater: readers use their fast path. @see kernel/rcu/sync.c */
export const GP_IDLE = 0;
/** First updater waits for a grace period. @see kernel/rcu/sync.c */
export const GP_ENTER = 1;
/** A grace period passed: all readers are on the slow path. @see kernel/rcu/sync.c */
export const GP_PASSED = 2;
/** Last updater left; a grace period must pass before GP_IDLE. @see kernel/rcu/sync.c */
export const GP_EXIT = 3;
/** Enter+exit again during GP_EXIT: one more grace period. @see kernel/rcu/sync.c */
export const GP_REPLAY = 4;

const STATE = 0;
const COUNT = 1;
const LOCK = 2;

/** Where an rcu_sync lives: send it to other threads to attach. */
export interface RcuSyncHandle {
  /** Shared memory holding the state line. */
  readonly buffer: SharedArrayBuffer;
  /** Int32 index of the state line in `buffer` (a multiple of 16). */
  readonly index: number;
}

/**
 * Creates an rcu_sync in new shared memory, bound to `domain` (whose grace periods it
 * waits for).
 * @throws KernelError EINVAL if `domain` is not an {@link RcuDomain} of this thread.
 * @see kernel/rcu/sync.c: rcu_sync_init()
 */
export function createRcuSync(domain: RcuDomain): RcuSync {
  checkDomain('createRcuSync', domain);
  return new RcuSync(domain, { buffer: new SharedArrayBuffer(LINE_WORDS * 4), index: 0 });
}

/**
 * Attaches to an rcu_sync made in another thread (or placed inside another structure),
 * from its `rss.handle`.
 * @throws KernelError EINVAL if `domain` is not an {@link RcuDomain}, or `handle` is not
 *   an rcu_sync handle (in particular the RcuSync object itself, or its structured-clone
 *   copy, instead of `rss.handle`).
 * @see kernel/rcu/sync.c
 */
export function attachRcuSync(domain: RcuDomain, handle: RcuSyncHandle): RcuSync {
  checkDomain('attachRcuSync', domain);
  if (handle instanceof RcuSync || isObjectWithHandle(handle))
    throw new KernelError(
      'EINVAL',
      'attachRcuSync: pass rss.handle, not the rcu_sync object (workerData: { rss: rss.handle })',
    );
  return new RcuSync(domain, handle);
}

/**
 * Throws EINVAL unless `domain` is an attached {@link RcuDomain} (not its handle).
 * @internal Shared with the percpu rw-semaphore.
 */
export function checkDomain(what: string, domain: unknown): void {
  if (!(domain instanceof RcuDomain))
    throw new KernelError(
      'EINVAL',
      `${what}: domain must be an RcuDomain (from createRcuDomain or attachRcuDomain(handle) in this thread), got ${describeValue(domain)}`,
    );
}

/** @see kernel/rcu/sync.c: struct rcu_sync */
export class RcuSync {
  private readonly a: Int32Array;
  private readonly st: number;

  /** @internal Use {@link createRcuSync} or {@link attachRcuSync}. */
  constructor(
    private readonly domain: RcuDomain,
    readonly handle: RcuSyncHandle,
  ) {
    const buffer: unknown = handle?.buffer;
    if (Object.prototype.toString.call(buffer) !== '[object SharedArrayBuffer]')
      throw new KernelError(
        'EINVAL',
        `rcu_sync handle.buffer is not a SharedArrayBuffer, got ${describeValue(buffer)}`,
      );
    const index: unknown = handle.index;
    const words = (buffer as SharedArrayBuffer).byteLength >> 2;
    if (
      typeof index !== 'number' ||
      !Number.isInteger(index) ||
      index < 0 ||
      index % LINE_WORDS !== 0 ||
      index + LINE_WORDS > words
    )
      throw new KernelError(
        'EINVAL',
        `rcu_sync index ${describeValue(index)} is not a line-aligned word index (a multiple of ${LINE_WORDS}) of a line inside the ${words}-word buffer`,
      );
    this.a = new Int32Array(buffer as SharedArrayBuffer);
    this.st = index + STATE;
  }

  /**
   * Whether readers may use their fast path: a plain read of a read-mostly word. Only
   * meaningful inside an RCU read-side critical section of the domain.
   * @see kernel/rcu/sync.c: rcu_sync_is_idle()
   */
  rcuSyncIsIdle(): boolean {
    return this.a[this.st] === GP_IDLE;
  }

  /** The current state (GP_IDLE..GP_REPLAY). */
  get state(): number {
    return Atomics.load(this.a, this.st);
  }

  /** Updaters between enter and exit. */
  get count(): number {
    return Atomics.load(this.a, this.handle.index + COUNT);
  }

  /**
   * Forces readers onto their slow path: resolves once a grace period has passed since
   * the first of the current updaters entered. Never blocks the event loop. Waits like
   * `synchronizeRcu()`: the calling thread holds no handle across the `await` (its QSBR
   * reader announces quiescent states while it waits).
   * @throws KernelError (rejects) EDEADLK inside this thread's own memory-barrier
   *   read-side critical section, ESHUTDOWN if the domain closes while waiting.
   * @see kernel/rcu/sync.c: rcu_sync_enter()
   */
  async rcuSyncEnter(): Promise<void> {
    this.domain.assertNotReading('rcuSyncEnter()');
    if (this.enterLocked()) {
      await this.firstEnterGp(() => this.domain.synchronizeRcu());
      return;
    }
    await this.domain.waitQuiescent(this.waitPassed());
  }

  /**
   * Blocking {@link RcuSync.rcuSyncEnter} (workers only).
   * @throws KernelError EPERM on the main thread, EDEADLK inside this thread's own
   *   memory-barrier read-side critical section, ESHUTDOWN if the domain closes.
   * @see kernel/rcu/sync.c: rcu_sync_enter()
   */
  rcuSyncEnterSync(): void {
    assertMayBlock('rcuSyncEnterSync()');
    this.domain.assertNotReading('rcuSyncEnterSync()');
    if (this.enterLocked()) {
      this.domain.synchronizeRcuSync();
      this.rcuSyncFunc();
      return;
    }
    driveSync(this.waitPassed());
  }

  /**
   * Lets readers return to their fast path after a grace period (queued with callRcu in
   * this thread, so, like callRcu, it never announces a quiescent state for this thread's
   * reader and may be called with handles held).
   * @throws KernelError EINVAL without a matching enter.
   * @see kernel/rcu/sync.c: rcu_sync_exit()
   */
  rcuSyncExit(): void {
    const a = this.a;
    const base = this.handle.index;
    spinLock(a, base + LOCK);
    try {
      const count = a[base + COUNT]!;
      if (count <= 0) throw new KernelError('EINVAL', 'rcuSyncExit() without rcuSyncEnter()');
      a[base + COUNT] = count - 1;
      if (count === 1) {
        const s = a[this.st]!;
        if (s === GP_PASSED) {
          this.setState(GP_EXIT);
          this.domain.callRcu(() => this.rcuSyncFunc());
        } else if (s === GP_EXIT) {
          this.setState(GP_REPLAY);
        }
      }
    } finally {
      spinUnlock(a, base + LOCK);
    }
  }

  /** @returns whether this call moved GP_IDLE → GP_ENTER (and must run the grace period). */
  private enterLocked(): boolean {
    const a = this.a;
    const base = this.handle.index;
    spinLock(a, base + LOCK);
    const wasIdle = a[this.st] === GP_IDLE;
    if (wasIdle) this.setState(GP_ENTER);
    a[base + COUNT] = a[base + COUNT]! + 1;
    spinUnlock(a, base + LOCK);
    return wasIdle;
  }

  private async firstEnterGp(gp: () => Promise<void>): Promise<void> {
    try {
      await gp();
    } catch (e) {
      // Shutdown: undo our enter; waiters of other threads see their own shutdown.
      const a = this.a;
      const base = this.handle.index;
      spinLock(a, base + LOCK);
      a[base + COUNT] = a[base + COUNT]! - 1;
      if (a[base + COUNT] === 0 && a[this.st] === GP_ENTER) this.setState(GP_IDLE);
      spinUnlock(a, base + LOCK);
      throw e;
    }
    this.rcuSyncFunc();
  }

  private *waitPassed(): Generator<WaitStep, void, void> {
    let ms = 0;
    for (let spins = 0; ; spins++) {
      const s = Atomics.load(this.a, this.st);
      if (s >= GP_PASSED) return;
      if (this.domain.isClosed)
        throw new KernelError('ESHUTDOWN', 'RCU domain closed in rcuSyncEnter()');
      ms = nextBackoff(ms, spins);
      yield { array: this.a, index: this.st, value: s, ms };
    }
  }

  /** @see kernel/rcu/sync.c: rcu_sync_func() */
  private rcuSyncFunc(): void {
    const a = this.a;
    const base = this.handle.index;
    spinLock(a, base + LOCK);
    try {
      if (a[base + COUNT]! > 0) {
        this.setState(GP_PASSED);
      } else if (a[this.st] === GP_REPLAY) {
        this.setState(GP_EXIT);
        this.domain.callRcu(() => this.rcuSyncFunc());
      } else {
        this.setState(GP_IDLE);
      }
    } finally {
      spinUnlock(a, base + LOCK);
    }
  }

  private setState(s: number): void {
    Atomics.store(this.a, this.st, s);
    Atomics.notify(this.a, this.st);
  }
}
