import { describe, expect, it } from 'vitest';
import { VirtualClock, createScheduler } from '@kern/core';
import type { TaskBody, TaskContext } from '@kern/core';
import { createRcuState } from '../src/tree.js';
import type { RcuState } from '../src/tree.js';
import { makeSim } from './tree-helpers.js';
import type { Sim } from './tree-helpers.js';

/**
 * Three reader CPUs in and out of read-side critical sections, twelve idle CPUs, and an
 * updater on CPU 0 that alternates `sync` (the grace period under test) with a normal
 * one. Returns each `sync`'s length, the normal ones', how many readers were inside
 * when `sync` began, how many of those were still in that same section when it
 * returned (must be 0), and the idle wakeups during the `sync` calls alone.
 */
function expScenario(sync: (rcu: Sim['rcu'], ctx: TaskContext) => TaskBody<void>) {
  const { sched, rcu, clock } = makeSim({ nrCpus: 16, seed: 21, fanout: 4, fanoutLeaf: 4 });
  // section[i]: how many read-side critical sections reader i has entered; active: inside.
  const section = [0, 0, 0];
  const active = new Set<number>();
  let stop = false;
  for (let i = 0; i < 3; i++)
    sched.spawn({ name: `reader${i}`, cpu: i + 1 }, function* (ctx) {
      while (!stop) {
        rcu.rcuReadLock(ctx);
        section[i]!++;
        active.add(i);
        for (let k = 0; k < 50; k++) yield;
        active.delete(i);
        rcu.rcuReadUnlock(ctx);
        yield;
      }
    });
  const expNs: number[] = [];
  const normNs: number[] = [];
  let inside = 0;
  let overlapped = 0;
  let expWakeups = 0;
  let done = false;
  sched.spawn({ name: 'updater', cpu: 0 }, function* (ctx) {
    for (let i = 0; i < 5; i++) {
      yield ctx.sleep(37_000);
      const before = [...active].map((r) => [r, section[r]!] as const);
      inside += before.length;
      const w0 = rcu.idleWakeups;
      const t0 = ctx.now();
      yield* sync(rcu, ctx);
      expNs.push(ctx.now() - t0);
      expWakeups += rcu.idleWakeups - w0;
      // A reader that was inside must have left that section (it may be in a later one).
      for (const [r, sec] of before) if (active.has(r) && section[r] === sec) overlapped++;
      const t1 = ctx.now();
      yield* rcu.synchronizeRcu(ctx);
      normNs.push(ctx.now() - t1);
    }
    stop = true;
    done = true;
  });
  sched.run({ until: () => done, untilNs: clock.nowNs() + 5e9 });
  return { rcu, done, expNs, normNs, inside, overlapped, expWakeups };
}

