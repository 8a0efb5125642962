/**
 * A deterministic scheduler for simulated CPUs: cooperative tasks written as generator
 * functions run on N CPUs in an order drawn from a seeded generator, against a
 * {@link VirtualClock}. The same seed and the same program give the same interleaving,
 * step for step; a different seed gives a different one.
 *
 * Model:
 *
 * - A task is a generator; each `yield` is a preemption point and the code between two
 *   yields runs atomically (one *step*). Yielding an op from the task's context
 *   (`ctx.sleep`, `ctx.wait`, `ctx.waitFor`, `ctx.join`, `completion.wait`) blocks it.
 * - Each CPU has a FIFO runqueue; its head is the CPU's current task (`rq->curr`). A
 *   plain `yield` sends the task to the tail when others are runnable there (round robin
 *   with every yield a `cond_resched()` that finds `need_resched` set), unless the task
 *   disabled preemption. Blocking or exiting passes the CPU to the next task.
 * - CPUs run in parallel in virtual time: a step on a CPU that still has a runnable task
 *   afterwards costs that CPU `quantumNs` (± up to `quantumJitterNs`, drawn from the
 *   seed), during which it cannot step again. A CPU that goes idle is free at once.
 *   Each step picks, with the seeded generator, one CPU among those that have a runnable
 *   task and are not busy. When none is, the clock jumps to the next timer, which either
 *   ends a CPU's busy time or wakes a sleeper. The jitter makes CPUs drift against each
 *   other, so races come out differently from seed to seed.
 * - Timers due at the current time fire before each step, so a task sleeping `d` ns from
 *   time `t` is runnable at exactly `t + d`.
 * - An unpinned task is placed on an online CPU by seeded choice when spawned and stays
 *   there (wakeups go back to it) unless its CPU goes offline.
 *
 * @see kernel/sched/core.c (__schedule, try_to_wake_up), kernel/sched/wait.c,
 *      kernel/sched/completion.c, include/linux/preempt.h
 */

import { describeValue, shown } from './describe.js';
import { KernelError, isKernelError } from './errno.js';
import type { VirtualClock, Timer } from './clock.js';
import { createRng } from './random.js';
import type { Rng } from './random.js';
import { Cpumask } from './cpumask.js';
import type { ReadonlyCpumask } from './cpumask.js';
import { MAX_NR_CPUS } from './topology.js';

/**
 * Life cycle of a {@link Task}:
 *
 * - `runnable`: on its CPU's runqueue (running when it is the head and the CPU steps).
 * - `sleeping`: blocked on a timer, a wait queue, a condition, a completion or a join.
 * - `done`: the generator returned; `result` holds the value.
 * - `failed`: the generator threw (or was failed by the scheduler); `error` holds why.
 *
 * @see include/linux/sched.h (TASK_RUNNING, TASK_UNINTERRUPTIBLE, EXIT_DEAD)
 */
export type TaskState = 'runnable' | 'sleeping' | 'done' | 'failed';

/**
 * A simulated task (`struct task_struct`), as the scheduler shows it.
 * @see include/linux/sched.h (struct task_struct)
 */
export interface Task<R = unknown> {
  /** Task id, from 1 in spawn order. */
  readonly pid: number;
  /** Name given at spawn (`comm`). */
  readonly name: string;
  /** See {@link TaskState}. */
  readonly state: TaskState;
  /** CPU the task runs or last ran on (`task_cpu`). */
  readonly cpu: number;
  /** Whether it is bound to its CPU (`kthread_bind`); pinned tasks never migrate. */
  readonly pinned: boolean;
  /** Return value once `done`. */
  readonly result: R | undefined;
  /** Why it `failed`. */
  readonly error: unknown;
  /** What a sleeping task waits for (`"wait queue \"gp_wq\""`), or `null`. */
  readonly waitingOn: string | null;
  /** Preemption-disable depth (`preempt_count`), see {@link TaskContext.preemptDisable}. */
  readonly preemptCount: number;
  /** Steps the task has run. */
  readonly steps: number;
}

/** Something a task yields to block: made by {@link TaskContext} or {@link Completion.wait}. */
export interface SchedOp {
  /** `'sleep'` (a timer) or `'wait'` (a wait queue, optionally a condition and timeout). */
  readonly kind: 'sleep' | 'wait';
  /** What the task will be shown as waiting on. */
  readonly what: string;
}

/** The generator a task runs; `yield` (nothing) is a preemption point. */
export type TaskBody<R> = Generator<SchedOp | undefined, R, unknown>;

/**
 * What a task sees of itself and the scheduler while it runs.
 * @see include/linux/sched.h: current; include/linux/smp.h: smp_processor_id
 */
