/**
 * Expedited grace periods: instead of waiting for every CPU to pass a quiescent state
 * on its own, the requester resets `expmask` down the tree from `expmaskinit` (every CPU
 * ever online, brought up to date from the leaves' `expmaskinitnext` when CPUs came
 * online since the last one), counts idle and offline CPUs as quiescent at once, and
 * sends an IPI to every other online CPU; a CPU that is not in a read-side critical
 * section reports from the IPI handler, one that is reports at its next quiescent state
 * (`cpu_no_qs.b.exp`).
 *
 * Requests funnel up the tree through `exp_seq_rq`: a requester whose snapshot some
 * node already records just waits for that expedited GP. `expedited_sequence` is only
 * advanced by the holder of `exp_mutex`.
 *
 * Locking: `expmask`, `expmaskinit`, `expmaskinitnext` under each node's lock;
 * `exp_seq_rq` under the node's `exp_lock` (counted as the node lock here);
 * `expedited_sequence` and `ncpus_snap` under `exp_mutex`.
 *
 * @see kernel/rcu/tree_exp.h
 */

import type { TaskBody, TaskContext } from '@kern/core';
import { rcuSeqDone, rcuSeqEnd, rcuSeqSnap, rcuSeqStart } from './rcu.js';
import type { RcuState } from './tree.js';

function bitLo(b: number): number {
  return b < 32 ? (1 << b) >>> 0 : 0;
}
function bitHi(b: number): number {
  return b < 32 ? 0 : (1 << (b - 32)) >>> 0;
}

/** Whether the root's `expmask` is clear (`sync_rcu_exp_done`). @see kernel/rcu/tree_exp.h */
export function syncRcuExpDone(rs: RcuState): boolean {
  return rs.expmaskLo[0] === 0 && rs.expmaskHi[0] === 0;
}

/**
 * Clears `lo`/`hi` from node `n`'s `expmask` and propagates emptied nodes upwards; an
 * empty root wakes the expedited waiters.
 * @see kernel/rcu/tree_exp.h: rcu_report_exp_cpu_mult, __rcu_report_exp_rnp
 */
export function rcuReportExpCpuMult(rs: RcuState, n: number, lo: number, hi: number): void {
  if ((rs.expmaskLo[n]! & lo) === 0 && (rs.expmaskHi[n]! & hi) === 0) return;
  rs.expmaskLo[n] = rs.expmaskLo[n]! & ~lo;
  rs.expmaskHi[n] = rs.expmaskHi[n]! & ~hi;
  for (;;) {
    if ((rs.expmaskLo[n]! | rs.expmaskHi[n]!) !== 0) return;
    const p = rs.parent[n]!;
    if (p < 0) {
      rs.expWq.wakeUpAll();
      return;
    }
    const g = rs.grpnum[n]!;
    rs.lockNode(p, rs.clock.nowNs(), true);
    rs.expmaskLo[p] = rs.expmaskLo[p]! & ~bitLo(g);
    rs.expmaskHi[p] = rs.expmaskHi[p]! & ~bitHi(g);
    n = p;
  }
}

/**
 * Reports `cpu`'s expedited quiescent state (and clears any deferred one).
 * @see kernel/rcu/tree_exp.h: rcu_report_exp_rdp
 */
export function rcuReportExpRdp(rs: RcuState, cpu: number): void {
  rs.expNoQs[cpu] = 0;
  rs.expPending.delete(cpu);
  const n = rs.leafOf(cpu);
  rs.lockNode(n, rs.clock.nowNs(), true);
  const b = rs.cpuBit(cpu);
  rcuReportExpCpuMult(rs, n, bitLo(b), bitHi(b));
}

/**
 * The expedited IPI handler on `cpu`: reports at once unless the CPU is inside a
 * read-side critical section (preemption disabled), in which case the report waits
 * for its next quiescent state.
 * @see kernel/rcu/tree_exp.h: rcu_exp_handler
 */
export function rcuExpHandler(rs: RcuState, cpu: number): void {
  const n = rs.leafOf(cpu);
  const b = rs.cpuBit(cpu);
  if (!rs.expMutexHeld || ((rs.expmaskLo[n]! & bitLo(b)) | (rs.expmaskHi[n]! & bitHi(b))) === 0)
    return;
  if (rs.preemptibleNow(cpu)) {
    rcuReportExpRdp(rs, cpu);
    return;
  }
  rs.expNoQs[cpu] = 1;
  rs.expPending.add(cpu);
  rs.armTick();
}

/**
 * Brings `expmaskinit` up to date with CPUs brought online since the last expedited
 * grace period (only when `ncpus` moved): each leaf takes its `expmaskinitnext`, and a
 * leaf that had no CPU before sets its bit in its ancestors up to the first that already
 * had a child. Normal grace periods' `qsmaskinit` is no substitute: it changes only when
 * the next normal GP starts, so a CPU onlined since would be neither IPI'd nor waited for.
 * @see kernel/rcu/tree_exp.h: sync_exp_reset_tree_hotplug
 */
