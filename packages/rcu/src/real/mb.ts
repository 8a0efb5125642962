/**
 * The memory-barrier flavor's reader, for code that cannot place quiescent states: each
 * outermost `rcuReadLock` stores a snapshot of the grace-period counter (with its phase)
 * in the reader's own line with a seq-cst store; `rcuReadUnlock` clears it.
 *
 * @see liburcu: include/urcu/static/urcu-mb.h (_urcu_mb_read_lock, _urcu_mb_read_unlock),
 *      src/urcu.c (synchronize_rcu, wait_for_readers)
 */
import { KernelError } from '@kern/core';
import { GP_CTR, LINE_WORDS, MB_GP_PHASE, R_CTR, READER_BASE } from './layout.js';
import { badSlotError, staleReaderError, wakeUpGp } from './qsbr.js';

/**
 * The nesting of an unregistered reader: any negative nesting marks one, and the lock's
 * nested path (never its outermost one) is where it is noticed, so the check costs the
 * outermost lock nothing.
 */
const UNREGISTERED = -(2 ** 30);

/**
 * Whether no MB reader is inside a critical section begun in the phase opposite to `gp`'s.
 * `tso`: plain loads, as in `qsbrReadersQuiescent`.
 * @see liburcu: src/urcu.c (urcu_common_reader_state: URCU_READER_ACTIVE_OLD)
 */
export function mbReadersQuiescent(
  h: Int32Array,
  nrReaders: number,
  gp: number,
  tso = false,
): boolean {
  for (let i = 0, at = READER_BASE + R_CTR; i < nrReaders; i++, at += LINE_WORDS) {
    const v = tso ? h[at]! : Atomics.load(h, at);
    if (v !== 0 && ((v ^ gp) & MB_GP_PHASE) !== 0) return false;
  }
  return true;
}

/**
 * A thread's registration in a memory-barrier domain; made by
 * `RcuDomain.rcuRegisterThread()`. Critical sections nest; the nesting depth is
 * thread-local and only the outermost lock and unlock touch shared memory.
 *
 * After {@link MbReader.rcuUnregisterThread} every method throws EINVAL and writes
 * nothing (the slot may belong to another thread by then). A slot reaped by another
 * thread (`rcuReapThread()`, for threads that have exited) is not noticed by a reader
 * that is still running: its lock would write the slot, so reap only dead threads.
 *
 * @see liburcu: include/urcu/urcu-mb.h
 */
export class MbReader {
  /** Flavor tag. */
  readonly flavor = 'mb' as const;
  private nesting = 0;
  private readonly ctrAt: number;
  private readonly ctrByte: number;

  /** @internal Made by `RcuDomain.rcuRegisterThread()`. */
  constructor(
    private readonly h: Int32Array,
    /** The domain's pointer slots. */
    readonly pointers: Int32Array,
    /** This reader's slot index in the domain. */
    readonly slot: number,
    private readonly onUnregister: (r: MbReader) => void,
    /**
     * Whether the hardware is x86 (TSO): then a seq-cst store is `xchg`, a full barrier,
     * and unlock is a plain store, as a release. Otherwise the lock's store must be
     * followed by a fence (`seqCstCopy` is then wasm's fenced `f`; without wasm memory it
     * is an `Atomics.exchange`) and unlock is a seq-cst store.
     */
    private readonly tso: boolean,
    /**
     * `c(dst, src)`: a seq-cst store of the word at byte `src` to byte `dst`, compiled
     * from wasm (wasm-store.ts) when the domain's memory is a WebAssembly.Memory; on
     * hardware that is not TSO, the fenced variant.
     */
    private readonly seqCstCopy?: (dst: number, src: number) => void,
  ) {
    this.ctrAt = READER_BASE + slot * LINE_WORDS + R_CTR;
    this.ctrByte = this.ctrAt * 4;
  }

  /**
   * Begins a (nestable) read-side critical section. Outermost: one seq-cst store of the
   * counter snapshot, ordered before the section's loads (liburcu's store then
   * `cmm_smp_mb()`; x64: `xchg`), issued through wasm when the domain has a
   * WebAssembly.Memory (with `atomic.fence` after it where the hardware is not TSO), else
   * `Atomics.store` (`Atomics.exchange` where it is not TSO).
   * @throws KernelError EINVAL after rcuUnregisterThread() (nothing is written).
   * @see liburcu: include/urcu/static/urcu-common.h (_urcu_read_lock_update)
   */
  rcuReadLock(): void {
    const n = this.nesting;
    if (n === 0) {
      this.nesting = 1;
      if (this.seqCstCopy) this.seqCstCopy(this.ctrByte, GP_CTR * 4);
      else if (this.tso) Atomics.store(this.h, this.ctrAt, this.h[GP_CTR]!);
      else Atomics.exchange(this.h, this.ctrAt, this.h[GP_CTR]!);
    } else if (n > 0) this.nesting = n + 1;
    else throw staleReaderError('memory-barrier', this.slot, 'rcuReadLock()');
  }