export interface TaskContext {
  /** The task itself. */
  readonly task: Task;
  /** The CPU it is running on (`smp_processor_id`). */
  readonly cpu: number;
  /** The scheduler running it. */
  readonly sched: Scheduler;
  /** A generator of its own, forked from the scheduler's seed. */
  readonly rng: Rng;
  /**
   * Whether the last wait with a timeout ended by timing out with its condition still
   * false (`wait_event_timeout` returning 0).
   */
  readonly timedOut: boolean;
  /** Current virtual time in ns. */
  now(): number;
  /**
   * Sleeps `ns` of virtual time (`schedule_timeout`). @throws KernelError EINVAL on a bad duration.
   * @see kernel/time/timer.c: schedule_timeout
   */
  sleep(ns: number): SchedOp;
  /**
   * Sleeps on `wq` until woken (`wait_woken`), or at most `timeoutNs`.
   * @throws KernelError EINVAL on a bad timeout, or if `wq` was not made by
   *   {@link createWaitQueue}.
   * @see kernel/sched/wait.c: wait_woken
   */
  wait(wq: WaitQueue, timeoutNs?: number): SchedOp;
  /**
   * Continues at once if `cond()` holds; otherwise sleeps on `wq` and rechecks `cond` each
   * time it is woken (`wait_event`, or `wait_event_timeout` with `timeoutNs`).
   * @throws KernelError EINVAL on a bad timeout, or if `wq` was not made by
   *   {@link createWaitQueue}.
   * @see include/linux/wait.h: wait_event, wait_event_timeout
   */
  waitFor(cond: () => boolean, wq: WaitQueue, timeoutNs?: number): SchedOp;
  /**
   * Waits until `task` is done or failed (`kthread_stop`'s wait).
   * @throws KernelError EDEADLK when joining itself.
   * @see kernel/kthread.c: kthread_stop
   */
  join(task: Task): SchedOp;
  /**
   * Disables preemption (`preempt_disable`), nesting: a plain `yield` keeps the CPU,
   * yielding any op is a bug (thrown into the task as KernelError EINVAL `BUG: scheduling
   * while atomic`, as `might_sleep` would warn), and its CPU cannot go offline.
   * @see include/linux/preempt.h: preempt_disable
   */
  preemptDisable(): void;
  /**
   * Re-enables preemption. @throws KernelError EINVAL on underflow.
   * @see include/linux/preempt.h: preempt_enable
   */
  preemptEnable(): void;
}

/**
 * Where and how to start a task.
 * @see kernel/kthread.c: kthread_create_on_cpu, kthread_bind
 */
export interface SpawnOptions {
  /** Task name, shown in traces, errors and deadlock reports. */
  name: string;
  /** CPU to bind the task to; default: an online CPU chosen by the seed, not bound. */
  cpu?: number;
}

/**
 * A FIFO wait queue (`wait_queue_head_t`); not tied to one scheduler. Single-threaded: the
 * scheduler's steps never overlap, so nothing guards it.
 * @see include/linux/wait.h, kernel/sched/wait.c
 */
export interface WaitQueue {
  /** Name used in deadlock reports. */
  readonly name: string;
  /** Number of tasks waiting. */
  readonly length: number;
  /**
   * Wakes the longest-waiting task (`wake_up` with exclusive waiters); returns 0 or 1.
   * @see kernel/sched/wait.c: __wake_up
   */
  wakeUp(): number;
  /** Wakes every waiting task (`wake_up_all`); returns how many. @see include/linux/wait.h */
  wakeUpAll(): number;
  /** The waiting tasks, longest-waiting first. */
  waiters(): Task[];
}

/**
 * A completion (`struct completion`).
 * @see include/linux/completion.h, kernel/sched/completion.c
 */
export interface Completion {
  /** Name used in deadlock reports. */
  readonly name: string;
  /** Completions not yet consumed; {@link COMPLETION_ALL} after `completeAll`. */
  readonly done: number;
  /** Signals one waiter (`complete`). */
  complete(): void;
  /** Signals every current and future waiter (`complete_all`). */
  completeAll(): void;
  /**
   * Op to yield to wait for (and consume) a completion (`wait_for_completion`, or
   * `wait_for_completion_timeout`; check `ctx.timedOut`).
   * @throws KernelError EINVAL on a bad timeout.
   */
  wait(timeoutNs?: number): SchedOp;
  /** Consumes a completion if there is one, without waiting (`try_wait_for_completion`). */
  tryWait(): boolean;
  /** Whether a wait would not block (`completion_done`). */
  isDone(): boolean;
  /** Resets to not done (`reinit_completion`). */
  reinit(): void;
}

/**
 * `done` value after {@link Completion.completeAll} (`UINT_MAX`).
 * @see kernel/sched/completion.c: complete_all
 */
export const COMPLETION_ALL = 0xffffffff;

/**
 * Called when a CPU's current task changes; `null` is the idle task.
 * @see kernel/sched/core.c: context_switch
 */
export type ContextSwitchHook = (cpu: number, prev: Task | null, next: Task | null) => void;
/**
 * Called when a CPU enters or leaves idle.
 * @see kernel/sched/idle.c: do_idle
 */
export type IdleHook = (cpu: number) => void;

/** One step in a {@link Scheduler.trace}. */
export interface TraceEntry {
  /** Step number since the scheduler was made, from 0. */
  readonly step: number;
  /** Virtual time the step started at. */
  readonly nowNs: number;
  /** CPU that ran. */
  readonly cpu: number;
  /** Task that ran. */
  readonly pid: number;
  /** Its name. */
  readonly taskName: string;
}

/** A sleeping task and what it waits for. */
export interface BlockedTask {
  /** The task. */
  readonly task: Task;
  /** Its name. */
  readonly name: string;
  /** What it waits on, as {@link Task.waitingOn}. */
  readonly waitingOn: string;
}

/** Limits for {@link Scheduler.run}; without any, it runs until nothing can happen. */
export interface RunOptions {
  /** Stop once the clock reaches this time (timers due by then fire). */
  untilNs?: number;
  /** Stop after this many steps. */
  maxSteps?: number;
  /** Stop as soon as this returns true (checked before each step). */
  until?: () => boolean;
}

/**
 * Why {@link Scheduler.run} returned:
 *
 * - `until`: the `until` predicate held.
 * - `maxSteps`: the step limit was reached.
 * - `untilNs`: the clock reached `untilNs`.
 * - `idle`: no task is left (all done or failed).
 * - `deadlock`: tasks sleep, none can run and no timer is pending; see `blocked`.
 */
