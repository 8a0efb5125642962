/**
 * rcutorture for the simulated Tree RCU. A writer keeps replacing the object a global
 * pointer refers to; each removed object's pipe count goes up once when it is removed
 * and once per grace period after (through `call_rcu` callbacks that requeue
 * themselves, or after `synchronize_rcu`), each step counted in the Free-Block
 * Circulation histogram, and after {@link RCU_TORTURE_PIPE_LEN} it is freed: poisoned
 * (`rtort_mbtest = 0`) and kept, never released, so a use after free is seen. Readers,
 * inside a read-side critical section, read the pointer, check the poison, wait a
 * random while, and record the pipe count they see at the end in the Reader Pipe
 * histogram. A reader can legitimately see 0 (current) or 1 (removed, grace period not
 * yet over); anything past the second entry means a grace period ended while a reader
 * that predates it still held the object: failure.
 *
 * The `busted` torture type frees without waiting (its `deferred_free` calls the
 * callback at once and its `sync` does nothing): the negative control the test must
 * catch. Fake writers exercise `synchronizeRcu`, `synchronizeRcuExpedited` and
 * `rcuBarrier`; an online/offline task takes CPUs down and up.
 *
 * @see kernel/rcu/rcutorture.c: rcu_torture_writer, rcu_torture_one_read,
 *   rcu_torture_cb, rcu_torture_pipe_update, rcu_torture_pipe_update_one,
 *   rcu_torture_stats_print; busted_torture_ops
 */

import { KernelError, VirtualClock, createScheduler } from '@kern/core';
import type { Printk, TaskContext } from '@kern/core';
import { describeValue } from './describe.js';
import { rcuSeqCtr } from './rcu.js';
import { createRcuState } from './tree.js';
import type { RcuState } from './tree.js';

/** Grace periods a removed object goes through before it is freed. @see kernel/rcu/rcutorture.c: RCU_TORTURE_PIPE_LEN */
export const RCU_TORTURE_PIPE_LEN = 10;

/** What to torture: the real grace periods, or the broken `busted` ops. */
export type SimTortureType = 'rcu' | 'busted';

/** Options of {@link runSimTorture}. */
export interface SimTortureOptions {
  /** Seed of the scheduler and every random choice. */
  seed: number;
  /** `rcu` (default) or `busted` (frees without waiting: must fail). */
  type?: SimTortureType;
  /** Simulated CPUs (default 8). */
  nrCpus?: number;
  /** Reader tasks (default nrCpus - 1). */
  nReaders?: number;
  /** Fake writer tasks (default 2). */
  nFakeWriters?: number;
  /** Virtual run time in ns (default 200 ms). */
  durationNs?: number;
  /** Take CPUs offline and online during the run (default true). */
  onoff?: boolean;
  /** Interior fanout (default 2: small trees get several levels). */
  fanout?: number;
  /** Leaf fanout (default 2). */
  fanoutLeaf?: number;
  /** Where to print the statistics (KERN_ALERT as rcutorture does). */
  printk?: Printk;
}

/** What a torture run saw. */
export interface SimTortureResult {
  /** `Reader Pipe` histogram (PIPE_LEN + 1 entries). */
  readonly pipe: readonly number[];
  /** `Reader Batch` histogram: grace periods completed during each read. */
  readonly batch: readonly number[];
  /**
   * `Free-Block Circulation` (`rcu_torture_wcount`): entry i counts the times an object
   * left pipe stage i — at removal (stage 0) and after each grace period — so entry 0 is
   * the objects removed, entry PIPE_LEN − 1 those freed, entries never increase along
   * the pipe, and the last entry (an update of an object already freed) stays 0.
   */
  readonly wcount: readonly number[];
  /** Reads that found a freed (poisoned) object (`n_rcu_torture_mberror`). */
  readonly mberror: number;
  /** rcuBarrier calls that returned before a callback queued before them ran. */
  readonly barrierError: number;
  /** Reads done. */
  readonly reads: number;
  /** Objects installed by the writer (`rcu_torture_current_version`). */
  readonly version: number;
  /** Objects freed. */
  readonly freed: number;
  /** Grace periods completed. */
  readonly gps: number;
  /** Expedited grace periods completed. */
  readonly expGps: number;
  /** CPU offline/online operations that succeeded / were attempted. */
  readonly onoff: { readonly ok: number; readonly attempts: number };
  /** Tasks still blocked when the run was cut off 10 s (virtual) after its end: a hang. */
  readonly hung: readonly string[];
  /** Whether the run failed (pipe past index 1, use after free, barrier error, or hang). */
  readonly failed: boolean;
  /** The statistics lines, as printed. */
  readonly lines: readonly string[];
}

/** `struct rcu_torture`. */
interface TortureObj {
  pipe: number;
  /** 1 while live, 0 once freed (poison). */
  mbtest: number;
}

/**
 * Runs rcutorture on a fresh scheduler and Tree RCU and returns what it saw.
 * @throws KernelError EINVAL on a bad option.
 * @see kernel/rcu/rcutorture.c: rcu_torture_init
 */
