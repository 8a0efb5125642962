/**
 * Simulated Tree RCU: `rcu_state`, the breadth-first `rcu_node` array, per-CPU
 * `rcu_data`, the grace-period kthread and quiescent-state reporting up the tree.
 *
 * All state is in typed arrays: `rcu_node` fields are parallel arrays indexed by node
 * number (64-bit masks as lo/hi `Uint32Array` pairs, so bit operations stay on small
 * integers instead of allocating BigInts), per-CPU `rcu_data` fields are arrays of
 * length `nrCpus`. Only CPUs that have callbacks get a JS object (their segmented
 * callback list, in a Map). 4,194,304 CPUs cost about 150 MB.
 *
 * Two drivers run the same algorithm:
 *
 * - the deterministic scheduler of `@kern/core` (pass `sched`): the grace-period
 *   kthread is a task, context switches and idle entry are hooks, a per-jiffy tick
 *   (only while RCU needs one) runs `rcu_sched_clock_irq`, and RCU softirq work runs in
 *   zero-delay timers between steps;
 * - a bulk event driver for millions of CPUs (`sim-bulk.ts`), which calls the same
 *   `rcuGpInit`, `rcuGpFqs`, `rcuCore`, `rcuGpCleanup` in virtual-time order.
 *
 * Simulated locks. Every `rcu_node` lock acquisition is counted. Since steps never
 * overlap, a lock is never really held across a step; contention is modelled in virtual
 * time instead: each acquisition holds the lock for `lockHoldNs`, acquisitions are
 * granted FIFO, so one arriving at `t` while the lock is busy until `freeAt` waits
 * behind `ceil((freeAt - t) / lockHoldNs)` holders. When k CPUs arrive at the same
 * instant, the k-th waits behind k - 1. A report that climbs the tree takes the parent
 * lock when it releases the child's, so contention propagates upwards in time. The
 * grace-period kthread is one actor: its init and cleanup passes take each node's lock
 * at the current time (with the scheduler they yield between nodes, so they do take
 * virtual time), and an FQS scan takes the leaves one after another.
 *
 * @see kernel/rcu/tree.c, kernel/rcu/tree.h
 */

import { KernelError, createCompletion, createWaitQueue } from '@kern/core';
import type {
  Printk,
  Scheduler,
  TaskBody,
  TaskContext,
  Timer,
  VirtualClock,
  WaitQueue,
} from '@kern/core';
import {
  rcuSeqCompletedGp,
  rcuSeqCtr,
  rcuSeqEnd,
  rcuSeqNewGp,
  rcuSeqSnap,
  rcuSeqStart,
  rcuSeqStarted,
  rcuSeqState,
} from './rcu.js';
import { describeValue } from './describe.js';
import { RcuArena } from './rcu-arena.js';
import { RcuSegcblist } from './rcu-segcblist.js';
import type { RcuCallback } from './rcu-segcblist.js';
import {
  rcuExpHandler,
  rcuReportExpRdp,
  synchronizeRcuExpedited as expSynchronize,
} from './tree-exp.js';
import { checkCpuStall, recordGpStallCheckTime } from './tree-stall.js';

// ---- geometry ----------------------------------------------------------------------

/** Most levels an `rcu_node` tree may have. @see kernel/rcu/tree.h: RCU_NUM_LVLS (MAX) */
export const RCU_MAX_LVLS = 4;
/** Default interior fanout (`CONFIG_RCU_FANOUT` on 64-bit). @see include/linux/rcu_node_tree.h: RCU_FANOUT */
export const RCU_FANOUT = 64;
/** Default leaf fanout (`CONFIG_RCU_FANOUT_LEAF`). @see include/linux/rcu_node_tree.h: RCU_FANOUT_LEAF */
export const RCU_FANOUT_LEAF = 16;

/**
 * Shape of an `rcu_node` tree, as `rcu_init_geometry` and `rcu_init_levelspread`
 * compute it. Level 0 is the root; nodes are numbered breadth-first.
 * @see kernel/rcu/tree.c: rcu_init_geometry, rcu_init_levelspread
 */
export interface RcuGeometry {
  /** CPUs covered (`nr_cpu_ids`). */
  readonly nrCpus: number;
  /** Interior fanout limit (`RCU_FANOUT`). */
  readonly fanout: number;
  /** Leaf fanout limit (`rcu_fanout_leaf`). */
  readonly fanoutLeaf: number;
  /** Levels (`rcu_num_lvls`). */
  readonly numLvls: number;
  /** Nodes per level (`num_rcu_lvl[]`). */
  readonly levelCnt: readonly number[];
  /** Children per node at each level; CPUs per leaf at the last (`levelspread[]`). */
  readonly levelSpread: readonly number[];
  /** Index of each level's first node (`rcu_state.level[]`). */
  readonly levelOffset: readonly number[];
  /** Total nodes (`rcu_num_nodes`). */
  readonly numNodes: number;
  /** Most CPUs each depth can cover (`rcu_capacity[]`). */
  readonly capacity: readonly number[];
}

/**
 * Computes the tree for `nrCpus` CPUs. By default each level's spread is balanced
 * (`rcu_fanout_exact=0`); with `exact`, every interior node takes `fanout` children
 * and every leaf `fanoutLeaf` CPUs.
 *
 * @throws KernelError EINVAL if `fanout` or `fanoutLeaf` is not an integer 2..64, or
 *   `nrCpus` is not a positive integer the tree can cover in 4 levels
 *   (fanoutLeaf × fanout³; 4,194,304 with the defaults).
 * @see kernel/rcu/tree.c: rcu_init_geometry, rcu_init_levelspread
 */
export function rcuInitGeometry(
  nrCpus: number,
  fanout = RCU_FANOUT,
  fanoutLeaf = RCU_FANOUT_LEAF,
  exact = false,
): RcuGeometry {
  for (const [what, v] of [
    ['fanout', fanout],
    ['fanout_leaf', fanoutLeaf],
  ] as const)
    if (!Number.isInteger(v) || v < 2 || v > 64)
      throw new KernelError(
        'EINVAL',
        `rcu ${what} ${describeValue(v)} is not an integer from 2 to 64`,
      );
  const capacity = [fanoutLeaf];
  for (let i = 1; i < RCU_MAX_LVLS; i++) capacity.push(capacity[i - 1]! * fanout);
  if (!Number.isSafeInteger(nrCpus) || nrCpus < 1 || nrCpus > capacity[RCU_MAX_LVLS - 1]!)
    throw new KernelError(
      'EINVAL',
      `rcu: nr_cpu_ids ${describeValue(nrCpus)} is not 1..${capacity[RCU_MAX_LVLS - 1]} (fanout ${fanout}, leaf ${fanoutLeaf})`,
    );
  let i = 0;
  while (nrCpus > capacity[i]!) i++;
  const numLvls = i + 1;
  const levelCnt: number[] = [];
  for (let l = 0; l < numLvls; l++) levelCnt.push(Math.ceil(nrCpus / capacity[numLvls - 1 - l]!));
  const levelSpread = new Array<number>(numLvls).fill(0);
  if (exact) {
    levelSpread[numLvls - 1] = fanoutLeaf;
    for (let l = numLvls - 2; l >= 0; l--) levelSpread[l] = fanout;
  } else {
    let cprv = nrCpus;
    for (let l = numLvls - 1; l >= 0; l--) {
      const ccur = levelCnt[l]!;
      levelSpread[l] = Math.ceil(cprv / ccur);
      cprv = ccur;
    }
  }
  const levelOffset = [0];
  for (let l = 1; l < numLvls; l++) levelOffset.push(levelOffset[l - 1]! + levelCnt[l - 1]!);
  const numNodes = levelCnt.reduce((a, b) => a + b, 0);
  return {
    nrCpus,
    fanout,
    fanoutLeaf,
    numLvls,
    levelCnt,
    levelSpread,
    levelOffset,
    numNodes,
    capacity,
  };
}

// ---- grace-period kthread states and flags ------------------------------------------

/**
 * States of the grace-period kthread (`rcu_state.gp_state`):
 *
 * - `RCU_GP_IDLE` (0): no grace period in progress and none being started.
 * - `RCU_GP_WAIT_GPS` (1): sleeping until someone requests a grace period.
 * - `RCU_GP_DONE_GPS` (2): woken by a request, about to initialise.
 * - `RCU_GP_ONOFF` (3): applying buffered CPU online/offline to the leaves' `qsmaskinit`.
 * - `RCU_GP_INIT` (4): copying `qsmaskinit` to `qsmask` down the tree, breadth first.
 * - `RCU_GP_WAIT_FQS` (5): sleeping until all quiescent states are in or the next
 *   force-quiescent-state scan is due.
 * - `RCU_GP_DOING_FQS` (6): scanning the leaves for dyntick-idle and offline CPUs.
 * - `RCU_GP_CLEANUP` (7): marking the grace period ended in every node.
 * - `RCU_GP_CLEANED` (8): cleanup done, about to go back to waiting for requests.
 *
 * @see kernel/rcu/tree.h: RCU_GP_IDLE ... RCU_GP_CLEANED, gp_state_names
 */
export const RCU_GP_STATES = [
  'RCU_GP_IDLE',
  'RCU_GP_WAIT_GPS',
  'RCU_GP_DONE_GPS',
  'RCU_GP_ONOFF',
  'RCU_GP_INIT',
  'RCU_GP_WAIT_FQS',
  'RCU_GP_DOING_FQS',
  'RCU_GP_CLEANUP',
  'RCU_GP_CLEANED',
] as const;
/** A grace-period kthread state name; see {@link RCU_GP_STATES}. */
export type RcuGpState = (typeof RCU_GP_STATES)[number];

