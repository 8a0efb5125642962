import { describe, expect, it } from 'vitest';
import { KernelError, VirtualClock } from '@kern/core';
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
    // CPU 0, which holds the callback, stays busy: any idle wakeup is one of the others.
    sched.spawn({ name: 'busy', cpu: 0 }, function* () {
      while (!done) yield;
    });
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

  // A CPU that runs "user code" for the whole grace period: a task that never passes a
  // kernel quiescent state (preemption disabled across its yields, as a busy loop that
  // never calls schedule()), optionally entering user mode (nohz_full) or taking its
  // ticks in user mode.
  const userSpinner = (mode: 'kernel' | 'nohz-user' | 'user-ticks') => {
    const { sched, rcu } = makeSim({ nrCpus: 4, seed: 9 });
    const kthreadCpu = sched.tasks().find((t) => t.name === 'rcu_sched')!.cpu;
    const u = (kthreadCpu + 1) % 4;
    let done = false;
    sched.spawn({ name: 'user', cpu: u }, function* (ctx) {
      rcu.rcuReadLock(ctx); // no context-switch quiescent state from here on
      if (mode === 'nohz-user') rcu.rcuUserEnter(u);
      while (!done) {
        if (mode === 'user-ticks') rcu.rcuSchedClockIrq(u, true);
        yield;
      }
      if (mode === 'nohz-user') rcu.rcuUserExit(u);
      rcu.rcuReadUnlock(ctx);
    });
    // The CPU that queues the grace period's callback stays busy: an idle CPU holding
    // callbacks keeps its tick (see the negative control below), which is not this test.
    sched.spawn({ name: 'busy', cpu: kthreadCpu }, function* () {
      while (!done) yield;
    });
    let synced = false;
    sched.spawn({ name: 'sync', cpu: kthreadCpu }, function* (ctx) {
      yield* rcu.synchronizeRcu(ctx);
      synced = true;
    });
    sched.run({ until: () => synced, untilNs: 300e6 });
    done = true;
    return { synced, rcu };
  };

  it('a CPU in user mode with its tick stopped (nohz_full) is reported by FQS, not woken', () => {
    const { synced, rcu } = userSpinner('nohz-user');
    expect(synced).toBe(true);
    expect(rcu.nFqsReports).toBeGreaterThan(0);
    expect(rcu.idleWakeups).toBe(0);
  });

  it('a tick taken in user mode is a quiescent state', () => {
    const { synced, rcu } = userSpinner('user-ticks');
    expect(synced).toBe(true);
    expect(rcu.nStallWarnings).toBe(0);
  });

  it('negative control: the same CPU spinning in the kernel holds the grace period', () => {
    const { synced } = userSpinner('kernel');
    expect(synced).toBe(false);
  });

  it('negative control: an idle CPU left holding callbacks keeps its tick, and each wakes it', () => {
    const { sched, rcu } = makeSim({ nrCpus: 64, seed: 5 });
    let ran = false;
    // The task queues a callback and exits: CPU 5 idles with it (rcu_needs_cpu).
    sched.spawn({ name: 'queuer', cpu: 5 }, function* () {
      rcu.callRcu(5, () => (ran = true));
      yield;
    });
    sched.run({ until: () => ran, untilNs: 1e9 });
    expect(ran).toBe(true);
    expect(rcu.cpuInEqs(5)).toBe(true);
    expect(rcu.idleWakeups).toBeGreaterThan(0);
  });

  describe('a CPU going offline during a grace period', () => {
    /**
     * An idle CPU (`victim`) holds the grace period: the other CPUs run preemptible
     * tasks and report at their ticks, but the first FQS scan, which would report the
     * idle CPU, is 100 jiffies away. With `offline`, the victim goes offline at 20 ms.
     */
    function scenario(offline: boolean) {
      const { sched, rcu } = makeSim({
        nrCpus: 4,
        seed: 9,
        fanout: 2,
        fanoutLeaf: 2,
        jiffiesTillFirstFqs: 100,
        jiffiesTillNextFqs: 100,
      });
      const kthreadCpu = sched.tasks().find((t) => t.name === 'rcu_sched')!.cpu;
      const victim = [3, 2, 1].find((c) => c !== kthreadCpu)!;
      const bit = 1n << BigInt(rcu.cpuBit(victim));
      const leaf = rcu.leafOf(victim);
      const inInit = (): boolean => (rcu.node(leaf).qsmaskinit & bit) !== 0n;
      let stop = false;
      for (let cpu = 0; cpu < 4; cpu++)
        if (cpu !== victim)
          sched.spawn({ name: `busy${cpu}`, cpu }, function* () {
            while (!stop) yield;
          });
      const r = {
        victimIdle: false,
        holdoutAt20ms: false,
        syncDoneAt: -1,
        inInitAfterOffline: false,
        inNextAfterOffline: true,
        inInitAtNextGp: true,
        nextGpNs: -1,
      };
      sched.spawn({ name: 'sync', cpu: 0 }, function* (ctx) {
        yield* rcu.synchronizeRcu(ctx);
        r.syncDoneAt = ctx.now();
        if (!offline) stop = true;
      });
      sched.spawn({ name: 'hotplug', cpu: 0 }, function* (ctx) {
        yield ctx.sleep(20e6);
        r.victimIdle = rcu.cpuInEqs(victim);
        r.holdoutAt20ms = rcu.gpInProgress() && rcu.cpuIsHoldout(victim);
        if (!offline) return;
        rcu.offlineCpu(victim);
        r.inInitAfterOffline = inInit();
        r.inNextAfterOffline = (rcu.node(leaf).qsmaskinitnext & bit) !== 0n;
        while (r.syncDoneAt < 0) yield ctx.sleep(100_000);
        const t = ctx.now();
        yield* rcu.synchronizeRcu(ctx);
        r.inInitAtNextGp = inInit();
        r.nextGpNs = ctx.now() - t;
        stop = true;
      });
      sched.run({ until: () => stop, untilNs: 1e9 });
      return { rcu, r };
    }

    it('control: without the offline, the grace period waits for the idle CPU until FQS', () => {
      const { rcu, r } = scenario(false);
      expect(r.victimIdle).toBe(true);
      expect(r.holdoutAt20ms).toBe(true);
      expect(r.syncDoneAt).toBeGreaterThanOrEqual(100e6);
      expect(rcu.nFqsReports).toBeGreaterThan(0);
    });

    it('releases the grace period; qsmaskinit drops the CPU at the next GP start', () => {
      const { rcu, r } = scenario(true);
      expect(r.holdoutAt20ms).toBe(true);
      expect(r.syncDoneAt).toBeGreaterThanOrEqual(20e6);
      expect(r.syncDoneAt).toBeLessThan(25e6);
      expect(rcu.nFqsReports).toBe(0);
      // Offline clears qsmaskinitnext at once; qsmaskinit follows at the next GP start.
      expect(r.inNextAfterOffline).toBe(false);
      expect(r.inInitAfterOffline).toBe(true);
      expect(r.inInitAtNextGp).toBe(false);
      expect(r.nextGpNs).toBeGreaterThan(0);
      expect(r.nextGpNs).toBeLessThan(10e6);
    });
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

  it.each([
    ['jiffiesTillFirstFqs', -1],
    ['jiffiesTillFirstFqs', 1.5],
    ['jiffiesTillNextFqs', Number.NaN],
    ['jiffiesTillNextFqs', Number.POSITIVE_INFINITY],
    ['stallTimeoutJiffies', 0],
    ['stallTimeoutJiffies', -21_000],
    ['lockHoldNs', -1],
    ['lockHoldNs', Number.NaN],
    ['lockHoldNs', Number.POSITIVE_INFINITY],
  ] as const)('rejects %s = %s with EINVAL naming the option and value', (name, v) => {
    let err: unknown;
    try {
      createRcuState({ nrCpus: 4, clock: new VirtualClock(), [name]: v });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errno).toBe('EINVAL');
    expect((err as KernelError).message).toContain(`${name} ${v} is not`);
  });

  it('accepts the edge values of its numeric options', () => {
    const rs = createRcuState({
      nrCpus: 4,
      clock: new VirtualClock(),
      jiffiesTillFirstFqs: 0,
      jiffiesTillNextFqs: 0,
      stallTimeoutJiffies: 1,
      lockHoldNs: 0,
    });
    expect(rs.jiffiesTillFirstFqs).toBe(0);
    expect(rs.stallTimeoutJiffies).toBe(1);
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
