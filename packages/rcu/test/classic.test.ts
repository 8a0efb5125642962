import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@kern/core';
import { createClassicRcu } from '../src/classic.js';
import { createRcuState } from '../src/tree.js';
import { planBulkGp, runClassicGpBulk, runTreeGpBulk } from '../src/sim-bulk.js';

describe('classic RCU (baseline)', () => {
  it('ends a batch only when every CPU has reported, all under one lock', () => {
    const cr = createClassicRcu({ nrCpus: 70, clock: new VirtualClock() });
    let ran = 0;
    cr.callRcu(3, () => ran++);
    expect(cr.gpInProgress()).toBe(true);
    for (let cpu = 0; cpu < 69; cpu++) cr.cpuQuiet(cpu);
    expect(cr.processCallbacks(3)).toBe(0);
    expect(cr.remaining).toBe(1);
    cr.cpuQuiet(69);
    expect(cr.gpInProgress()).toBe(false);
    expect(cr.processCallbacks(3)).toBe(1);
    expect(ran).toBe(1);
    expect(cr.lockQsAcq).toBe(70);
    // A report for an already-clear bit changes nothing.
    cr.cpuQuiet(5);
    expect(cr.completed).toBe(1);
  });

  it('starts the next batch when one completes if callbacks queued meanwhile wait for it', () => {
    const cr = createClassicRcu({ nrCpus: 8, clock: new VirtualClock() });
    const ran: string[] = [];
    cr.callRcu(3, () => ran.push('first'));
    expect(cr.cur).toBe(1);
    // Queued during batch 1: it needs batch 2, which must start when batch 1 ends.
    cr.callRcu(5, () => ran.push('second'));
    expect(cr.pending).toBe(2);
    for (let cpu = 0; cpu < 8; cpu++) cr.cpuQuiet(cpu);
    expect(cr.completed).toBe(1);
    expect(cr.processCallbacks(3)).toBe(1);
    expect(cr.processCallbacks(5)).toBe(0);
    expect(cr.gpInProgress()).toBe(true);
    expect(cr.cur).toBe(2);
    for (let cpu = 0; cpu < 8; cpu++) cr.cpuQuiet(cpu);
    expect(cr.completed).toBe(2);
    expect(cr.processCallbacks(5)).toBe(1);
    expect(ran).toEqual(['first', 'second']);
    // Nothing else waits: no third batch.
    expect(cr.gpInProgress()).toBe(false);
  });

  it('must wake idle CPUs, and contends on its one lock', () => {
    const plan = planBulkGp(4096, { seed: 3, idleFraction: 0.5 });
    const cr = createClassicRcu({ nrCpus: 4096, clock: new VirtualClock() });
    const r = runClassicGpBulk(cr, plan, 19);
    const idle = plan.busy.reduce((a, b) => a + (b ? 0 : 1), 0);
    expect(r.callbackInvoked).toBe(true);
    expect(r.idleWakeups).toBe(idle);
    expect(r.hottestQsAcquisitions).toBe(4096);
    expect(r.maxWaiters).toBeGreaterThan(1000);
  });
});

describe('bulk driver: Tree RCU at scale', () => {
  it.each([16, 1024, 4096, 65_536])('%i CPUs: bounded lock load, no idle CPU woken', (n) => {
    const plan = planBulkGp(n, { seed: 1 });
    const rs = createRcuState({ nrCpus: n, clock: new VirtualClock() });
    const r = runTreeGpBulk(rs, plan);
    expect(r.callbackInvoked).toBe(true);
    expect(r.idleWakeups).toBe(0);
    expect(r.hottestQsAcquisitions).toBeLessThanOrEqual(Math.min(n, 64) + 1);
    expect(r.maxWaiters).toBeLessThan(64);
    expect(rs.completedGps).toBe(1);
    // Every idle CPU was reported by FQS on its behalf.
    const idle = plan.busy.reduce((a, b) => a + (b ? 0 : 1), 0);
    expect(rs.nFqsReports).toBe(idle);
  });

  it('negative control: a tick the driver delivers to a dyntick-idle CPU counts as a wakeup', () => {
    const rs = createRcuState({ nrCpus: 16, clock: new VirtualClock() });
    rs.setCpuIdle(5, true);
    rs.rcuSchedClockIrq(5);
    expect(rs.idleWakeups).toBe(1);
    rs.setCpuIdle(6, false);
    rs.rcuSchedClockIrq(6);
    expect(rs.idleWakeups).toBe(1);
  });

  // The wall time this takes is a bench row (bench/sim.ts), not a test verdict.
  it('simulates a 262,144-CPU grace period', () => {
    const plan = planBulkGp(262_144, { seed: 2 });
    const rs = createRcuState({ nrCpus: 262_144, clock: new VirtualClock() });
    const r = runTreeGpBulk(rs, plan);
    expect(r.callbackInvoked).toBe(true);
    expect(r.idleWakeups).toBe(0);
  });

  it('runs back-to-back grace periods on the same state', () => {
    const rs = createRcuState({ nrCpus: 1024, clock: new VirtualClock() });
    for (let i = 0; i < 3; i++) {
      const r = runTreeGpBulk(rs, planBulkGp(1024, { seed: 10 + i }));
      expect(r.callbackInvoked).toBe(true);
    }
    expect(rs.completedGps).toBe(3);
  });
});