export function runSimTorture(opts: SimTortureOptions): SimTortureResult {
  if (typeof opts !== 'object' || opts === null)
    throw new KernelError(
      'EINVAL',
      `runSimTorture options must be an object, got ${describeValue(opts)}`,
    );
  const type = opts.type ?? 'rcu';
  if (type !== 'rcu' && type !== 'busted')
    throw new KernelError(
      'EINVAL',
      `torture type must be 'rcu' or 'busted', got ${describeValue(type)}`,
    );
  const nrCpus = opts.nrCpus ?? 8;
  const nReaders = opts.nReaders ?? Math.max(1, nrCpus - 1);
  const nFake = opts.nFakeWriters ?? 2;
  const duration = opts.durationNs ?? 200e6;
  if (typeof duration !== 'number' || !(duration > 0))
    throw new KernelError('EINVAL', `torture duration ${describeValue(duration)} is not > 0`);
  for (const [what, v, min] of [
    ['nrCpus', nrCpus, 1],
    ['nReaders', nReaders, 1],
    ['nFakeWriters', nFake, 0],
  ] as const)
    if (!Number.isSafeInteger(v) || v < min)
      throw new KernelError(
        'EINVAL',
        `torture ${what} ${describeValue(v)} is not an integer >= ${min}`,
      );
  const clock = new VirtualClock();
  const sched = createScheduler({ nrCpus, seed: opts.seed, clock, onTaskError: 'throw' });
  const rs: RcuState = createRcuState({
    nrCpus,
    clock,
    sched,
    fanout: opts.fanout ?? 2,
    fanoutLeaf: opts.fanoutLeaf ?? 2,
    jiffiesTillFirstFqs: 1,
    jiffiesTillNextFqs: 1,
  });
  const end = duration;
  const pipe = new Array<number>(RCU_TORTURE_PIPE_LEN + 1).fill(0);
  const batch = new Array<number>(RCU_TORTURE_PIPE_LEN + 1).fill(0);
  const wcount = new Array<number>(RCU_TORTURE_PIPE_LEN + 1).fill(0);
  let mberror = 0;
  let barrierError = 0;
  let reads = 0;
  let version = 0;
  let alloc = 0;
  let freed = 0;
  let current: TortureObj | null = null;
  const removed: TortureObj[] = [];
  let onoffOk = 0;
  let onoffAttempts = 0;

  const free = (p: TortureObj): void => {
    p.mbtest = 0;
    freed++;
  };
  /** The object leaves its pipe stage: counted in Free-Block Circulation as it goes. */
  const pipeAdvance = (p: TortureObj): void => {
    const i = Math.min(p.pipe, RCU_TORTURE_PIPE_LEN);
    wcount[i]!++;
    p.pipe = i + 1;
  };
  /** rcu_torture_pipe_update_one: true once the object has gone through every stage. */
  const pipeUpdateOne = (p: TortureObj): boolean => {
    pipeAdvance(p);
    return p.pipe >= RCU_TORTURE_PIPE_LEN;
  };
  // The ops: rcu (real grace periods) or busted (none).
  const deferredFree = (cpu: number, p: TortureObj): void => {
    const cb = (): void => {
      if (pipeUpdateOne(p)) free(p);
      else deferredFree(cpu, p);
    };
    if (type === 'busted') cb();
    else rs.callRcu(rs.cpuOnline(cpu) ? cpu : firstOnline(), cb);
  };
  const firstOnline = (): number => {
    let c = 0;
    while (!rs.cpuOnline(c)) c++;
    return c;
  };

  let live = 0;
  const tasks = (name: string, body: (ctx: TaskContext) => Generator<unknown, void, unknown>) => {
    live++;
    sched.spawn({ name }, function* (ctx) {
      yield* body(ctx) as Generator<undefined, void, unknown>;
      live--;
    });
  };

  // rcu_torture_writer
  tasks('rcu_torture_writer', function* (ctx) {
    while (ctx.now() < end) {
      yield ctx.sleep(ctx.rng.below(20_000));
      const rp: TortureObj = { pipe: 0, mbtest: 1 };
      alloc++;
      const old = current;
      current = rp;
      version++;
      if (!old) continue;
      pipeAdvance(old);
      const how = ctx.rng.below(4);
      if (how === 0 || how === 1) {
        // RTWS_SYNC / RTWS_EXP_SYNC, then rcu_torture_pipe_update
        if (type !== 'busted') {
          if (how === 0) yield* rs.synchronizeRcu(ctx);
          else yield* rs.synchronizeRcuExpedited(ctx);
        }
        removed.push(old);
        for (let i = removed.length - 1; i >= 0; i--)
          if (pipeUpdateOne(removed[i]!)) free(removed.splice(i, 1)[0]!);
      } else deferredFree(ctx.cpu, old); // RTWS_DEF_FREE
    }
  });

  // rcu_torture_reader × nReaders
  for (let r = 0; r < nReaders; r++)
    tasks(`rcu_torture_reader${r}`, function* (ctx) {
      while (ctx.now() < end) {
        const started = rs.gpSeq;
        rs.rcuReadLock(ctx);
        const p = current;
        if (p) {
          if (p.mbtest === 0) mberror++;
          // rcu_read_delay: mostly short, sometimes long.
          const n = ctx.rng.below(50) === 0 ? 200 + ctx.rng.below(800) : ctx.rng.below(20);
          for (let i = 0; i < n; i++) yield;
          if (p.mbtest === 0) mberror++;
          const pc = Math.min(p.pipe, RCU_TORTURE_PIPE_LEN);
          pipe[pc]!++;
          const completed = rcuSeqCtr(rs.gpSeq) - rcuSeqCtr(started);
          batch[Math.min(Math.max(completed, 0), RCU_TORTURE_PIPE_LEN)]!++;
          reads++;
        }
        rs.rcuReadUnlock(ctx);
        // Sometimes sleep, so CPUs go dyntick-idle and FQS has to report for them.
        if (ctx.rng.below(4) === 0) yield ctx.sleep(ctx.rng.below(50_000));
        else yield;
      }
    });

  // rcu_torture_fakewriter × nFake, plus barrier checks
  for (let f = 0; f < nFake; f++)
    tasks(`rcu_torture_fakewriter${f}`, function* (ctx) {
      while (ctx.now() < end) {
        yield ctx.sleep(ctx.rng.below(100_000));
        const k = ctx.rng.below(3);
        if (k === 0) yield* rs.synchronizeRcu(ctx);
        else if (k === 1) yield* rs.synchronizeRcuExpedited(ctx);
        else {
          // rcu_torture_barrier: callbacks queued before rcu_barrier must have run.
          let pending = 0;
          const cpu = rs.cpuOnline(ctx.cpu) ? ctx.cpu : firstOnline();
          for (let i = 0; i < 3; i++) {
            pending++;
            rs.callRcu(cpu, () => pending--);
          }
          yield* rs.rcuBarrier(ctx);
          if (pending !== 0) barrierError++;
        }
      }
    });

  // torture_onoff
  if ((opts.onoff ?? true) && nrCpus > 2)
    tasks('torture_onoff', function* (ctx) {
      while (ctx.now() < end) {
        yield ctx.sleep(200_000 + ctx.rng.below(300_000));
        const cpu = 1 + ctx.rng.below(nrCpus - 1);
        onoffAttempts++;
        try {
          if (rs.cpuOnline(cpu)) rs.offlineCpu(cpu);
          else rs.onlineCpu(cpu);
          onoffOk++;
        } catch (e) {
          if (!(e instanceof KernelError) || e.errno !== 'EBUSY') throw e;
        }
      }
      for (let cpu = 1; cpu < nrCpus; cpu++) rs.onlineCpu(cpu);
    });

  // A grace period that never ends leaves the writer blocked: stop and call it a hang.
  const hangAt = end + 10e9;
  const run = sched.run({ until: () => live === 0, untilNs: hangAt });
  const hung = run.reason !== 'until' ? run.blocked.map((b) => `${b.name} (${b.waitingOn})`) : [];
  rs.stop();

  const flag = `${type}-torture:`;
  const lastNonZero = pipe.reduce((acc, v, i) => (v !== 0 ? i : acc), -1);
  const failed = mberror > 0 || barrierError > 0 || lastNonZero > 1 || hung.length > 0;
  const lines = [
    `${flag} rtc: ${current ? 'current' : '(null)'} ver: ${version} tfle: 0 rta: ${alloc} rtaf: 0 rtf: ${freed} rtmbe: ${mberror} rtbe: ${barrierError} nt: ${reads} onoff: ${onoffOk}/${onoffAttempts} (HZ=${clock.hz})`,
    `${flag} ${failed ? '!!! ' : ''}Reader Pipe: ${pipe.map((v) => ` ${v}`).join('')}`,
    `${flag} Reader Batch: ${batch.map((v) => ` ${v}`).join('')}`,
    `${flag} Free-Block Circulation: ${wcount.map((v) => ` ${v}`).join('')}`,
    ...(hung.length > 0 ? [`${flag} !!! grace period hang; blocked: ${hung.join(', ')}`] : []),
    `${flag}--- End of test: ${failed ? 'FAILURE' : 'SUCCESS'}: nreaders=${nReaders} nfakewriters=${nFake} onoff=${opts.onoff ?? true} seed=${opts.seed}`,
  ];
  for (const l of lines) opts.printk?.alert(l);
  return {
    pipe,
    batch,
    wcount,
    mberror,
    barrierError,
    reads,
    version,
    freed,
    gps: rs.completedGps,
    expGps: rs.completedExpGps,
    onoff: { ok: onoffOk, attempts: onoffAttempts },
    hung,
    failed,
    lines,
  };
}
