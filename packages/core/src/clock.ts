/**
 * Time: a virtual clock with timers for simulation, and a real clock with the same
 * interface for code that runs on real threads. Library code takes a {@link Clock}
 * and never reads the wall clock itself.
 *
 * @see kernel/time/timer.c, kernel/time/hrtimer.c
 */

import { describeValue, shown } from './describe.js';
import { KernelError } from './errno.js';

/** Nanoseconds per second. @see include/vdso/time64.h */
export const NSEC_PER_SEC = 1_000_000_000;
/** Nanoseconds per millisecond. @see include/vdso/time64.h */
export const NSEC_PER_MSEC = 1_000_000;
/** Nanoseconds per microsecond. @see include/vdso/time64.h */
export const NSEC_PER_USEC = 1_000;

/**
 * Something that tells the time in nanoseconds since boot.
 * @see kernel/sched/clock.c: local_clock; kernel/time/timekeeping.c: ktime_get
 */
export interface Clock {
  /** Nanoseconds since boot (CLOCK_MONOTONIC; `local_clock()` for printk). */
  nowNs(): number;
}

/**
 * A timer armed on a {@link VirtualClock}.
 * @see include/linux/timer.h (struct timer_list)
 */
export interface Timer {
  /** Absolute expiry in nanoseconds. */
  readonly expires: number;
  /** Whether the timer is armed (not yet fired nor deleted). */
  readonly pending: boolean;
}

interface TimerEntry extends Timer {
  expires: number;
  pending: boolean;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, with timers that fire in (expiry, arming order).
 * The same calls give the same run. Single-threaded: nothing guards its timer heap.
 *
 * @see kernel/time/timer.c, kernel/time/hrtimer.c
 */
export class VirtualClock implements Clock {
  private now: number;
  private seq = 0;
  private heap: TimerEntry[] = [];
  /** Timer interrupt frequency used by {@link VirtualClock.jiffies}. */
  readonly hz: number;

  /**
   * A clock at `startNs` (default 0) ticking `hz` jiffies a second (default 1000).
   * @throws KernelError EINVAL if `startNs` is not a non-negative safe integer or `hz` is
   *   not a positive integer dividing 1,000,000,000.
   */
  constructor(options: { startNs?: number; hz?: number } = {}) {
    if (typeof options !== 'object' || options === null)
      throw new KernelError(
        'EINVAL',
        `clock options must be an object such as { hz: 1000 }, got ${describeValue(options)}`,
      );
    this.now = options.startNs ?? 0;
    this.hz = options.hz ?? 1000;
    if (!Number.isSafeInteger(this.now) || this.now < 0)
      throw new KernelError(
        'EINVAL',
        `clock start ${shown(this.now)} is not a non-negative integer`,
      );
    if (!Number.isInteger(this.hz) || this.hz <= 0 || NSEC_PER_SEC % this.hz !== 0)
      throw new KernelError(
        'EINVAL',
        `HZ ${shown(this.hz)} must be an integer dividing 1000000000`,
      );
  }

  /** Current virtual time in nanoseconds since boot. @see kernel/time/timekeeping.c: ktime_get */
  nowNs(): number {
    return this.now;
  }

  /** Ticks of 1/HZ seconds since boot. @see include/linux/jiffies.h */
  jiffies(): number {
    return Math.floor(this.now / (NSEC_PER_SEC / this.hz));
  }

  /**
   * Arms `fn` to run `delayNs` from now.
   * @throws KernelError EINVAL on a negative or non-finite delay.
   * @see kernel/time/timer.c: add_timer
   */
  addTimer(delayNs: number, fn: () => void): Timer {
    if (!Number.isFinite(delayNs) || delayNs < 0)
      throw new KernelError(
        'EINVAL',
        `timer delay ${shown(delayNs)} ns is not a non-negative number`,
      );
    if (typeof fn !== 'function')
      throw new KernelError(
        'EINVAL',
        `timer callback must be a function, got ${describeValue(fn)}`,
      );
    const t: TimerEntry = {
      expires: this.now + Math.ceil(delayNs),
      pending: true,
      seq: this.seq++,
      fn,
    };
    this.push(t);
    return t;
  }

