/**
 * The QSBR flavor's reader (quiescent-state-based reclamation): the read side costs
 * nothing; each thread announces quiescent states and goes offline while idle or blocked.
 *
 * @see liburcu: include/urcu/static/urcu-qsbr.h (_urcu_qsbr_quiescent_state,
 *      _urcu_qsbr_thread_offline, _urcu_qsbr_thread_online), src/urcu-qsbr.c
 */
import { KernelError } from '@kern/core';
import { describeValue } from '../describe.js';
import { GP_CTR, GP_FUTEX, LINE_WORDS, R_CTR, R_GEN, READER_BASE } from './layout.js';

/** Wakes an updater sleeping in a grace period (it set GP_FUTEX to -1 before sleeping). */
export function wakeUpGp(h: Int32Array): void {
  // A plain read. After a seq-cst store (QSBR, MB on non-TSO hardware) it cannot be
  // reordered before that store; after the MB flavor's plain unlock store on x64 it can,
  // and then a wake-up may be missed: the updater sleeps with a timeout (1 ms, doubling
  // to 5 ms) and re-checks, so a miss costs latency, never a wrong answer.
  if (h[GP_FUTEX] === -1) {
    Atomics.store(h, GP_FUTEX, 0);
    Atomics.notify(h, GP_FUTEX);
  }
}

/**
 * Whether every QSBR reader is offline or has announced counter value `ctr`. `tso`: the
 * caller's last shared store was seq-cst on x86 (`xchg`, a full barrier), so plain loads
 * cannot be performed before it, and they cost a fraction of an `Atomics.load` (a V8
 * builtin call in Node 20); elsewhere the loads are `Atomics.load` (load-acquire, ordered
 * after the store-release of a seq-cst store).
 * @see liburcu: src/urcu-qsbr.c (wait_for_readers, urcu_qsbr_reader_state)
 */
export function qsbrReadersQuiescent(
  h: Int32Array,
  nrReaders: number,
  ctr: number,
  tso = false,
): boolean {
  for (let i = 0, at = READER_BASE + R_CTR; i < nrReaders; i++, at += LINE_WORDS) {
    const v = tso ? h[at]! : Atomics.load(h, at);
    if (v !== 0 && v !== ctr) return false;
  }
  return true;
}

/**
 * A thread's registration in a QSBR domain: made by `RcuDomain.rcuRegisterThread()`.
 * Registered threads start online.
 *
 * Read-side rule: a read-side critical section lasts from one quiescent state to the
 * next, so a handle obtained with {@link QsbrReader.rcuDereference} must not be used after
 * {@link QsbrReader.rcuQuiescentState}, {@link QsbrReader.rcuThreadOffline}, the end of a
 * {@link QsbrReader.runTask} task, or an `await` (other tasks may announce a quiescent
 * state meanwhile, and so does the domain while this thread awaits its own
 * `synchronizeRcu()`, `rcuBarrier()` or `rcuSyncEnter()`). `callRcu()` never announces
 * one: it may be called with handles held.
 *
 * Nesting is not tracked: `rcuReadLock`/`rcuReadUnlock` are empty (the QSBR read side
 * costs nothing), so an unbalanced unlock cannot be detected and does no harm.
 *
 * After {@link QsbrReader.rcuUnregisterThread} (or once its slot was reaped with
 * `rcuReapThread()`), every method that would write the slot — which another thread may
 * own by then — throws EINVAL instead and writes nothing; the empty lock and unlock and
 * `rcuDereference` stay what they are.
 *
 * @see liburcu: include/urcu/urcu-qsbr.h
 */
export class QsbrReader {
  /** Flavor tag. */
  readonly flavor = 'qsbr' as const;
  /** Last value stored in this reader's R_CTR word (0 = offline). Thread-local. */
  private snap = 0;
  private readonly ctrAt: number;
  /** This reader's R_GEN word, and its value at registration (read back by slow paths). */
  private readonly genAt: number;
  private readonly gen: number;
  /** Set by rcuUnregisterThread() (or when a slow path finds the slot reaped). Thread-local. */
  private unregistered = false;

