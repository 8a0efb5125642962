/**
 * Classic RCU, the baseline Tree RCU replaced in Linux 2.6.29: one `rcu_ctrlblk` with
 * one lock and one flat bitmap of the CPUs that still owe the current batch (grace
 * period) a quiescent state. Every CPU clears its own bit under that lock, so all N
 * CPUs contend on it each grace period; a CPU in dyntick-idle cannot report, so it
 * must be woken (`force_quiescent_state` sends it a reschedule IPI) — counted in
 * {@link ClassicRcu.idleWakeups}. (2.6.28 also had `nohz_cpu_mask`, but only s390
 * maintained it.)
 *
 * Locks are modelled as in `tree.ts`: each acquisition holds the lock `lockHoldNs` of
 * virtual time, FIFO, and the queue depth seen on arrival is the number of waiters.
 * Batch completion is tracked with a count of set bits; Linux ran `cpumask_empty()`
 * on every report, O(N / BITS_PER_LONG) each, which would make a 4M-CPU batch
 * quadratic here too.
 *
 * Locking: `cur`, `completed`, `pending`, `cpumask`, `remaining`: `rcp->lock`. Per-CPU
 * callback lists: the owning CPU.
 *
 * @see kernel/rcuclassic.c (v2.6.28): rcu_start_batch, cpu_quiet,
 *   rcu_check_quiescent_state, force_quiescent_state; include/linux/rcuclassic.h
 */

import { KernelError } from '@kern/core';
import type { VirtualClock } from '@kern/core';
import type { RcuCallback } from './rcu-segcblist.js';

/** How to make a {@link ClassicRcu}. */
export interface ClassicRcuOptions {
  /** Number of CPUs (all online). */
  nrCpus: number;
  /** Virtual time. */
  clock: VirtualClock;
  /** Virtual ns one acquisition holds `rcp->lock` (default 100). */
  lockHoldNs?: number;
}

/**
 * Classic RCU's control block and per-CPU state for `nrCpus` CPUs.
 * @see include/linux/rcuclassic.h (struct rcu_ctrlblk, struct rcu_data)
 */
export class ClassicRcu {
  /** Number of CPUs. */
  readonly nrCpus: number;
  /** Virtual time. */
  readonly clock: VirtualClock;
  /** Virtual ns per lock hold. */
  readonly lockHoldNs: number;
  /** `rcp->cur`: number of the current batch. Guarded by: `rcp->lock`. */
  cur = 0;
  /** `rcp->completed`: number of the last completed batch. Guarded by: `rcp->lock`. */
  completed = 0;
  /**
   * `rcp->pending`: the latest batch some callback waits for. A batch starts while
   * `cur` lags it, at `call_rcu` time or as soon as the previous batch completes.
   * Guarded by: `rcp->lock`.
   */
  pending = 0;
  /** `rcp->cpumask`: CPUs that owe the current batch a QS, one bit each. Guarded by: `rcp->lock`. */
  readonly cpumask: Uint32Array;
  /** Bits still set in `cpumask`. Guarded by: `rcp->lock`. */
  remaining = 0;
  /** CPUs in dyntick-idle (set by the driver). Written by each CPU. */
  readonly idle: Uint8Array;
  /** Acquisitions of `rcp->lock` since {@link ClassicRcu.resetLockStats}. */
  lockAcq = 0;
  /** Of these, CPUs reporting quiescent states. */
  lockQsAcq = 0;
  /** Acquisitions that waited. */
  lockContended = 0;
  /** Most CPUs waiting for `rcp->lock` at once. */
  lockMaxWaiters = 0;
  /** Idle CPUs woken to report. */
  idleWakeups = 0;
  /** Virtual time the last batch completed (its last lock released). */
  lastBatchEndNs = 0;
  private lockFreeAt = 0;
  /** Per-CPU callbacks with the batch they wait for (`rdp->curlist`, `rdp->batch`). */
  private readonly cbs = new Map<number, { batch: number; fn: RcuCallback }[]>();

  /**
   * Makes the control block with every CPU online.
   * @throws KernelError EINVAL on a CPU count outside 1..4,194,304.
   * @see kernel/rcuclassic.c: __rcu_init
   */
  constructor(opts: ClassicRcuOptions) {
    if (!Number.isInteger(opts.nrCpus) || opts.nrCpus < 1 || opts.nrCpus > 4_194_304)
      throw new KernelError('EINVAL', `classic rcu: ${opts.nrCpus} CPUs is not 1..4194304`);
    this.nrCpus = opts.nrCpus;
    this.clock = opts.clock;
    this.lockHoldNs = opts.lockHoldNs ?? 100;
    this.cpumask = new Uint32Array(Math.ceil(opts.nrCpus / 32));
    this.idle = new Uint8Array(opts.nrCpus);
  }

  /** Takes `rcp->lock` at `t`; returns when granted. */
  private lock(t: number, qs: boolean): number {
    this.lockAcq++;
    if (qs) this.lockQsAcq++;
    const h = this.lockHoldNs;
    let start = t;
    if (h > 0 && this.lockFreeAt > t) {
      const ahead = Math.ceil((this.lockFreeAt - t) / h);
      this.lockContended++;
      if (ahead > this.lockMaxWaiters) this.lockMaxWaiters = ahead;
      start = this.lockFreeAt;
    }
    this.lockFreeAt = start + h;
    return start;
  }