describe('expedited grace periods', () => {
  it('waits for pre-existing readers, IPIs only busy CPUs, and beats a normal GP', () => {
    const r = expScenario((rcu, ctx) => rcu.synchronizeRcuExpedited(ctx));
    expect(r.done).toBe(true);
    expect(r.rcu.completedExpGps).toBe(5);
    expect(r.inside).toBeGreaterThan(0);
    expect(r.overlapped).toBe(0);
    // 3 busy reader CPUs per expedited GP; the 12 idle CPUs are never IPI'd, so no IPI
    // (each counted on delivery if it finds its CPU idle) wakes one.
    expect(r.rcu.nExpIpis).toBeGreaterThan(0);
    expect(r.rcu.nExpIpis).toBeLessThanOrEqual(5 * 3);
    expect(r.expWakeups).toBe(0);
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    expect(med(r.expNs)).toBeLessThan(med(r.normNs));
  });

  it('negative control: a "grace period" that does not wait is caught overlapping a reader', () => {
    // eslint-disable-next-line require-yield -- the broken grace period never waits
    const r = expScenario(function* () {
      return;
    });
    expect(r.inside).toBeGreaterThan(0);
    expect(r.overlapped).toBeGreaterThan(0);
  });

  it('an IPI that lands on a dyntick-idle CPU counts as an idle wakeup', () => {
    const { rcu } = makeSim({ nrCpus: 4, seed: 1 });
    expect(rcu.cpuInEqs(3)).toBe(true);
    rcu.expIpi(3);
    expect(rcu.idleWakeups).toBe(1);
  });

  it('a reader holding preemption off defers the expedited QS until it leaves', () => {
    const { sched, rcu } = makeSim({ nrCpus: 4, seed: 8 });
    let inReader = false;
    let leftAt = -1;
    sched.spawn({ name: 'reader', cpu: 2 }, function* (ctx) {
      yield ctx.sleep(1000);
      rcu.rcuReadLock(ctx);
      inReader = true;
      for (let k = 0; k < 2000; k++) yield;
      leftAt = ctx.now();
      rcu.rcuReadUnlock(ctx);
      inReader = false;
      yield ctx.sleep(1e9);
    });
    let doneAt = -1;
    sched.spawn({ name: 'exp', cpu: 0 }, function* (ctx) {
      yield ctx.sleep(5000);
      expect(inReader).toBe(true);
      yield* rcu.synchronizeRcuExpedited(ctx);
      doneAt = ctx.now();
    });
    sched.run({ until: () => doneAt >= 0, untilNs: 1e9 });
    expect(leftAt).toBeGreaterThan(0);
    expect(doneAt).toBeGreaterThanOrEqual(leftAt);
  });

  it('concurrent requesters share one expedited grace period', () => {
    const { sched, rcu } = makeSim({ nrCpus: 8, seed: 3, fanoutLeaf: 2, fanout: 2 });
    let n = 0;
    for (let i = 0; i < 8; i++)
      sched.spawn({ name: `e${i}`, cpu: i }, function* (ctx) {
        yield* rcu.synchronizeRcuExpedited(ctx);
        n++;
      });
    sched.run({ until: () => n === 8, untilNs: 1e9 });
    expect(n).toBe(8);
    expect(rcu.completedExpGps).toBeLessThan(8);
  });

  describe('CPUs brought online after the last normal grace period started', () => {
    /** A reader on `cpu` that stays inside for 5000 steps (about 5 ms). */
    function spawnLongReader(rcu: RcuState, ctx: TaskContext, cpu: number) {
      const log = { inside: false, leftAt: -1 };
      ctx.sched.spawn({ name: 'reader', cpu }, function* (rctx) {
        rcu.rcuReadLock(rctx);
        log.inside = true;
        for (let k = 0; k < 5000; k++) yield;
        log.leftAt = rctx.now();
        log.inside = false;
        rcu.rcuReadUnlock(rctx);
      });
      return log;
    }

    it('waits for a reader on a CPU onlined since qsmaskinit was last set', () => {
      const { sched, rcu } = makeSim({ nrCpus: 4, seed: 5 });
      const leaf = rcu.leafOf(3);
      const bit3 = 1n << BigInt(rcu.cpuBit(3));
      let qsmaskinitHad3 = true;
      let log = { inside: false, leftAt: -1 };
      let insideAtStart = false;
      let insideAtReturn = true;
      let doneAt = -1;
      sched.spawn({ name: 'hotplug', cpu: 0 }, function* (ctx) {
        rcu.offlineCpu(3);
        yield* rcu.synchronizeRcu(ctx); // its start takes CPU 3 out of qsmaskinit
        qsmaskinitHad3 = (rcu.node(leaf).qsmaskinit & bit3) !== 0n;
        rcu.onlineCpu(3);
        log = spawnLongReader(rcu, ctx, 3);
        yield ctx.sleep(1000);
        insideAtStart = log.inside;
        yield* rcu.synchronizeRcuExpedited(ctx);
        insideAtReturn = log.inside;
        doneAt = ctx.now();
      });
      sched.run({ until: () => doneAt >= 0, untilNs: 1e9 });
      expect(qsmaskinitHad3).toBe(false);
      expect(insideAtStart).toBe(true);
      expect(insideAtReturn).toBe(false);
      expect(log.leftAt).toBeGreaterThan(0);
      expect(doneAt).toBeGreaterThanOrEqual(log.leftAt);
      expect(rcu.node(leaf).expmaskinit & bit3).toBe(bit3);
    });

    it('waits for a CPU first onlined after boot in a subtree that had none', () => {
      // Eight CPUs, fanout 2, leaf 2: root 0, nodes 1-2, leaves 3-6. CPUs 4-7 (node 2's
      // whole subtree) are offline at boot, so node 2 and the root's bit for it start
      // clear in expmaskinit and must be set, two levels up, when CPU 7 comes up.
      const clock = new VirtualClock();
      const sched = createScheduler({ nrCpus: 8, seed: 5, clock });
      for (let cpu = 4; cpu < 8; cpu++) sched.setCpuOnline(cpu, false);
      const rcu = createRcuState({ nrCpus: 8, clock, sched, fanout: 2, fanoutLeaf: 2 });
      let log = { inside: false, leftAt: -1 };
      let insideAtReturn = true;
      let rootBefore = -1n;
      let doneAt = -1;
      sched.spawn({ name: 'hotplug', cpu: 0 }, function* (ctx) {
        yield* rcu.synchronizeRcuExpedited(ctx);
        rootBefore = rcu.node(0).expmaskinit;
        rcu.onlineCpu(7);
        log = spawnLongReader(rcu, ctx, 7);
        yield ctx.sleep(1000);
        yield* rcu.synchronizeRcuExpedited(ctx);
        insideAtReturn = log.inside;
        doneAt = ctx.now();
      });
      sched.run({ until: () => doneAt >= 0, untilNs: 1e9 });
      expect(rcu.leafOf(7)).toBe(6);
      expect(rootBefore).toBe(0b01n);
      expect(rcu.node(2).expmaskinit).toBe(0b10n);
      expect(rcu.node(0).expmaskinit).toBe(0b11n);
      expect(insideAtReturn).toBe(false);
      expect(doneAt).toBeGreaterThanOrEqual(log.leftAt);
      expect(log.leftAt).toBeGreaterThan(0);
    });
  });
});