/** `gp_flags`: a new grace period is needed. @see kernel/rcu/tree.h: RCU_GP_FLAG_INIT */
export const RCU_GP_FLAG_INIT = 0x1;
/** `gp_flags`: a force-quiescent-state scan (or wakeup on completion) is wanted. @see kernel/rcu/tree.h: RCU_GP_FLAG_FQS */
export const RCU_GP_FLAG_FQS = 0x2;

/** `RCU_JIFFIES_TILL_FORCE_QS` for HZ=1000. @see kernel/rcu/tree.h */
const RCU_JIFFIES_TILL_FORCE_QS = 3;
/** CPUs per extra jiffy between FQS scans. @see kernel/rcu/tree.h: RCU_JIFFIES_FQS_DIV */
const RCU_JIFFIES_FQS_DIV = 256;
/** Default stall timeout in seconds. @see kernel/rcu/Kconfig.debug: RCU_CPU_STALL_TIMEOUT */
export const RCU_CPU_STALL_TIMEOUT = 21;

// ---- options, snapshots, stats -------------------------------------------------------

/** How to make an {@link RcuState}. */
export interface RcuStateOptions {
  /** Number of CPUs (`nr_cpu_ids`), 1..4,194,304 with the default fanouts. */
  nrCpus: number;
  /** Interior fanout (default 64). */
  fanout?: number;
  /** Leaf fanout (default 16). */
  fanoutLeaf?: number;
  /** Fill nodes to the fanout instead of balancing (`rcu_fanout_exact`, default false). */
  fanoutExact?: boolean;
  /** Virtual time. With `sched`, must be the scheduler's clock. */
  clock: VirtualClock;
  /**
   * The deterministic scheduler to run on: RCU hooks its context switches and idle
   * transitions and spawns the grace-period kthread. Without it, a bulk driver calls
   * the grace-period steps itself.
   */
  sched?: Scheduler;
  /** Where stall warnings go; without it they are kept in {@link RcuState.stallLog} only. */
  printk?: Printk;
  /** Flavour name in messages (`rcu_state.name`, default `rcu_sched`). */
  name?: string;
  /** Jiffies before the first FQS scan: an integer >= 0 (default 3 + nrCpus / 256). */
  jiffiesTillFirstFqs?: number;
  /** Jiffies between later FQS scans: an integer >= 0, 0 acting as 1 (default as first). */
  jiffiesTillNextFqs?: number;
  /** Stall timeout in jiffies: an integer >= 1 (default 21 s). */
  stallTimeoutJiffies?: number;
  /** Virtual ns one `rcu_node` lock acquisition holds the lock: finite, >= 0 (default 100). */
  lockHoldNs?: number;
  /**
   * Bytes to keep the node and per-CPU arrays in (8-byte aligned; see `rcuArenaBytes`):
   * for instance a region of `@kern/mm` physical memory reserved at boot, so a crash dump
   * holds RCU's state. Default: ordinary ArrayBuffers.
   */
  arena?: Uint8Array;
}

/**
 * Rejects numeric options an {@link RcuState} cannot run with (NaN, infinities,
 * negative or fractional jiffies), naming the option and its value.
 * @throws KernelError EINVAL.
 */
function checkRcuOptions(opts: RcuStateOptions): void {
  const jiffies = [
    ['jiffiesTillFirstFqs', opts.jiffiesTillFirstFqs, 0],
    ['jiffiesTillNextFqs', opts.jiffiesTillNextFqs, 0],
    ['stallTimeoutJiffies', opts.stallTimeoutJiffies, 1],
  ] as const;
  for (const [what, v, min] of jiffies)
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min))
      throw new KernelError(
        'EINVAL',
        `rcu: ${what} ${describeValue(v)} is not an integer >= ${min}`,
      );
  const h = opts.lockHoldNs;
  if (h !== undefined && (!Number.isFinite(h) || h < 0))
    throw new KernelError(
      'EINVAL',
      `rcu: lockHoldNs ${describeValue(h)} is not a finite number >= 0`,
    );
}

/** One `rcu_node`, as read back by {@link RcuState.node} (masks as BigInt). */
export interface RcuNodeInfo {
  /** Index in the breadth-first array. */
  readonly index: number;
  /** Level (0 = root). */
  readonly level: number;
  /** Lowest CPU covered. */
  readonly grplo: number;
  /** Highest CPU covered. */
  readonly grphi: number;
  /** Bit index in the parent's masks. */
  readonly grpnum: number;
  /** Bit in the parent's masks (0 for the root). */
  readonly grpmask: bigint;
  /** Parent index, -1 for the root. */
  readonly parent: number;
  /** Children (or CPUs) still owing a quiescent state for this grace period. */
  readonly qsmask: bigint;
  /** Children (or CPUs) to wait for in each grace period. */
  readonly qsmaskinit: bigint;
  /** Online CPUs, applied to `qsmaskinit` at the next grace-period start (leaves). */
  readonly qsmaskinitnext: bigint;
  /** Children (or CPUs) the current expedited grace period still waits for. */
  readonly expmask: bigint;
  /** Children (or CPUs) each expedited grace period starts from (`expmask` is reset to it). */
  readonly expmaskinit: bigint;
  /** CPUs ever online (leaves), applied to `expmaskinit` at the next expedited GP. */
  readonly expmaskinitnext: bigint;
  /** Last grace period this node has seen start or end. */
  readonly gpSeq: number;
  /** Furthest grace period requested through this node. */
  readonly gpSeqNeeded: number;
  /** Lock acquisitions since the last {@link RcuState.resetLockStats}. */
  readonly lockAcquisitions: number;
  /** Of these, on the quiescent-state reporting path. */
  readonly lockQsAcquisitions: number;
  /** Acquisitions that had to wait. */
  readonly lockContended: number;
  /** Most CPUs waiting for the lock at once. */
  readonly lockMaxWaiters: number;
}

/** Lock figures over all nodes, from {@link RcuState.lockStats}. */
export interface RcuLockStats {
  /** Node with the most acquisitions. */
  readonly hottestNode: number;
  /** Its acquisitions. */
  readonly hottestAcquisitions: number;
  /** Most quiescent-state-path acquisitions of any one node. */
  readonly hottestQsAcquisitions: number;
  /** Most waiters seen on any one lock. */
  readonly maxWaiters: number;
  /** Acquisitions that waited, all nodes. */
  readonly contended: number;
  /** Acquisitions, all nodes. */
  readonly total: number;
}

/** Mask of bit `b` (0..63) as [lo, hi]. */
function bitLo(b: number): number {
  return b < 32 ? (1 << b) >>> 0 : 0;
}
function bitHi(b: number): number {
  return b < 32 ? 0 : (1 << (b - 32)) >>> 0;
}
function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Iterates set bits of a 32-bit word, calling `fn(bitIndex + base)`. */
function forEachBit(word: number, base: number, fn: (b: number) => void): void {
  let w = word >>> 0;
  while (w !== 0) {
    const low = w & -w;
    fn(31 - Math.clz32(low) + base);
    w = (w ^ low) >>> 0;
  }
}

/**
 * Tree RCU over simulated CPUs (`struct rcu_state` with its `rcu_node` and `rcu_data`).
 * Fields are public for `tree-exp.ts`, `tree-stall.ts` and the drivers, as `rcu_state`
 * is visible to all of `kernel/rcu/`; callers outside the package use the methods.
 *
 * Locking (Linux's; in the simulation each step is atomic and the locks are counted):
 * - `rcu_node` fields `qsmask`, `qsmaskinit`, `qsmaskinitnext`, `expmask`,
 *   `expmaskinit`, `expmaskinitnext`, `gpSeq`, `gpSeqNeeded`, `completedqs`, `expSeqRq`:
 *   that node's lock (`rnp->lock`).
 * - `grplo`, `grphi`, `grpnum`, `parent`, `level`: set at boot, read-only.
 * - `rcu_data` (per-CPU arrays and the callback list): the owning CPU; `gpSeq` and
 *   `gpSeqNeeded` are written under the leaf's lock; `dynticks` is an atomic counter
 *   written only by its CPU (`ct->state`), read by FQS scans.
 * - `gpSeq` (of `rcu_state`), `gpFlags`: root `rcu_node` lock; `gpState`,
 *   `jiffiesForceQs`, `nForceQs`: the GP kthread only.
 * - `expSeq`: the expedited mutex (`exp_mutex`).
 *
 * @see kernel/rcu/tree.h (struct rcu_state, struct rcu_node, struct rcu_data)
 */
export class RcuState {
  /** Tree shape. */
  readonly geometry: RcuGeometry;
  /** Where the node and per-CPU arrays live, with each array's offset (`arena.layout`). */
  readonly arena: RcuArena;
  /** Number of CPUs. */
  readonly nrCpus: number;
  /** Flavour name (`rcu_sched`). */
  readonly name: string;
  /** Virtual time. */
  readonly clock: VirtualClock;
  /** Scheduler driver, if any. */
  readonly sched: Scheduler | undefined;
  /** Stall-warning sink. */
  readonly printk: Printk | undefined;
  /** Nanoseconds per jiffy. */
  readonly nsPerJiffy: number;
  /** See {@link RcuStateOptions.jiffiesTillFirstFqs}. */
  jiffiesTillFirstFqs: number;
  /** See {@link RcuStateOptions.jiffiesTillNextFqs}. */
  jiffiesTillNextFqs: number;
  /** Stall timeout in jiffies (`rcu_cpu_stall_timeout * HZ`). */
  stallTimeoutJiffies: number;
  /** See {@link RcuStateOptions.lockHoldNs}. */
  readonly lockHoldNs: number;

