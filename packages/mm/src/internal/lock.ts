/**
 * A futex-style mutex on one Int32 word of shared memory (Drepper's "mutex 2"):
 * 0 unlocked, 1 locked, 2 locked with waiters. Uncontended lock and unlock are one
 * compare-exchange each; contended waiters spin briefly, then sleep in Atomics.wait.
 * Works on the main thread too (Node allows Atomics.wait there).
 */

const SPINS = 64;

/** Takes the lock at `arr[idx]`; returns true if it had to wait (contended). */
export function spinLock(arr: Int32Array, idx: number): boolean {
  if (Atomics.compareExchange(arr, idx, 0, 1) === 0) return false;
  lockContended(arr, idx, Infinity);
  return true;
}

/**
 * Takes the lock at `arr[idx]` like {@link spinLock}, but gives up after about
 * `timeoutMs` of sleeping. Returns whether the lock was taken.
 */
export function spinLockTimeout(arr: Int32Array, idx: number, timeoutMs: number): boolean {
  return Atomics.compareExchange(arr, idx, 0, 1) === 0 || lockContended(arr, idx, timeoutMs);
}

/** The contended path: spin briefly, then sleep with the word at 2 until it is ours. */
function lockContended(arr: Int32Array, idx: number, timeoutMs: number): boolean {
  let c = 1;
  for (let i = 0; i < SPINS && c !== 2; i++) {
    c = Atomics.compareExchange(arr, idx, 0, 1);
    if (c === 0) return true;
  }
  if (c !== 2) c = Atomics.exchange(arr, idx, 2);
  let left = timeoutMs;
  while (c !== 0) {
    if (left <= 0) return false;
    const slice = Math.min(left, 10);
    Atomics.wait(arr, idx, 2, slice);
    left -= slice;
    c = Atomics.exchange(arr, idx, 2);
  }
  return true;
}

/** Takes the lock only if it is free. */
export function spinTrylock(arr: Int32Array, idx: number): boolean {
  return Atomics.compareExchange(arr, idx, 0, 1) === 0;
}

/** Releases the lock at `arr[idx]`, waking one waiter if there are any. */
export function spinUnlock(arr: Int32Array, idx: number): void {
  if (Atomics.sub(arr, idx, 1) !== 1) {
    Atomics.store(arr, idx, 0);
    Atomics.notify(arr, idx, 1);
  }
}

/**
 * Whose lock words are taken: a Memory skips them on a uniprocessor machine (`smp:
 * false`, as a UP kernel compiles spinlocks away) and under the `no-locks` negative
 * control. Every lock of the allocator goes through {@link lockWord}, so both apply
 * everywhere.
 */
export interface LockPolicy {
  readonly locking: boolean;
}

/** Takes the lock at `arr[idx]` unless `p` takes no locks. */
export function lockWord(p: LockPolicy, arr: Int32Array, idx: number): void {
  if (p.locking) spinLock(arr, idx);
}

/** Releases a lock taken by {@link lockWord}. */
export function unlockWord(p: LockPolicy, arr: Int32Array, idx: number): void {
  if (p.locking) spinUnlock(arr, idx);
}
