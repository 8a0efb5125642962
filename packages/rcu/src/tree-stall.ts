/**
 * RCU CPU stall warnings: when a grace period has waited longer than the stall
 * timeout, print which CPUs still owe it a quiescent state, in Linux's format
 * (`rcu: INFO: rcu_sched detected stalls on CPUs/tasks:` ...), through printk at
 * KERN_ERR.
 *
 * In the simulation the check runs from the scheduling-clock tick of the CPU that
 * runs the grace-period kthread; if that CPU is itself a holdout it reports a
 * self-detected stall, as `print_cpu_stall` does.
 *
 * Locking: `jiffies_stall` and `gp_start` are written by the GP kthread at GP start
 * and by the one CPU that wins the `cmpxchg` on `jiffies_stall` (here: the tick).
 *
 * @see kernel/rcu/tree_stall.h, Documentation/RCU/stallwarn.rst
 */

import { rcuSeqCtr } from './rcu.js';
import type { RcuState } from './tree.js';

/** Jiffies other CPUs give a stalled CPU to report itself first. @see kernel/rcu/tree_stall.h: RCU_STALL_RAT_DELAY */
export const RCU_STALL_RAT_DELAY = 2;

/** `pr_fmt` of kernel/rcu/tree.c. */
const PR_FMT = 'rcu: ';

/** Stall timeout in jiffies. @see kernel/rcu/tree_stall.h: rcu_jiffies_till_stall_check */
export function rcuJiffiesTillStallCheck(rs: RcuState): number {
  return rs.stallTimeoutJiffies;
}

/**
 * Starts the stall clock of a new grace period.
 * @see kernel/rcu/tree_stall.h: record_gp_stall_check_time
 */
export function recordGpStallCheckTime(rs: RcuState): void {
  const j = rs.jiffies();
  rs.gpStart = j;
  rs.jiffiesStall = j + rcuJiffiesTillStallCheck(rs);
  rs.nForceQsGpstart = rs.nForceQs;
}

function prErr(rs: RcuState, text: string): void {
  const line = PR_FMT + text;
  rs.stallLog.push(line);
  rs.printk?.err(line);
}

/**
 * The line describing stalled `cpu`:
 * `\t<cpu>-<O><o><N><!>: (<n> GPs behind|ticks this GP) idle=<dynticks>/<nesting>/<nmi> softirq=<snap>/<now> fqs=<n>`.
 * @see kernel/rcu/tree_stall.h: print_cpu_stall_info
 */
export function printCpuStallInfo(rs: RcuState, cpu: number): string {
  const n = rs.leafOf(cpu);
  const b = rs.cpuBit(cpu);
  const inMask = (lo: Uint32Array, hi: Uint32Array): boolean =>
    b < 32 ? ((lo[n]! >>> b) & 1) !== 0 : ((hi[n]! >>> (b - 32)) & 1) !== 0;
  const behind = rcuSeqCtr(rs.gpSeq - rs.cpuGpSeq[cpu]!);
  const [ticksValue, ticksTitle] =
    behind > 0 ? [behind, 'GPs behind'] : [rs.ticksThisGp[cpu]!, 'ticks this GP'];
  // The irq-work probe (rdp->rcu_iw) is never queued in the simulation, so it is never
  // pending and has not run during this grace period: Linux prints '!' for that.
  const iwChar = '!';
  const idle = rs.cpuInEqs(cpu);
  const flags =
    (rs.cpuOnline(cpu) ? '.' : 'O') +
    (inMask(rs.qsmaskinitLo, rs.qsmaskinitHi) ? '.' : 'o') +
    (inMask(rs.qsmaskinitnextLo, rs.qsmaskinitnextHi) ? '.' : 'N') +
    iwChar;
  const dyn = (rs.dynticks[cpu]! & 0xffff).toString(16).padStart(4, '0');
  return (
    `\t${cpu}-${flags}: (${ticksValue} ${ticksTitle}) idle=${dyn}/${idle ? 0 : 1}/${idle ? '0' : '0x4000000000000000'} ` +
    `softirq=${rs.softirqSnap[cpu]}/${rs.softirqCount[cpu]} fqs=${rs.nForceQs - rs.nForceQsGpstart}`
  );
}