  // ---- rcu_node, parallel arrays indexed by node number ---------------------------
  /** Index of the first leaf (`rcu_first_leaf_node`). Read-only. */
  readonly firstLeaf: number;
  /** CPUs per leaf (`levelspread` of the leaf level). Read-only. */
  readonly leafSpread: number;
  /** `->qsmask` low/high words. Guarded by: the node's lock. */
  readonly qsmaskLo: Uint32Array;
  readonly qsmaskHi: Uint32Array;
  /** `->qsmaskinit`. Guarded by: the node's lock. */
  readonly qsmaskinitLo: Uint32Array;
  readonly qsmaskinitHi: Uint32Array;
  /** `->qsmaskinitnext` (leaves). Guarded by: the node's lock (and `ofl_lock`). */
  readonly qsmaskinitnextLo: Uint32Array;
  readonly qsmaskinitnextHi: Uint32Array;
  /** `->expmask`. Guarded by: the node's lock. */
  readonly expmaskLo: Uint32Array;
  readonly expmaskHi: Uint32Array;
  /**
   * `->expmaskinit`: what `expmask` is reset to at each expedited GP start. Leaves take
   * it from `expmaskinitnext`; a leaf's first CPU sets its bit up the tree. Never cleared:
   * offline CPUs are excluded when the expedited GP selects CPUs. Guarded by: the node's lock.
   */
  readonly expmaskinitLo: Uint32Array;
  readonly expmaskinitHi: Uint32Array;
  /**
   * `->expmaskinitnext` (leaves): every CPU that has ever been online. Set by
   * {@link RcuState.onlineCpu}, never cleared. Guarded by: the node's lock.
   */
  readonly expmaskinitnextLo: Uint32Array;
  readonly expmaskinitnextHi: Uint32Array;
  /** `->grplo`, `->grphi`. Read-only after init. */
  readonly grplo: Int32Array;
  readonly grphi: Int32Array;
  /** `->grpnum` (bit in parent masks; `grpmask = 1 << grpnum`). Read-only. */
  readonly grpnum: Uint8Array;
  /** `->parent` index, -1 at the root. Read-only. */
  readonly parent: Int32Array;
  /** `->level`. Read-only. */
  readonly level: Uint8Array;
  /** `->gp_seq`. Guarded by: the node's lock. */
  readonly nodeGpSeq: Float64Array;
  /** `->gp_seq_needed`. Guarded by: the node's lock. */
  readonly nodeGpSeqNeeded: Float64Array;
  /** `->completedqs`. Guarded by: the node's lock. */
  readonly completedqs: Float64Array;
  /** `->exp_seq_rq`. Guarded by: the node's `exp_lock`. */
  readonly expSeqRq: Float64Array;
  /** Lock statistics: acquisitions, QS-path acquisitions, contended, max waiters, free time. */
  readonly lockAcq: Float64Array;
  readonly lockQsAcq: Float64Array;
  readonly lockContended: Float64Array;
  readonly lockMaxWaiters: Uint32Array;
  readonly lockFreeAt: Float64Array;

  // ---- rcu_data, per-CPU arrays ----------------------------------------------------
  /** `rdp->gp_seq`: the grace period this CPU knows about. Guarded by: CPU + leaf lock. */
  readonly cpuGpSeq: Float64Array;
  /** `rdp->gp_seq_needed`. Guarded by: CPU + leaf lock. */
  readonly cpuGpSeqNeeded: Float64Array;
  /** `rdp->cpu_no_qs.b.norm`: 1 until this CPU passes a quiescent state in the GP. Guarded by: the CPU. */
  readonly cpuNoQs: Uint8Array;
  /** `rdp->core_needs_qs`: the GP still needs this CPU's report. Guarded by: the CPU. */
  readonly coreNeedsQs: Uint8Array;
  /** `rdp->cpu_no_qs.b.exp`: an expedited QS is owed at the next quiescent state. Guarded by: the CPU. */
  readonly expNoQs: Uint8Array;
  /** Dyntick counter (`ct->state` / `rcu_dynticks`): even = idle (extended QS). Atomic, written by its CPU. */
  readonly dynticks: Uint32Array;
  /** `rdp->dynticks_snap`, taken by the first FQS scan. Guarded by: the leaf lock (FQS). */
  readonly dynticksSnap: Uint32Array;
  /** `rdp->ticks_this_gp`. Guarded by: the CPU. */
  readonly ticksThisGp: Uint32Array;
  /** RCU softirqs run on the CPU (`kstat_softirqs_cpu(RCU_SOFTIRQ)`). Guarded by: the CPU. */
  readonly softirqCount: Uint32Array;
  /** `rdp->softirq_snap`, taken when the CPU notices a new GP. Guarded by: the CPU. */
  readonly softirqSnap: Uint32Array;
  /** Segmented callback lists of CPUs that have callbacks. Guarded by: the CPU. */
  readonly cblists = new Map<number, RcuSegcblist>();

  // ---- rcu_state -------------------------------------------------------------------
  /** `rcu_state.gp_seq`. Guarded by: root lock. */
  gpSeq = 0;
  /** `rcu_state.gp_flags`. Guarded by: root lock. */
  gpFlags = 0;
  /** `rcu_state.gp_state` (index into {@link RCU_GP_STATES}). Guarded by: GP kthread. */
  gpState = 0;
  /** `rcu_state.gp_start` in jiffies. */
  gpStart = 0;
  /** `rcu_state.jiffies_stall`. */
  jiffiesStall = 0;
  /** `rcu_state.jiffies_force_qs`. */
  jiffiesForceQs = 0;
  /** `rcu_state.n_force_qs`. */
  nForceQs = 0;
  /** `rcu_state.n_force_qs_gpstart`. */
  nForceQsGpstart = 0;
  /** `rcu_state.n_online_cpus`. */
  nOnlineCpus = 0;
  /** `rcu_state.ncpus`: CPUs ever brought online (bits in some leaf's `expmaskinitnext`). */
  ncpus = 0;
  /** `rcu_state.ncpus_snap`: `ncpus` when `expmaskinit` last took in `expmaskinitnext`. Guarded by: `exp_mutex`. */
  ncpusSnap = 0;
  /** `rcu_state.expedited_sequence`. Guarded by: `exp_mutex`. */
  expSeq = 0;
  /** Whether an expedited GP is being driven (`exp_mutex` held). */
  expMutexHeld = false;
  /** Waiters on expedited GPs (`exp_wq`, `expedited_wq`). */
  readonly expWq: WaitQueue;
  /** Wait queue of the GP kthread (`gp_wq`). */
  readonly gpWq: WaitQueue;
  /** CPUs with a deferred expedited QS (`cpu_no_qs.b.exp` set). */
  readonly expPending = new Set<number>();

  // ---- counters --------------------------------------------------------------------
  /** Grace periods completed. */
  completedGps = 0;
  /** Expedited grace periods completed. */
  completedExpGps = 0;
  /** Callbacks invoked (`n_cbs_invoked` summed). */
  nCbsInvoked = 0;
  /** Expedited IPIs sent. */
  nExpIpis = 0;
  /**
   * Times RCU woke a dyntick-idle CPU: an expedited IPI delivered to it, or a
   * scheduling-clock tick delivered to it because RCU needs one there (it has callbacks).
   * Counted where the IPI or tick is delivered, whatever decided to send it.
   */
  idleWakeups = 0;
  /** Quiescent states reported on behalf of dyntick-idle or offline CPUs by FQS. */
  nFqsReports = 0;
  /** Stall warnings printed. */
  nStallWarnings = 0;
  /** Lines of every stall warning, as printed. */
  readonly stallLog: string[] = [];
  /** Virtual time the root's `qsmask` last became 0 (end of the waiting phase). */
  lastGpQsDoneNs = 0;

  private readonly softirqPending: Uint8Array;
  private tickTimer: Timer | null = null;
  private stopping = false;
  private gpKthreadCpu = 0;
  private readonly unhook: (() => void)[] = [];