  /** Zeroes the lock statistics and the wakeup count. */
  resetLockStats(): void {
    this.lockAcq = 0;
    this.lockQsAcq = 0;
    this.lockContended = 0;
    this.lockMaxWaiters = 0;
    this.idleWakeups = 0;
  }

  /** Whether a batch is in progress. */
  gpInProgress(): boolean {
    return this.cur !== this.completed;
  }

  /**
   * Starts the next batch if one is wanted (`cur` behind `pending`) and none is running:
   * every online CPU owes it a quiescent state. Caller holds `rcp->lock`.
   * @see kernel/rcuclassic.c: rcu_start_batch
   */
  private rcuStartBatch(): void {
    if (this.cur === this.pending || this.completed !== this.cur) return;
    this.cur++;
    this.cpumask.fill(0xffffffff);
    const tail = this.nrCpus % 32;
    if (tail !== 0) this.cpumask[this.cpumask.length - 1] = (2 ** tail - 1) >>> 0;
    this.remaining = this.nrCpus;
  }

  /**
   * Asks for batch `cur + 1` and starts it under `rcp->lock` at `t` unless one is
   * running (then it starts when that one completes).
   * @see kernel/rcuclassic.c: __rcu_process_callbacks, rcu_start_batch
   */
  startBatch(t = this.clock.nowNs()): void {
    this.lock(t, false);
    if (this.pending < this.cur + 1) this.pending = this.cur + 1;
    this.rcuStartBatch();
  }

  /**
   * `cpu` reports its quiescent state at `t`: clears its bit under `rcp->lock`; the
   * last one ends the batch and starts the next if callbacks wait for it. Returns when
   * the lock is released.
   * @see kernel/rcuclassic.c: cpu_quiet, rcu_check_quiescent_state
   */
  cpuQuiet(cpu: number, t = this.clock.nowNs()): number {
    const start = this.lock(t, true);
    const w = cpu >>> 5;
    const bit = (1 << (cpu & 31)) >>> 0;
    if ((this.cpumask[w]! & bit) !== 0) {
      this.cpumask[w] = this.cpumask[w]! & ~bit;
      if (--this.remaining === 0) {
        this.completed = this.cur;
        this.lastBatchEndNs = start + this.lockHoldNs;
        // Callbacks queued during this batch wait for the next one: start it now.
        this.rcuStartBatch();
      }
    }
    return start + this.lockHoldNs;
  }

  /**
   * Sends a reschedule IPI to every CPU that still owes a quiescent state; idle ones
   * are woken (counted). Returns the CPUs that were idle, which will now report.
   * @see kernel/rcuclassic.c: force_quiescent_state
   */
  forceQuiescentState(t = this.clock.nowNs()): number[] {
    this.lock(t, false);
    const woken: number[] = [];
    for (let w = 0; w < this.cpumask.length; w++) {
      let x = this.cpumask[w]!;
      while (x !== 0) {
        const low = x & -x;
        const cpu = (w << 5) + 31 - Math.clz32(low);
        if (this.idle[cpu] !== 0) {
          this.idleWakeups++;
          woken.push(cpu);
        }
        x = (x ^ low) >>> 0;
      }
    }
    return woken;
  }

  /**
   * Queues `fn` on `cpu` for the batch after the current one (`cur + 1`) and records
   * that batch as wanted (`pending`): it starts now if none is running, else when the
   * running one completes. @throws KernelError EINVAL on a bad CPU.
   * @see kernel/rcuclassic.c: call_rcu, __rcu_process_callbacks
   */
  callRcu(cpu: number, fn: RcuCallback): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus)
      throw new KernelError('EINVAL', `CPU ${cpu} is not 0..${this.nrCpus - 1}`);
    let l = this.cbs.get(cpu);
    if (!l) this.cbs.set(cpu, (l = []));
    const batch = this.cur + 1;
    l.push({ batch, fn });
    if (batch > this.pending) this.startBatch();
  }

  /**
   * Invokes `cpu`'s callbacks whose batch has completed; returns how many ran.
   * @see kernel/rcuclassic.c: rcu_do_batch
   */
  processCallbacks(cpu: number): number {
    const l = this.cbs.get(cpu);
    if (!l) return 0;
    const ready = l.filter((c) => c.batch <= this.completed);
    const rest = l.filter((c) => c.batch > this.completed);
    if (rest.length > 0) this.cbs.set(cpu, rest);
    else this.cbs.delete(cpu);
    for (const c of ready) c.fn();
    return ready.length;
  }
}

/**
 * Makes a {@link ClassicRcu}. @throws KernelError EINVAL as its constructor.
 * @see kernel/rcuclassic.c: __rcu_init
 */
export function createClassicRcu(opts: ClassicRcuOptions): ClassicRcu {
  return new ClassicRcu(opts);
}
