import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@kern/core';
import type { TaskContext } from '@kern/core';
import { createRcuState, rcuInitGeometry, RCU_GP_STATES } from '../src/tree.js';
import { makeSim } from './tree-helpers.js';

describe('rcu_init_geometry', () => {
  it('matches Linux for 4096 CPUs, fanout 64, leaf 16', () => {
    const g = rcuInitGeometry(4096);
    expect(g.numLvls).toBe(3);
    expect(g.levelCnt).toEqual([1, 4, 256]);
    expect(g.levelSpread).toEqual([4, 64, 16]);
    expect(g.levelOffset).toEqual([0, 1, 5]);
    expect(g.numNodes).toBe(261);
  });

  it.each([
    [16, 1, [1], [16]],
    [17, 2, [1, 2], [2, 9]],
    [64, 2, [1, 4], [4, 16]],
    [1024, 2, [1, 64], [64, 16]],
    [65_536, 3, [1, 64, 4096], [64, 64, 16]],
    [262_144, 4, [1, 4, 256, 16_384], [4, 64, 64, 16]],
    [4_194_304, 4, [1, 64, 4096, 262_144], [64, 64, 64, 16]],
  ])('%i CPUs: %i levels', (n, lvls, cnt, spread) => {
    const g = rcuInitGeometry(n);
    expect(g.numLvls).toBe(lvls);
    expect(g.levelCnt).toEqual(cnt);
    expect(g.levelSpread).toEqual(spread);
  });

  it('fills nodes to the fanout with rcu_fanout_exact', () => {
    const g = rcuInitGeometry(17, 64, 16, true);
    expect(g.levelSpread).toEqual([64, 16]);
    const rs = createRcuState({ nrCpus: 17, fanoutExact: true, clock: new VirtualClock() });
    expect(rs.node(1)).toMatchObject({ grplo: 0, grphi: 15 });
    expect(rs.node(2)).toMatchObject({ grplo: 16, grphi: 16, grpnum: 1, grpmask: 2n });
  });

  it('supports other fanouts and rejects what Linux cannot build', () => {
    expect(rcuInitGeometry(8, 2, 2).numLvls).toBe(3);
    expect(rcuInitGeometry(16, 2, 2).numLvls).toBe(4);
    expect(() => rcuInitGeometry(17, 2, 2)).toThrow(/EINVAL|nr_cpu_ids/);
    expect(() => rcuInitGeometry(4_194_305)).toThrow(/nr_cpu_ids/);
    expect(() => rcuInitGeometry(8, 65, 16)).toThrow(/fanout/);
    expect(() => rcuInitGeometry(8, 64, 1)).toThrow(/fanout_leaf/);
  });

  it('lays out grplo/grphi/grpmask/parent breadth first (4096 CPUs)', () => {
    const rs = createRcuState({ nrCpus: 4096, clock: new VirtualClock() });
    expect(rs.node(0)).toMatchObject({ level: 0, grplo: 0, grphi: 4095, parent: -1, grpmask: 0n });
    expect(rs.node(4)).toMatchObject({ level: 1, grplo: 3072, grphi: 4095, grpnum: 3, parent: 0 });
    expect(rs.node(5)).toMatchObject({ level: 2, grplo: 0, grphi: 15, grpnum: 0, parent: 1 });
    expect(rs.node(68)).toMatchObject({ grplo: 1008, grphi: 1023, grpnum: 63, parent: 1 });
    expect(rs.node(68).grpmask).toBe(1n << 63n);
    expect(rs.node(69)).toMatchObject({ grplo: 1024, grphi: 1039, grpnum: 0, parent: 2 });
    // Every online CPU is in qsmaskinit, interior nodes have all children.
    expect(rs.node(0).qsmaskinit).toBe(0xfn);
    expect(rs.node(1).qsmaskinit).toBe((1n << 64n) - 1n);
    expect(rs.node(5).qsmaskinit).toBe(0xffffn);
    expect(rs.leafOf(1030)).toBe(69);
    expect(rs.cpuBit(1030)).toBe(6);
  });

  it('fits 4,194,304 CPUs in typed arrays', () => {
    const rs = createRcuState({ nrCpus: 4_194_304, clock: new VirtualClock() });
    expect(rs.geometry.numLvls).toBe(4);
    expect(rs.geometry.numNodes).toBe(1 + 64 + 4096 + 262_144);
    expect(rs.node(rs.geometry.numNodes - 1)).toMatchObject({ grplo: 4_194_288, grphi: 4_194_303 });
  });
});