  /**
   * Builds the tree and per-CPU state with every CPU online (the scheduler's online
   * mask when `sched` is given) and, with `sched`, hooks it and spawns the grace-period
   * kthread `rcu_sched`.
   * @throws KernelError EINVAL as {@link rcuInitGeometry}, if `sched` has a different
   *   CPU count or clock, or if a numeric option is out of range (`jiffiesTillFirstFqs`,
   *   `jiffiesTillNextFqs` integers >= 0, `stallTimeoutJiffies` an integer >= 1,
   *   `lockHoldNs` finite and >= 0), or if `clock` is missing or not a VirtualClock; the
   *   message names the option and its value with its type.
   * @see kernel/rcu/tree.c: rcu_init, rcu_init_one, rcu_spawn_gp_kthread
   */
  constructor(opts: RcuStateOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new KernelError(
        'EINVAL',
        `rcu: createRcuState options must be an object ({ nrCpus, clock, ... }), got ${describeValue(opts)}`,
      );
    const clock = opts.clock as Partial<VirtualClock> | undefined;
    if (typeof clock?.nowNs !== 'function' || !(typeof clock.hz === 'number' && clock.hz > 0))
      throw new KernelError(
        'EINVAL',
        `rcu: clock must be a VirtualClock (createVirtualClock() from @kern/core), got ${describeValue(opts.clock)}`,
      );
    const g = rcuInitGeometry(
      opts.nrCpus,
      opts.fanout ?? RCU_FANOUT,
      opts.fanoutLeaf ?? RCU_FANOUT_LEAF,
      opts.fanoutExact ?? false,
    );
    if (opts.sched && (opts.sched.nrCpus !== opts.nrCpus || opts.sched.clock !== opts.clock))
      throw new KernelError(
        'EINVAL',
        `rcu: scheduler has ${opts.sched.nrCpus} CPUs and its own clock; rcu_state wants ${opts.nrCpus} on the same clock`,
      );
    this.geometry = g;
    this.nrCpus = g.nrCpus;
    this.name = opts.name ?? 'rcu_sched';
    this.clock = opts.clock;
    this.sched = opts.sched;
    this.printk = opts.printk;
    this.nsPerJiffy = 1e9 / opts.clock.hz;
    checkRcuOptions(opts);
    const d = RCU_JIFFIES_TILL_FORCE_QS + Math.floor(g.nrCpus / RCU_JIFFIES_FQS_DIV);
    this.jiffiesTillFirstFqs = opts.jiffiesTillFirstFqs ?? d;
    this.jiffiesTillNextFqs = opts.jiffiesTillNextFqs ?? d;
    this.stallTimeoutJiffies = opts.stallTimeoutJiffies ?? RCU_CPU_STALL_TIMEOUT * opts.clock.hz;
    this.lockHoldNs = opts.lockHoldNs ?? 100;

    const m = g.numNodes;
    const arena = new RcuArena(opts.arena ?? null);
    this.arena = arena;
    this.qsmaskLo = arena.array(Uint32Array, m, 'qsmaskLo');
    this.qsmaskHi = arena.array(Uint32Array, m, 'qsmaskHi');
    this.qsmaskinitLo = arena.array(Uint32Array, m, 'qsmaskinitLo');
    this.qsmaskinitHi = arena.array(Uint32Array, m, 'qsmaskinitHi');
    this.qsmaskinitnextLo = arena.array(Uint32Array, m, 'qsmaskinitnextLo');
    this.qsmaskinitnextHi = arena.array(Uint32Array, m, 'qsmaskinitnextHi');
    this.expmaskLo = arena.array(Uint32Array, m, 'expmaskLo');
    this.expmaskHi = arena.array(Uint32Array, m, 'expmaskHi');
    this.expmaskinitLo = arena.array(Uint32Array, m, 'expmaskinitLo');
    this.expmaskinitHi = arena.array(Uint32Array, m, 'expmaskinitHi');
    this.expmaskinitnextLo = arena.array(Uint32Array, m, 'expmaskinitnextLo');
    this.expmaskinitnextHi = arena.array(Uint32Array, m, 'expmaskinitnextHi');
    this.grplo = arena.array(Int32Array, m, 'grplo');
    this.grphi = arena.array(Int32Array, m, 'grphi');
    this.grpnum = arena.array(Uint8Array, m, 'grpnum');
    this.parent = arena.array(Int32Array, m, 'parent');
    this.level = arena.array(Uint8Array, m, 'level');
    this.nodeGpSeq = arena.array(Float64Array, m, 'nodeGpSeq');
    this.nodeGpSeqNeeded = arena.array(Float64Array, m, 'nodeGpSeqNeeded');
    this.completedqs = arena.array(Float64Array, m, 'completedqs');
    this.expSeqRq = arena.array(Float64Array, m, 'expSeqRq');
    this.lockAcq = arena.array(Float64Array, m, 'lockAcq');
    this.lockQsAcq = arena.array(Float64Array, m, 'lockQsAcq');
    this.lockContended = arena.array(Float64Array, m, 'lockContended');
    this.lockMaxWaiters = arena.array(Uint32Array, m, 'lockMaxWaiters');
    this.lockFreeAt = arena.array(Float64Array, m, 'lockFreeAt');
    // rcu_init_one: from the leaves up, each level's stride is the product of spreads below.
    let cpustride = 1;
    for (let l = g.numLvls - 1; l >= 0; l--) {
      cpustride *= g.levelSpread[l]!;
      const off = g.levelOffset[l]!;
      for (let j = 0; j < g.levelCnt[l]!; j++) {
        const n = off + j;
        this.grplo[n] = j * cpustride;
        this.grphi[n] = Math.min((j + 1) * cpustride - 1, g.nrCpus - 1);
        this.level[n] = l;
        if (l === 0) {
          this.grpnum[n] = 0;
          this.parent[n] = -1;
        } else {
          const up = g.levelSpread[l - 1]!;
          this.grpnum[n] = j % up;
          this.parent[n] = g.levelOffset[l - 1]! + Math.floor(j / up);
        }
      }
    }
    this.firstLeaf = g.levelOffset[g.numLvls - 1]!;
    this.leafSpread = g.levelSpread[g.numLvls - 1]!;

    const n = g.nrCpus;
    this.cpuGpSeq = arena.array(Float64Array, n, 'cpuGpSeq');
    this.cpuGpSeqNeeded = arena.array(Float64Array, n, 'cpuGpSeqNeeded');
    this.cpuNoQs = arena.array(Uint8Array, n, 'cpuNoQs');
    this.coreNeedsQs = arena.array(Uint8Array, n, 'coreNeedsQs');
    this.expNoQs = arena.array(Uint8Array, n, 'expNoQs');
    this.dynticks = arena.array(Uint32Array, n, 'dynticks');
    this.dynticksSnap = arena.array(Uint32Array, n, 'dynticksSnap');
    this.ticksThisGp = arena.array(Uint32Array, n, 'ticksThisGp');
    this.softirqCount = arena.array(Uint32Array, n, 'softirqCount');
    this.softirqSnap = arena.array(Uint32Array, n, 'softirqSnap');
    this.softirqPending = arena.array(Uint8Array, n, 'softirqPending');
    this.gpWq = createWaitQueue(`${this.name} gp_wq`);
    this.expWq = createWaitQueue(`${this.name} exp_wq`);

    // Boot: every online CPU in its leaf's qsmaskinitnext and qsmaskinit, upwards too;
    // expmaskinit is built by the first expedited GP (ncpusSnap is 0), as rcu_cpu_starting
    // leaves it to sync_exp_reset_tree_hotplug.
    const online = opts.sched?.online;
    for (let cpu = 0; cpu < n; cpu++) {
      if (online && !online.test(cpu)) continue;
      this.setLeafBit(cpu, true);
      this.setExpLeafBit(cpu);
      this.nOnlineCpus++;
      // A CPU running a task at boot is not idle: odd dyntick counter.
      if (opts.sched && !opts.sched.isIdle(cpu)) this.dynticks[cpu] = 1;
    }
    for (let l = this.firstLeaf; l < m; l++) {
      this.qsmaskinitLo[l] = this.qsmaskinitnextLo[l]!;
      this.qsmaskinitHi[l] = this.qsmaskinitnextHi[l]!;
      if (this.qsmaskinitLo[l] !== 0 || this.qsmaskinitHi[l] !== 0) this.rcuInitNewRnp(l, false);
    }
    if (opts.sched) this.attach(opts.sched);
  }

  // ---- small helpers -----------------------------------------------------------------

  /** Leaf `rcu_node` of `cpu` (`rdp->mynode`). */
  leafOf(cpu: number): number {
    return this.firstLeaf + Math.floor(cpu / this.leafSpread);
  }

  /** Bit of `cpu` in its leaf's masks (`rdp->grpmask` is `1 << cpuBit(cpu)`). */
  cpuBit(cpu: number): number {
    return cpu - this.grplo[this.leafOf(cpu)]!;
  }

  /** Whether a grace period is in progress (`rcu_gp_in_progress`). @see kernel/rcu/tree.c */
  gpInProgress(): boolean {
    return rcuSeqState(this.gpSeq) !== 0;
  }

  /** Whether `cpu` is online as RCU sees it (bit in its leaf's `qsmaskinitnext`). */
  cpuOnline(cpu: number): boolean {
    const b = this.cpuBit(cpu);
    const l = this.leafOf(cpu);
    return b < 32
      ? (this.qsmaskinitnextLo[l]! & bitLo(b)) !== 0
      : (this.qsmaskinitnextHi[l]! & bitHi(b)) !== 0;
  }

  /** Whether `cpu` still owes the current grace period a quiescent state. */
  cpuIsHoldout(cpu: number): boolean {
    const b = this.cpuBit(cpu);
    const l = this.leafOf(cpu);
    return b < 32 ? (this.qsmaskLo[l]! & bitLo(b)) !== 0 : (this.qsmaskHi[l]! & bitHi(b)) !== 0;
  }

  /** Whether `cpu` is in an extended quiescent state (dyntick-idle: even counter). */
  cpuInEqs(cpu: number): boolean {
    return (this.dynticks[cpu]! & 1) === 0;
  }

  /** Current jiffies. */
  jiffies(): number {
    return this.clock.jiffies();
  }

  private setLeafBit(cpu: number, on: boolean): void {
    const l = this.leafOf(cpu);
    const b = this.cpuBit(cpu);
    if (b < 32)
      this.qsmaskinitnextLo[l] = on
        ? this.qsmaskinitnextLo[l]! | bitLo(b)
        : this.qsmaskinitnextLo[l]! & ~bitLo(b);
    else
      this.qsmaskinitnextHi[l] = on
        ? this.qsmaskinitnextHi[l]! | bitHi(b)
        : this.qsmaskinitnextHi[l]! & ~bitHi(b);
  }

  /**
   * Records that `cpu` has been online (`expmaskinitnext`); counts it in `ncpus` the first
   * time, so the next expedited GP rebuilds `expmaskinit`.
   * @see kernel/rcu/tree.c: rcu_cpu_starting
   */
  private setExpLeafBit(cpu: number): void {
    const l = this.leafOf(cpu);
    const b = this.cpuBit(cpu);
    const lo = bitLo(b);
    const hi = bitHi(b);
    if ((this.expmaskinitnextLo[l]! & lo) !== 0 || (this.expmaskinitnextHi[l]! & hi) !== 0) return;
    this.expmaskinitnextLo[l] = this.expmaskinitnextLo[l]! | lo;
    this.expmaskinitnextHi[l] = this.expmaskinitnextHi[l]! | hi;
    this.ncpus++;
  }

