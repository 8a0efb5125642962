/**
 * Per-thread `callRcu` queue, batched per grace period: every callback queued while one
 * grace period runs is invoked after the next one, and that next grace period is shared by
 * the whole batch. Callbacks are JS functions, so the queue lives in the thread that
 * queued them (as liburcu's call_rcu threads are per process).
 *
 * Batch state machine (one per queue):
 *  - idle:     `next` may hold callbacks, no grace period requested;
 *  - waiting:  `inflight` holds the batch whose grace period is running; new callbacks go
 *              to `next`; when it ends the batch is invoked and `next` becomes the batch;
 *  - aborted:  `abort()` dropped both lists; nothing queued before is ever invoked.
 *
 * @see liburcu: src/urcu-call-rcu-impl.h (call_rcu, call_rcu_thread, rcu_barrier)
 * @see kernel/rcu/tree.c: call_rcu(), rcu_barrier()
 */
import { KernelError } from '@kern/core';

/** An RCU callback: reclaims what it was given once readers can no longer see it. */
export type RcuCallback = () => void;

/** Counters of one thread's callback queue. */
export interface RcuCallbackStats {
  /** Callbacks queued with callRcu. */
  queued: number;
  /** Callbacks invoked after their grace period. */
  invoked: number;
  /** Grace periods requested for batches (one per batch). */
  batches: number;
  /** Callbacks dropped by abort (shutdown): never invoked. */
  dropped: number;
}

/** @see liburcu: src/urcu-call-rcu-impl.h */
export class RcuCallbackQueue {
  private next: RcuCallback[] = [];
  private inflight: RcuCallback[] | null = null;
  private barriers: { resolve: () => void; reject: (e: unknown) => void; until: number }[] = [];
  /** Sequence number of the last batch started / finished (for rcuBarrier). */
  private started = 0;
  private finished = 0;
  private aborted: KernelError | null = null;
  /** Counters for tests and `stats()`. */
  readonly stats: RcuCallbackStats = { queued: 0, invoked: 0, batches: 0, dropped: 0 };

  constructor(
    private readonly synchronize: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  /**
   * Queues `fn` to run after a grace period that begins after this call.
   * @see liburcu: src/urcu-call-rcu-impl.h (call_rcu)
   */
  callRcu(fn: RcuCallback): void {
    if (this.aborted) throw this.aborted;
    this.next.push(fn);
    this.stats.queued++;
    this.kick();
  }

  /**
   * Resolves once every callback queued before the call has been invoked; rejects with
   * ESHUTDOWN if the queue is aborted first.
   * @see liburcu: src/urcu-call-rcu-impl.h (rcu_barrier)
   */
  rcuBarrier(): Promise<void> {
    if (this.aborted) return Promise.reject(this.aborted);
    // Everything queued so far is in `inflight` (batch `started`) or `next` (batch started+1).
    const until = this.next.length > 0 ? this.started + 1 : this.started;
    if (this.finished >= until) return Promise.resolve();
    return new Promise((resolve, reject) => this.barriers.push({ resolve, reject, until }));
  }

  /** Number of callbacks not yet invoked. */
  get pending(): number {
    return this.next.length + (this.inflight?.length ?? 0);
  }

  /**
   * Drops every queued callback without invoking it (shutdown): a grace period aborted by
   * shutdown never reclaims anything. Pending barriers reject with `err`.
   */
  abort(err: KernelError): void {
    if (this.aborted) return;
    this.aborted = err;
    this.stats.dropped += this.pending;
    this.next = [];
    this.inflight = null;
    for (const b of this.barriers) b.reject(err);
    this.barriers = [];
  }

  private kick(): void {
    if (this.inflight || this.next.length === 0 || this.aborted) return;
    const batch = this.next;
    this.next = [];
    this.inflight = batch;
    this.started++;
    this.stats.batches++;
    const seq = this.started;
    this.synchronize().then(
      () => {
        // An abort between the grace period's end and this continuation still wins.
        if (this.aborted || this.inflight !== batch) return;
        this.inflight = null;
        for (const fn of batch) {
          try {
            fn();
          } catch (e) {
            this.onError(e);
          }
        }
        this.stats.invoked += batch.length;
        this.finished = seq;
        this.barriers = this.barriers.filter((b) => {
          if (b.until > seq) return true;
          b.resolve();
          return false;
        });
        this.kick();
      },
      (e: unknown) => {
        this.abort(
          e instanceof KernelError
            ? e
            : new KernelError('ESHUTDOWN', 'grace period failed', { cause: e }),
        );
      },
    );
  }
}