function syncExpResetTreeHotplug(rs: RcuState): void {
  const ncpus = rs.ncpus;
  if (ncpus === rs.ncpusSnap) return;
  rs.ncpusSnap = ncpus;
  for (let l = rs.firstLeaf; l < rs.geometry.numNodes; l++) {
    rs.lockNode(l, rs.clock.nowNs(), false);
    if (
      rs.expmaskinitLo[l] === rs.expmaskinitnextLo[l] &&
      rs.expmaskinitHi[l] === rs.expmaskinitnextHi[l]
    )
      continue;
    const oldmask = rs.expmaskinitLo[l]! | rs.expmaskinitHi[l]!;
    rs.expmaskinitLo[l] = rs.expmaskinitnextLo[l]!;
    rs.expmaskinitHi[l] = rs.expmaskinitnextHi[l]!;
    if (oldmask !== 0) continue;
    let g = rs.grpnum[l]!;
    for (let up = rs.parent[l]!; up >= 0; up = rs.parent[up]!) {
      rs.lockNode(up, rs.clock.nowNs(), false);
      const done = (rs.expmaskinitLo[up]! | rs.expmaskinitHi[up]!) !== 0;
      rs.expmaskinitLo[up] = rs.expmaskinitLo[up]! | bitLo(g);
      rs.expmaskinitHi[up] = rs.expmaskinitHi[up]! | bitHi(g);
      if (done) break;
      g = rs.grpnum[up]!;
    }
  }
}

/**
 * Resets `expmask` to `expmaskinit` in every node, after taking in hotplug.
 * @see kernel/rcu/tree_exp.h: sync_exp_reset_tree
 */
function syncExpResetTree(rs: RcuState): void {
  syncExpResetTreeHotplug(rs);
  for (let n = 0; n < rs.geometry.numNodes; n++) {
    rs.lockNode(n, rs.clock.nowNs(), false);
    rs.expmaskLo[n] = rs.expmaskinitLo[n]!;
    rs.expmaskHi[n] = rs.expmaskinitHi[n]!;
  }
}

/**
 * For each leaf: the requesting CPU and idle or offline (not in `qsmaskinitnext`) CPUs
 * are quiescent already; every other CPU gets an IPI.
 * @see kernel/rcu/tree_exp.h: sync_rcu_exp_select_cpus, sync_rcu_exp_select_node_cpus
 */
function syncRcuExpSelectCpus(rs: RcuState, self: number): void {
  for (let l = rs.firstLeaf; l < rs.geometry.numNodes; l++) {
    const elo = rs.expmaskLo[l]!;
    const ehi = rs.expmaskHi[l]!;
    if ((elo | ehi) === 0) continue;
    rs.lockNode(l, rs.clock.nowNs(), false);
    let ofLo = 0;
    let ofHi = 0;
    const ipi: number[] = [];
    const base = rs.grplo[l]!;
    for (let b = 0; b < 64; b++) {
      if (((b < 32 ? elo & bitLo(b) : ehi & bitHi(b)) | 0) === 0) continue;
      const cpu = base + b;
      if (cpu === self || !rs.cpuOnline(cpu) || rs.cpuInEqs(cpu)) {
        ofLo |= bitLo(b);
        ofHi |= bitHi(b);
      } else ipi.push(cpu);
    }
    rcuReportExpCpuMult(rs, l, ofLo >>> 0, ofHi >>> 0);
    for (const cpu of ipi) {
      rs.nExpIpis++;
      // rs.expIpi counts the IPI as an idle wakeup if it finds the CPU idle.
      if (rs.sched) rs.clock.addTimer(0, () => rs.expIpi(cpu));
      else rs.expIpi(cpu);
    }
  }
}

/**
 * Waits (in task context) for an expedited grace period, driving one if no other
 * requester already does for this snapshot.
 * @see kernel/rcu/tree_exp.h: synchronize_rcu_expedited, exp_funnel_lock,
 *   rcu_exp_wait_wake
 */
export function* synchronizeRcuExpedited(rs: RcuState, ctx: TaskContext): TaskBody<void> {
  const s = rcuSeqSnap(rs.expSeq);
  const done = (): boolean => rcuSeqDone(rs.expSeq, s);
  for (let n = rs.leafOf(ctx.cpu); n >= 0; n = rs.parent[n]!) {
    rs.lockNode(n, rs.clock.nowNs(), false);
    if (rs.expSeqRq[n]! >= s) {
      yield ctx.waitFor(done, rs.expWq);
      return;
    }
    rs.expSeqRq[n] = s;
  }
  yield ctx.waitFor(() => !rs.expMutexHeld || done(), rs.expWq);
  if (done()) return;
  rs.expMutexHeld = true;
  rs.expSeq = rcuSeqStart(rs.expSeq);
  syncExpResetTree(rs);
  syncRcuExpSelectCpus(rs, ctx.cpu);
  rs.armTick();
  yield ctx.waitFor(() => syncRcuExpDone(rs), rs.expWq);
  rs.expSeq = rcuSeqEnd(rs.expSeq);
  rs.completedExpGps++;
  rs.expMutexHeld = false;
  rs.expWq.wakeUpAll();
}
