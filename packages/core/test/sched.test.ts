import { describe, expect, it } from 'vitest';
import {
  COMPLETION_ALL,
  createCompletion,
  createScheduler,
  createWaitQueue,
} from '../src/sched.js';
import type { Scheduler, SchedulerOptions, Task, TaskContext, TraceEntry } from '../src/sched.js';
import { VirtualClock } from '../src/clock.js';
import { KernelError } from '../src/errno.js';

function make(opts: Partial<SchedulerOptions> = {}): Scheduler {
  return createScheduler({ nrCpus: 4, seed: 42, clock: new VirtualClock(), ...opts });
}

/** A workload of unbound tasks that yield, sleep and wake each other. */
function workload(seed: number): TraceEntry[] {
  const s = make({ seed, trace: true });
  const wq = createWaitQueue('work');
  let produced = 0;
  for (let i = 0; i < 6; i++)
    s.spawn({ name: `worker${i}` }, function* (ctx) {
      for (let j = 0; j < 20; j++) {
        yield;
        if (ctx.rng.below(4) === 0) yield ctx.sleep(1500);
      }
    });
  s.spawn({ name: 'producer' }, function* () {
    for (let j = 0; j < 10; j++) {
      produced++;
      wq.wakeUp();
      yield;
    }
  });
  s.spawn({ name: 'consumer' }, function* (ctx) {
    let seen = 0;
    while (seen < 10) {
      yield ctx.waitFor(() => produced > seen, wq, 10_000);
      seen = produced;
    }
  });
  const r = s.run();
  expect(r.reason).toBe('idle');
  return s.trace.slice();
}

function errOf(fn: () => unknown): KernelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('expected a KernelError');
}

describe('determinism', () => {
  it('gives the same trace for the same seed', () => {
    const a = workload(7);
    const b = workload(7);
    expect(a.length).toBeGreaterThan(100);
    expect(b).toEqual(a);
  });

  it('gives different traces for different seeds', () => {
    const traces = [1, 2, 3, 4, 5].map((seed) => JSON.stringify(workload(seed)));
    expect(new Set(traces).size).toBe(5);
  });

  it('varies the interleaving by CPU choice alone (no jitter)', () => {
    const order = (seed: number): string => {
      const s = make({ seed, quantumJitterNs: 0, trace: true });
      for (let c = 0; c < 4; c++)
        s.spawn({ name: `t${c}`, cpu: c }, function* () {
          for (let i = 0; i < 5; i++) yield;
        });
      s.run();
      return s.trace.map((e) => e.cpu).join('');
    };
    expect(order(1)).toBe(order(1));
    expect(new Set([1, 2, 3, 4, 5].map(order)).size).toBe(5);
  });

  it('keeps per-task generators apart from scheduling choices', () => {
    const draws = (seed: number): number[] => {
      const s = make({ seed });
      const out: number[] = [];
      s.spawn({ name: 'r', cpu: 0 }, function* (ctx) {
        for (let i = 0; i < 3; i++) out.push(ctx.rng.nextU32());
        yield;
      });
      s.run();
      return out;
    };
    expect(draws(9)).toEqual(draws(9));
    expect(draws(9)).not.toEqual(draws(10));
  });
});

