/**
 * Futex-like waiting on an Int32 word of shared memory, for the real (worker-thread) RCU.
 *
 * Two rules every waiter here follows:
 * - the main thread never blocks: it waits with `Atomics.waitAsync` (a promise), workers
 *   may block with `Atomics.wait`;
 * - every wait is bounded by a timeout, so a lost wake-up costs latency, never progress.
 *
 * @see liburcu: src/urcu-wait.h, src/urcu-qsbr.c (wait_gp, wake_up_gp)
 */
import { isMainThread } from 'node:worker_threads';
import { KernelError } from '@kern/core';
import { holdEventLoop, releaseEventLoop } from './keep-alive.js';

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

// Atomics.waitAsync exists in Node 20 (V8 ≥ 8.7) but is not in lib ES2023.
const waitAsyncFn = (
  Atomics as unknown as {
    waitAsync: (a: Int32Array, i: number, v: number, ms: number) => WaitAsyncResult;
  }
).waitAsync;

/** One step of a wait loop: wait while `array[index] === value`, for at most `ms`. */
export interface WaitStep {
  readonly array: Int32Array;
  readonly index: number;
  readonly value: number;
  /** 0 means "just yield" (to the event loop when async, a bare re-check when blocking). */
  readonly ms: number;
}

/**
 * Waits asynchronously while `array[index] === value`, for at most `ms` (never blocks),
 * keeping the thread's event loop alive meanwhile (keep-alive.ts) unless `keepAlive` is
 * false (a wait nobody awaits, such as a `callRcu()` batch's grace period).
 */
export async function futexWaitAsync(
  array: Int32Array,
  index: number,
  value: number,
  ms: number,
  keepAlive = true,
): Promise<void> {
  if (ms <= 0) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return;
  }
  const r = waitAsyncFn(array, index, value, ms);
  if (!r.async) return;
  if (!keepAlive) {
    await r.value;
    return;
  }
  // waitAsync does not keep the event loop alive: hold it while the wait is pending.
  holdEventLoop();
  try {
    await r.value;
  } finally {
    releaseEventLoop();
  }
}

/** Blocks the calling worker while `array[index] === value`, for at most `ms`. */
export function futexWaitSync(array: Int32Array, index: number, value: number, ms: number): void {
  if (ms > 0) Atomics.wait(array, index, value, ms);
}

/**
 * Runs a generator of wait steps to completion without blocking the event loop; its
 * sleeps keep the thread alive unless `keepAlive` is false (see futexWaitAsync).
 */
export async function driveAsync<T>(
  steps: Generator<WaitStep, T, void>,
  between?: () => void,
  keepAlive = true,
): Promise<T> {
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done) return r.value;
    await futexWaitAsync(r.value.array, r.value.index, r.value.value, r.value.ms, keepAlive);
    between?.();
  }
}

/** Runs a generator of wait steps to completion, blocking (workers only). */
export function driveSync<T>(steps: Generator<WaitStep, T, void>): T {
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done) return r.value;
    futexWaitSync(r.value.array, r.value.index, r.value.value, r.value.ms);
  }
}

/** Throws EPERM when called on the main thread: it must never block its event loop. */
export function assertMayBlock(what: string): void {
  if (isMainThread)
    throw new KernelError(
      'EPERM',
      `${what} blocks with Atomics.wait and would stall the main thread's event loop; use the async form`,
    );
}

/** Backoff for polling waits: 0 (yield) a few times, then 50 µs doubling up to 5 ms. */
export function nextBackoff(ms: number, spins: number): number {
  if (spins < 4) return 0;
  return ms === 0 ? 0.05 : Math.min(ms * 2, 5);
}

/**
 * Takes a tiny spinlock in shared memory (word 0 = free, 1 = held). Held only for a few
 * loads and stores, never across a wait, so spinning is bounded by the holder's work.
 */
export function spinLock(array: Int32Array, index: number): void {
  let spins = 0;
  while (Atomics.compareExchange(array, index, 0, 1) !== 0) {
    // In a worker, give the CPU away after a while (the holder may have been preempted).
    if (++spins > 100 && !isMainThread) Atomics.wait(array, index, 1, 0.05);
  }
}

/** Releases a spinlock taken with {@link spinLock}. */
export function spinUnlock(array: Int32Array, index: number): void {
  Atomics.store(array, index, 0);
}