/** Holdout CPUs of the current grace period, leaf by leaf. */
function holdouts(rs: RcuState): number[] {
  const out: number[] = [];
  for (let l = rs.firstLeaf; l < rs.geometry.numNodes; l++) {
    if ((rs.qsmaskLo[l]! | rs.qsmaskHi[l]!) === 0) continue;
    for (let cpu = rs.grplo[l]!; cpu <= rs.grphi[l]!; cpu++)
      if (rs.cpuIsHoldout(cpu)) out.push(cpu);
  }
  return out;
}

/** `pr_info` from outside kernel/rcu/ (no `rcu: ` prefix), kept with the warning. */
function prInfoNoPrefix(rs: RcuState, line: string): void {
  rs.stallLog.push(line);
  rs.printk?.info(line);
}

/**
 * Shows the task each of `cpus` is running, as kernel/sched/core.c does: at KERN_INFO,
 * and without kernel/rcu's `rcu: ` prefix. The simulation has no stack to unwind; it
 * prints the task's preemption depth (a reader holds it above 0) in its place.
 * @see kernel/rcu/tree_stall.h: rcu_dump_cpu_stacks; kernel/sched/core.c: dump_cpu_task,
 *   sched_show_task
 */
function dumpCpuStacks(rs: RcuState, cpus: readonly number[]): void {
  for (const cpu of cpus) {
    prInfoNoPrefix(rs, `Task dump for CPU ${cpu}:`);
    const t = rs.sched?.currentOn(cpu) ?? null;
    const comm = (t ? t.name : `swapper/${cpu}`).slice(0, 15).padEnd(15);
    prInfoNoPrefix(
      rs,
      `task:${comm} state:R  running task     pid:${t ? t.pid : 0} preempt_count:${t ? t.preemptCount : 0}`,
    );
  }
}

/**
 * Reports CPUs that hold up the grace period, as seen from `detector`.
 * @see kernel/rcu/tree_stall.h: print_other_cpu_stall
 */
export function printOtherCpuStall(rs: RcuState, detector: number): void {
  prErr(rs, `INFO: ${rs.name} detected stalls on CPUs/tasks:`);
  const cpus = holdouts(rs);
  for (const cpu of cpus) prErr(rs, printCpuStallInfo(rs, cpu));
  prErr(
    rs,
    `\t(detected by ${detector}, t=${rs.jiffies() - rs.gpStart} jiffies, g=${rs.gpSeq}, q=${rs.nCbs()} ncpus=${rs.nOnlineCpus})`,
  );
  if (cpus.length > 0) dumpCpuStacks(rs, cpus);
  else if (rs.rootQsDone()) prErr(rs, 'INFO: Stall ended before state dump start');
}

/**
 * Reports that `cpu` itself holds up the grace period.
 * @see kernel/rcu/tree_stall.h: print_cpu_stall
 */
export function printCpuStall(rs: RcuState, cpu: number): void {
  prErr(rs, `INFO: ${rs.name} self-detected stall on CPU`);
  prErr(rs, printCpuStallInfo(rs, cpu));
  prErr(
    rs,
    `\t(t=${rs.jiffies() - rs.gpStart} jiffies g=${rs.gpSeq} q=${rs.nCbs()} ncpus=${rs.nOnlineCpus})`,
  );
  dumpCpuStacks(rs, [cpu]);
}

/**
 * Checks, from `cpu`'s tick, whether the grace period has stalled, and prints the
 * warning once per stall period (then again every `3 * timeout + 3` jiffies).
 * @see kernel/rcu/tree_stall.h: check_cpu_stall
 */
export function checkCpuStall(rs: RcuState, cpu: number): void {
  if (!rs.gpInProgress()) return;
  const j = rs.jiffies();
  const js = rs.jiffiesStall;
  if (j < js || rs.gpStart >= js) return;
  const self = rs.cpuIsHoldout(cpu);
  if (!self && j < js + RCU_STALL_RAT_DELAY) return;
  rs.nStallWarnings++;
  if (self) printCpuStall(rs, cpu);
  else printOtherCpuStall(rs, cpu);
  rs.jiffiesStall = j + 3 * rcuJiffiesTillStallCheck(rs) + 3;
}