export type RunStopReason = 'until' | 'maxSteps' | 'untilNs' | 'idle' | 'deadlock';

/** What a {@link Scheduler.run} did. */
export interface RunResult {
  /** Why it stopped. */
  readonly reason: RunStopReason;
  /** Steps run. */
  readonly steps: number;
  /** Times the clock jumped to a timer because no CPU had a runnable task. */
  readonly idleSkips: number;
  /** Context switches (including to and from idle) during the run. */
  readonly switches: number;
  /** Clock at return. */
  readonly nowNs: number;
  /** Tasks that failed during the run (only with `onTaskError: 'record'`). */
  readonly failed: readonly Task[];
  /** Sleeping tasks at return (for `deadlock`, the tasks that are stuck). */
  readonly blocked: readonly BlockedTask[];
}

/** How to make a {@link Scheduler}. */
export interface SchedulerOptions {
  /** Number of simulated CPUs, 1..4,194,304; all start online and idle. */
  nrCpus: number;
  /** Seed of every choice the scheduler makes. */
  seed: number;
  /** Clock that timers and busy time run on. */
  clock: VirtualClock;
  /** Virtual time a step costs its CPU (default 1000 ns); 0 makes steps free. */
  quantumNs?: number;
  /** Steps cost `quantumNs ± quantumJitterNs` (default `quantumNs / 2`, at most `quantumNs`). */
  quantumJitterNs?: number;
  /** Record every step in {@link Scheduler.trace} (default false). */
  trace?: boolean;
  /**
   * What a task that throws does to `run`/`step`: `'throw'` (default) rethrows a
   * KernelError naming the task after the task is marked failed; `'record'` keeps going.
   */
  onTaskError?: 'throw' | 'record';
}

/**
 * A deterministic multi-CPU scheduler; see the module comment for the model.
 * Single-threaded: call it from one thread, never from inside one of its own steps
 * (except the task-safe calls: `spawn`, queries, `setCpuOnline` for another CPU).
 * @see kernel/sched/core.c
 */
export interface Scheduler {
  /** Number of CPUs. */
  readonly nrCpus: number;
  /** The clock it runs on. */
  readonly clock: VirtualClock;
  /** Online CPUs; change with {@link Scheduler.setCpuOnline}. */
  readonly online: ReadonlyCpumask;
  /** Every step run so far when made with `trace: true`; empty otherwise. */
  readonly trace: readonly TraceEntry[];
  /** Steps run since creation. */
  readonly totalSteps: number;
  /** Task being run right now (inside a step), else `null` (`current`). */
  readonly current: Task | null;
  /**
   * Starts a task, runnable at once.
   * @throws KernelError EINVAL on a bad or offline `cpu`, a missing name or a `fn` that
   *   is not a function.
   * @see kernel/kthread.c: kthread_create_on_node; kernel/sched/core.c: wake_up_new_task
   */
  spawn<R>(opts: SpawnOptions, fn: (ctx: TaskContext) => TaskBody<R>): Task<R>;
  /**
   * Runs one step, moving the clock to the next timer first if no CPU can run. Returns
   * the task that ran, or `null` if none can (no live task, or nothing pending to wake one).
   * @throws KernelError with the failed task's name (errno of its KernelError, else
   *   EFAULT) when a task throws and `onTaskError` is `'throw'`; EBUSY from inside a task.
   * @see kernel/sched/core.c: __schedule
   */
  step(): Task | null;
  /**
   * Runs steps until a limit in `opts` or until nothing can happen; see {@link RunStopReason}.
   * With periodic timers on the clock and sleeping tasks, give a limit.
   * @throws KernelError as {@link Scheduler.step}; EINVAL if `maxSteps` or `untilNs` is
   *   negative or NaN.
   */
  run(opts?: RunOptions): RunResult;
  /** Adds a context-switch hook (called after the switch is made); returns its remover. */
  onContextSwitch(fn: ContextSwitchHook): () => void;
  /** Adds a hook called when a CPU goes idle (after the switch to idle); returns its remover. */
  onIdleEnter(fn: IdleHook): () => void;
  /** Adds a hook called when an idle CPU gets work (before the switch from idle); returns its remover. */
  onIdleExit(fn: IdleHook): () => void;
  /**
   * Context switches on `cpu` so far (`nr_switches`). @throws KernelError EINVAL on a bad CPU.
   * @see kernel/sched/sched.h (struct rq)
   */
  nrSwitches(cpu: number): number;
  /**
   * Runnable tasks on `cpu` (`nr_running`). @throws KernelError EINVAL on a bad CPU.
   * @see kernel/sched/sched.h (struct rq)
   */
  nrRunning(cpu: number): number;
  /**
   * Whether `cpu` runs its idle task (no runnable task). @throws KernelError EINVAL on a bad CPU.
   * @see kernel/sched/core.c: idle_cpu
   */
  isIdle(cpu: number): boolean;
  /**
   * Current task of `cpu` (`cpu_curr`), `null` when idle. @throws KernelError EINVAL on a bad CPU.
   * @see kernel/sched/sched.h: cpu_curr
   */
  currentOn(cpu: number): Task | null;
  /** Tasks not yet done or failed, in spawn order. */
  tasks(): Task[];
  /** Sleeping tasks and what they wait on, in spawn order. */
  blocked(): BlockedTask[];
  /**
   * Takes `cpu` offline (moving its unbound tasks, runnable and sleeping, to online
   * CPUs chosen by the seed) or back online.
   * @throws KernelError EINVAL on a bad CPU; EBUSY if a task is bound to it or has
   *   preemption disabled on it, if it is the last online CPU, or if called by a task
   *   running on that CPU.
   * @see kernel/cpu.c, kernel/sched/core.c: sched_cpu_deactivate, migrate_tasks
   */
  setCpuOnline(cpu: number, online: boolean): void;
}

