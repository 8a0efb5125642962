/**
 * The bulk event-driven driver: one grace period over up to 4,194,304 CPUs, without
 * a task per CPU. Each CPU is either idle (dyntick counter even for Tree RCU) for the
 * whole grace period, or busy; a busy CPU notices the grace period at its next
 * scheduling-clock tick (one jiffy after the GP starts) and reports the quiescent
 * state it passes meanwhile at the tick after (two jiffies), each with a seeded jitter
 * of up to `tickJitterNs` (ticks are not skewed by default in Linux, so CPUs arrive
 * nearly together). Classic RCU noticed a new batch without its lock, so only the
 * report events apply to it. Events are sorted by time and fed to the
 * same Tree RCU code the scheduler driver uses (`rcuCore`, `rcuGpInit`, `rcuGpFqs`,
 * `rcuGpCleanup`). FQS scans run at the kthread's times; for classic RCU the same
 * instant sends reschedule IPIs, and each woken idle CPU reports within
 * `wakeLatencyNs`.
 *
 * @see kernel/rcu/tree.c (the algorithm driven here)
 */

import { KernelError, createRng } from '@kern/core';
import type { ClassicRcu } from './classic.js';
import { describeValue } from './describe.js';
import type { RcuState } from './tree.js';

const CPU_BITS = 2 ** 22;
const EV_BITS = 2 ** 23;
/** The most CPUs an event key can name (`CPU_BITS`): 4,194,304, Tree RCU's 4-level limit. */
const MAX_CPUS = CPU_BITS;

/** Throws EINVAL unless `plan` was made by {@link planBulkGp} for `nrCpus` CPUs. */
function checkPlan(what: string, nrCpus: number, plan: BulkGpPlan): void {
  if (typeof plan !== 'object' || plan === null || !(plan.busy instanceof Uint8Array))
    throw new KernelError(
      'EINVAL',
      `${what}: plan must be made by planBulkGp(), got ${describeValue(plan)}`,
    );
  if (plan.nrCpus !== nrCpus || plan.busy.length !== nrCpus)
    throw new KernelError(
      'EINVAL',
      `${what}: the plan is for ${plan.nrCpus} CPUs, the RCU it runs on has ${nrCpus} (make it with planBulkGp(${nrCpus}, ...))`,
    );
}

/** How a bulk grace period looks. */
export interface BulkGpOptions {
  /** Seed of the busy/idle choice and the jitters. */
  seed: number;
  /** Fraction of CPUs idle for the whole grace period (default 0.5). */
  idleFraction?: number;
  /** Spread of busy CPUs' tick times (default 1000 ns). */
  tickJitterNs?: number;
  /** Spread of woken idle CPUs' reports in classic RCU (default 1000 ns). */
  wakeLatencyNs?: number;
  /** Nanoseconds per jiffy (default 1,000,000: HZ=1000). */
  nsPerJiffy?: number;
}

/** The CPUs and event times of one bulk grace period, made by {@link planBulkGp}. */
export interface BulkGpPlan {
  /** Number of CPUs. */
  readonly nrCpus: number;
  /** 1 for CPUs busy during the grace period. */
  readonly busy: Uint8Array;
  /** Busy CPUs' events, sorted: `offsetNs * 2^23 + cpu * 2 + phase` (0 notice, 1 report). */
  readonly busyEvents: Float64Array;
  /** Idle CPUs' reports after a classic IPI, sorted: `offsetNs * 2^22 + cpu`. */
  readonly wakeEvents: Float64Array;
  /** Nanoseconds per jiffy. */
  readonly nsPerJiffy: number;
  /** First busy CPU (queues the callback that needs the grace period). */
  readonly callbackCpu: number;
}

/** Figures of one bulk grace period. */
export interface BulkGpResult {
  /** Virtual ns from the request to the last quiescent state (root `qsmask` clear). */
  readonly gpNs: number;
  /** Acquisitions of the most-acquired lock. */
  readonly hottestAcquisitions: number;
  /** Most acquisitions of one lock on the quiescent-state reporting path. */
  readonly hottestQsAcquisitions: number;
  /** Most waiters on one lock at once. */
  readonly maxWaiters: number;
  /** Lock acquisitions that waited, all locks. */
  readonly contended: number;
  /** Lock acquisitions, all locks. */
  readonly totalAcquisitions: number;
  /**
   * Times RCU woke an idle CPU: classic's reschedule IPIs to idle holdouts; Tree RCU's
   * IPIs or ticks delivered to dyntick-idle CPUs ({@link RcuState.idleWakeups}).
   */
  readonly idleWakeups: number;
  /** Whether the callback queued at the start ran at the end. */
  readonly callbackInvoked: boolean;
}

