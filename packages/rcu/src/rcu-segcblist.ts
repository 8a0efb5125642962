/**
 * The segmented callback list of one CPU: one FIFO of callbacks cut by tail indexes
 * into four segments, each (but DONE) tagged with the grace-period sequence number it
 * waits for:
 *
 * - `RCU_DONE_TAIL`: its grace period has ended; ready to invoke.
 * - `RCU_WAIT_TAIL`: waiting for the grace period in progress (`gpSeq[WAIT]`).
 * - `RCU_NEXT_READY_TAIL`: waiting for the grace period after it (`gpSeq[NEXT_READY]`).
 * - `RCU_NEXT_TAIL`: just queued, no grace period assigned yet.
 *
 * Guarded by: its CPU (`rcu_data` is per-CPU; in Linux, interrupts disabled on the
 * owning CPU, plus the leaf `rcu_node` lock for advance/accelerate). In the simulation
 * every step is atomic, so nothing else touches it concurrently.
 *
 * @see kernel/rcu/rcu_segcblist.c, include/linux/rcu_segcblist.h
 */

/** Segment of callbacks ready to invoke. @see include/linux/rcu_segcblist.h: RCU_DONE_TAIL */
export const RCU_DONE_TAIL = 0;
/** Segment waiting for the current grace period. @see include/linux/rcu_segcblist.h: RCU_WAIT_TAIL */
export const RCU_WAIT_TAIL = 1;
/** Segment waiting for the next grace period. @see include/linux/rcu_segcblist.h: RCU_NEXT_READY_TAIL */
export const RCU_NEXT_READY_TAIL = 2;
/** Segment of new callbacks. @see include/linux/rcu_segcblist.h: RCU_NEXT_TAIL */
export const RCU_NEXT_TAIL = 3;
/** Number of segments. @see include/linux/rcu_segcblist.h: RCU_CBLIST_NSEGS */
export const RCU_CBLIST_NSEGS = 4;

/** A queued callback (`struct rcu_head`): the function to run after a grace period. */
export type RcuCallback = () => void;

/**
 * A CPU's segmented callback list.
 * @see kernel/rcu/rcu_segcblist.c
 */
export class RcuSegcblist {
  /** The callbacks, oldest first; `head` is the first not yet extracted. */
  private cbs: RcuCallback[] = [];
  private head = 0;
  /** End (exclusive, absolute index into `cbs`) of each segment (`->tails[]`). */
  private readonly tails = [0, 0, 0, 0];
  /** Grace-period sequence number each segment waits for (`->gp_seq[]`). */
  readonly gpSeq = new Float64Array(RCU_CBLIST_NSEGS);

  /** Callbacks queued and not yet extracted (`rcu_segcblist_n_cbs`). */
  get length(): number {
    return this.cbs.length - this.head;
  }

  /** Callbacks in segment `seg`. */
  segLength(seg: number): number {
    const start = seg === 0 ? this.head : this.tails[seg - 1]!;
    return this.tails[seg]! - start;
  }

  /** Whether the list holds no callback. @see kernel/rcu/rcu_segcblist.h: rcu_segcblist_empty */
  isEmpty(): boolean {
    return this.length === 0;
  }

  /** Whether callbacks wait for a grace period. @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_pend_cbs */
  pendCbs(): boolean {
    return this.tails[RCU_NEXT_TAIL]! > this.tails[RCU_DONE_TAIL]!;
  }

  /** Whether DONE holds callbacks. @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_ready_cbs */
  readyCbs(): boolean {
    return this.tails[RCU_DONE_TAIL]! > this.head;
  }

  /** Appends to NEXT. @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_enqueue */
  enqueue(cb: RcuCallback): void {
    this.cbs.push(cb);
    this.tails[RCU_NEXT_TAIL] = this.cbs.length;
  }

