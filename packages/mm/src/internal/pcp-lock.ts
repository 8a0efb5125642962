/**
 * The per-CPU page lists' lock, held lazily by the CPU that owns the lists.
 *
 * Linux guards a CPU's pcp lists with `pcp->lock`, taken by the owning CPU around each
 * allocation or free and by another CPU that drains them (`drain_pages_zone` from
 * `drain_all_pages`). Taking and dropping a lock word costs two Atomics calls, each
 * ~15–20 ns in Node 20 (V8 does not inline them), so an alloc+free pair would spend
 * most of its time there. So the owning thread takes its lock once and keeps it for the
 * rest of its synchronous run (as a CPU keeps interrupts off over a critical section):
 *
 * - the owner's operations check only a JS flag and, with a plain read, the pcp word
 *   PCP_REVOKE, which counts threads waiting for the lock;
 * - when the owner sees PCP_REVOKE non-zero it drops the lock, waits until a waiter
 *   has taken it (at most a second: a waiter terminated while it waited never comes),
 *   and takes it again afterwards;
 * - every lock still held is dropped in a microtask, i.e. as soon as the thread's
 *   current synchronous run ends, before it waits for anything in its event loop;
 * - a thread that wants the lock (a remote drain, or a second thread claiming the same
 *   CPU) increments PCP_REVOKE, takes the lock, decrements PCP_REVOKE and wakes the
 *   owner, and drops the lock when done.
 *
 * The lock word itself is the futex mutex of lock.ts, so mutual exclusion and the
 * memory ordering of everything written under it are the same as with per-operation
 * locking; only the hold times change. One word guards all of a CPU's lists (every
 * zone), so a thread holds at most one such lock per CPU it runs as and sees every
 * request for it whatever zone it is using. A thread lets go of all its lazy holds
 * before it waits for any pcp lock, so waiters never hold one. A thread that sleeps in
 * `Atomics.wait` outside the allocator while it holds a lock delays remote drains until
 * it wakes; those wait at most `timeoutMs` and then give up (see {@link pcpLockRemote}).
 */

import { PCP_REVOKE } from '../layout.js';
import { spinLockTimeout, spinUnlock } from './lock.js';

/**
 * A copy of a lock's PCP_REVOKE count in another page set of the same CPU (another
 * zone or node), so the owner's fast path can read the count from the page set it is
 * already using rather than from a second array.
 */
export interface RevokeMirror {
  readonly a: Int32Array;
  /** Index of the mirror's PCP_REVOKE word. */
  readonly idx: number;
}

/** This thread's view of one pcp lock word. */
export interface PcpHold {
  /** True while this thread holds the lock lazily. */
  held: boolean;
  readonly a: Int32Array;
  /** Index of the pcp's PCP_LOCK word. */
  readonly idx: number;
  /** The lock's PCP_REVOKE mirrors (see {@link RevokeMirror}). */
  readonly mirrors: readonly RevokeMirror[];
  /** A PCP_REVOKE count no waiter came for (see pcpLockOwnerSlow); -1: none. */
  staleRevoke: number;
}

const holdsByBuffer = new WeakMap<ArrayBufferLike, Map<number, PcpHold>>();
let heldNow: PcpHold[] = [];
let releaseQueued = false;

/**
 * The hold record of the lock word `a[idx]` for this thread. Every Memory in a thread
 * that names the same word gets the same record, so two instances attached as the same
 * CPU never both believe they hold it.
 */
export function pcpHoldFor(a: Int32Array, idx: number, mirrors: readonly RevokeMirror[]): PcpHold {
  let m = holdsByBuffer.get(a.buffer);
  if (!m) holdsByBuffer.set(a.buffer, (m = new Map<number, PcpHold>()));
  const key = a.byteOffset / 4 + idx;
  let h = m.get(key);
  if (!h) m.set(key, (h = { held: false, a, idx, mirrors, staleRevoke: -1 }));
  return h;
}

/**
 * Takes the lock word for a thread that is not its lazy holder: announce (the count
 * first, then its mirrors), lock, withdraw (mirrors first), wake the owner. An owner that
 * sees a mirror non-zero therefore finds the count non-zero or the waiter gone.
 */