/**
 * Chooses busy and idle CPUs and their event times.
 * @throws KernelError EINVAL if `nrCpus` is not an integer 1..4,194,304, `idleFraction`
 *   is not in [0, 1], a time option is not a finite number >= 0 (`nsPerJiffy` > 0), or
 *   (from the seeded generator) on a bad seed; the message names the value and its type.
 */
export function planBulkGp(nrCpus: number, opts: BulkGpOptions): BulkGpPlan {
  if (!Number.isSafeInteger(nrCpus) || nrCpus < 1 || nrCpus > MAX_CPUS)
    throw new KernelError(
      'EINVAL',
      `planBulkGp: nrCpus ${describeValue(nrCpus)} is not an integer 1..${MAX_CPUS}`,
    );
  if (typeof opts !== 'object' || opts === null)
    throw new KernelError(
      'EINVAL',
      `planBulkGp: options must be an object ({ seed, ... }), got ${describeValue(opts)}`,
    );
  const rng = createRng(opts.seed);
  const idleFraction = opts.idleFraction ?? 0.5;
  if (typeof idleFraction !== 'number' || !(idleFraction >= 0 && idleFraction <= 1))
    throw new KernelError(
      'EINVAL',
      `planBulkGp: idleFraction ${describeValue(idleFraction)} is not a fraction in [0, 1]`,
    );
  for (const [what, v, positive] of [
    ['tickJitterNs', opts.tickJitterNs, false],
    ['wakeLatencyNs', opts.wakeLatencyNs, false],
    ['nsPerJiffy', opts.nsPerJiffy, true],
  ] as const)
    if (
      v !== undefined &&
      (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0))
    )
      throw new KernelError(
        'EINVAL',
        `planBulkGp: ${what} ${describeValue(v)} is not a finite number ${positive ? '> 0' : '>= 0'}`,
      );
  const jitter = Math.max(1, opts.tickJitterNs ?? 1000);
  const wake = Math.max(1, opts.wakeLatencyNs ?? 1000);
  const nsPerJiffy = opts.nsPerJiffy ?? 1_000_000;
  const busy = new Uint8Array(nrCpus);
  const threshold = Math.floor(idleFraction * 0x1_0000_0000);
  let nBusy = 0;
  for (let cpu = 0; cpu < nrCpus; cpu++)
    if (rng.nextU32() >= threshold) {
      busy[cpu] = 1;
      nBusy++;
    }
  if (nBusy === 0) {
    busy[0] = 1;
    nBusy = 1;
  }
  const busyEvents = new Float64Array(2 * nBusy);
  const wakeEvents = new Float64Array(nrCpus - nBusy);
  let b = 0;
  let w = 0;
  let callbackCpu = -1;
  for (let cpu = 0; cpu < nrCpus; cpu++)
    if (busy[cpu] === 1) {
      if (callbackCpu < 0) callbackCpu = cpu;
      busyEvents[b++] = (nsPerJiffy + rng.below(jitter)) * EV_BITS + cpu * 2;
      busyEvents[b++] = (2 * nsPerJiffy + rng.below(jitter)) * EV_BITS + cpu * 2 + 1;
    } else wakeEvents[w++] = rng.below(wake) * CPU_BITS + cpu;
  busyEvents.sort();
  wakeEvents.sort();
  return { nrCpus, busy, busyEvents, wakeEvents, nsPerJiffy, callbackCpu };
}

function drain(g: Generator<undefined, unknown, unknown>): void {
  for (let r = g.next(); r.done !== true; r = g.next());
}

/**
 * Runs one grace period of Tree RCU (made without a scheduler) through `plan`: busy
 * CPUs' ticks go through `rcuSchedClockIrq`, idle CPUs get nothing and are left to FQS.
 * The lock statistics are reset first; the idle wakeups are this grace period's.
 * @throws KernelError EINVAL if `plan` was not made by {@link planBulkGp} for
 *   `rs.nrCpus` CPUs (nothing is run).
 * @see kernel/rcu/tree.c: rcu_gp_init(), rcu_gp_fqs_loop(), rcu_report_qs_rnp()
 */