  /**
   * Takes node `n`'s lock at virtual time `t`; returns when it is granted (see the
   * module comment). `qs` marks acquisitions on the quiescent-state reporting path.
   * @see kernel/rcu/tree.h: raw_spin_lock_rcu_node
   */
  lockNode(n: number, t: number, qs: boolean): number {
    this.lockAcq[n]!++;
    if (qs) this.lockQsAcq[n]!++;
    const h = this.lockHoldNs;
    const free = this.lockFreeAt[n]!;
    let start = t;
    if (h > 0 && free > t) {
      const ahead = Math.ceil((free - t) / h);
      this.lockContended[n]!++;
      if (ahead > this.lockMaxWaiters[n]!) this.lockMaxWaiters[n] = ahead;
      start = free;
    }
    this.lockFreeAt[n] = start + h;
    return start;
  }

  /** Zeroes the per-node lock statistics (not the FIFO model's clock). */
  resetLockStats(): void {
    this.lockAcq.fill(0);
    this.lockQsAcq.fill(0);
    this.lockContended.fill(0);
    this.lockMaxWaiters.fill(0);
  }

  /** Lock figures over all nodes since the last {@link RcuState.resetLockStats}. */
  lockStats(): RcuLockStats {
    let hottestNode = 0;
    let hottestAcquisitions = 0;
    let hottestQsAcquisitions = 0;
    let maxWaiters = 0;
    let contended = 0;
    let total = 0;
    for (let n = 0; n < this.geometry.numNodes; n++) {
      const a = this.lockAcq[n]!;
      total += a;
      contended += this.lockContended[n]!;
      if (a > hottestAcquisitions) {
        hottestAcquisitions = a;
        hottestNode = n;
      }
      if (this.lockQsAcq[n]! > hottestQsAcquisitions) hottestQsAcquisitions = this.lockQsAcq[n]!;
      if (this.lockMaxWaiters[n]! > maxWaiters) maxWaiters = this.lockMaxWaiters[n]!;
    }
    return {
      hottestNode,
      hottestAcquisitions,
      hottestQsAcquisitions,
      maxWaiters,
      contended,
      total,
    };
  }

  /** A snapshot of node `n`. @throws KernelError EINVAL on a bad index. */
  node(n: number): RcuNodeInfo {
    if (!Number.isInteger(n) || n < 0 || n >= this.geometry.numNodes)
      throw new KernelError('EINVAL', `rcu_node ${n} is not 0..${this.geometry.numNodes - 1}`);
    const p = this.parent[n]!;
    const gn = this.grpnum[n]!;
    return {
      index: n,
      level: this.level[n]!,
      grplo: this.grplo[n]!,
      grphi: this.grphi[n]!,
      grpnum: gn,
      grpmask: p < 0 ? 0n : 1n << BigInt(gn),
      parent: p,
      qsmask: toBig(this.qsmaskLo[n]!, this.qsmaskHi[n]!),
      qsmaskinit: toBig(this.qsmaskinitLo[n]!, this.qsmaskinitHi[n]!),
      qsmaskinitnext: toBig(this.qsmaskinitnextLo[n]!, this.qsmaskinitnextHi[n]!),
      expmask: toBig(this.expmaskLo[n]!, this.expmaskHi[n]!),
      expmaskinit: toBig(this.expmaskinitLo[n]!, this.expmaskinitHi[n]!),
      expmaskinitnext: toBig(this.expmaskinitnextLo[n]!, this.expmaskinitnextHi[n]!),
      gpSeq: this.nodeGpSeq[n]!,
      gpSeqNeeded: this.nodeGpSeqNeeded[n]!,
      lockAcquisitions: this.lockAcq[n]!,
      lockQsAcquisitions: this.lockQsAcq[n]!,
      lockContended: this.lockContended[n]!,
      lockMaxWaiters: this.lockMaxWaiters[n]!,
    };
  }

  /** Name of the GP kthread's state (`gp_state_getname`). @see kernel/rcu/tree.c */
  gpStateName(): RcuGpState {
    return RCU_GP_STATES[this.gpState]!;
  }

  /** Callbacks queued on all CPUs (`rcu_get_n_cbs_cpu` summed). */
  nCbs(): number {
    let q = 0;
    for (const l of this.cblists.values()) q += l.length;
    return q;
  }

  // ---- quiescent-state reporting -------------------------------------------------------

  /**
   * Clears `mask` (lo/hi) in node `n`'s `qsmask` for grace period `gps` and walks up
   * while nodes empty, taking each parent's lock as the child's is released; clearing
   * the root's last bit ends the waiting phase (`rcu_report_qs_rsp` wakes the GP kthread).
   * The caller holds `n`'s lock since virtual time `t`. Returns when the last lock is released.
   * @see kernel/rcu/tree.c: rcu_report_qs_rnp, rcu_report_qs_rsp
   */
  rcuReportQsRnp(lo: number, hi: number, n: number, gps: number, t: number): number {
    const h = this.lockHoldNs;
    for (;;) {
      const qlo = this.qsmaskLo[n]!;
      const qhi = this.qsmaskHi[n]!;
      const any = (lo | hi) !== 0;
      if ((any && (qlo & lo) === 0 && (qhi & hi) === 0) || this.nodeGpSeq[n] !== gps) return t + h; // Our bit is already clear, or the grace period ended.
      this.qsmaskLo[n] = qlo & ~lo;
      this.qsmaskHi[n] = qhi & ~hi;
      if (this.qsmaskLo[n] !== 0 || this.qsmaskHi[n] !== 0) return t + h;
      this.completedqs[n] = gps;
      const p = this.parent[n]!;
      if (p < 0) break;
      const g = this.grpnum[n]!;
      lo = bitLo(g);
      hi = bitHi(g);
      t = this.lockNode(p, t + h, true);
      n = p;
    }
    // rcu_report_qs_rsp: all quiescent states are in.
    this.gpFlags |= RCU_GP_FLAG_FQS;
    this.lastGpQsDoneNs = t + h;
    this.gpWq.wakeUp();
    return t + h;
  }

  /**
   * Reports `cpu`'s quiescent state to its leaf if it belongs to the grace period the
   * leaf is in (a stale one, recorded before the CPU noticed this GP, is dropped).
   * @see kernel/rcu/tree.c: rcu_report_qs_rdp
   */
  rcuReportQsRdp(cpu: number): void {
    const n = this.leafOf(cpu);
    const t = this.lockNode(n, this.clock.nowNs(), true);
    if (this.cpuNoQs[cpu] !== 0 || this.cpuGpSeq[cpu] !== this.nodeGpSeq[n]) {
      this.cpuNoQs[cpu] = 1;
      return;
    }
    const b = this.cpuBit(cpu);
    this.coreNeedsQs[cpu] = 0;
    const lo = bitLo(b);
    const hi = bitHi(b);
    if ((this.qsmaskLo[n]! & lo) === 0 && (this.qsmaskHi[n]! & hi) === 0) return;
    // This GP cannot end before we report, so our new callbacks can wait for the next.
    this.rcuAccelerateCbs(n, cpu);
    this.rcuReportQsRnp(lo, hi, n, this.nodeGpSeq[n]!, t);
  }

  /**
   * Records that `cpu` passed a quiescent state (a context switch, user or idle
   * entry, or a tick outside any read-side critical section).
   * @see kernel/rcu/tree.c: rcu_qs
   */
  rcuQs(cpu: number): void {
    if (this.cpuNoQs[cpu] !== 0) this.cpuNoQs[cpu] = 0;
    if (this.expNoQs[cpu] !== 0) this.raiseSoftirq(cpu);
  }

  /**
   * Brings `cpu`'s view up to its leaf's grace period: ends of GPs advance its
   * callbacks, a new GP makes it owe a quiescent state if its leaf waits for it.
   * The caller holds the leaf lock. Returns whether the GP kthread needs waking.
   * @see kernel/rcu/tree.c: __note_gp_changes
   */
  private noteGpChangesLocked(n: number, cpu: number): boolean {
    const rnpSeq = this.nodeGpSeq[n]!;
    const old = this.cpuGpSeq[cpu]!;
    if (old === rnpSeq) return false;
    let ret: boolean;
    if (rcuSeqCompletedGp(old, rnpSeq)) {
      ret = this.rcuAdvanceCbs(n, cpu);
      this.coreNeedsQs[cpu] = 0;
    } else {
      ret = this.rcuAccelerateCbs(n, cpu);
      if (this.coreNeedsQs[cpu] !== 0) this.coreNeedsQs[cpu] = this.cpuIsHoldout(cpu) ? 1 : 0;
    }
    if (rcuSeqNewGp(old, rnpSeq)) {
      const need = this.cpuIsHoldout(cpu) ? 1 : 0;
      this.cpuNoQs[cpu] = need;
      this.coreNeedsQs[cpu] = need;
      this.ticksThisGp[cpu] = 0;
      this.softirqSnap[cpu] = this.softirqCount[cpu]!;
    }
    this.cpuGpSeq[cpu] = rnpSeq;
    if (this.cpuGpSeqNeeded[cpu]! < this.nodeGpSeqNeeded[n]!)
      this.cpuGpSeqNeeded[cpu] = this.nodeGpSeqNeeded[n]!;
    return ret;
  }

  /**
   * Takes the leaf lock (only if the CPU is behind) and notes grace-period changes.
   * @see kernel/rcu/tree.c: note_gp_changes
   */
  noteGpChanges(cpu: number): void {
    const n = this.leafOf(cpu);
    if (this.cpuGpSeq[cpu] === this.nodeGpSeq[n]) return;
    this.lockNode(n, this.clock.nowNs(), false);
    if (this.noteGpChangesLocked(n, cpu)) this.gpWq.wakeUp();
  }