// ---------------------------------------------------------------------------------------

class Op implements SchedOp {
  constructor(
    readonly kind: 'sleep' | 'wait',
    readonly what: string,
    /** Sleep length, or wait timeout (`undefined`: none). */
    readonly ns: number | undefined,
    readonly wq: WaitQueueImpl | undefined,
    readonly cond: (() => boolean) | undefined,
    /** Runs once when `cond` is found true (a completion consumes itself here). */
    readonly then: (() => void) | undefined,
  ) {}
}

function isVirtualClock(c: unknown): c is VirtualClock {
  if (typeof c !== 'object' || c === null) return false;
  const v = c as Partial<Record<keyof VirtualClock, unknown>>;
  return (
    typeof v.nowNs === 'function' &&
    typeof v.addTimer === 'function' &&
    typeof v.delTimer === 'function' &&
    typeof v.advanceTo === 'function' &&
    typeof v.nextExpiry === 'function'
  );
}

function checkNs(what: string, ns: number | undefined): void {
  if (ns !== undefined && (!Number.isFinite(ns) || ns < 0))
    throw new KernelError('EINVAL', `${what} ${shown(ns)} ns is not a non-negative number`);
}

/** A blocked task's wait in progress. Guarded by: the scheduler (single-threaded). */
interface PendingWait {
  readonly op: Op;
  /** What the task waits on, for {@link Task.waitingOn}. */
  readonly what: string;
  /** Timer of a sleep or a wait timeout. */
  timer: Timer | undefined;
  /** The timeout fired. */
  expired: boolean;
  /** A wake-up from the wait queue arrived. */
  woken: boolean;
}

class WaitQueueImpl implements WaitQueue {
  /** Tasks waiting, oldest first. */
  private readonly q: TaskImpl[] = [];

  constructor(readonly name: string) {}

  get length(): number {
    return this.q.length;
  }

  add(t: TaskImpl): void {
    this.q.push(t);
  }

  remove(t: TaskImpl): void {
    const i = this.q.indexOf(t);
    if (i >= 0) this.q.splice(i, 1);
  }

  wakeUp(): number {
    const t = this.q.shift();
    if (!t) return 0;
    t.sched.wake(t, 'wq');
    return 1;
  }

  wakeUpAll(): number {
    const all = this.q.splice(0);
    for (const t of all) t.sched.wake(t, 'wq');
    return all.length;
  }

  waiters(): Task[] {
    return [...this.q];
  }
}

/**
 * Makes a wait queue (`DECLARE_WAIT_QUEUE_HEAD`). Any scheduler's tasks may wait on it.
 * @see kernel/sched/wait.c
 */
export function createWaitQueue(name = 'anonymous'): WaitQueue {
  return new WaitQueueImpl(name);
}

/**
 * Makes a completion (`init_completion`): `complete()` lets one waiter through,
 * `completeAll()` every waiter from then on.
 * @see kernel/sched/completion.c
 */
export function createCompletion(name = 'completion'): Completion {
  const wq = new WaitQueueImpl(name);
  let done = 0;
  const consume = (): void => {
    if (done !== COMPLETION_ALL) done--;
  };
  return {
    name,
    get done() {
      return done;
    },
    complete() {
      if (done !== COMPLETION_ALL) done++;
      wq.wakeUp();
    },
    completeAll() {
      done = COMPLETION_ALL;
      wq.wakeUpAll();
    },
    wait(timeoutNs) {
      checkNs('completion timeout', timeoutNs);
      return new Op('wait', `completion "${name}"`, timeoutNs, wq, () => done > 0, consume);
    },
    tryWait() {
      if (done === 0) return false;
      consume();
      return true;
    },
    isDone: () => done > 0,
    reinit() {
      done = 0;
    },
  };
}

class TaskImpl<R = unknown> implements Task<R> {
  state: TaskState = 'runnable';
  cpu: number;
  result: R | undefined = undefined;
  error: unknown = undefined;
  preemptCount = 0;
  steps = 0;
  /** Set while blocked, and after a wake until the task runs and rechecks. */
  wait: PendingWait | null = null;
  /** Outcome of the last timed wait, for `ctx.timedOut`. */
  timedOut = false;
  /** Error to throw into the generator when it next runs. */
  throwIn: { error: unknown } | null = null;
  /** Joiners sleep here; made on first join. */
  exitWq: WaitQueueImpl | null = null;
  gen!: TaskBody<R>;

  constructor(
    readonly sched: SchedulerImpl,
    readonly pid: number,
    readonly name: string,
    cpu: number,
    readonly pinned: boolean,
  ) {
    this.cpu = cpu;
  }

  get waitingOn(): string | null {
    if (this.state !== 'sleeping' || !this.wait) return null;
    const { op, what, timer } = this.wait;
    return op.kind === 'wait' && timer ? `${what} (timeout at ${timer.expires} ns)` : what;
  }

  get live(): boolean {
    return this.state === 'runnable' || this.state === 'sleeping';
  }
}

