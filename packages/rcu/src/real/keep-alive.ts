/**
 * Keeps this thread's event loop alive while an asynchronous wait is pending.
 *
 * `Atomics.waitAsync` does not ref Node's event loop (nodejs/node#61941): a thread whose
 * only pending work is an `await` on it is considered idle, and Node ends it — a worker,
 * or a main thread with nothing else alive, exits with code 13 ("unsettled top-level
 * await") in the middle of `await synchronizeRcu()`. Every pending `waitAsync` of this
 * package therefore holds one ref'd interval timer of its thread (a count; the timer is
 * made on the first wait, `ref()`'d while the count is non-zero and `unref()`'d when it
 * drops to 0), so the loop stays alive exactly while a wait is pending and a thread with
 * nothing else to do exits as soon as the last wait ends. The timer never fires.
 *
 * Cost: one `ref()`/`unref()` pair (a flag and a libuv ref count) per sleep of a grace
 * period, beside a sleep of at least 50 µs; the read side never waits.
 *
 * @see liburcu: src/urcu-wait.h (its waiters are threads, which a process never ends)
 */

/** The interval between firings of the keep-alive timer: the longest Node accepts. */
const NEVER_MS = 2 ** 31 - 1;

/** The thread's keep-alive timer, made on the first wait. Thread-local (module state). */
let timer: ReturnType<typeof setInterval> | undefined;
/** Asynchronous waits of this thread pending now. Thread-local. */
let holds = 0;

const noop = (): void => {};

/** Counts one more pending wait; the first one refs the timer. */
export function holdEventLoop(): void {
  if (holds++ > 0) return;
  if (timer) timer.ref();
  else timer = setInterval(noop, NEVER_MS);
}

/** Ends one pending wait; the last one unrefs the timer. */
export function releaseEventLoop(): void {
  if (--holds === 0) timer!.unref();
}

/** Pending waits of this thread (for tests). */
export function pendingEventLoopHolds(): number {
  return holds;
}

/** Whether the keep-alive timer currently keeps this thread's event loop alive (for tests). */
export function eventLoopHeld(): boolean {
  return timer?.hasRef() ?? false;
}