describe('virtual time', () => {
  it('wakes a sleeper at exactly its expiry', () => {
    const clock = new VirtualClock();
    const s = createScheduler({ nrCpus: 2, seed: 1, clock });
    const seen: number[] = [];
    s.spawn({ name: 'sleeper', cpu: 0 }, function* (ctx) {
      seen.push(ctx.now());
      yield ctx.sleep(5000);
      seen.push(ctx.now());
      yield ctx.sleep(123);
      seen.push(ctx.now());
    });
    const r = s.run();
    expect(seen).toEqual([0, 5000, 5123]);
    expect(r.reason).toBe('idle');
    expect(r.idleSkips).toBeGreaterThanOrEqual(2);
  });

  it('wakes a sleeper exactly even while other CPUs are busy', () => {
    const clock = new VirtualClock();
    const s = createScheduler({ nrCpus: 4, seed: 3, clock, quantumNs: 700 });
    for (let c = 1; c < 4; c++)
      s.spawn({ name: `spin${c}`, cpu: c }, function* () {
        for (let i = 0; i < 100; i++) yield;
      });
    let woke = -1;
    s.spawn({ name: 'sleeper', cpu: 0 }, function* (ctx) {
      yield ctx.sleep(10_000);
      woke = ctx.now();
    });
    s.run();
    expect(woke).toBe(10_000);
  });

  it('charges each step to its CPU: CPUs run in parallel, quantum ± jitter', () => {
    const clock = new VirtualClock();
    const s = createScheduler({ nrCpus: 4, seed: 5, clock, quantumNs: 1000, quantumJitterNs: 0 });
    for (let c = 0; c < 4; c++)
      s.spawn({ name: `t${c}`, cpu: c }, function* () {
        for (let i = 0; i < 9; i++) yield;
      });
    const r = s.run();
    expect(r.steps).toBe(40); // 10 steps each (9 yields + the return)
    // 4 CPUs side by side: steps at 0, 1000, ... 9000; the exiting step leaves the CPU idle.
    expect(clock.nowNs()).toBe(9000);
    expect(r.idleSkips).toBe(0);

    const c2 = new VirtualClock();
    const j = createScheduler({
      nrCpus: 1,
      seed: 5,
      clock: c2,
      quantumNs: 1000,
      quantumJitterNs: 500,
    });
    j.spawn({ name: 't' }, function* () {
      for (let i = 0; i < 99; i++) yield;
    });
    j.run();
    expect(c2.nowNs()).toBeGreaterThanOrEqual(50_000);
    expect(c2.nowNs()).toBeLessThanOrEqual(150_000);
    expect(c2.nowNs()).not.toBe(100_000);
  });

  it('with quantumNs 0 steps are free and time moves only when all CPUs idle', () => {
    const clock = new VirtualClock();
    const s = createScheduler({ nrCpus: 2, seed: 5, clock, quantumNs: 0 });
    s.spawn({ name: 'spin' }, function* () {
      for (let i = 0; i < 50; i++) yield;
    });
    s.spawn({ name: 'sleep' }, function* (ctx) {
      yield ctx.sleep(100);
    });
    const r = s.run();
    expect(r.steps).toBe(53);
    expect(clock.nowNs()).toBe(100);
  });

  it('stops at untilNs, maxSteps or until()', () => {
    const clock = new VirtualClock();
    const s = createScheduler({ nrCpus: 2, seed: 5, clock, quantumJitterNs: 0 });
    let n = 0;
    s.spawn({ name: 'spin', cpu: 0 }, function* () {
      for (;;) {
        n++;
        yield;
      }
    });
    expect(s.run({ untilNs: 10_500 })).toMatchObject({
      reason: 'untilNs',
      steps: 11,
      nowNs: 10_500,
    });
    expect(s.run({ maxSteps: 5 })).toMatchObject({ reason: 'maxSteps', steps: 5 });
    expect(s.run({ until: () => n >= 30 })).toMatchObject({ reason: 'until', steps: 14 });
    expect(n).toBe(30);
    expect(s.step()?.name).toBe('spin');
  });
});