/** A CPU's runqueue; made the first time the CPU gets a task. */
class Rq {
  /** Runnable tasks, FIFO from `head`; `queue[head]` is `curr`. */
  private queue: TaskImpl[] = [];
  private head = 0;
  /** Current task (`rq->curr`); `null` means idle. */
  curr: TaskImpl | null = null;
  /** Context switches so far. */
  nrSwitches = 0;
  /** The CPU is inside the virtual time its last step cost. */
  busy = false;
  /** Index in the scheduler's ready list, or -1. */
  readyIdx = -1;
  /** Ends the busy time; one closure per CPU, not per step. */
  readonly quantumEnd: () => void;

  constructor(
    readonly cpu: number,
    sched: SchedulerImpl,
  ) {
    this.quantumEnd = () => {
      this.busy = false;
      sched.updateReady(this);
    };
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  peek(): TaskImpl | null {
    return this.head < this.queue.length ? this.queue[this.head]! : null;
  }

  push(t: TaskImpl): void {
    this.queue.push(t);
  }

  shift(): TaskImpl | null {
    if (this.head >= this.queue.length) return null;
    const t = this.queue[this.head++]!;
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return t;
  }

  remove(t: TaskImpl): void {
    const i = this.queue.indexOf(t, this.head);
    if (i >= 0) this.queue.splice(i, 1);
  }

  drain(): TaskImpl[] {
    const all = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    return all;
  }
}

class SchedulerImpl implements Scheduler {
  readonly nrCpus: number;
  readonly clock: VirtualClock;
  readonly online: Cpumask;
  readonly trace: TraceEntry[] = [];
  totalSteps = 0;
  current: TaskImpl | null = null;

  private readonly rng: Rng;
  /** Root of the per-task generators, apart so spawning does not shift scheduling choices. */
  private readonly taskRng: Rng;
  private readonly quantumNs: number;
  private readonly jitterNs: number;
  private readonly tracing: boolean;
  private readonly throwOnError: boolean;
  private nrOnline: number;
  private nextPid = 1;
  /** Runqueues of CPUs that ever had a task. */
  private readonly rqs = new Map<number, Rq>();
  /** CPUs that have a runnable task and are not busy: the step candidates. */
  private readonly ready: Rq[] = [];
  /** Tasks not done or failed, in spawn order. */
  private readonly live = new Set<TaskImpl>();
  /** CPUs with a current task (not idle). */
  private nrBusyCpus = 0;
  private switches = 0;
  private readonly failedLog: TaskImpl[] = [];
  /** Hook lists are replaced, never changed in place, so a hook may remove itself. */
  private hooks: {
    switch: readonly ContextSwitchHook[];
    idleEnter: readonly IdleHook[];
    idleExit: readonly IdleHook[];
  } = { switch: [], idleEnter: [], idleExit: [] };