  /** @internal Made by `RcuDomain.rcuRegisterThread()`. */
  constructor(
    private readonly h: Int32Array,
    /** The domain's pointer slots (handles published with `rcuAssignPointer`). */
    readonly pointers: Int32Array,
    /** This reader's slot index in the domain (also its per-reader counter index). */
    readonly slot: number,
    private readonly onUnregister: (r: QsbrReader) => void,
    /**
     * Whether the hardware is x86 (TSO), where a seq-cst store is `xchg`, a full barrier.
     * Elsewhere the counter is stored with `Atomics.exchange`, so that the loads after an
     * announcement cannot be performed before it is visible (liburcu's trailing
     * `cmm_smp_mb()`; see domain.ts on the limit of that).
     */
    private readonly tso: boolean,
  ) {
    this.ctrAt = READER_BASE + slot * LINE_WORDS + R_CTR;
    this.genAt = READER_BASE + slot * LINE_WORDS + R_GEN;
    this.gen = Atomics.load(h, this.genAt);
    this.rcuThreadOnline();
  }

  /**
   * Begins a read-side critical section: an empty function (QSBR readers are always in
   * one while online).
   * @see liburcu: include/urcu/static/urcu-qsbr.h (_urcu_qsbr_read_lock)
   */
  rcuReadLock(): void {}

  /**
   * Ends a read-side critical section: an empty function.
   * @see liburcu: include/urcu/static/urcu-qsbr.h (_urcu_qsbr_read_unlock)
   */
  rcuReadUnlock(): void {}

  /**
   * Reads pointer slot `slot` of the domain: a plain typed-array read (handles are
   * published with a seq-cst store; dependent loads are ordered by the hardware, as for
   * `rcu_dereference()` in C).
   * @throws KernelError EINVAL if `slot` is not a pointer slot of the domain.
   * @see liburcu: include/urcu/static/pointer.h (_rcu_dereference)
   */
  rcuDereference(slot: number): number {
    const v = this.pointers[slot];
    if (v === undefined) throw badSlotError(slot, this.pointers.length);
    return v;
  }

  /** Whether this thread is online (grace periods wait for it). */
  get online(): boolean {
    return this.snap !== 0;
  }

  /**
   * Announces a quiescent state: this thread holds no handle obtained before. Two plain
   * reads when no grace period is waiting; one seq-cst store when one is. A no-op while
   * offline.
   * @throws KernelError EINVAL after rcuUnregisterThread() (or once the slot was reaped).
   * @see liburcu: include/urcu/static/urcu-qsbr.h (_urcu_qsbr_quiescent_state)
   */
  rcuQuiescentState(): void {
    const g = this.h[GP_CTR]!;
    if (g === this.snap) return;
    if (this.snap === 0) {
      if (this.unregistered) this.stale('rcuQuiescentState()');
      return;
    }
    this.checkOwned('rcuQuiescentState()');
    this.snap = g;
    this.storeCtr(g);
    wakeUpGp(this.h);
  }

  /**
   * Goes offline (an extended quiescent state): grace periods no longer wait for this
   * thread. Call before blocking or idling.
   * @throws KernelError EINVAL after rcuUnregisterThread() (or once the slot was reaped).
   * @see liburcu: include/urcu/static/urcu-qsbr.h (_urcu_qsbr_thread_offline)
   */
  rcuThreadOffline(): void {
    if (this.snap === 0) {
      if (this.unregistered) this.stale('rcuThreadOffline()');
      return;
    }
    this.checkOwned('rcuThreadOffline()');
    this.snap = 0;
    this.storeCtr(0);
    wakeUpGp(this.h);
  }

  /**
   * Comes back online; handles may be dereferenced again.
   * @throws KernelError EINVAL after rcuUnregisterThread() (or once the slot was reaped).
   * @see liburcu: include/urcu/static/urcu-qsbr.h (_urcu_qsbr_thread_online)
   */
  rcuThreadOnline(): void {
    if (this.snap !== 0) return;
    this.checkOwned('rcuThreadOnline()');
    const g = Atomics.load(this.h, GP_CTR);
    this.snap = g;
    this.storeCtr(g);
  }