describe('wait queues', () => {
  it('wakeUp wakes the longest waiter, wakeUpAll wakes the rest', () => {
    const s = make();
    const wq = createWaitQueue('q');
    const order: string[] = [];
    for (const name of ['a', 'b', 'c'])
      s.spawn({ name, cpu: 0 }, function* (ctx) {
        yield ctx.wait(wq);
        order.push(name);
      });
    s.run();
    expect(wq.waiters().map((t) => t.name)).toEqual(['a', 'b', 'c']);
    expect(s.blocked().map((b) => b.waitingOn)).toEqual([
      'wait queue "q"',
      'wait queue "q"',
      'wait queue "q"',
    ]);
    expect(wq.wakeUp()).toBe(1);
    s.run();
    expect(order).toEqual(['a']);
    expect(wq.wakeUpAll()).toBe(2);
    expect(wq.wakeUp()).toBe(0);
    expect(s.run().reason).toBe('idle');
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('waitFor rechecks its condition on each wakeup and skips sleeping when it holds', () => {
    const s = make();
    const wq = createWaitQueue('flag');
    let flag = 0;
    let resumedWith = -1;
    let steps = 0;
    s.spawn({ name: 'waiter', cpu: 1 }, function* (ctx) {
      yield ctx.waitFor(() => true, wq); // does not sleep
      steps = ctx.task.steps;
      yield ctx.waitFor(() => flag >= 3, wq);
      resumedWith = flag;
    });
    s.spawn({ name: 'setter', cpu: 2 }, function* (ctx) {
      for (let i = 0; i < 3; i++) {
        yield ctx.sleep(1000);
        flag++;
        wq.wakeUpAll(); // the first two wakeups find the condition false
      }
    });
    expect(s.run().reason).toBe('idle');
    expect(steps).toBe(1);
    expect(resumedWith).toBe(3);
  });

  it('times out with ctx.timedOut, unless the condition holds at the deadline', () => {
    const clock = new VirtualClock();
    const s = createScheduler({ nrCpus: 2, seed: 1, clock });
    const wq = createWaitQueue('never');
    const out: [number, boolean][] = [];
    let cond = false;
    s.spawn({ name: 'w', cpu: 0 }, function* (ctx) {
      yield ctx.waitFor(() => cond, wq, 4000);
      out.push([ctx.now(), ctx.timedOut]);
      yield ctx.wait(wq, 2000);
      out.push([ctx.now(), ctx.timedOut]);
      yield ctx.waitFor(() => cond, wq, 3000);
      out.push([ctx.now(), ctx.timedOut]);
    });
    s.spawn({ name: 'late', cpu: 1 }, function* (ctx) {
      yield ctx.sleep(7000);
      cond = true; // set without a wakeup: only the timeout lets the waiter see it
    });
    s.run();
    expect(out).toEqual([
      [4000, true],
      [6000, true],
      [9000, false],
    ]);
  });
});

describe('completions', () => {
  it('complete lets one waiter through, completeAll all of them for good', () => {
    const s = make();
    const c = createCompletion('setup_done');
    const through: string[] = [];
    for (const name of ['w1', 'w2', 'w3'])
      s.spawn({ name, cpu: 0 }, function* () {
        yield c.wait();
        through.push(name);
      });
    s.run();
    expect(s.blocked().map((b) => b.waitingOn)).toEqual(Array(3).fill('completion "setup_done"'));
    c.complete();
    s.run();
    expect(through).toEqual(['w1']);
    expect(c.done).toBe(0);
    c.completeAll();
    expect(s.run().reason).toBe('idle');
    expect(through).toEqual(['w1', 'w2', 'w3']);
    expect(c.done).toBe(COMPLETION_ALL);
    expect(c.tryWait()).toBe(true);
    expect(c.isDone()).toBe(true);
    c.reinit();
    expect(c.tryWait()).toBe(false);
  });

  it('counts completions made before anyone waits', () => {
    const s = make();
    const c = createCompletion();
    c.complete();
    c.complete();
    let passed = 0;
    for (let i = 0; i < 3; i++)
      s.spawn({ name: `w${i}` }, function* () {
        yield c.wait();
        passed++;
      });
    const r = s.run();
    expect(passed).toBe(2);
    expect(r.reason).toBe('deadlock');
    expect(r.blocked).toHaveLength(1);
  });

  it('join waits for another task to finish', () => {
    const s = make();
    const child = s.spawn({ name: 'child' }, function* (ctx) {
      yield ctx.sleep(3000);
      return 42;
    });
    let got: unknown;
    s.spawn({ name: 'parent' }, function* (ctx) {
      yield ctx.join(child);
      got = child.result;
    });
    s.run();
    expect(got).toBe(42);
    expect(child.state).toBe('done');
  });
});

describe('a seeded race: read, yield, write', () => {
  /** Two tasks on two CPUs increment a shared counter `n` times each; returns the total. */
  function race(seed: number, locked: boolean): number {
    const s = createScheduler({ nrCpus: 2, seed, clock: new VirtualClock() });
    const wq = createWaitQueue('lock');
    let counter = 0;
    let held = false;
    const body = function* (ctx: TaskContext) {
      for (let i = 0; i < 50; i++) {
        if (locked) {
          yield ctx.waitFor(() => !held, wq);
          held = true;
        }
        const v = counter;
        yield; // preemption between the read and the write
        counter = v + 1;
        if (locked) {
          held = false;
          wq.wakeUp();
        }
        yield;
      }
    };
    s.spawn({ name: 'inc0', cpu: 0 }, body);
    s.spawn({ name: 'inc1', cpu: 1 }, body);
    expect(s.run().reason).toBe('idle');
    return counter;
  }

  it('loses updates, by a different amount from seed to seed', () => {
    const totals = Array.from({ length: 12 }, (_, seed) => race(seed, false));
    expect(totals.some((t) => t < 100)).toBe(true);
    expect(new Set(totals).size).toBeGreaterThan(1);
    expect(race(4, false)).toBe(race(4, false)); // and replays exactly
  });

  it('loses nothing under a lock (the control: the race test can tell)', () => {
    for (let seed = 0; seed < 12; seed++) expect(race(seed, true)).toBe(100);
  });
});

describe('hooks', () => {
  it('fire idle-exit → switch-in, switch → switch, switch-out → idle-enter, in order', () => {
    const s = createScheduler({ nrCpus: 2, seed: 1, clock: new VirtualClock() });
    const log: string[] = [];
    const name = (t: Task | null): string => t?.name ?? 'idle';
    s.onIdleExit((cpu) => log.push(`exit${cpu}`));
    s.onIdleEnter((cpu) => log.push(`enter${cpu}`));
    const off = s.onContextSwitch((cpu, p, n) => log.push(`sw${cpu}:${name(p)}>${name(n)}`));
    const wq = createWaitQueue();
    s.spawn({ name: 'A', cpu: 0 }, function* (ctx) {
      yield;
      yield ctx.wait(wq);
    });
    s.spawn({ name: 'B', cpu: 0 }, function* () {
      yield;
    });
    expect(s.isIdle(0)).toBe(false);
    expect(s.isIdle(1)).toBe(true);
    s.run();
    expect(log).toEqual([
      'exit0',
      'sw0:idle>A', // A spawned on idle CPU 0
      'sw0:A>B', // A yields, B is runnable
      'sw0:B>A', // B yields
      'sw0:A>B', // A sleeps on wq
      'sw0:B>idle', // B exits
      'enter0',
    ]);
    expect(s.isIdle(0)).toBe(true);
    expect(s.nrSwitches(0)).toBe(5);
    expect(s.nrSwitches(1)).toBe(0);
    off();
    log.length = 0;
    wq.wakeUp();
    s.run();
    expect(log).toEqual(['exit0', 'enter0']);
  });

  it('a preempt-disabled task keeps its CPU across yields and may not sleep', () => {
    const s = createScheduler({ nrCpus: 1, seed: 1, clock: new VirtualClock(), trace: true });
    s.spawn({ name: 'reader' }, function* (ctx) {
      ctx.preemptDisable();
      yield;
      yield;
      ctx.preemptEnable();
      yield;
    });
    s.spawn({ name: 'other' }, function* () {
      yield;
    });
    s.run();
    expect(s.trace.map((e) => e.taskName)).toEqual([
      'reader',
      'reader',
      'reader',
      'other',
      'reader',
      'other',
    ]);
    const bad = s.spawn({ name: 'atomic-sleeper' }, function* (ctx) {
      ctx.preemptDisable();
      yield ctx.sleep(10);
    });
    const e = errOf(() => s.run());
    expect(e.message).toMatch(/scheduling while atomic: atomic-sleeper/);
    expect(bad.state).toBe('failed');
  });
});

describe('failures and deadlocks', () => {
  it('reports a deadlock with each sleeping task and what it waits on', () => {
    const s = make();
    const a = createWaitQueue('a_wq');
    const done = createCompletion('b_done');
    s.spawn({ name: 'taskA' }, function* (ctx) {
      yield ctx.waitFor(() => done.isDone(), a);
    });
    s.spawn({ name: 'taskB' }, function* () {
      yield done.wait();
    });
    s.spawn({ name: 'fine' }, function* (ctx) {
      yield ctx.sleep(10);
    });
    const r = s.run();
    expect(r.reason).toBe('deadlock');
    expect(r.blocked.map((b) => [b.name, b.waitingOn])).toEqual([
      ['taskA', 'condition on wait queue "a_wq"'],
      ['taskB', 'completion "b_done"'],
    ]);
    expect(s.tasks().map((t) => t.state)).toEqual(['sleeping', 'sleeping']);
  });

  it('surfaces a failing task by name, keeping its errno', () => {
    const s = make();
    const t = s.spawn({ name: 'rcu_gp' }, function* () {
      yield;
      throw new KernelError('ENOMEM', 'no rcu_node');
    });
    const e = errOf(() => s.run());
    expect(e.errno).toBe('ENOMEM');
    expect(e.message).toMatch(/task "rcu_gp" \(pid 1\) failed on CPU \d+: ENOMEM: no rcu_node/);
    expect(e.cause).toBe(t.error);
    expect(t.state).toBe('failed');

    const s2 = make();
    s2.spawn({ name: 'buggy' }, function* () {
      yield;
      throw new TypeError('x is undefined');
    });
    const e2 = errOf(() => s2.run());
    expect(e2.errno).toBe('EFAULT');
    expect(e2.message).toMatch(/"buggy".*x is undefined/);
  });

  it("keeps going with onTaskError 'record'", () => {
    const s = make({ onTaskError: 'record' });
    s.spawn({ name: 'dies' }, function* () {
      yield;
      throw new Error('boom');
    });
    const ok = s.spawn({ name: 'lives' }, function* () {
      yield;
      yield;
      return 'fine';
    });
    const r = s.run();
    expect(r.reason).toBe('idle');
    expect(r.failed.map((t) => t.name)).toEqual(['dies']);
    expect(ok.result).toBe('fine');
  });

  it('fails a task that yields something other than an op', () => {
    const s = make();
    s.spawn({ name: 'odd' }, function* () {
      yield 5 as never;
    });
    expect(errOf(() => s.run()).message).toMatch(/"odd".*yielded 5 \(number\), not a scheduler op/);
  });

  it('validates options and arguments', () => {
    const clock = new VirtualClock();
    expect(errOf(() => createScheduler({ nrCpus: 0, seed: 1, clock })).errno).toBe('EINVAL');
    expect(errOf(() => createScheduler({ nrCpus: 2, seed: 1, clock, quantumNs: -1 })).errno).toBe(
      'EINVAL',
    );
    expect(
      errOf(() =>
        createScheduler({ nrCpus: 2, seed: 1, clock, quantumNs: 10, quantumJitterNs: 11 }),
      ).errno,
    ).toBe('EINVAL');
    const s = make();
    expect(errOf(() => s.spawn({ name: 'x', cpu: 4 }, function* () {})).errno).toBe('EINVAL');
    expect(errOf(() => s.nrSwitches(-1)).errno).toBe('EINVAL');
    const t = s.spawn({ name: 'neg' }, function* (ctx) {
      yield ctx.sleep(-5);
    });
    expect(errOf(() => s.run()).message).toMatch(/sleep -5 ns/);
    expect(t.state).toBe('failed');
    s.spawn({ name: 'nested' }, function* (ctx) {
      ctx.sched.run();
      yield;
    });
    expect(errOf(() => s.run()).errno).toBe('EBUSY');
  });
});

describe('CPU hotplug', () => {
  it('moves unbound tasks off an offlined CPU, runnable and sleeping', () => {
    const s = createScheduler({ nrCpus: 4, seed: 11, clock: new VirtualClock(), trace: true });
    const idle: number[] = [];
    s.onIdleEnter((cpu) => idle.push(cpu));
    const wq = createWaitQueue();
    const cpusSeen = new Set<number>();
    const tasks = [0, 1, 2].map((i) =>
      s.spawn({ name: `t${i}` }, function* (ctx) {
        for (;;) {
          cpusSeen.add(ctx.cpu);
          yield ctx.wait(wq);
        }
      }),
    );
    s.run();
    const victim = tasks[0]!.cpu;
    const before = s.trace.length;
    s.setCpuOnline(victim, false);
    expect(s.online.test(victim)).toBe(false);
    expect(tasks.every((t) => t.cpu !== victim)).toBe(true);
    wq.wakeUpAll();
    s.run();
    expect(s.nrRunning(victim)).toBe(0);
    const after = s.trace.slice(before);
    expect(after.map((e) => e.taskName).sort()).toEqual(['t0', 't1', 't2']);
    expect(after.every((e) => e.cpu !== victim)).toBe(true);
    expect(cpusSeen.has(victim)).toBe(true);
    s.setCpuOnline(victim, true);
    expect(s.online.weight()).toBe(4);
  });

  it('migrates a runnable queue and takes the CPU idle', () => {
    const s = createScheduler({ nrCpus: 2, seed: 2, clock: new VirtualClock() });
    const log: string[] = [];
    s.onContextSwitch((cpu, p, n) =>
      log.push(`sw${cpu}:${p?.name ?? 'idle'}>${n?.name ?? 'idle'}`),
    );
    s.onIdleEnter((cpu) => log.push(`enter${cpu}`));
    const x = s.spawn({ name: 'x' }, function* () {
      for (let i = 0; i < 3; i++) yield;
    });
    const from = x.cpu;
    const to = 1 - from;
    s.spawn({ name: 'keep', cpu: to }, function* () {
      yield;
    });
    expect(errOf(() => s.setCpuOnline(to, false)).errno).toBe('EBUSY'); // 'keep' is bound
    log.length = 0;
    s.setCpuOnline(from, false);
    expect(log).toEqual([`sw${from}:x>idle`, `enter${from}`]);
    expect(x.cpu).toBe(to);
    expect(s.nrRunning(to)).toBe(2);
    expect(s.isIdle(from)).toBe(true);
    expect(s.run().reason).toBe('idle');
    expect(x.state).toBe('done');
  });

  it('refuses a bound task, preempt-disabled task, or the last CPU with EBUSY', () => {
    const s = createScheduler({ nrCpus: 2, seed: 2, clock: new VirtualClock() });
    s.spawn({ name: 'kthread', cpu: 1 }, function* (ctx) {
      yield ctx.sleep(100);
    });
    const e = errOf(() => s.setCpuOnline(1, false));
    expect(e.errno).toBe('EBUSY');
    expect(e.message).toMatch(/"kthread"/);
    s.setCpuOnline(0, false);
    expect(errOf(() => s.spawn({ name: 'y', cpu: 0 }, function* () {})).errno).toBe('EINVAL');
    s.run();
    expect(errOf(() => s.setCpuOnline(1, false)).errno).toBe('EBUSY');
    expect(errOf(() => s.setCpuOnline(2, true)).errno).toBe('EINVAL');
    const u = createScheduler({ nrCpus: 2, seed: 3, clock: new VirtualClock() });
    const t = u.spawn({ name: 'rcu_reader' }, function* (ctx) {
      ctx.preemptDisable();
      yield;
      ctx.preemptEnable();
    });
    u.step();
    const e2 = errOf(() => u.setCpuOnline(t.cpu, false));
    expect(e2.errno).toBe('EBUSY');
    expect(e2.message).toMatch(/preemption disabled/);
  });
});

describe('scale', () => {
  // How cheap this is (it should not cost per CPU) is measured in bench/index.ts
  // ("scale"), not timed here: a unit test's verdict never depends on the host's speed.
  it('makes a 65,536-CPU scheduler and runs tasks spread over it', () => {
    const s = createScheduler({ nrCpus: 65_536, seed: 1, clock: new VirtualClock() });
    expect(s.isIdle(65_535)).toBe(true);
    const done = createCompletion();
    let finished = 0;
    for (let i = 0; i < 2000; i++)
      s.spawn({ name: `k${i}` }, function* (ctx) {
        yield ctx.sleep(ctx.rng.below(1000));
        yield;
        if (++finished === 2000) done.completeAll();
      });
    s.spawn({ name: 'last', cpu: 65_535 }, function* () {
      yield done.wait();
    });
    const r = s.run();
    expect(r.reason).toBe('idle');
    expect(finished).toBe(2000);
  });

  it('makes a 4,194,304-CPU scheduler', () => {
    const s = createScheduler({ nrCpus: 4_194_304, seed: 1, clock: new VirtualClock() });
    const t = s.spawn({ name: 'far', cpu: 4_194_303 }, function* () {
      yield;
      return 1;
    });
    s.run();
    expect(t.result).toBe(1);
  });
});