  constructor(opts: SchedulerOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new KernelError(
        'EINVAL',
        `scheduler options must be an object such as { nrCpus, seed, clock }, got ${describeValue(opts)}`,
      );
    const { nrCpus, seed, clock } = opts;
    if (!Number.isSafeInteger(nrCpus) || nrCpus < 1 || nrCpus > MAX_NR_CPUS)
      throw new KernelError(
        'EINVAL',
        `scheduler nrCpus ${shown(nrCpus)} is not an integer in 1..${MAX_NR_CPUS}`,
      );
    if (!isVirtualClock(clock))
      throw new KernelError(
        'EINVAL',
        `the scheduler needs a virtual clock (createVirtualClock()), got ${describeValue(clock)}`,
      );
    const q = opts.quantumNs ?? 1000;
    if (!Number.isSafeInteger(q) || q < 0)
      throw new KernelError('EINVAL', `quantumNs ${shown(q)} is not a non-negative integer`);
    const j = opts.quantumJitterNs ?? Math.floor(q / 2);
    if (!Number.isSafeInteger(j) || j < 0 || j > q)
      throw new KernelError('EINVAL', `quantumJitterNs ${shown(j)} is not an integer in 0..${q}`);
    this.nrCpus = nrCpus;
    this.clock = clock;
    this.rng = createRng(seed);
    this.taskRng = this.rng.fork();
    this.quantumNs = q;
    this.jitterNs = j;
    this.tracing = opts.trace ?? false;
    this.throwOnError = (opts.onTaskError ?? 'throw') === 'throw';
    this.online = Cpumask.full(nrCpus);
    this.nrOnline = nrCpus;
  }

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus)
      throw new KernelError(
        'EINVAL',
        `CPU ${shown(cpu)} is out of range (nr_cpu_ids ${this.nrCpus})`,
      );
  }

  private rq(cpu: number): Rq {
    let rq = this.rqs.get(cpu);
    if (!rq) {
      rq = new Rq(cpu, this);
      this.rqs.set(cpu, rq);
    }
    return rq;
  }

  /** An online CPU by seeded choice, `except` excluded when another is online. */
  private pickCpu(except = -1): number {
    for (;;) {
      const cpu =
        this.nrOnline === this.nrCpus
          ? this.rng.below(this.nrCpus)
          : this.online.nth(this.rng.below(this.nrOnline));
      if (cpu !== except || this.nrOnline === 1) return cpu;
    }
  }

  // --- hooks ---------------------------------------------------------------------------

  private addHook<K extends keyof SchedulerImpl['hooks']>(
    kind: K,
    fn: SchedulerImpl['hooks'][K][number],
  ): () => void {
    this.hooks = { ...this.hooks, [kind]: [...this.hooks[kind], fn] };
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const list = this.hooks[kind] as readonly unknown[];
      const i = list.indexOf(fn);
      this.hooks = { ...this.hooks, [kind]: list.filter((_, j) => j !== i) };
    };
  }

  onContextSwitch(fn: ContextSwitchHook): () => void {
    return this.addHook('switch', fn);
  }

  onIdleEnter(fn: IdleHook): () => void {
    return this.addHook('idleEnter', fn);
  }

  onIdleExit(fn: IdleHook): () => void {
    return this.addHook('idleExit', fn);
  }

  /** Makes `next` the CPU's current task, firing idle-exit, switch, idle-enter hooks. */
  private switchTo(rq: Rq, next: TaskImpl | null): void {
    const prev = rq.curr;
    if (prev === next) return;
    rq.curr = next;
    rq.nrSwitches++;
    this.switches++;
    if (prev === null) {
      this.nrBusyCpus++;
      for (const fn of this.hooks.idleExit) fn(rq.cpu);
    }
    if (next === null) this.nrBusyCpus--;
    for (const fn of this.hooks.switch) fn(rq.cpu, prev, next);
    if (next === null) for (const fn of this.hooks.idleEnter) fn(rq.cpu);
  }

  /** Puts `rq` in or out of the ready list to match its state. */
  updateReady(rq: Rq): void {
    const want = !rq.busy && rq.curr !== null;
    if (want === rq.readyIdx >= 0) return;
    const r = this.ready;
    if (want) {
      rq.readyIdx = r.length;
      r.push(rq);
    } else {
      const last = r.pop()!;
      if (last !== rq) {
        r[rq.readyIdx] = last;
        last.readyIdx = rq.readyIdx;
      }
      rq.readyIdx = -1;
    }
  }

  private enqueue(t: TaskImpl, cpu: number): void {
    t.cpu = cpu;
    t.state = 'runnable';
    const rq = this.rq(cpu);
    rq.push(t);
    if (rq.curr === null) this.switchTo(rq, t);
    this.updateReady(rq);
  }

  // --- tasks ---------------------------------------------------------------------------

  spawn<R>(opts: SpawnOptions, fn: (ctx: TaskContext) => TaskBody<R>): Task<R> {
    if (typeof opts !== 'object' || opts === null)
      throw new KernelError(
        'EINVAL',
        `spawn options must be an object such as { name: 'worker' }, got ${describeValue(opts)}`,
      );
    if (typeof opts.name !== 'string' || opts.name === '')
      throw new KernelError(
        'EINVAL',
        `a task needs a name (spawn({ name: 'worker' }, fn)), got ${describeValue(opts.name)}`,
      );
    if (typeof fn !== 'function')
      throw new KernelError(
        'EINVAL',
        `task "${opts.name}" needs a generator function, got ${describeValue(fn)}`,
      );
    let cpu: number;
    if (opts.cpu !== undefined) {
      this.checkCpu(opts.cpu);
      if (!this.online.test(opts.cpu))
        throw new KernelError(
          'EINVAL',
          `cannot bind task "${opts.name}" to offline CPU ${opts.cpu}`,
        );
      cpu = opts.cpu;
    } else cpu = this.pickCpu();
    const t = new TaskImpl<R>(this, this.nextPid++, opts.name, cpu, opts.cpu !== undefined);
    t.gen = fn(this.makeContext(t, this.taskRng.fork()));
    this.live.add(t);
    this.enqueue(t, cpu);
    return t;
  }

  private makeContext(t: TaskImpl, rng: Rng): TaskContext {
    return {
      task: t,
      get cpu() {
        return t.cpu;
      },
      sched: this,
      rng,
      get timedOut() {
        return t.timedOut;
      },
      now: () => this.clock.nowNs(),
      sleep(ns) {
        checkNs('sleep', ns);
        return new Op('sleep', `sleep ${ns} ns`, ns, undefined, undefined, undefined);
      },
      wait(wq, timeoutNs) {
        checkNs('wait timeout', timeoutNs);
        return new Op(
          'wait',
          `wait queue "${wq.name}"`,
          timeoutNs,
          asImpl(wq),
          undefined,
          undefined,
        );
      },
      waitFor(cond, wq, timeoutNs) {
        checkNs('wait timeout', timeoutNs);
        return new Op(
          'wait',
          `condition on wait queue "${wq.name}"`,
          timeoutNs,
          asImpl(wq),
          cond,
          undefined,
        );
      },
      join(other) {
        if (other === t) throw new KernelError('EDEADLK', `task "${t.name}" cannot join itself`);
        const o = other as TaskImpl;
        o.exitWq ??= new WaitQueueImpl(`exit of ${o.name}`);
        return new Op(
          'wait',
          `exit of task "${o.name}" (pid ${o.pid})`,
          undefined,
          o.exitWq,
          () => !o.live,
          undefined,
        );
      },
      preemptDisable() {
        t.preemptCount++;
      },
      preemptEnable() {
        if (t.preemptCount === 0)
          throw new KernelError('EINVAL', `preempt count underflow in task "${t.name}"`);
        t.preemptCount--;
      },
    };
  }

  /** Wakes a sleeping task: from its wait queue, its sleep timer or its wait timeout. */
  wake(t: TaskImpl, why: 'wq' | 'timer' | 'timeout'): void {
    const w = t.wait;
    if (!w) return;
    if (why === 'timeout') {
      w.expired = true;
      w.op.wq?.remove(t);
    } else if (why === 'wq') w.woken = true;
    if (t.state !== 'sleeping') return;
    this.enqueue(t, t.cpu);
  }

  /** Blocks `t` (the running task) on the op, arming its timer. */
  private block(t: TaskImpl, w: PendingWait): void {
    const { op } = w;
    t.state = 'sleeping';
    t.wait = w;
    if (op.kind === 'sleep') {
      w.timer = this.clock.addTimer(op.ns!, () => this.wake(t, 'timer'));
      return;
    }
    op.wq!.add(t);
    if (op.ns !== undefined && !w.timer)
      w.timer = this.clock.addTimer(op.ns, () => this.wake(t, 'timeout'));
  }

  /** Ends a wait: disarms its timer. */
  private endWait(t: TaskImpl, w: PendingWait): void {
    if (w.timer?.pending) this.clock.delTimer(w.timer);
    t.wait = null;
  }

  /** Runs `t` up to its next yield; returns how it stopped. */
  private resume(t: TaskImpl): 'yield' | 'block' | 'exit' {
    const w = t.wait;
    if (w) {
      // Back from a sleep: a conditional wait rechecks its condition in task context.
      const { op } = w;
      if (op.kind === 'sleep') {
        this.endWait(t, w);
        t.timedOut = false;
      } else if (op.cond) {
        let ok = false;
        try {
          ok = op.cond();
        } catch (e) {
          t.throwIn = { error: e };
        }
        if (t.throwIn) this.endWait(t, w);
        else if (ok) {
          this.endWait(t, w);
          op.then?.();
          t.timedOut = false;
        } else if (w.expired) {
          this.endWait(t, w);
          t.timedOut = true;
        } else {
          w.woken = false;
          this.block(t, w);
          return 'block';
        }
      } else {
        this.endWait(t, w);
        t.timedOut = !w.woken;
      }
    }
    for (;;) {
      let r: IteratorResult<SchedOp | undefined, unknown>;
      try {
        const inj = t.throwIn;
        t.throwIn = null;
        r = inj ? t.gen.throw(inj.error) : t.gen.next();
      } catch (e) {
        t.state = 'failed';
        t.error = e;
        return 'exit';
      }
      if (r.done) {
        t.state = 'done';
        t.result = r.value;
        return 'exit';
      }
      const op = r.value;
      if (op === undefined) return 'yield';
      if (!(op instanceof Op)) {
        t.throwIn = {
          error: new KernelError(
            'EINVAL',
            `task "${t.name}" yielded ${describeValue(op)}, not a scheduler op`,
          ),
        };
        continue;
      }
      if (t.preemptCount > 0) {
        t.throwIn = {
          error: new KernelError(
            'EINVAL',
            `BUG: scheduling while atomic: ${t.name}/${t.pid}/0x${t.preemptCount.toString(16).padStart(8, '0')}`,
          ),
        };
        continue;
      }
      if (op.cond) {
        let ok: boolean;
        try {
          ok = op.cond();
        } catch (e) {
          t.throwIn = { error: e };
          continue;
        }
        if (ok) {
          // wait_event does not sleep when the condition already holds.
          op.then?.();
          t.timedOut = false;
          continue;
        }
      }
      const what =
        op.kind === 'sleep' ? `sleep until ${this.clock.nowNs() + Math.ceil(op.ns!)} ns` : op.what;
      this.block(t, { op, what, timer: undefined, expired: false, woken: false });
      return 'block';
    }
  }

  /** One step on `rq`'s CPU. */
  private runCpu(rq: Rq): TaskImpl {
    const t = rq.curr!;
    if (this.tracing)
      this.trace.push({
        step: this.totalSteps,
        nowNs: this.clock.nowNs(),
        cpu: rq.cpu,
        pid: t.pid,
        taskName: t.name,
      });
    this.totalSteps++;
    t.steps++;
    this.current = t;
    let how: 'yield' | 'block' | 'exit';
    try {
      how = this.resume(t);
    } finally {
      this.current = null;
    }
    if (how === 'yield') {
      if (t.preemptCount === 0 && rq.length > 1) {
        rq.shift();
        rq.push(t);
        this.switchTo(rq, rq.peek());
      }
    } else {
      rq.shift();
      this.switchTo(rq, rq.peek());
    }
    // Only a CPU with more to run pays for the slice: one that went idle is free at once,
    // so a task sleeping `d` ns on an otherwise idle CPU runs again exactly `d` later.
    if (this.quantumNs > 0 && rq.curr !== null) {
      rq.busy = true;
      const cost =
        this.jitterNs > 0
          ? this.quantumNs - this.jitterNs + this.rng.below(2 * this.jitterNs + 1)
          : this.quantumNs;
      this.clock.addTimer(cost, rq.quantumEnd);
    }
    this.updateReady(rq);
    if (how === 'exit') {
      this.live.delete(t);
      t.preemptCount = 0;
      t.exitWq?.wakeUpAll();
      if (t.state === 'failed') {
        if (this.throwOnError) throw wrapTaskError(t);
        this.failedLog.push(t);
      }
    }
    return t;
  }

  /** Fires due timers; then, if no CPU is ready, advances to timers until one is. */
  private makeReady(limitNs: number): 'ready' | 'none' | 'limit' {
    const due = this.clock.nextExpiry();
    if (due !== undefined && due <= this.clock.nowNs()) this.clock.advanceTo(this.clock.nowNs());
    while (this.ready.length === 0) {
      if (this.live.size === 0 && limitNs === Infinity) return 'none';
      const next = this.clock.nextExpiry();
      if (next === undefined) {
        if (this.live.size === 0 && limitNs > this.clock.nowNs()) this.clock.advanceTo(limitNs);
        return 'none';
      }
      if (next >= limitNs) {
        this.clock.advanceTo(Math.max(limitNs, this.clock.nowNs()));
        return 'limit';
      }
      if (this.nrBusyCpus === 0) this.idleSkips++;
      this.clock.advanceTo(Math.max(next, this.clock.nowNs()));
    }
    return this.clock.nowNs() >= limitNs ? 'limit' : 'ready';
  }

  /** Idle skips since the current run() started. */
  private idleSkips = 0;

  private pickReady(): Rq {
    return this.ready[this.ready.length === 1 ? 0 : this.rng.below(this.ready.length)]!;
  }

  private checkNotInTask(what: string): void {
    if (this.current)
      throw new KernelError('EBUSY', `${what} called from inside task "${this.current.name}"`);
  }

  step(): Task | null {
    this.checkNotInTask('step()');
    if (this.makeReady(Infinity) !== 'ready') return null;
    return this.runCpu(this.pickReady());
  }

  run(opts: RunOptions = {}): RunResult {
    this.checkNotInTask('run()');
    const { until, maxSteps = Infinity, untilNs = Infinity } = opts;
    if (typeof maxSteps !== 'number' || !(maxSteps >= 0))
      throw new KernelError('EINVAL', `maxSteps ${shown(maxSteps)} is not a number >= 0`);
    if (typeof untilNs !== 'number' || !(untilNs >= 0))
      throw new KernelError('EINVAL', `untilNs ${shown(untilNs)} is not a number >= 0`);
    const steps0 = this.totalSteps;
    const switches0 = this.switches;
    const failed0 = this.failedLog.length;
    this.idleSkips = 0;
    let reason: RunStopReason;
    for (;;) {
      if (until?.()) {
        reason = 'until';
        break;
      }
      if (this.totalSteps - steps0 >= maxSteps) {
        reason = 'maxSteps';
        break;
      }
      const r = this.makeReady(untilNs);
      if (r === 'limit') {
        reason = 'untilNs';
        break;
      }
      if (r === 'none') {
        reason = this.live.size > 0 ? 'deadlock' : 'idle';
        break;
      }
      this.runCpu(this.pickReady());
    }
    return {
      reason,
      steps: this.totalSteps - steps0,
      idleSkips: this.idleSkips,
      switches: this.switches - switches0,
      nowNs: this.clock.nowNs(),
      failed: this.failedLog.slice(failed0),
      blocked: this.blocked(),
    };
  }

  // --- queries -------------------------------------------------------------------------

  nrSwitches(cpu: number): number {
    this.checkCpu(cpu);
    return this.rqs.get(cpu)?.nrSwitches ?? 0;
  }

  nrRunning(cpu: number): number {
    this.checkCpu(cpu);
    return this.rqs.get(cpu)?.length ?? 0;
  }

  isIdle(cpu: number): boolean {
    return this.currentOn(cpu) === null;
  }

  currentOn(cpu: number): Task | null {
    this.checkCpu(cpu);
    return this.rqs.get(cpu)?.curr ?? null;
  }

  tasks(): Task[] {
    return [...this.live];
  }

  blocked(): BlockedTask[] {
    const out: BlockedTask[] = [];
    for (const t of this.live)
      if (t.state === 'sleeping')
        out.push({ task: t, name: t.name, waitingOn: t.waitingOn ?? '?' });
    return out;
  }

  // --- hotplug -------------------------------------------------------------------------

  setCpuOnline(cpu: number, online: boolean): void {
    this.checkCpu(cpu);
    if (typeof online !== 'boolean')
      throw new KernelError('EINVAL', `online must be true or false, got ${describeValue(online)}`);
    if (this.online.test(cpu) === online) return;
    if (online) {
      this.online.set(cpu);
      this.nrOnline++;
      return;
    }
    if (this.current?.cpu === cpu)
      throw new KernelError('EBUSY', `CPU ${cpu} runs the calling task "${this.current.name}"`);
    if (this.nrOnline === 1) throw new KernelError('EBUSY', `CPU ${cpu} is the last online CPU`);
    const mine = [...this.live].filter((t) => t.cpu === cpu);
    for (const t of mine) {
      if (t.pinned)
        throw new KernelError(
          'EBUSY',
          `CPU ${cpu} has task "${t.name}" (pid ${t.pid}) bound to it`,
        );
      if (t.preemptCount > 0)
        throw new KernelError(
          'EBUSY',
          `CPU ${cpu} has task "${t.name}" (pid ${t.pid}) with preemption disabled`,
        );
    }
    this.online.clear(cpu);
    this.nrOnline--;
    const rq = this.rqs.get(cpu);
    const runnable = rq ? rq.drain() : [];
    if (rq) {
      this.switchTo(rq, null);
      this.updateReady(rq);
    }
    for (const t of runnable) this.enqueue(t, this.pickCpu(cpu));
    for (const t of mine) if (t.state === 'sleeping') t.cpu = this.pickCpu(cpu);
  }
}

function asImpl(wq: WaitQueue): WaitQueueImpl {
  if (!(wq instanceof WaitQueueImpl))
    throw new KernelError('EINVAL', 'not a wait queue made by createWaitQueue');
  return wq;
}

function wrapTaskError(t: TaskImpl): KernelError {
  const e = t.error;
  const msg = e instanceof Error ? e.message : String(e);
  return new KernelError(
    isKernelError(e) ? e.errno : 'EFAULT',
    `task "${t.name}" (pid ${t.pid}) failed on CPU ${t.cpu}: ${msg}`,
    { cause: e },
  );
}

/**
 * Makes a deterministic scheduler over `nrCpus` simulated CPUs; CPUs get runqueue
 * objects only once they get a task, so 65,536 idle CPUs cost one bitmap.
 *
 * @throws KernelError EINVAL on a bad CPU count, quantum or jitter, or a missing clock.
 * @see kernel/sched/core.c
 */
export function createScheduler(opts: SchedulerOptions): Scheduler {
  return new SchedulerImpl(opts);
}