export function runTreeGpBulk(rs: RcuState, plan: BulkGpPlan): BulkGpResult {
  const n = rs.nrCpus;
  checkPlan('runTreeGpBulk', n, plan);
  for (let cpu = 0; cpu < n; cpu++) rs.setCpuIdle(cpu, plan.busy[cpu] === 0);
  rs.resetLockStats();
  const wakeups0 = rs.idleWakeups;
  const clock = rs.clock;
  const t0 = clock.nowNs();
  const cbCpu = plan.callbackCpu;
  let invoked = false;
  rs.callRcu(cbCpu, () => (invoked = true));
  rs.rcuCore(cbCpu);
  drain(rs.rcuGpInit());
  let nextFqs = t0 + rs.jiffiesTillFirstFqs * plan.nsPerJiffy;
  let first = true;
  const fqsUntil = (t: number): void => {
    while (!rs.rootQsDone() && nextFqs <= t) {
      clock.advanceTo(nextFqs);
      drain(rs.rcuGpFqs(first));
      first = false;
      nextFqs += Math.max(1, rs.jiffiesTillNextFqs) * plan.nsPerJiffy;
    }
  };
  const ev = plan.busyEvents;
  for (let i = 0; i < ev.length && !rs.rootQsDone(); i++) {
    const k = ev[i]!;
    const off = Math.floor(k / EV_BITS);
    const rest = k - off * EV_BITS;
    const cpu = rest >>> 1;
    const te = t0 + off;
    fqsUntil(te);
    if (rs.rootQsDone()) break;
    clock.advanceTo(te);
    // Ticks go through rcu_sched_clock_irq, which counts any that lands on an idle CPU.
    if ((rest & 1) === 0) {
      rs.rcuSchedClockIrq(cpu); // tick: notices the new grace period
      rs.rcuQs(cpu); // then a context switch
    } else rs.rcuSchedClockIrq(cpu); // next tick: reports the quiescent state
  }
  fqsUntil(Infinity);
  const gpNs = rs.lastGpQsDoneNs - t0;
  // The kthread wakes when the last report has released the root's lock.
  clock.advanceTo(Math.max(clock.nowNs(), rs.lastGpQsDoneNs));
  drain(rs.rcuGpCleanup());
  rs.rcuCore(cbCpu);
  const s = rs.lockStats();
  return {
    gpNs,
    hottestAcquisitions: s.hottestAcquisitions,
    hottestQsAcquisitions: s.hottestQsAcquisitions,
    maxWaiters: s.maxWaiters,
    contended: s.contended,
    totalAcquisitions: s.total,
    idleWakeups: rs.idleWakeups - wakeups0,
    callbackInvoked: invoked,
  };
}

/**
 * Runs one batch of classic RCU through `plan`: busy CPUs report at their ticks; at
 * the time Tree RCU would run its first FQS scan (`firstFqsJiffies`), the holdouts are
 * sent IPIs and the woken idle CPUs report. The lock statistics are reset first.
 * Linux's first FQS comes `3 + nrCpus / 256` jiffies after the grace period starts.
 * @throws KernelError EINVAL if `plan` was not made by {@link planBulkGp} for
 *   `cr.nrCpus` CPUs, or `firstFqsJiffies` is not a finite number >= 0 (nothing is run).
 * @see kernel/rcuclassic.c (Linux <= 2.6.28): rcu_start_batch(), force_quiescent_state()
 */
export function runClassicGpBulk(
  cr: ClassicRcu,
  plan: BulkGpPlan,
  firstFqsJiffies: number,
): BulkGpResult {
  checkPlan('runClassicGpBulk', cr.nrCpus, plan);
  if (
    typeof firstFqsJiffies !== 'number' ||
    !Number.isFinite(firstFqsJiffies) ||
    firstFqsJiffies < 0
  )
    throw new KernelError(
      'EINVAL',
      `runClassicGpBulk: firstFqsJiffies ${describeValue(firstFqsJiffies)} is not a finite number >= 0 (Linux: 3 + nrCpus / 256)`,
    );
  cr.resetLockStats();
  for (let cpu = 0; cpu < cr.nrCpus; cpu++) cr.idle[cpu] = plan.busy[cpu] === 1 ? 0 : 1;
  const clock = cr.clock;
  const t0 = clock.nowNs();
  let invoked = false;
  cr.callRcu(plan.callbackCpu, () => (invoked = true));
  const ev = plan.busyEvents;
  for (let i = 0; i < ev.length; i++) {
    const k = ev[i]!;
    const off = Math.floor(k / EV_BITS);
    const rest = k - off * EV_BITS;
    if ((rest & 1) === 1) cr.cpuQuiet(rest >>> 1, t0 + off);
  }
  if (cr.gpInProgress()) {
    const tf = t0 + firstFqsJiffies * plan.nsPerJiffy;
    clock.advanceTo(Math.max(clock.nowNs(), tf));
    cr.forceQuiescentState(tf);
    const we = plan.wakeEvents;
    for (let i = 0; i < we.length; i++) {
      const k = we[i]!;
      const off = Math.floor(k / CPU_BITS);
      cr.cpuQuiet(k - off * CPU_BITS, tf + off);
    }
  }
  const gpNs = cr.lastBatchEndNs - t0;
  clock.advanceTo(Math.max(clock.nowNs(), cr.lastBatchEndNs));
  cr.processCallbacks(plan.callbackCpu);
  return {
    gpNs,
    hottestAcquisitions: cr.lockAcq,
    hottestQsAcquisitions: cr.lockQsAcq,
    maxWaiters: cr.lockMaxWaiters,
    contended: cr.lockContended,
    totalAcquisitions: cr.lockAcq,
    idleWakeups: cr.idleWakeups,
    callbackInvoked: invoked,
  };
}