  /**
   * Checks whether `cpu` has a quiescent state to report for the current GP, and
   * reports it. @see kernel/rcu/tree.c: rcu_check_quiescent_state
   */
  rcuCheckQuiescentState(cpu: number): void {
    this.noteGpChanges(cpu);
    if (this.coreNeedsQs[cpu] === 0) return;
    if (this.cpuNoQs[cpu] !== 0) return;
    this.rcuReportQsRdp(cpu);
  }

  // ---- callbacks ---------------------------------------------------------------------

  private cblist(cpu: number): RcuSegcblist {
    let l = this.cblists.get(cpu);
    if (!l) {
      l = new RcuSegcblist();
      this.cblists.set(cpu, l);
    }
    return l;
  }

  /**
   * Assigns a grace period to `cpu`'s new callbacks and requests it. Caller holds the
   * leaf lock. Returns whether the GP kthread must be woken.
   * @see kernel/rcu/tree.c: rcu_accelerate_cbs
   */
  rcuAccelerateCbs(n: number, cpu: number): boolean {
    const l = this.cblists.get(cpu);
    if (!l || !l.pendCbs()) return false;
    const req = rcuSeqSnap(this.gpSeq);
    if (l.accelerate(req)) return this.rcuStartThisGp(n, cpu, req);
    return false;
  }

  /**
   * Moves callbacks whose grace period the leaf has seen end to DONE, then accelerates.
   * Caller holds the leaf lock. @see kernel/rcu/tree.c: rcu_advance_cbs
   */
  private rcuAdvanceCbs(n: number, cpu: number): boolean {
    const l = this.cblists.get(cpu);
    if (!l || !l.pendCbs()) return false;
    l.advance(this.nodeGpSeq[n]!);
    return this.rcuAccelerateCbs(n, cpu);
  }

  /**
   * Records a request for grace period `req` from the leaf `start` up the tree (funnel
   * locking: stop at the first node that already has it), and at the root sets
   * `RCU_GP_FLAG_INIT` if no grace period is running. Caller holds `start`'s lock.
   * Returns whether the GP kthread must be woken.
   * @see kernel/rcu/tree.c: rcu_start_this_gp
   */
  private rcuStartThisGp(start: number, cpu: number, req: number): boolean {
    let n = start;
    let ret = false;
    let t = this.clock.nowNs();
    for (;;) {
      if (n !== start) t = this.lockNode(n, t + this.lockHoldNs, false);
      const seq = this.nodeGpSeq[n]!;
      if (
        this.nodeGpSeqNeeded[n]! >= req ||
        rcuSeqStarted(seq, req) ||
        (n !== start && rcuSeqState(seq) !== 0)
      )
        break;
      this.nodeGpSeqNeeded[n] = req;
      if (rcuSeqState(seq) !== 0) break; // cleanup of the running GP will see it
      const p = this.parent[n]!;
      if (p < 0) {
        if (!this.gpInProgress()) {
          this.gpFlags |= RCU_GP_FLAG_INIT;
          ret = true;
          // rcu_gp_kthread_wake(): done here so no caller can lose the wakeup.
          this.gpWq.wakeUp();
        }
        break;
      }
      n = p;
    }
    if (req < this.nodeGpSeqNeeded[n]!) {
      this.nodeGpSeqNeeded[start] = this.nodeGpSeqNeeded[n]!;
      this.cpuGpSeqNeeded[cpu] = this.nodeGpSeqNeeded[n]!;
    }
    return ret;
  }

  /**
   * Queues `fn` to run on `cpu` after a full grace period: after every RCU read-side
   * critical section that started before this call has ended.
   * @throws KernelError EINVAL on a bad or offline CPU.
   * @see kernel/rcu/tree.c: call_rcu, __call_rcu_core
   */
  callRcu(cpu: number, fn: RcuCallback): void {
    this.checkCpu(cpu);
    if (!this.cpuOnline(cpu)) throw new KernelError('EINVAL', `call_rcu on offline CPU ${cpu}`);
    this.cblist(cpu).enqueue(fn);
    // The next softirq on this CPU accelerates the callback and requests a GP.
    this.raiseSoftirq(cpu);
    this.armTick();
  }

  /**
   * Runs `cpu`'s RCU core work: note GP changes, report a quiescent state, request a
   * grace period for new callbacks, invoke callbacks whose grace period has ended.
   * In the scheduler driver this is the RCU softirq; the bulk driver calls it directly.
   * @see kernel/rcu/tree.c: rcu_core
   */
  rcuCore(cpu: number): void {
    if (!this.cpuOnline(cpu)) return;
    this.softirqCount[cpu]!++;
    this.rcuCheckQuiescentState(cpu);
    if (this.expNoQs[cpu] !== 0 && (this.sched === undefined || this.preemptibleNow(cpu)))
      rcuReportExpRdp(this, cpu);
    const l = this.cblists.get(cpu);
    if (!l) return;
    if (!this.gpInProgress() && l.pendCbs()) {
      const n = this.leafOf(cpu);
      const c = rcuSeqSnap(this.gpSeq);
      if (this.cpuGpSeqNeeded[cpu]! >= c) l.accelerate(c);
      else {
        this.lockNode(n, this.clock.nowNs(), false);
        if (this.rcuAccelerateCbs(n, cpu)) this.gpWq.wakeUp();
      }
    }
    if (l.readyCbs()) this.rcuDoBatch(cpu, l);
  }

  /** Invokes `cpu`'s ready callbacks. @see kernel/rcu/tree.c: rcu_do_batch */
  private rcuDoBatch(cpu: number, l: RcuSegcblist): void {
    const cbs = l.extractDone();
    if (l.isEmpty()) this.cblists.delete(cpu);
    for (const cb of cbs) {
      this.nCbsInvoked++;
      cb();
    }
  }

  /** Raises the RCU softirq on `cpu`: `rcuCore` runs before the next scheduler step. */
  raiseSoftirq(cpu: number): void {
    if (!this.sched || this.softirqPending[cpu] !== 0) return;
    this.softirqPending[cpu] = 1;
    this.clock.addTimer(0, () => {
      this.softirqPending[cpu] = 0;
      this.rcuCore(cpu);
    });
  }

  // ---- scheduler integration -----------------------------------------------------------

  /** Whether the task on `cpu` (if any) is outside every read-side critical section. */
  preemptibleNow(cpu: number): boolean {
    const s = this.sched;
    if (!s) return true;
    const t = s.currentOn(cpu);
    return t === null || t.preemptCount === 0;
  }

  private attach(s: Scheduler): void {
    this.unhook.push(
      s.onContextSwitch((cpu) => this.rcuNoteContextSwitch(cpu)),
      s.onIdleEnter((cpu) => this.rcuIdleEnter(cpu)),
      s.onIdleExit((cpu) => this.rcuIdleExit(cpu)),
    );
    const kt = s.spawn({ name: this.name }, (ctx) => this.rcuGpKthread(ctx));
    this.gpKthreadCpu = kt.cpu;
  }

  /**
   * A context switch on `cpu`: a quiescent state for RCU-sched.
   * @see kernel/rcu/tree_plugin.h: rcu_note_context_switch
   */
  rcuNoteContextSwitch(cpu: number): void {
    this.rcuQs(cpu);
    if (this.coreNeedsQs[cpu] !== 0) this.raiseSoftirq(cpu);
  }

  /**
   * `cpu` enters dyntick-idle (an extended quiescent state): its counter becomes even.
   * @see kernel/context_tracking.c: ct_idle_enter; kernel/rcu/tree.c: rcu_eqs_enter
   */
  rcuIdleEnter(cpu: number): void {
    if ((this.dynticks[cpu]! & 1) === 1) this.dynticks[cpu]!++;
    this.rcuQs(cpu);
  }

  /**
   * `cpu` leaves dyntick-idle: its counter becomes odd.
   * @see kernel/context_tracking.c: ct_idle_exit; kernel/rcu/tree.c: rcu_eqs_exit
   */
  rcuIdleExit(cpu: number): void {
    if ((this.dynticks[cpu]! & 1) === 0) this.dynticks[cpu]!++;
  }

  /**
   * `cpu` enters user mode with its tick stopped (nohz_full): an extended quiescent
   * state like idle, its dyntick counter even, so force-quiescent-state scans report it
   * without disturbing it. @throws KernelError EINVAL on a bad CPU.
   * @see kernel/context_tracking.c: __ct_user_enter → rcu_eqs_enter
   */
  rcuUserEnter(cpu: number): void {
    this.checkCpu(cpu);
    this.rcuIdleEnter(cpu);
  }

  /**
   * `cpu` returns from user mode to the kernel: its counter becomes odd again.
   * @see kernel/context_tracking.c: __ct_user_exit → rcu_eqs_exit
   */
  rcuUserExit(cpu: number): void {
    this.checkCpu(cpu);
    this.rcuIdleExit(cpu);
  }

  /**
   * The scheduling-clock interrupt on `cpu`. Taken in user mode (`user`), or in the
   * kernel outside a read-side critical section (preemption enabled), it is a quiescent
   * state; then RCU core work runs if anything is pending. Delivered to a dyntick-idle
   * CPU it counts in {@link RcuState.idleWakeups}. @see kernel/rcu/tree.c:
   * rcu_sched_clock_irq; kernel/rcu/tree_plugin.h: rcu_flavor_sched_clock_irq
   */
  rcuSchedClockIrq(cpu: number, user = false): void {
    // A tick on a dyntick-idle CPU woke it: only RCU asks for one there.
    if (this.cpuInEqs(cpu)) this.idleWakeups++;
    if (this.gpInProgress()) this.ticksThisGp[cpu]!++;
    if (user || this.preemptibleNow(cpu)) this.rcuQs(cpu);
    this.rcuCore(cpu);
  }

