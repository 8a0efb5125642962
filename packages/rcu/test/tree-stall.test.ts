import { describe, expect, it } from 'vitest';
import { LOGLEVEL_INFO } from '@kern/core';
import { makeSim } from './tree-helpers.js';

describe('RCU CPU stall warnings', () => {
  it('prints Linux-format warnings for a CPU stuck in a reader with preemption disabled', () => {
    const { sched, rcu, printk, clock } = makeSim({ nrCpus: 4, seed: 1, stallTimeoutJiffies: 100 });
    const kthreadCpu = sched.tasks().find((t) => t.name === 'rcu_sched')!.cpu;
    const stuck = (kthreadCpu + 1) % 4;
    let release = false;
    sched.spawn({ name: 'stuck-reader', cpu: stuck }, function* (ctx) {
      rcu.rcuReadLock(ctx);
      while (!release) yield;
      rcu.rcuReadUnlock(ctx);
    });
    let synced = false;
    sched.spawn({ name: 'sync', cpu: kthreadCpu }, function* (ctx) {
      yield* rcu.synchronizeRcu(ctx);
      synced = true;
    });
    sched.run({ until: () => rcu.nStallWarnings > 0, untilNs: 1e9 });
    expect(synced).toBe(false);
    const lines = printk.dmesg().join('\n');
    expect(lines).toContain('rcu: INFO: rcu_sched detected stalls on CPUs/tasks:');
    const cpuLine = rcu.stallLog.find((l) => l.startsWith(`rcu: \t${stuck}-`));
    expect(cpuLine).toMatch(
      new RegExp(
        `^rcu: \\t${stuck}-\\.\\.\\.!: \\(\\d+ (GPs behind|ticks this GP)\\) idle=[0-9a-f]{4}/1/0x4000000000000000 softirq=\\d+/\\d+ fqs=\\d+$`,
      ),
    );
    const det = rcu.stallLog.find((l) => l.includes('detected by'));
    expect(det).toMatch(
      new RegExp(
        `^rcu: \\t\\(detected by ${kthreadCpu}, t=\\d+ jiffies, g=\\d+, q=\\d+ ncpus=4\\)$`,
      ),
    );
    const t = Number(/t=(\d+)/.exec(det!)![1]);
    expect(t).toBeGreaterThanOrEqual(100);
    // The task dump comes from kernel/sched/core.c: KERN_INFO and no `rcu: ` prefix.
    expect(rcu.stallLog).toContain(`Task dump for CPU ${stuck}:`);
    expect(
      rcu.stallLog.filter((l) => l.includes('Task dump')).every((l) => !l.startsWith('rcu:')),
    ).toBe(true);
    const dump = printk.records().find((r) => r.text === `Task dump for CPU ${stuck}:`);
    expect(dump?.level).toBe(LOGLEVEL_INFO);
    expect(rcu.stallLog).toContainEqual(
      expect.stringMatching(
        /^task:stuck-reader {4}state:R {2}running task {5}pid:\d+ preempt_count:1$/,
      ),
    );
    // Only the stuck CPU is named.
    expect(rcu.stallLog.filter((l) => /^rcu: \t\d+-/.test(l))).toHaveLength(1);
    // Releasing the reader lets the grace period end; no further warning for it.
    release = true;
    const n = rcu.nStallWarnings;
    sched.run({ until: () => synced, untilNs: clock.nowNs() + 1e9 });
    expect(synced).toBe(true);
    expect(rcu.nStallWarnings).toBe(n);
  });

  it('repeats the warning every 3 * timeout + 3 jiffies while the stall lasts', () => {
    const { sched, rcu } = makeSim({ nrCpus: 2, seed: 4, stallTimeoutJiffies: 20 });
    const kthreadCpu = sched.tasks().find((t) => t.name === 'rcu_sched')!.cpu;
    sched.spawn({ name: 'stuck', cpu: 1 - kthreadCpu }, function* (ctx) {
      rcu.rcuReadLock(ctx);
      for (;;) yield;
    });
    rcu.callRcu(kthreadCpu, () => undefined);
    sched.run({ untilNs: 200e6 });
    // First at ~22 jiffies, then every 63: 22, 85, 148 → 3 by 200 jiffies.
    expect(rcu.nStallWarnings).toBe(3);
  });
});