  /**
   * Throws EINVAL unless the slot is still this registration's (slow paths only: the
   * check is a load of this reader's own line, before any store to it).
   */
  private checkOwned(what: string): void {
    if (this.unregistered || Atomics.load(this.h, this.genAt) !== this.gen) this.stale(what);
  }

  /** Marks this reader dead (it never writes its slot again) and throws EINVAL. */
  private stale(what: string): never {
    this.unregistered = true;
    this.snap = 0;
    throw staleReaderError('QSBR', this.slot, what);
  }

  /** Stores R_CTR ordered before every later load (store, then cmm_smp_mb()). */
  private storeCtr(v: number): void {
    if (this.tso) Atomics.store(this.h, this.ctrAt, v);
    else Atomics.exchange(this.h, this.ctrAt, v);
  }

  /**
   * Runs one task with an automatic quiescent state after it: an offline thread comes
   * online for the task and goes offline again after it (so an idle worker is never
   * waited for); an online thread announces a quiescent state after it.
   * @throws KernelError EINVAL after rcuUnregisterThread() (before `fn` runs).
   * @see liburcu: doc/rcu-api.md (rcu_quiescent_state, rcu_thread_offline)
   */
  runTask<T>(fn: () => T): T {
    const wasOnline = this.snap !== 0;
    if (!wasOnline) this.rcuThreadOnline();
    try {
      return fn();
    } finally {
      if (wasOnline) this.rcuQuiescentState();
      else this.rcuThreadOffline();
    }
  }

  /**
   * Wraps a handler (a `message` listener, say) with {@link QsbrReader.runTask}.
   * @throws KernelError EINVAL (from the wrapper) after rcuUnregisterThread().
   * @see liburcu: doc/rcu-api.md
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return (...args: A) => this.runTask(() => fn(...args));
  }

  /**
   * Blocks in `Atomics.wait(array, index, value, ms)` offline (workers only), so the wait
   * never holds up a grace period. Returns what `Atomics.wait` returned.
   * @throws KernelError EINVAL after rcuUnregisterThread().
   * @see liburcu: doc/rcu-api.md (rcu_thread_offline before blocking)
   */
  waitOffline(
    array: Int32Array,
    index: number,
    value: number,
    ms: number,
  ): 'ok' | 'not-equal' | 'timed-out' {
    const wasOnline = this.snap !== 0;
    this.rcuThreadOffline();
    try {
      return Atomics.wait(array, index, value, ms);
    } finally {
      if (wasOnline) this.rcuThreadOnline();
    }
  }

  /**
   * Goes offline and frees the reader slot (the domain clears it, unless it was reaped
   * meanwhile). A second call does nothing.
   *
   * QSBR cannot tell whether the thread is inside a read-side critical section (its lock
   * is empty): the caller must hold no handle across this call.
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_unregister_thread)
   */
  rcuUnregisterThread(): void {
    if (this.unregistered) return;
    this.unregistered = true;
    this.snap = 0;
    this.onUnregister(this);
  }
}

/**
 * The error of a reader object used after its registration ended: its slot may belong to
 * another thread by now, so nothing was written.
 */
export function staleReaderError(flavor: string, slot: number, what: string): KernelError {
  return new KernelError(
    'EINVAL',
    `${what}: ${flavor} reader slot ${slot} was unregistered (rcuUnregisterThread()) or reaped (rcuReapThread()); it may belong to another thread now, so nothing was written (register again with rcuRegisterThread())`,
  );
}

/** EINVAL for a pointer slot outside 0..n-1 (or not an integer). */
export function badSlotError(slot: unknown, n: number): KernelError {
  return new KernelError(
    'EINVAL',
    `pointer slot ${describeValue(slot)} is not an integer in 0..${n - 1}`,
  );
}