/** A reader task: `n` read-side critical sections, each `len` yields long. */
function* reader(
  ctx: TaskContext,
  rcu: ReturnType<typeof makeSim>['rcu'],
  log: { start: number; end: number }[],
  n: number,
  len: number,
) {
  for (let i = 0; i < n; i++) {
    rcu.rcuReadLock(ctx);
    const rec = { start: ctx.sched.totalSteps, end: -1 };
    log.push(rec);
    for (let k = 0; k < len; k++) yield;
    rec.end = ctx.sched.totalSteps;
    rcu.rcuReadUnlock(ctx);
    yield ctx.sleep(ctx.rng.below(5000));
  }
}

describe('Tree RCU on the deterministic scheduler', () => {
  it('synchronizeRcu waits for every reader that started before it', () => {
    const { sched, rcu } = makeSim({ nrCpus: 6, seed: 7, fanout: 2, fanoutLeaf: 2 });
    const log: { start: number; end: number }[] = [];
    for (let i = 0; i < 5; i++)
      sched.spawn({ name: `reader${i}` }, (ctx) => reader(ctx, rcu, log, 30, 40));
    const checks: { at: number; before: typeof log }[] = [];
    let done = 0;
    sched.spawn({ name: 'updater' }, function* (ctx) {
      for (let i = 0; i < 8; i++) {
        yield ctx.sleep(20_000);
        const before = log.filter((r) => r.end < 0);
        yield* rcu.synchronizeRcu(ctx);
        checks.push({ at: ctx.sched.totalSteps, before });
      }
      done = 1;
    });
    const r = sched.run({ until: () => done === 1, untilNs: 10e9 });
    expect(r.reason).toBe('until');
    expect(checks).toHaveLength(8);
    expect(checks.some((c) => c.before.length > 0)).toBe(true);
    for (const c of checks)
      for (const rd of c.before) {
        expect(rd.end).toBeGreaterThanOrEqual(0);
        expect(rd.end).toBeLessThanOrEqual(c.at);
      }
    expect(rcu.completedGps).toBeGreaterThanOrEqual(8);
  });

  it('invokes callbacks only after their grace period, on the queuing CPU', () => {
    const { sched, rcu } = makeSim({ nrCpus: 4, seed: 3 });
    const events: string[] = [];
    let gpAtCall = -1;
    sched.spawn({ name: 'caller', cpu: 2 }, function* () {
      gpAtCall = rcu.completedGps;
      rcu.callRcu(2, () => events.push(`cb gps=${rcu.completedGps}`));
      yield;
    });
    sched.run({ until: () => events.length > 0, untilNs: 1e9 });
    expect(events).toHaveLength(1);
    expect(rcu.completedGps).toBeGreaterThan(gpAtCall);
    expect(rcu.nCbsInvoked).toBe(1);
    expect(rcu.gpStateName()).toMatch(/RCU_GP_(IDLE|WAIT_GPS|CLEANED)/);
    expect(RCU_GP_STATES).toHaveLength(9);
  });

  it('rcuBarrier waits for every callback queued before it', () => {
    const { sched, rcu } = makeSim({ nrCpus: 4, seed: 11 });
    let invoked = 0;
    let seenAtBarrier = -1;
    sched.spawn({ name: 'barrier' }, function* (ctx) {
      for (let cpu = 0; cpu < 4; cpu++)
        for (let i = 0; i < 5; i++) rcu.callRcu(cpu, () => invoked++);
      yield ctx.sleep(10);
      yield* rcu.rcuBarrier(ctx);
      seenAtBarrier = invoked;
    });
    sched.run({ until: () => seenAtBarrier >= 0, untilNs: 1e9 });
    expect(seenAtBarrier).toBe(20);
  });

  it('idle CPUs are reported by FQS without being woken', () => {
    const { sched, rcu } = makeSim({ nrCpus: 64, seed: 5 });
    let done = false;
    sched.spawn({ name: 'sync', cpu: 0 }, function* (ctx) {
      yield* rcu.synchronizeRcu(ctx);
      done = true;
    });
    sched.run({ until: () => done, untilNs: 1e9 });
    expect(done).toBe(true);
    expect(rcu.idleWakeups).toBe(0);
    expect(rcu.nFqsReports).toBeGreaterThan(50);
    // The idle CPUs never ran anything.
    for (let cpu = 1; cpu < 64; cpu++)
      if (sched.nrSwitches(cpu) === 0) expect(rcu.softirqCount[cpu]).toBe(0);
  });

  it('a CPU going offline during a grace period does not hold it up', () => {
    const { sched, rcu } = makeSim({ nrCpus: 4, seed: 9, fanout: 2, fanoutLeaf: 2 });
    let done = false;
    // CPU 3 runs a task that never yields preemptibly until taken offline.
    let spin = true;
    sched.spawn({ name: 'spinner' }, function* () {
      while (spin) yield;
    });
    sched.spawn({ name: 'sync', cpu: 0 }, function* (ctx) {
      rcu.callRcu(0, () => undefined);
      yield ctx.sleep(100_000);
      const gp = rcu.gpSeq;
      expect(rcu.gpInProgress()).toBe(true);
      rcu.offlineCpu(3);
      expect(rcu.cpuOnline(3)).toBe(false);
      yield* rcu.synchronizeRcu(ctx);
      expect(rcu.gpSeq).toBeGreaterThan(gp);
      spin = false;
      done = true;
    });
    sched.run({ until: () => done, untilNs: 1e9 });
    expect(done).toBe(true);
    // The next grace period applies the offline CPU to qsmaskinit.
    const leaf = rcu.leafOf(3);
    expect(rcu.node(leaf).qsmaskinitnext & (1n << BigInt(rcu.cpuBit(3)))).toBe(0n);
    rcu.onlineCpu(3);
    expect(rcu.cpuOnline(3)).toBe(true);
  });

  it('moves callbacks of an offline CPU to an online one', () => {
    const { sched, rcu } = makeSim({ nrCpus: 4, seed: 2 });
    let ran = 0;
    let done = false;
    sched.spawn({ name: 'q', cpu: 0 }, function* (ctx) {
      rcu.callRcu(2, () => ran++);
      rcu.callRcu(2, () => ran++);
      rcu.offlineCpu(2);
      yield* rcu.rcuBarrier(ctx);
      done = true;
    });
    sched.run({ until: () => done, untilNs: 1e9 });
    expect(ran).toBe(2);
    expect(() => rcu.callRcu(2, () => undefined)).toThrow(/offline/);
  });

  it('is deterministic: same seed, same trace', () => {
    const run = (seed: number): string => {
      const { sched, rcu } = makeSim({ nrCpus: 4, seed, trace: true });
      const log: { start: number; end: number }[] = [];
      for (let i = 0; i < 3; i++)
        sched.spawn({ name: `r${i}` }, (ctx) => reader(ctx, rcu, log, 10, 5));
      sched.spawn({ name: 'u' }, function* (ctx) {
        for (let i = 0; i < 3; i++) yield* rcu.synchronizeRcu(ctx);
      });
      sched.run({ untilNs: 50e6 });
      return JSON.stringify([sched.trace.map((t) => [t.cpu, t.pid, t.nowNs]), rcu.gpSeq, log]);
    };
    expect(run(42)).toBe(run(42));
    expect(run(42)).not.toBe(run(43));
  });

  it('stop() lets the scheduler go idle', () => {
    const { sched, rcu } = makeSim({ nrCpus: 2 });
    sched.spawn({ name: 'u' }, function* (ctx) {
      yield* rcu.synchronizeRcu(ctx);
      rcu.stop();
    });
    expect(sched.run({ untilNs: 1e9 }).reason).toBe('idle');
  });
});