  private needsTick(): boolean {
    return (
      !this.stopping &&
      (this.gpInProgress() ||
        this.cblists.size > 0 ||
        this.expMutexHeld ||
        this.expPending.size > 0 ||
        this.gpFlags !== 0)
    );
  }

  /** Arms the jiffy tick if RCU needs one and none is pending (NO_HZ otherwise). */
  armTick(): void {
    if (!this.sched || this.tickTimer?.pending === true || !this.needsTick()) return;
    this.tickTimer = this.clock.addTimer(this.nsPerJiffy, () => this.onTick());
  }

  private onTick(): void {
    this.tickTimer = null;
    const seen = new Set<number>();
    const tick = (cpu: number): void => {
      if (seen.has(cpu) || !this.cpuOnline(cpu)) return;
      seen.add(cpu);
      // Idle CPUs without callbacks have their tick stopped: never disturbed.
      if (this.cpuInEqs(cpu) && !this.cblists.has(cpu)) return;
      this.rcuSchedClockIrq(cpu);
    };
    if (this.gpInProgress())
      for (let l = this.firstLeaf; l < this.geometry.numNodes; l++) {
        const base = this.grplo[l]!;
        forEachBit(this.qsmaskLo[l]!, base, tick);
        forEachBit(this.qsmaskHi[l]!, base + 32, tick);
      }
    for (const cpu of [...this.cblists.keys()]) tick(cpu);
    for (const cpu of [...this.expPending]) tick(cpu);
    const kt = this.sched?.tasks().find((t) => t.name === this.name);
    if (kt) this.gpKthreadCpu = kt.cpu;
    checkCpuStall(this, this.gpKthreadCpu);
    this.armTick();
  }

  // ---- grace-period kthread ------------------------------------------------------------

  /**
   * The grace-period kthread: waits for a request, initialises, forces quiescent
   * states until the root is clear, cleans up; see {@link RCU_GP_STATES}.
   * @see kernel/rcu/tree.c: rcu_gp_kthread
   */
  *rcuGpKthread(ctx: TaskContext): TaskBody<void> {
    for (;;) {
      this.gpState = 1; // RCU_GP_WAIT_GPS
      yield ctx.waitFor(() => this.stopping || (this.gpFlags & RCU_GP_FLAG_INIT) !== 0, this.gpWq);
      if (this.stopping) return;
      this.gpState = 2; // RCU_GP_DONE_GPS
      if (!(yield* this.rcuGpInit())) continue;
      this.armTick();
      yield* this.rcuGpFqsLoop(ctx);
      if (this.stopping) return;
      this.gpState = 7; // RCU_GP_CLEANUP
      yield* this.rcuGpCleanup();
      this.gpState = 8; // RCU_GP_CLEANED
    }
  }

  /**
   * Starts a grace period if one was requested: applies buffered hotplug to the leaves'
   * `qsmaskinit` (propagating leaves that gained their first or lost their last CPU),
   * then, breadth first, copies `qsmaskinit` to `qsmask` and stamps `gp_seq` in each
   * node, reporting at once for CPUs that went offline meanwhile. Yields between nodes.
   * @see kernel/rcu/tree.c: rcu_gp_init
   */
  *rcuGpInit(): Generator<undefined, boolean, unknown> {
    const root = 0;
    this.lockNode(root, this.clock.nowNs(), false);
    if (this.gpFlags === 0) return false;
    this.gpFlags = 0;
    if (this.gpInProgress()) return false;
    recordGpStallCheckTime(this);
    this.gpSeq = rcuSeqStart(this.gpSeq);
    this.gpState = 3; // RCU_GP_ONOFF
    const m = this.geometry.numNodes;
    for (let l = this.firstLeaf; l < m; l++) {
      if (
        this.qsmaskinitLo[l] === this.qsmaskinitnextLo[l] &&
        this.qsmaskinitHi[l] === this.qsmaskinitnextHi[l]
      )
        continue;
      this.lockNode(l, this.clock.nowNs(), false);
      const wasEmpty = this.qsmaskinitLo[l] === 0 && this.qsmaskinitHi[l] === 0;
      this.qsmaskinitLo[l] = this.qsmaskinitnextLo[l]!;
      this.qsmaskinitHi[l] = this.qsmaskinitnextHi[l]!;
      const isEmpty = this.qsmaskinitLo[l] === 0 && this.qsmaskinitHi[l] === 0;
      if (wasEmpty !== isEmpty) {
        if (wasEmpty) this.rcuInitNewRnp(l, true);
        else this.rcuCleanupDeadRnp(l);
      }
    }
    this.gpState = 4; // RCU_GP_INIT
    for (let n = 0; n < m; n++) {
      const t = this.lockNode(n, this.clock.nowNs(), false);
      this.qsmaskLo[n] = this.qsmaskinitLo[n]!;
      this.qsmaskHi[n] = this.qsmaskinitHi[n]!;
      this.nodeGpSeq[n] = this.gpSeq;
      if (n >= this.firstLeaf) {
        const lo = this.qsmaskLo[n]! & ~this.qsmaskinitnextLo[n]!;
        const hi = this.qsmaskHi[n]! & ~this.qsmaskinitnextHi[n]!;
        if ((lo | hi) !== 0) this.rcuReportQsRnp(lo >>> 0, hi >>> 0, n, this.gpSeq, t);
      }
      if (this.sched) yield;
    }
    return true;
  }

  /**
   * A leaf got its first online CPU: set its bit in each ancestor's `qsmaskinit` up to
   * the first that already had a child. @see kernel/rcu/tree.c: rcu_init_new_rnp
   */
  private rcuInitNewRnp(leaf: number, count: boolean): void {
    let g = this.grpnum[leaf]!;
    for (let n = this.parent[leaf]!; n >= 0; n = this.parent[n]!) {
      if (count) this.lockNode(n, this.clock.nowNs(), false);
      const was = this.qsmaskinitLo[n]! | this.qsmaskinitHi[n]!;
      this.qsmaskinitLo[n] = this.qsmaskinitLo[n]! | bitLo(g);
      this.qsmaskinitHi[n] = this.qsmaskinitHi[n]! | bitHi(g);
      if (was !== 0) return;
      g = this.grpnum[n]!;
    }
  }

  /**
   * A leaf lost its last online CPU: clear its bit in ancestors' `qsmaskinit` up to
   * the first that still has a child. @see kernel/rcu/tree.c: rcu_cleanup_dead_rnp
   */
  private rcuCleanupDeadRnp(leaf: number): void {
    let g = this.grpnum[leaf]!;
    for (let n = this.parent[leaf]!; n >= 0; n = this.parent[n]!) {
      this.lockNode(n, this.clock.nowNs(), false);
      this.qsmaskinitLo[n] = this.qsmaskinitLo[n]! & ~bitLo(g);
      this.qsmaskinitHi[n] = this.qsmaskinitHi[n]! & ~bitHi(g);
      if ((this.qsmaskinitLo[n]! | this.qsmaskinitHi[n]!) !== 0) return;
      g = this.grpnum[n]!;
    }
  }

  /** Whether the root has no quiescent state outstanding. */
  rootQsDone(): boolean {
    return this.qsmaskLo[0] === 0 && this.qsmaskHi[0] === 0;
  }

  /**
   * Waits for quiescent states, running a force-quiescent-state scan each time the
   * wait times out (first after `jiffiesTillFirstFqs`, then every `jiffiesTillNextFqs`).
   * @see kernel/rcu/tree.c: rcu_gp_fqs_loop
   */
  private *rcuGpFqsLoop(ctx: TaskContext): TaskBody<void> {
    let first = true;
    let j = this.jiffiesTillFirstFqs;
    let keepTiming = false;
    for (;;) {
      if (!keepTiming) this.jiffiesForceQs = this.jiffies() + j;
      this.gpState = 5; // RCU_GP_WAIT_FQS
      yield ctx.waitFor(
        () => this.stopping || this.rootQsDone(),
        this.gpWq,
        Math.max(1, j) * this.nsPerJiffy,
      );
      if (this.stopping) return;
      this.gpState = 6; // RCU_GP_DOING_FQS
      if (this.rootQsDone()) break;
      if (this.jiffies() >= this.jiffiesForceQs || (this.gpFlags & RCU_GP_FLAG_FQS) !== 0) {
        yield* this.rcuGpFqs(first);
        first = false;
        keepTiming = false;
        j = this.jiffiesTillNextFqs;
      } else {
        keepTiming = true;
        j = Math.max(1, this.jiffiesForceQs - this.jiffies());
      }
    }
  }