  /**
   * Ends a read-side critical section. Outermost: clears the snapshot (a release store)
   * and wakes a waiting updater.
   * @throws KernelError EINVAL without a matching rcuReadLock, or after
   *   rcuUnregisterThread() (nothing is changed).
   * @see liburcu: include/urcu/static/urcu-mb.h (_urcu_mb_read_unlock_update_and_wakeup)
   */
  rcuReadUnlock(): void {
    const n = this.nesting;
    if (n !== 1) {
      if (n <= 0) unbalancedUnlock(this.slot, n);
      this.nesting = n - 1;
      return;
    }
    this.nesting = 0;
    if (this.tso) this.h[this.ctrAt] = 0;
    else Atomics.store(this.h, this.ctrAt, 0);
    wakeUpGp(this.h);
  }

  /**
   * Reads pointer slot `slot`: a plain typed-array read.
   * @throws KernelError EINVAL if `slot` is not a pointer slot of the domain.
   * @see liburcu: include/urcu/static/pointer.h (_rcu_dereference)
   */
  rcuDereference(slot: number): number {
    const v = this.pointers[slot];
    if (v === undefined) throw badSlotError(slot, this.pointers.length);
    return v;
  }

  /** Whether the thread is inside a read-side critical section. */
  get online(): boolean {
    return this.nesting > 0;
  }

  /** Read-side critical sections this thread is nested in (0: outside). */
  get depth(): number {
    return Math.max(this.nesting, 0);
  }

  /**
   * A no-op: MB readers are quiescent outside their critical sections.
   * @throws KernelError EINVAL after rcuUnregisterThread().
   */
  rcuQuiescentState(): void {
    this.checkRegistered('rcuQuiescentState()');
  }

  /**
   * A no-op for the MB flavor.
   * @throws KernelError EINVAL after rcuUnregisterThread().
   */
  rcuThreadOffline(): void {
    this.checkRegistered('rcuThreadOffline()');
  }

  /**
   * A no-op for the MB flavor.
   * @throws KernelError EINVAL after rcuUnregisterThread().
   */
  rcuThreadOnline(): void {
    this.checkRegistered('rcuThreadOnline()');
  }

  /**
   * Runs `fn` (MB readers need no quiescent states between tasks).
   * @throws KernelError EINVAL after rcuUnregisterThread() (before `fn` runs).
   */
  runTask<T>(fn: () => T): T {
    this.checkRegistered('runTask()');
    return fn();
  }

  /**
   * Returns `fn` itself (see {@link MbReader.runTask}).
   * @throws KernelError EINVAL after rcuUnregisterThread().
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    this.checkRegistered('wrap()');
    return fn;
  }

  /**
   * `Atomics.wait` (workers only); MB readers outside a critical section are never waited for.
   * @throws KernelError EINVAL after rcuUnregisterThread().
   */
  waitOffline(
    array: Int32Array,
    index: number,
    value: number,
    ms: number,
  ): 'ok' | 'not-equal' | 'timed-out' {
    this.checkRegistered('waitOffline()');
    return Atomics.wait(array, index, value, ms);
  }

  /**
   * Frees the reader slot (the domain clears it, unless it was reaped meanwhile). A
   * second call does nothing.
   * @throws KernelError EBUSY inside a read-side critical section (grace periods would
   *   then end while this thread still reads); nothing is changed.
   * @see liburcu: src/urcu.c (urcu_mb_unregister_thread)
   */
  rcuUnregisterThread(): void {
    const n = this.nesting;
    if (n < 0) return;
    if (n > 0)
      throw new KernelError(
        'EBUSY',
        `rcuUnregisterThread() inside a read-side critical section (memory-barrier reader slot ${this.slot}, nesting ${n}): call rcuReadUnlock() first`,
      );
    this.nesting = UNREGISTERED;
    this.onUnregister(this);
  }

  private checkRegistered(what: string): void {
    if (this.nesting < 0) throw staleReaderError('memory-barrier', this.slot, what);
  }
}

/** Out of line, so the unlock fast path stays small enough to inline. */
function unbalancedUnlock(slot: number, nesting: number): never {
  if (nesting < 0) throw staleReaderError('memory-barrier', slot, 'rcuReadUnlock()');
  throw new KernelError(
    'EINVAL',
    `rcuReadUnlock() without rcuReadLock() on memory-barrier reader slot ${slot} (nesting 0)`,
  );
}
