/**
 * Grace-period sequence numbers shared by Tree RCU, its expedited path and the
 * classic baseline: a counter whose low {@link RCU_SEQ_CTR_SHIFT} bits hold the phase
 * (0 idle, 1 in progress) and whose upper bits count grace periods.
 *
 * Sequence numbers are JS numbers (safe to 2^53), so the `ULONG_CMP_*` wrap-around
 * comparisons of Linux become plain `<` and `>=`.
 *
 * @see kernel/rcu/rcu.h
 */

/** Bits of a sequence number that hold the phase. @see kernel/rcu/rcu.h: RCU_SEQ_CTR_SHIFT */
export const RCU_SEQ_CTR_SHIFT = 2;
/** Mask of the phase bits. @see kernel/rcu/rcu.h: RCU_SEQ_STATE_MASK */
export const RCU_SEQ_STATE_MASK = (1 << RCU_SEQ_CTR_SHIFT) - 1;

/** Grace-period count of `s`. @see kernel/rcu/rcu.h: rcu_seq_ctr */
export function rcuSeqCtr(s: number): number {
  return Math.floor(s / (RCU_SEQ_STATE_MASK + 1));
}

/** Phase of `s` (0: idle, nonzero: a grace period is in progress). @see kernel/rcu/rcu.h: rcu_seq_state */
export function rcuSeqState(s: number): number {
  return s % (RCU_SEQ_STATE_MASK + 1);
}

/** `s` with the phase bits cleared. */
function seqFloor(s: number): number {
  return s - rcuSeqState(s);
}

/** Value of a sequence after a grace period starts. @see kernel/rcu/rcu.h: rcu_seq_start */
export function rcuSeqStart(s: number): number {
  return s + 1;
}

/** Value of a sequence after its grace period ends. @see kernel/rcu/rcu.h: rcu_seq_end */
export function rcuSeqEnd(s: number): number {
  return seqFloor(s) + RCU_SEQ_STATE_MASK + 1;
}

/**
 * The value the sequence will have once a full grace period has elapsed after now
 * (the one in progress, if any, does not count). @see kernel/rcu/rcu.h: rcu_seq_snap
 */
export function rcuSeqSnap(s: number): number {
  return seqFloor(s + 2 * RCU_SEQ_STATE_MASK + 1);
}

/** Whether the sequence `cur` has reached the snapshot `snap`. @see kernel/rcu/rcu.h: rcu_seq_done */
export function rcuSeqDone(cur: number, snap: number): boolean {
  return cur >= snap;
}

/**
 * Whether the grace period that `snap` waits for has already started.
 * @see kernel/rcu/rcu.h: rcu_seq_started
 */
export function rcuSeqStarted(cur: number, snap: number): boolean {
  return seqFloor(snap - 1) < cur;
}

/** Whether a grace period ended between `old` and `cur`. @see kernel/rcu/rcu.h: rcu_seq_completed_gp */
export function rcuSeqCompletedGp(old: number, cur: number): boolean {
  return old < seqFloor(cur);
}

/** Whether a grace period started between `old` and `cur`. @see kernel/rcu/rcu.h: rcu_seq_new_gp */
export function rcuSeqNewGp(old: number, cur: number): boolean {
  return seqFloor(old + RCU_SEQ_STATE_MASK) < cur;
}