  /**
   * One force-quiescent-state scan: for every leaf, each holdout CPU that is in
   * dyntick-idle now (first scan: snapshot its counter) or has passed through idle
   * since the snapshot (later scans), or is offline, is reported on its behalf — the
   * CPU itself is never woken. Yields between leaves.
   * @see kernel/rcu/tree.c: rcu_gp_fqs, force_qs_rnp, rcu_watching_snap_save,
   *   rcu_watching_snap_recheck
   */
  *rcuGpFqs(first: boolean): Generator<undefined, void, unknown> {
    this.nForceQs++;
    let t = this.clock.nowNs();
    const m = this.geometry.numNodes;
    for (let l = this.firstLeaf; l < m; l++) {
      t = this.lockNode(l, Math.max(t, this.clock.nowNs()), false);
      const qlo = this.qsmaskLo[l]!;
      const qhi = this.qsmaskHi[l]!;
      if ((qlo | qhi) === 0) {
        t += this.lockHoldNs;
        continue;
      }
      let mlo = 0;
      let mhi = 0;
      const base = this.grplo[l]!;
      const check = (cpu: number): boolean => {
        const cur = this.dynticks[cpu]!;
        if (first) {
          this.dynticksSnap[cpu] = cur;
          return (cur & 1) === 0;
        }
        return (cur & 1) === 0 || cur !== this.dynticksSnap[cpu] || !this.cpuOnline(cpu);
      };
      forEachBit(qlo, base, (cpu) => {
        if (check(cpu)) mlo |= bitLo(cpu - base);
      });
      forEachBit(qhi, base + 32, (cpu) => {
        if (check(cpu)) mhi |= bitHi(cpu - base);
      });
      if ((mlo | mhi) !== 0) {
        let k = mlo >>> 0;
        let c = 0;
        while (k !== 0) {
          k &= k - 1;
          c++;
        }
        k = mhi >>> 0;
        while (k !== 0) {
          k &= k - 1;
          c++;
        }
        this.nFqsReports += c;
        t = this.rcuReportQsRnp(mlo >>> 0, mhi >>> 0, l, this.nodeGpSeq[l]!, t);
      } else t += this.lockHoldNs;
      if (this.sched) yield;
    }
    this.gpFlags &= ~RCU_GP_FLAG_FQS;
  }

  /**
   * Ends the grace period: stamps the new `gp_seq` into every node breadth first
   * (CPUs notice it and advance their callbacks), then into `rcu_state`, and asks for
   * another grace period if any node recorded a request for one. Yields between nodes.
   * @see kernel/rcu/tree.c: rcu_gp_cleanup, rcu_future_gp_cleanup
   */
  *rcuGpCleanup(): Generator<undefined, void, unknown> {
    this.lockNode(0, this.clock.nowNs(), false);
    const newSeq = rcuSeqEnd(this.gpSeq);
    let needgp = false;
    const m = this.geometry.numNodes;
    for (let n = 0; n < m; n++) {
      this.lockNode(n, this.clock.nowNs(), false);
      this.nodeGpSeq[n] = newSeq;
      // rcu_future_gp_cleanup
      if (this.nodeGpSeq[n]! < this.nodeGpSeqNeeded[n]!) needgp = true;
      else this.nodeGpSeqNeeded[n] = newSeq;
      if (this.sched) yield;
    }
    this.lockNode(0, this.clock.nowNs(), false);
    this.gpSeq = rcuSeqEnd(this.gpSeq);
    this.completedGps++;
    this.gpState = 0; // RCU_GP_IDLE
    if (!needgp && this.nodeGpSeq[0]! < this.nodeGpSeqNeeded[0]!) needgp = true;
    this.gpFlags = needgp ? RCU_GP_FLAG_INIT : this.gpFlags & RCU_GP_FLAG_INIT;
    // CPUs with callbacks notice the end at their next tick.
    this.armTick();
  }

  // ---- updaters -----------------------------------------------------------------------

  /**
   * Waits (in task context) for a full grace period.
   * @see kernel/rcu/tree.c: synchronize_rcu
   */
  *synchronizeRcu(ctx: TaskContext): TaskBody<void> {
    const c = createCompletion('rcu_synchronize');
    this.callRcu(ctx.cpu, () => c.complete());
    yield c.wait();
  }

  /**
   * Waits (in task context) for an expedited grace period: IPIs every non-idle online
   * CPU instead of waiting for it to pass a quiescent state on its own.
   * @see kernel/rcu/tree_exp.h: synchronize_rcu_expedited
   */
  synchronizeRcuExpedited(ctx: TaskContext): TaskBody<void> {
    return expSynchronize(this, ctx);
  }

  /**
   * Waits (in task context) until every callback queued before the call has run.
   * @see kernel/rcu/tree.c: rcu_barrier, rcu_barrier_entrain
   */
  *rcuBarrier(_ctx: TaskContext): TaskBody<void> {
    const c = createCompletion('rcu_barrier');
    let count = 1;
    const done = (): void => {
      if (--count === 0) c.complete();
    };
    for (const [, l] of this.cblists) if (l.entrain(done)) count++;
    for (const cpu of this.cblists.keys()) this.raiseSoftirq(cpu);
    this.armTick();
    done();
    yield c.wait();
  }

  /**
   * Enters an RCU read-side critical section: disables preemption (RCU-sched), so
   * the CPU passes no quiescent state until {@link RcuState.rcuReadUnlock}.
   * @see include/linux/rcupdate.h: rcu_read_lock_sched
   */
  rcuReadLock(ctx: TaskContext): void {
    ctx.preemptDisable();
  }

  /**
   * Leaves a read-side critical section. @throws KernelError EINVAL on underflow.
   * @see include/linux/rcupdate.h: rcu_read_unlock_sched
   */
  rcuReadUnlock(ctx: TaskContext): void {
    ctx.preemptEnable();
  }

  // ---- CPU hotplug --------------------------------------------------------------------

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus)
      throw new KernelError('EINVAL', `CPU ${cpu} is not 0..${this.nrCpus - 1}`);
  }

  /**
   * Takes `cpu` offline: (with a scheduler) migrates its tasks, then reports a
   * quiescent state the current GP may still need from it, clears it from its leaf's
   * `qsmaskinitnext` (applied to `qsmaskinit` at the next GP start) and moves its
   * callbacks to the first online CPU.
   * @throws KernelError EINVAL on a bad CPU; EBUSY as `Scheduler.setCpuOnline` (a bound
   *   task, a task in a read-side critical section, the last CPU).
   * @see kernel/rcu/tree.c: rcutree_report_cpu_dead, rcutree_migrate_callbacks
   */
  offlineCpu(cpu: number): void {
    this.checkCpu(cpu);
    if (!this.cpuOnline(cpu)) return;
    if (this.nOnlineCpus === 1) throw new KernelError('EBUSY', `CPU ${cpu} is the last online CPU`);
    this.sched?.setCpuOnline(cpu, false);
    if ((this.dynticks[cpu]! & 1) === 1) this.dynticks[cpu]!++;
    const n = this.leafOf(cpu);
    const t = this.lockNode(n, this.clock.nowNs(), true);
    const b = this.cpuBit(cpu);
    if (this.cpuIsHoldout(cpu)) this.rcuReportQsRnp(bitLo(b), bitHi(b), n, this.nodeGpSeq[n]!, t);
    this.setLeafBit(cpu, false);
    this.nOnlineCpus--;
    if (this.expNoQs[cpu] !== 0 || this.expMutexHeld) rcuReportExpRdp(this, cpu);
    // rcutree_migrate_callbacks
    const src = this.cblists.get(cpu);
    if (src && !src.isEmpty()) {
      let target = 0;
      while (!this.cpuOnline(target)) target++;
      const dst = this.cblist(target);
      dst.merge(src);
      this.cblists.delete(cpu);
      const tn = this.leafOf(target);
      this.lockNode(tn, this.clock.nowNs(), false);
      this.noteGpChangesLocked(tn, target);
      if (this.rcuAdvanceCbs(tn, target)) this.gpWq.wakeUp();
      this.raiseSoftirq(target);
      this.armTick();
    }
  }

  /**
   * Brings `cpu` online: it starts knowing the current grace period and is added to
   * its leaf's `qsmaskinitnext`, so grace periods from the next one on wait for it, and
   * to `expmaskinitnext`, so expedited grace periods from the next one on wait for it too.
   * @throws KernelError EINVAL on a bad CPU.
   * @see kernel/rcu/tree.c: rcutree_prepare_cpu, rcu_cpu_starting
   */
  onlineCpu(cpu: number): void {
    this.checkCpu(cpu);
    if (this.cpuOnline(cpu)) return;
    this.sched?.setCpuOnline(cpu, true);
    const n = this.leafOf(cpu);
    this.lockNode(n, this.clock.nowNs(), false);
    this.cpuGpSeq[cpu] = this.nodeGpSeq[n]!;
    this.cpuGpSeqNeeded[cpu] = this.nodeGpSeq[n]!;
    this.cpuNoQs[cpu] = 1;
    this.coreNeedsQs[cpu] = 0;
    this.setLeafBit(cpu, true);
    this.setExpLeafBit(cpu);
    this.nOnlineCpus++;
  }

  /**
   * Sets whether `cpu` is in dyntick-idle, for drivers without a scheduler (the bulk
   * driver). @throws KernelError EINVAL on a bad CPU.
   */
  setCpuIdle(cpu: number, idle: boolean): void {
    this.checkCpu(cpu);
    if (idle) this.rcuIdleEnter(cpu);
    else this.rcuIdleExit(cpu);
  }

  /**
   * Stops the grace-period kthread and the tick (so `Scheduler.run` can go idle) and
   * removes the scheduler hooks. Pending callbacks stay queued.
   */
  stop(): void {
    this.stopping = true;
    this.gpWq.wakeUpAll();
    if (this.tickTimer) this.clock.delTimer(this.tickTimer);
    this.tickTimer = null;
    for (const u of this.unhook.splice(0)) u();
  }

  /**
   * Delivers an expedited IPI to `cpu` (used by `tree-exp.ts`); one that finds the CPU
   * dyntick-idle has woken it and counts in {@link RcuState.idleWakeups}.
   */
  expIpi(cpu: number): void {
    if (this.cpuInEqs(cpu)) this.idleWakeups++;
    rcuExpHandler(this, cpu);
  }

  /** Grace periods completed, as rcutorture reads them (`rcu_get_gp_seq` counter). */
  gpCount(): number {
    return rcuSeqCtr(this.gpSeq);
  }
}

/**
 * Makes an {@link RcuState}; see {@link RcuStateOptions}.
 * @throws KernelError EINVAL as the constructor.
 * @see kernel/rcu/tree.c: rcu_init
 */
export function createRcuState(opts: RcuStateOptions): RcuState {
  return new RcuState(opts);
}