  /** Disarms a timer; returns whether it was pending (`del_timer`). @see kernel/time/timer.c */
  delTimer(timer: Timer): boolean {
    const t = timer as TimerEntry;
    if (!t.pending) return false;
    t.pending = false; // removed lazily from the heap
    return true;
  }

  /**
   * Re-arms a timer to fire `delayNs` from now (`mod_timer`); returns the new timer (the
   * old handle stays cancelled).
   * @throws KernelError EINVAL on a negative or non-finite delay.
   * @see kernel/time/timer.c: mod_timer
   */
  modTimer(timer: Timer, delayNs: number): Timer {
    const t = timer as TimerEntry;
    this.delTimer(t);
    return this.addTimer(delayNs, t.fn);
  }

  /** Expiry of the earliest pending timer, or `undefined`. */
  nextExpiry(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.expires;
  }

  /** Number of pending timers. */
  pendingTimers(): number {
    return this.heap.filter((t) => t.pending).length;
  }

  /**
   * Moves time forward to `targetNs`, firing every timer that expires on the way, each at
   * its own expiry time. @throws KernelError EINVAL if `targetNs` is in the past.
   * @see kernel/time/timer.c: __run_timers
   */
  advanceTo(targetNs: number): void {
    if (typeof targetNs !== 'number' || Number.isNaN(targetNs))
      throw new KernelError(
        'EINVAL',
        `clock target must be a number of ns, got ${describeValue(targetNs)}`,
      );
    if (!(targetNs >= this.now))
      throw new KernelError(
        'EINVAL',
        `cannot move the clock back from ${this.now} to ${targetNs} ns`,
      );
    for (;;) {
      this.dropCancelled();
      const t = this.heap[0];
      if (!t || t.expires > targetNs) break;
      this.pop();
      this.now = Math.max(this.now, t.expires);
      t.pending = false;
      t.fn();
    }
    // A timer that advanced the clock further itself must not move it back.
    this.now = Math.max(this.now, targetNs);
  }

  /**
   * Moves time forward by `deltaNs`, firing timers on the way.
   * @throws KernelError EINVAL on a negative or non-finite `deltaNs`.
   */
  advance(deltaNs: number): void {
    if (!Number.isFinite(deltaNs) || deltaNs < 0)
      throw new KernelError(
        'EINVAL',
        `clock advance ${shown(deltaNs)} ns is not a non-negative number`,
      );
    this.advanceTo(this.now + deltaNs);
  }

  /** Jumps to the next timer and fires it (and any others due then); returns false if none. */
  runNextTimer(): boolean {
    const next = this.nextExpiry();
    if (next === undefined) return false;
    this.advanceTo(Math.max(next, this.now));
    return true;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && !this.heap[0]!.pending) this.pop();
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.expires < b.expires || (a.expires === b.expires && a.seq < b.seq);
  }

  private push(t: TimerEntry): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/**
 * Creates a {@link VirtualClock} starting at `startNs` (default 0).
 * @throws KernelError EINVAL as the {@link VirtualClock} constructor.
 * @see kernel/time/timer.c, kernel/time/hrtimer.c
 */
export function createVirtualClock(options: { startNs?: number; hz?: number } = {}): VirtualClock {
  return new VirtualClock(options);
}

/**
 * A clock that reads the host's monotonic clock (`process.hrtime`), counted from the
 * moment it is made. For code on real threads; simulations use {@link VirtualClock}.
 *
 * @see kernel/time/timekeeping.c: ktime_get (CLOCK_MONOTONIC)
 */
export function createRealClock(): Clock {
  const origin = process.hrtime.bigint();
  return { nowNs: () => Number(process.hrtime.bigint() - origin) };
}
