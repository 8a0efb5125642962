/** Shared set-up of the simulated Tree RCU tests. */
import { VirtualClock, createPrintk, createScheduler } from '@kern/core';
import type { Printk, Scheduler } from '@kern/core';
import { createRcuState } from '../src/tree.js';
import type { RcuState, RcuStateOptions } from '../src/tree.js';

export interface Sim {
  clock: VirtualClock;
  sched: Scheduler;
  rcu: RcuState;
  printk: Printk;
}

/** A scheduler over `nrCpus` CPUs with Tree RCU attached. */
export function makeSim(
  opts: { nrCpus?: number; seed?: number; trace?: boolean } & Partial<
    Omit<RcuStateOptions, 'clock' | 'sched' | 'printk' | 'nrCpus'>
  > = {},
): Sim {
  const { nrCpus = 4, seed = 1, trace = false, ...rest } = opts;
  const clock = new VirtualClock();
  const sched = createScheduler({ nrCpus, seed, clock, trace });
  const printk = createPrintk({ buffer: new Uint8Array(1 << 16), clock });
  const rcu = createRcuState({ nrCpus, clock, sched, printk, ...rest });
  return { clock, sched, rcu, printk };
}