  /**
   * Appends `cb` after the last non-empty segment, with that segment's grace period,
   * so it runs after every callback already queued (`rcu_barrier`'s entrain). Returns
   * false (and queues nothing) when the list is empty.
   * @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_entrain
   */
  entrain(cb: RcuCallback): boolean {
    if (this.isEmpty()) return false;
    this.cbs.push(cb);
    // Every segment from the last non-empty one on ends after it.
    let i = RCU_NEXT_TAIL;
    while (i > RCU_DONE_TAIL && this.segLength(i) === 0) i--;
    for (let j = i; j < RCU_CBLIST_NSEGS; j++) this.tails[j] = this.cbs.length;
    return true;
  }

  /**
   * Moves to DONE every callback whose grace period `seq` has reached, and compacts.
   * @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_advance
   */
  advance(seq: number): void {
    const t = this.tails;
    if (t[RCU_DONE_TAIL] === t[RCU_NEXT_TAIL]) return;
    let i = RCU_WAIT_TAIL;
    for (; i < RCU_NEXT_TAIL; i++) {
      if (seq < this.gpSeq[i]!) break;
      t[RCU_DONE_TAIL] = t[i]!;
    }
    if (i === RCU_WAIT_TAIL) return;
    // Segments emptied into DONE end where DONE ends now.
    for (let j = RCU_WAIT_TAIL; j < i; j++) t[j] = t[RCU_DONE_TAIL]!;
    // Slide the still-waiting segments down into the gap.
    for (let j = RCU_WAIT_TAIL; i < RCU_NEXT_TAIL; i++, j++) {
      if (t[j] === t[RCU_NEXT_TAIL]) break;
      t[j] = t[i]!;
      this.gpSeq[j] = this.gpSeq[i]!;
    }
  }

  /**
   * Assigns grace period `seq` to every callback that can wait for it (NEXT, and any
   * segment whose own grace period is not earlier), merging segments. Returns whether
   * callbacks were given a grace period (the caller then makes sure it is requested).
   * @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_accelerate
   */
  accelerate(seq: number): boolean {
    const t = this.tails;
    if (t[RCU_DONE_TAIL] === t[RCU_NEXT_TAIL]) return false;
    // The newest segment that must keep its own (earlier) grace period.
    let i = RCU_NEXT_READY_TAIL;
    for (; i > RCU_DONE_TAIL; i--) if (this.segLength(i) > 0 && this.gpSeq[i]! < seq) break;
    if (t[i] === t[RCU_NEXT_TAIL] || ++i >= RCU_NEXT_TAIL) return false;
    for (; i < RCU_NEXT_TAIL; i++) {
      t[i] = t[RCU_NEXT_TAIL]!;
      this.gpSeq[i] = seq;
    }
    return true;
  }

  /** Removes and returns the DONE callbacks, oldest first. @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_extract_done_cbs */
  extractDone(): RcuCallback[] {
    const end = this.tails[RCU_DONE_TAIL]!;
    const out = this.cbs.slice(this.head, end);
    this.head = end;
    if (this.head > 64 && this.head * 2 > this.cbs.length) {
      this.cbs = this.cbs.slice(this.head);
      for (let j = 0; j < RCU_CBLIST_NSEGS; j++) this.tails[j] = this.tails[j]! - this.head;
      this.head = 0;
    }
    return out;
  }

  /**
   * Moves all of `src`'s callbacks to the end of this list's NEXT segment (they will be
   * re-accelerated), leaving `src` empty: what a CPU going offline does with its
   * callbacks. @see kernel/rcu/rcu_segcblist.c: rcu_segcblist_merge
   */
  merge(src: RcuSegcblist): void {
    // DONE callbacks of `src` stay ready.
    const done = src.extractDone();
    const rest = src.cbs.slice(src.head);
    src.cbs = [];
    src.head = 0;
    src.tails.fill(0);
    if (done.length > 0) {
      const end = this.tails[RCU_DONE_TAIL]!;
      this.cbs.splice(end, 0, ...done);
      for (let j = 0; j < RCU_CBLIST_NSEGS; j++) this.tails[j] = this.tails[j]! + done.length;
    }
    for (const cb of rest) this.enqueue(cb);
  }
}