function lockAnnounced(
  a: Int32Array,
  idx: number,
  timeoutMs: number,
  mirrors: readonly RevokeMirror[],
): boolean {
  if (Atomics.compareExchange(a, idx, 0, 1) === 0) return true;
  const r = idx + PCP_REVOKE;
  Atomics.add(a, r, 1);
  for (const m of mirrors) Atomics.add(m.a, m.idx, 1);
  try {
    return spinLockTimeout(a, idx, timeoutMs);
  } finally {
    for (const m of mirrors) Atomics.sub(m.a, m.idx, 1);
    Atomics.sub(a, r, 1);
    Atomics.notify(a, r);
  }
}

/** Longest an owner that let go waits for an announced waiter to take the lock. */
const HANDOFF_MS = 1000;

/**
 * Slow path of the owner's lock: takes the lock (or, when a waiter asked for it, hands
 * it over first) and keeps it until the end of this synchronous run. Before it waits it
 * lets go of every lock this thread holds lazily, so a waiting thread never holds one.
 * Returns false if the lock was not free within `timeoutMs`.
 *
 * A hand-over waits until a waiter has taken the lock (or every waiter withdrew), at
 * most HANDOFF_MS: a count left raised by a waiter that never comes (a worker terminated
 * while it waited) is remembered in `staleRevoke` and no longer yielded to, so that
 * CPU's owners pay a function call per operation instead of waiting forever.
 */
export function pcpLockOwnerSlow(h: PcpHold, timeoutMs: number): boolean {
  const { a, idx } = h;
  if (h.held) {
    const r = idx + PCP_REVOKE;
    const v = Atomics.load(a, r);
    if (v === 0 || v === h.staleRevoke) return true; // no live request (a mirror's lag, or a dead waiter)
    pcpReleaseAll(); // lets go of this lock too
    let left = Math.min(timeoutMs, HANDOFF_MS);
    for (;;) {
      if (Atomics.load(a, idx) !== 0) break; // a waiter has it
      const now = Atomics.load(a, r);
      if (now === 0) break; // every waiter withdrew
      if (left <= 0) {
        h.staleRevoke = now;
        break;
      }
      const slice = Math.min(left, 10);
      Atomics.wait(a, r, now, slice); // a waiter that took the lock withdraws and wakes us
      left -= slice;
    }
  }
  if (Atomics.compareExchange(a, idx, 0, 1) !== 0) {
    pcpReleaseAll();
    if (!lockAnnounced(a, idx, timeoutMs, h.mirrors)) return false;
  }
  h.held = true;
  heldNow.push(h);
  if (!releaseQueued) {
    releaseQueued = true;
    queueMicrotask(pcpReleaseAll);
  }
  return true;
}

/** Drops every pcp lock this thread holds lazily (end of the synchronous run, CPU change). */
export function pcpReleaseAll(): void {
  releaseQueued = false;
  const list = heldNow;
  heldNow = [];
  for (const h of list) {
    h.held = false;
    spinUnlock(h.a, h.idx);
  }
}

/**
 * Takes another CPU's pcp lock for a drain, waiting at most `timeoutMs` for its owner
 * to reach a point where it lets go. Returns false if it did not (the owner is blocked
 * or gone); the caller then leaves those lists alone. If this thread is itself the
 * lazy holder of that word (it claimed that CPU too), the lock is already held: returns
 * 'held' and the caller must not unlock.
 */
export function pcpLockRemote(
  a: Int32Array,
  idx: number,
  timeoutMs: number,
  mirrors: readonly RevokeMirror[],
): boolean | 'held' {
  const h = holdsByBuffer.get(a.buffer)?.get(a.byteOffset / 4 + idx);
  if (h?.held) return 'held';
  if (Atomics.compareExchange(a, idx, 0, 1) === 0) return true;
  // About to wait: hold nothing meanwhile, so two drainers never wait for each other.
  pcpReleaseAll();
  return lockAnnounced(a, idx, timeoutMs, mirrors);
}
