/**
 * Real RCU for worker threads: a domain in a SharedArrayBuffer that any worker attaches to.
 *
 * Layout (Int32 words; each line is 64 bytes = 16 words; constants in `layout.ts`):
 *
 * | word | name | what | guarded by |
 * | --- | --- | --- | --- |
 * | line 0 | MAGIC, FLAVOR, NR_READERS, NR_PTRS, ID (two words: 64 random bits), STALL_MS (RCU CPU stall timeout) | header | written once before sharing |
 * | | PROBE | scratch for an attach's memory-identity check: a nonce written through the buffer, read back through the WebAssembly.Memory | compare-exchange |
 * | line 1 | GP_CTR | grace-period counter readers snapshot (QSBR: odd, +2 per phase, wraps at 2^32; MB: bit 0 = active, bit 1 = phase) | written only by the GP_LOCK holder (seq-cst store); readers read it plainly |
 * | line 2 | GP_LOCK | 0 free, else the holder's threadId + 1: one grace period at a time | compare-exchange; `rcuReapThread()` of the holder (a thread that exited) releases it |
 * | | GP_SEQ | grace-period sequence: even idle, odd in progress (Linux's rcu_seq), wraps | written only by the GP_LOCK holder; waiters read and `waitAsync` on it |
 * | | GP_FUTEX | -1 while the GP_LOCK holder sleeps waiting for readers, else 0 | the holder stores -1 (seq-cst) and checks the readers once more before it sleeps; a reader that sees -1 after its announcing store stores 0 and notifies |
 * | line 3+i | R_CTR | reader i's snapshot of GP_CTR (0 = offline / outside a critical section) | written only by reader i (seq-cst store); read by the updater |
 * | | R_REG | 0 free / 1 registered | compare-exchange at registration, store at unregistration or reap |
 * | | R_TID | threadId of the registered thread (stall reports, reaping) | written by reader i at registration; a reap claims the slot by compare-exchanging it to -1 |
 * | | R_GEN | registration generation: +1 at each registration, unregistration and reap | `Atomics.add` by the slot's owner or its reaper; a QSBR reader checks it before each store to its line |
 * | after readers | pointer slots | Int32 handles of RCU-protected objects (0 = NULL) | written with `rcuAssignPointer` (seq-cst store, updaters serialise among themselves); read plainly with `rcuDereference` |
 *
 * Each reader line is owned by one thread, so a reader announcing a quiescent state
 * dirties only its own line; GP_CTR's line is written once per phase.
 *
 * The 32-bit counter wrap (QSBR): a reader preempted between loading GP_CTR and storing it
 * (coming online, say) can store a value that is 2^31 grace periods old and may equal the
 * current one. liburcu's 32-bit build therefore waits in two phases (URCU_QSBR_GP_CTR
 * toggled between them); so does this domain: wait for every online reader to show the
 * current counter, advance it, wait again. A stale snapshot can equal at most one of the
 * two values, so every reader passes a real quiescent state in one of the phases. The
 * counter starts 300 grace periods before the wrap by default, as Linux starts gp_seq, so
 * every run crosses it.
 *
 * Memory ordering: every shared store that publishes or announces something is an
 * `Atomics` (seq-cst) store, which V8 compiles to `xchg` on x64, a full barrier.
 * Dereferences are plain reads, formally racy in the JS memory model but tear-free for an
 * aligned Int32, and dependent loads through the handle are ordered by the hardware, as
 * `rcu_dereference()` relies on in C. A reader's announcing store (QSBR online and
 * quiescent state, MB outermost lock) must also be ordered before the plain loads that
 * follow it (liburcu's trailing `cmm_smp_mb()`). On weakly ordered hardware (arm64) V8
 * compiles a seq-cst store to a store-release that later plain loads may pass, so there
 * the announcement is an `Atomics.exchange`, and the MB flavor's wasm store is followed
 * by `atomic.fence` (`dmb ish`; see wasm-store.ts). The exchange is the limit of what JS
 * can express without wasm: a read-modify-write, which on arm64 with LSE atomics can be a
 * `swpal` (what Linux uses as a fully ordered `xchg`), but the JS memory model promises
 * nothing about later plain loads, and an `ldaxr`/`stlxr` loop does not order them; a
 * domain with a WebAssembly.Memory (every MB domain) gets the real fence. The
 * MB flavor's unlock is a plain store on x64 (TSO orders earlier loads before it) and a
 * seq-cst store elsewhere.
 *
 * Quiescent states of the calling thread (QSBR): an online QSBR thread holds handles from
 * one quiescent state to the next, and only the thread knows where those are. The domain
 * announces one on the thread's behalf only at the wake-ups of an asynchronous wait the
 * thread asked for as an updater — `synchronizeRcu()`, `rcuBarrier()`, `rcuSyncEnter()` —
 * never inside the synchronous body of any call. Such a call means, as liburcu's
 * `synchronize_rcu()` and `rcu_barrier()` going offline for their duration, "this thread
 * holds no handle across the wait"; its wake-ups run from the event loop, where no task of
 * the thread is running (handles never survive an `await` or the end of a task, see
 * `QsbrReader`). `callRcu()` (and `rcuSyncExit()`, `percpuUpWrite()`, which queue one)
 * implies nothing: it may be called inside a read-side critical section, as `call_rcu()`,
 * and its grace period waits for the thread's own next quiescent state.
 *
 * Waiting for readers (liburcu's `wait_for_readers`): the GP_LOCK holder polls the reader
 * words a bounded number of times (`RCU_QS_ACTIVE_ATTEMPTS`; a few microseconds per
 * event-loop turn for `synchronizeRcu()`), then stores GP_FUTEX = -1, checks once more and
 * sleeps. A reader's announcing store (seq-cst) is followed by a load of GP_FUTEX, so of
 * the two threads at least one sees the other's store: either the updater's last check
 * sees the announcement, or the reader sees -1, clears it and notifies. Readers never
 * notify an updater that is not asleep, and check GP_FUTEX only when they announce a new
 * counter value, once per phase. The sleep is still bounded (1 ms, doubling to 5 ms), so a
 * wake-up that is lost after all (the MB flavor's plain unlock store on x64, see
 * `wakeUpGp`) costs latency, never progress.
 *
 * @see liburcu: src/urcu-qsbr.c, src/urcu.c, include/urcu/static/urcu-qsbr.h
 * @see kernel/rcu/rcu.h: rcu_seq_start(), rcu_seq_end(), rcu_seq_snap(), rcu_seq_done()
 */
import { randomFillSync, randomInt } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { KernelError, NSEC_PER_MSEC, createRealClock, type Clock } from '@kern/core';
import { describeValue } from '../describe.js';
import { RcuCallbackQueue, type RcuCallback, type RcuCallbackStats } from './callbacks.js';
import { assertMayBlock, driveAsync, driveSync, nextBackoff, type WaitStep } from './futex.js';
import { holdEventLoop, releaseEventLoop } from './keep-alive.js';
import {
  FLAVOR_MB,
  FLAVOR_QSBR,
  GP_CTR,
  GP_FUTEX,
  GP_LOCK,
  GP_LOCK_FREE,
  GP_LOCK_REAPING,
  GP_SEQ,
  H_FLAVOR,
  H_ID,
  H_MAGIC,
  H_NR_PTRS,
  H_NR_READERS,
  H_PROBE,
  H_STALL_MS,
  LINE_WORDS,
  MB_GP_COUNT,
  MB_GP_PHASE,
  QSBR_GP_CTR,
  QSBR_GP_ONLINE,
  R_CTR,
  R_GEN,
  R_REG,
  R_TID,
  R_TID_REAPING,
  RCU_MAGIC,
  ptrBase,
  readerLine,
} from './layout.js';
import { MbReader, mbReadersQuiescent } from './mb.js';
import { notInt32Error } from './pointer.js';
import { hardwareIsTso, seqCstCopyFor, sharedWasmMemory, type WasmMemory } from './wasm-store.js';
import { QsbrReader, badSlotError, qsbrReadersQuiescent, wakeUpGp } from './qsbr.js';

/** RCU flavor of a domain: `'qsbr'` (default) or `'mb'` (memory barrier). */
export type RcuFlavor = 'qsbr' | 'mb';

/** A registered reader of either flavor. */
export type RcuReader = QsbrReader | MbReader;

/**
 * Where an attachment reports warnings (RCU CPU stall warnings): the shape of
 * `@kern/core`'s Printk and of `@kern/mm`'s `log`, so either can be passed.
 * @see kernel/printk/printk.c: printk()
 */
export interface RcuLog {
  /** One line of text at a Linux console level (3 = KERN_ERR, as `pr_err`). */
  printk(level: number, text: string): unknown;
}

/**
 * Options of one thread's attachment ({@link attachRcuDomain}; also accepted by
 * {@link createRcuDomain} for the creating thread). Functions cannot cross threads, so
 * each thread gives its own.
 * @see kernel/rcu/tree_stall.h (stall warnings), liburcu: src/urcu-call-rcu-impl.h
 */
export interface RcuAttachOptions {
  /**
   * Receives whatever an RCU callback of this thread throws; the batch's other callbacks
   * still run and the domain keeps working. Default: after the batch has run, the error
   * is rethrown from a microtask — an uncaught exception, as from a throwing `setTimeout`
   * callback: `process.on('uncaughtException')` sees it, and without a handler the thread
   * ends (a worker's `'error'` event, a main thread's exit code 1).
   */
  onCallbackError?: (error: unknown) => void;
  /** Where this thread's stall warnings go. Default: stderr (`console.error`). */
  log?: RcuLog;
  /** The time stall warnings measure (`@kern/core` Clock). Default: `createRealClock()`. */
  clock?: Clock;
}

/** Options of {@link createRcuDomain}: the domain's shape, and the creating thread's {@link RcuAttachOptions}. */
export interface RcuDomainOptions extends RcuAttachOptions {
  /** `'qsbr'` (default): free read side, quiescent states; `'mb'`: barrier per section. */
  flavor?: RcuFlavor;
  /** Reader slots (threads that may read at once), 1..4096; default 64. */
  maxReaders?: number;
  /** Pointer slots for `rcuAssignPointer`/`rcuDereference`, 1..2^20; default 16. */
  pointerSlots?: number;
  /** QSBR: initial GP_CTR (forced odd). Default: 300 grace periods before the 2^32 wrap. */
  gpCtrStart?: number;
  /** Initial GP_SEQ (forced even). Default: 300 grace periods before the wrap. */
  gpSeqStart?: number;
  /**
   * RCU CPU stall timeout for the whole domain, in ms: a grace period that waits this
   * long for a reader (or for the holder of the grace-period lock) is reported, and again
   * every three timeouts after. 0 turns stall warnings off. Default 21,000
   * (`CONFIG_RCU_CPU_STALL_TIMEOUT`).
   */
  stallTimeoutMs?: number;
}

/**
 * What {@link RcuDomain.rcuReapThread} released.
 * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_unregister_thread)
 */
export interface RcuReapResult {
  /** Reader slots the thread held, now free (each was offline for grace periods at once). */
  readonly slots: number[];
  /** Whether the thread held the grace-period lock (its grace period is rolled back). */
  readonly gpLockReleased: boolean;
}

/** What another thread needs to attach: send it with `postMessage` or `workerData`. */
export interface RcuDomainHandle {
  /** The domain's shared memory. */
  readonly buffer: SharedArrayBuffer;
  /**
   * The shared WebAssembly.Memory whose buffer `buffer` is, when the domain was made
   * with one (memory-barrier domains are): readers then issue their seq-cst store
   * through wasm, about half the cost of an `Atomics` call (see wasm-store.ts).
   */
  readonly memory?: WasmMemory;
}

/** Per-thread counters of a domain attachment. */
export interface RcuDomainStats extends RcuCallbackStats {
  /** Grace periods this thread ran (held GP_LOCK and completed). */
  gpsRun: number;
  /** synchronizeRcu/synchronizeRcuSync calls that returned. */
  synchronizes: number;
  /** Current GP_SEQ. */
  gpSeq: number;
  /** Current GP_CTR. */
  gpCtr: number;
}

const DEFAULT_START = -600;
/** Linux's CONFIG_RCU_CPU_STALL_TIMEOUT default, in ms. */
const DEFAULT_STALL_MS = 21_000;
/** This thread's value in GP_LOCK while it holds the lock. */
const LOCK_OWNER = threadId + 1;
/** Linux's console level of a stall warning (`pr_err`). */
const KERN_ERR = 3;
/** Linux's console level of a warning (`pr_warn`): a reaped thread. */
const KERN_WARNING = 4;

/** Stall warnings of an attachment without a `log`: stderr, as Linux's console. */
const stderrLog: RcuLog = { printk: (_level, text) => console.error(text) };

/** Rethrows an RCU callback's exception as an uncaught one (after the batch has run). */
const rethrowUncaught = (e: unknown): void =>
  queueMicrotask(() => {
    throw e;
  });

/** `v` if it is an integer in min..max, else EINVAL naming `what` and the value. */
function intOption(what: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new KernelError(
      'EINVAL',
      `${what} must be an integer ${min}..${max}, got ${describeValue(v)}`,
    );
  return v;
}

/** Throws EINVAL unless `v` is undefined or a function. */
function checkFunction(what: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function')
    throw new KernelError('EINVAL', `${what} must be a function, got ${describeValue(v)}`);
}

/** The attach options after checking them. */
function attachOptions(o: RcuAttachOptions): Required<RcuAttachOptions> {
  checkFunction('onCallbackError', o.onCallbackError);
  if (o.log !== undefined && typeof o.log?.printk !== 'function')
    throw new KernelError(
      'EINVAL',
      `log must be an object with a printk(level, text) method (a Printk), got ${describeValue(o.log)}`,
    );
  if (o.clock !== undefined && typeof o.clock?.nowNs !== 'function')
    throw new KernelError(
      'EINVAL',
      `clock must be a Clock (an object with nowNs()), got ${describeValue(o.clock)}`,
    );
  return {
    onCallbackError: o.onCallbackError ?? rethrowUncaught,
    log: o.log ?? stderrLog,
    clock: o.clock ?? createRealClock(),
  };
}

/** Throws EINVAL unless `options` is undefined or an object. */
function checkOptionsObject(what: string, options: unknown): void {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new KernelError(
      'EINVAL',
      `${what} options must be an object, got ${describeValue(options)}`,
    );
}

/**
 * Polls of the reader words before an updater sleeps, after each wake-up (liburcu's
 * `RCU_QS_ACTIVE_ATTEMPTS`, 100 there too): about 1 µs here, so `synchronizeRcu()` holds
 * its thread's event loop a few microseconds per turn (the bench measures the turn).
 * Blocking waits in workers poll no longer: when the readers occupy every core, polling
 * only keeps one of them off the CPU until the updater sleeps (measured on two cores with
 * a blocking updater: 300 polls gave about a quarter fewer grace periods per second than
 * 100, 1,000 about half as many).
 */
const GP_SPIN = 100;
/**
 * First bound of a sleep waiting for readers, in ms, doubling to 5 ms. `Atomics.waitAsync`
 * counts whole milliseconds in Node 20 (below about 0.5 ms it times out at once).
 */
const GP_SLEEP_MS = 1;

/** @see kernel/rcu/rcu.h: rcu_seq_snap() */
export const rcuSeqSnap = (seq: number): number => ((seq + 3) & ~1) | 0;
/** @see kernel/rcu/rcu.h: rcu_seq_done() (wrap-safe, as ULONG_CMP_GE) */
export const rcuSeqDone = (seq: number, snap: number): boolean => ((seq - snap) | 0) >= 0;

/**
 * Creates a domain in a new SharedArrayBuffer. Other threads attach with
 * {@link attachRcuDomain} and `domain.handle`.
 * @throws KernelError EINVAL on a bad size, an unknown flavor, a bad stall timeout or
 *   hook, or an option of the wrong type (named with its value and type).
 * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_init), src/urcu.c (urcu_mb_init)
 */
export function createRcuDomain(options: RcuDomainOptions = {}): RcuDomain {
  checkOptionsObject('createRcuDomain', options);
  const nrReaders = intOption('maxReaders', options.maxReaders, 64, 1, 4096);
  const nrPtrs = intOption('pointerSlots', options.pointerSlots, 16, 1, 1 << 20);
  const stallMs = intOption(
    'stallTimeoutMs',
    options.stallTimeoutMs,
    DEFAULT_STALL_MS,
    0,
    2 ** 31 - 1,
  );
  const ctrStart = intOption(
    'gpCtrStart',
    options.gpCtrStart,
    DEFAULT_START,
    -(2 ** 31),
    2 ** 32 - 1,
  );
  const seqStart = intOption(
    'gpSeqStart',
    options.gpSeqStart,
    DEFAULT_START,
    -(2 ** 31),
    2 ** 32 - 1,
  );
  const flavor = options.flavor ?? 'qsbr';
  if (flavor !== 'qsbr' && flavor !== 'mb')
    throw new KernelError('EINVAL', `flavor must be 'qsbr' or 'mb', got ${describeValue(flavor)}`);
  const local = attachOptions(options);
  const words = ptrBase(nrReaders) + Math.ceil(nrPtrs / LINE_WORDS) * LINE_WORDS;
  // Memory-barrier readers do a seq-cst store per critical section: give them wasm memory.
  const memory = flavor === 'mb' ? sharedWasmMemory(words * 4) : undefined;
  const buffer = memory ? (memory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(words * 4);
  const h = new Int32Array(buffer);
  h[H_FLAVOR] = flavor === 'mb' ? FLAVOR_MB : FLAVOR_QSBR;
  h[H_NR_READERS] = nrReaders;
  h[H_NR_PTRS] = nrPtrs;
  h[H_STALL_MS] = stallMs;
  h[GP_CTR] = flavor === 'mb' ? MB_GP_COUNT : ctrStart | QSBR_GP_ONLINE;
  h[GP_SEQ] = seqStart & ~1;
  randomFillSync(h.subarray(H_ID, H_ID + 2));
  Atomics.store(h, H_MAGIC, RCU_MAGIC);
  return new RcuDomain(memory ? { buffer, memory } : { buffer }, local);
}

const isShared = (b: unknown): b is SharedArrayBuffer =>
  Object.prototype.toString.call(b) === '[object SharedArrayBuffer]';

/**
 * The words of the domain in `buffer`, after checking it is one: size, magic, then the
 * header against the size. Throws EINVAL and writes nothing if it is not.
 */
function domainWords(buffer: unknown): Int32Array {
  const minBytes = ptrBase(1) * 4;
  if (!isShared(buffer))
    throw new KernelError(
      'EINVAL',
      `handle.buffer is not a SharedArrayBuffer, got ${describeValue(buffer)} (attach with an RCU domain's domain.handle)`,
    );
  if (buffer.byteLength < minBytes || buffer.byteLength % 4 !== 0)
    throw new KernelError(
      'EINVAL',
      `buffer of ${buffer.byteLength} bytes is not an RCU domain (at least ${minBytes} bytes, whole words)`,
    );
  const h = new Int32Array(buffer);
  const magic = Atomics.load(h, H_MAGIC);
  if (magic !== RCU_MAGIC)
    throw new KernelError(
      'EINVAL',
      `buffer is not an RCU domain (bad magic 0x${(magic >>> 0).toString(16)})`,
    );
  const flavor = h[H_FLAVOR]!;
  const nrReaders = h[H_NR_READERS]!;
  const nrPtrs = h[H_NR_PTRS]!;
  if (
    (flavor !== FLAVOR_QSBR && flavor !== FLAVOR_MB) ||
    nrReaders < 1 ||
    nrReaders > 4096 ||
    nrPtrs < 1 ||
    nrPtrs > 1 << 20 ||
    h[H_STALL_MS]! < 0 ||
    (ptrBase(nrReaders) + nrPtrs) * 4 > buffer.byteLength
  )
    throw new KernelError(
      'EINVAL',
      `RCU domain header is corrupt: flavor ${flavor}, ${nrReaders} readers, ${nrPtrs} pointer slots in ${buffer.byteLength} bytes`,
    );
  return h;
}

/**
 * Returns `memory` if it is the memory of the domain words `h`, else throws EINVAL. Two
 * proofs: the domain id (64 random bits) rules out every other domain, whose words change
 * under concurrent attaches; a fresh nonce written through `h` and read back through the
 * memory rules out a copy of this domain's bytes.
 */
function checkedMemory(h: Int32Array, memory: WasmMemory): WasmMemory {
  const mb: unknown = memory?.buffer;
  if (!isShared(mb) || mb.byteLength < h.byteLength)
    throw new KernelError(
      'EINVAL',
      'handle.memory is not a shared WebAssembly.Memory at least as large as the domain buffer',
    );
  const m = new Int32Array(mb, 0, h.length);
  if (m[H_ID] !== h[H_ID] || m[H_ID + 1] !== h[H_ID + 1])
    throw new KernelError(
      'EINVAL',
      'handle.memory is not the memory of handle.buffer (it holds another domain id)',
    );
  // Lock-free: a failed round means another attach wrote its own nonce meanwhile.
  for (;;) {
    const old = Atomics.load(h, H_PROBE);
    const r = randomInt(-0x80000000, 0x80000000);
    const nonce = r === old ? ~old : r;
    if (Atomics.compareExchange(h, H_PROBE, old, nonce) !== old) continue;
    if (Atomics.load(m, H_PROBE) === nonce) return memory;
    // Still our nonce in the buffer, not in the memory: they are different bytes.
    if (Atomics.load(h, H_PROBE) === nonce)
      throw new KernelError(
        'EINVAL',
        'handle.memory is not the memory of handle.buffer (a nonce written to the buffer did not appear in it)',
      );
  }
}

/**
 * Attaches the calling thread to a domain made by {@link createRcuDomain}, from its
 * `domain.handle` (a property, sent with `postMessage` or `workerData`).
 * @throws KernelError EINVAL if the handle is not an RCU domain's — in particular if it is
 *   the domain object itself (or its structured-clone copy, as `workerData: domain` makes)
 *   instead of `domain.handle` — or on a bad option.
 * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_register_thread)
 */
export function attachRcuDomain(
  handle: RcuDomainHandle,
  options: RcuAttachOptions = {},
): RcuDomain {
  checkOptionsObject('attachRcuDomain', options);
  return new RcuDomain(checkHandle(handle), attachOptions(options));
}

/**
 * `handle` if it looks like an RCU domain handle; EINVAL with what it is instead. A
 * domain object (or its structured-clone copy: a plain object whose `handle` is a
 * handle) is named as such.
 */
function checkHandle(handle: unknown): RcuDomainHandle {
  if (handle instanceof RcuDomain || isObjectWithHandle(handle))
    throw new KernelError(
      'EINVAL',
      'attachRcuDomain: pass domain.handle, not the domain object (workerData: { rcu: domain.handle })',
    );
  if (typeof handle !== 'object' || handle === null)
    throw new KernelError(
      'EINVAL',
      `attachRcuDomain: expected domain.handle ({ buffer, memory? }), got ${describeValue(handle)}`,
    );
  return handle as RcuDomainHandle;
}

/**
 * @internal Whether `v` is an object that holds a handle (`{ buffer: SharedArrayBuffer }`)
 * under `handle` without being one: a library object, or the plain object structured
 * clone makes of it.
 */
export function isObjectWithHandle(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { buffer?: unknown; handle?: unknown };
  return (
    !isShared(o.buffer) &&
    typeof o.handle === 'object' &&
    o.handle !== null &&
    isShared((o.handle as { buffer?: unknown }).buffer)
  );
}

/**
 * One thread's attachment to a real RCU domain: registration of readers, pointer
 * publication, grace periods and the thread's callRcu queue.
 *
 * `synchronizeRcu()` never blocks the event loop; `synchronizeRcuSync()` blocks and is for
 * workers only. Grace periods are shared: concurrent callers in any thread snapshot GP_SEQ
 * and return as soon as a grace period that began after their call has ended.
 *
 * Waiting inside one's own read-side critical section: a memory-barrier reader knows its
 * nesting, so `synchronizeRcu()`, `synchronizeRcuSync()` and `rcuBarrier()` inside it
 * throw EDEADLK (lockdep's "Illegal synchronize_rcu() in RCU read-side critical
 * section"). A QSBR reader's lock is empty, so the domain cannot see a critical section:
 * for QSBR these calls mean "this thread holds no handle across the call" (they count as
 * quiescent states of the calling thread, as liburcu's go offline), and a caller that
 * keeps using a handle it dereferenced before the call has a broken read side that
 * nothing reports.
 *
 * Only data lives in the object's own properties (the per-thread hooks, queue and reader
 * are private), so `workerData: domain` by mistake clones into a plain object that
 * {@link attachRcuDomain} recognises and refuses with "pass domain.handle".
 *
 * @see liburcu: include/urcu/urcu-qsbr.h, include/urcu/urcu-mb.h
 */
export class RcuDomain {
  /** The domain's flavor. */
  readonly flavor: RcuFlavor;
  /** Number of reader slots. */
  readonly maxReaders: number;
  /** Number of pointer slots. */
  readonly pointerSlots: number;
  /** RCU CPU stall timeout of the domain in ms (0: no stall warnings). */
  readonly stallTimeoutMs: number;
  /** The pointer slots (Int32 handles, 0 = NULL); read plainly, written with rcuAssignPointer. */
  readonly pointers: Int32Array;
  private readonly h: Int32Array;
  /** Whether the hardware is x86 (TSO): see `qsbrReadersQuiescent`. */
  private readonly tso = hardwareIsTso(process.arch);
  /** The domain's memory as a shared WebAssembly.Memory, when it has one. */
  private readonly memory: WasmMemory | undefined;
  private closed: KernelError | null = null;
  private gpsRun = 0;
  private synchronizes = 0;
  /**
   * Asynchronous waits of this attachment whose caller asserted it holds no handle
   * (synchronizeRcu, rcuBarrier, rcuSyncEnter) still pending. Thread-local.
   */
  private quiescentWaiters = 0;
  /** The registered reader of this thread (private: functions do not clone). */
  #reader: RcuReader | null = null;
  readonly #callbacks: RcuCallbackQueue;
  readonly #log: RcuLog;
  readonly #clock: Clock;
  /**
   * Stall detection of the grace period this thread runs (reader stalls) or waits for
   * (lock-holder stalls): when the first sleep began (-1: not yet), when to warn next,
   * and, for a waiter, the GP_SEQ it has seen not move. Thread-local.
   */
  #stallStartNs = -1;
  #stallNextNs = 0;
  #stallSeq = 0;
  /**
   * @internal Bound of one sleep waiting for readers, in ms; `null` (default): 1 ms
   * doubling to 5 ms. Tests set it long, so that a lost wake-up shows as a hang.
   */
  wakeTimeoutMs: number | null = null;
  /** Whether a grace period of this attachment sleeps on GP_FUTEX. Thread-local. */
  private asleepOnReaders = false;

  /** @internal Use {@link createRcuDomain} or {@link attachRcuDomain}. */
  constructor(
    readonly handle: RcuDomainHandle,
    local: Required<RcuAttachOptions>,
  ) {
    const h = domainWords(handle?.buffer);
    this.memory = handle.memory ? checkedMemory(h, handle.memory) : undefined;
    this.h = h;
    this.flavor = h[H_FLAVOR] === FLAVOR_MB ? 'mb' : 'qsbr';
    this.maxReaders = h[H_NR_READERS]!;
    this.pointerSlots = h[H_NR_PTRS]!;
    this.stallTimeoutMs = h[H_STALL_MS]!;
    this.pointers = new Int32Array(handle.buffer, ptrBase(this.maxReaders) * 4, this.pointerSlots);
    this.#log = local.log;
    this.#clock = local.clock;
    // The batch's grace period: like synchronizeRcu(), but callRcu() asserts nothing about
    // this thread's handles, so the wait announces nothing for its reader by itself. Nor
    // does it keep the thread alive: nobody awaits it (rcuBarrier() holds the loop for
    // its own wait), and a batch held up by this thread's own online reader would
    // otherwise keep a thread whose script has ended alive for ever.
    this.#callbacks = new RcuCallbackQueue(async () => {
      this.checkOpen();
      await driveAsync(this.synchronizeSteps(), this.#quiescentBetweenWaits, false);
    }, local.onCallbackError);
  }

  /** The registered reader of this thread, if any. */
  get reader(): RcuReader | null {
    return this.#reader;
  }

  /**
   * Registers the calling thread as a reader (QSBR readers start online).
   * @throws KernelError EBUSY if this thread already registered, ENOSPC if every slot is
   *   taken, ESHUTDOWN after close().
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_register_thread)
   */
  rcuRegisterThread(): RcuReader {
    this.checkOpen();
    if (this.#reader) throw new KernelError('EBUSY', `thread ${threadId} is already registered`);
    const h = this.h;
    for (let i = 0; i < this.maxReaders; i++) {
      const line = readerLine(i);
      if (Atomics.compareExchange(h, line + R_REG, 0, 1) !== 0) continue;
      const gen = Atomics.add(h, line + R_GEN, 1) + 1;
      Atomics.store(h, line + R_TID, threadId);
      const done = (r: RcuReader): void => {
        // Unless a reap took the slot meanwhile: then it may be another thread's.
        if (Atomics.load(h, line + R_GEN) === gen) releaseSlot(h, line);
        if (this.#reader === r) this.#reader = null;
      };
      const tso = this.tso;
      const r =
        this.flavor === 'qsbr'
          ? new QsbrReader(h, this.pointers, i, done, tso)
          : new MbReader(
              h,
              this.pointers,
              i,
              done,
              tso,
              this.memory ? seqCstCopyFor(this.memory, !tso) : undefined,
            );
      this.#reader = r;
      return r;
    }
    throw new KernelError('ENOSPC', `all ${this.maxReaders} reader slots are registered`);
  }

  /**
   * Releases what a thread that has exited left in the domain: its reader slots (a
   * reader that died inside a read-side critical section, or without
   * `rcuUnregisterThread()`, holds every later grace period up) and the grace-period
   * lock if it died holding it (its grace period is rolled back: it never counts as
   * elapsed). Grace periods then go on without it.
   *
   * Only for a thread that has ended: nothing tells the domain that a thread is dead
   * (there is no heartbeat), so the caller vouches for it — usually through
   * {@link RcuDomain.rcuReapOnExit}, or by hand with the id read while the worker runs
   * (`worker.threadId` is -1 by the time its `'exit'` event fires). Reaping a thread that
   * still runs ends its read-side protection; its QSBR reader notices at its next store
   * and throws EINVAL, its memory-barrier reader does not.
   * @returns the slots freed and whether the lock was released (both empty after a
   *   clean exit).
   * @throws KernelError EINVAL if `tid` is not a threadId (an integer >= 0; -1 is what
   *   `worker.threadId` reads after the exit) or is the calling thread's own (use
   *   rcuUnregisterThread()).
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_unregister_thread, done for the dead thread)
   */
  rcuReapThread(tid: number): RcuReapResult {
    if (tid === -1)
      throw new KernelError(
        'EINVAL',
        'rcuReapThread(-1): worker.threadId reads -1 once the worker has exited; read it while it runs (const tid = worker.threadId), or use domain.rcuReapOnExit(worker)',
      );
    if (typeof tid !== 'number' || !Number.isSafeInteger(tid) || tid < 0)
      throw new KernelError(
        'EINVAL',
        `rcuReapThread: expected a threadId (worker.threadId), got ${describeValue(tid)}`,
      );
    if (tid === threadId)
      throw new KernelError(
        'EINVAL',
        `rcuReapThread(${tid}) is the calling thread: use reader.rcuUnregisterThread()`,
      );
    const h = this.h;
    const slots: number[] = [];
    for (let i = 0; i < this.maxReaders; i++) {
      const line = readerLine(i);
      if (Atomics.load(h, line + R_REG) !== 1) continue;
      // Claim the slot: only one reaper wins, and a slot just registered by a live thread
      // (R_TID still 0, or its own id) is never taken.
      if (Atomics.compareExchange(h, line + R_TID, tid, R_TID_REAPING) !== tid) continue;
      releaseSlot(h, line); // advances R_GEN: the dead registration's reader object is stale
      slots.push(i);
    }
    let gpLockReleased = false;
    // Claim the dead holder's lock first: only the reaper that wins rolls its grace period
    // back (as close() does for its own) and then frees the lock, so a second reaper can
    // never roll back a grace period a live updater has started since.
    if (Atomics.compareExchange(h, GP_LOCK, tid + 1, GP_LOCK_REAPING) === tid + 1) {
      const seq = Atomics.load(h, GP_SEQ);
      if ((seq & 1) === 1) Atomics.store(h, GP_SEQ, (seq - 1) | 0);
      Atomics.store(h, GP_LOCK, GP_LOCK_FREE);
      gpLockReleased = true;
      Atomics.notify(h, GP_SEQ);
      Atomics.notify(h, GP_LOCK);
    }
    if (slots.length > 0) wakeUpGp(h);
    return { slots, gpLockReleased };
  }

  /**
   * Reaps `worker` with {@link RcuDomain.rcuReapThread} when it exits (its `'exit'`
   * event), whether it unregistered or died reading or in a grace period; what a dirty
   * exit left behind is reported through the attachment's log (KERN_WARNING). Call it in
   * the thread that made the worker, while the worker runs (its `threadId` is read now).
   * @throws KernelError EINVAL if `worker` is not a running Worker (no `threadId` >= 0 or
   *   no `once`).
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_unregister_thread)
   */
  rcuReapOnExit(worker: {
    readonly threadId: number;
    once(event: 'exit', listener: (code: number) => void): unknown;
  }): void {
    const tid = (worker as { threadId?: unknown } | null)?.threadId;
    if (
      typeof worker?.once !== 'function' ||
      typeof tid !== 'number' ||
      !Number.isSafeInteger(tid) ||
      tid < 0
    )
      throw new KernelError(
        'EINVAL',
        `rcuReapOnExit: expected a running Worker, got ${describeValue(worker)} with threadId ${describeValue(tid)}`,
      );
    worker.once('exit', () => {
      const r = this.rcuReapThread(tid);
      if (r.slots.length === 0 && !r.gpLockReleased) return;
      const what = [
        ...r.slots.map((s) => `reader slot ${s}`),
        ...(r.gpLockReleased ? ['the grace-period lock (its grace period rolled back)'] : []),
      ];
      this.#log.printk(
        KERN_WARNING,
        `rcu: thread ${tid} exited without rcuUnregisterThread(): reaped ${what.join(', ')}`,
      );
    });
  }

  /**
   * Publishes handle `value` in pointer slot `slot` (seq-cst store: everything written to
   * the object before is visible to a reader that dereferences the handle).
   * @throws KernelError EINVAL if `slot` is not an integer in 0..pointerSlots-1 or `value`
   *   is not an Int32 handle (an integer in -2^31..2^31-1); nothing is stored.
   * @see liburcu: include/urcu/static/pointer.h (_rcu_assign_pointer)
   */
  rcuAssignPointer(slot: number, value: number): void {
    this.checkSlot(slot);
    if ((value | 0) !== value) throw notInt32Error('rcuAssignPointer', value);
    Atomics.store(this.pointers, slot, value);
  }

  /**
   * Reads pointer slot `slot` (plain read). Readers may also use their own
   * `reader.rcuDereference` (unchecked: the hot path).
   * @throws KernelError EINVAL if `slot` is not an integer in 0..pointerSlots-1.
   * @see liburcu: include/urcu/static/pointer.h (_rcu_dereference)
   */
  rcuDereference(slot: number): number {
    this.checkSlot(slot);
    return this.pointers[slot]!;
  }

  /** Current grace-period sequence (even: idle, odd: in progress). */
  get gpSeq(): number {
    return Atomics.load(this.h, GP_SEQ);
  }

  /** Current grace-period counter readers snapshot. */
  get gpCtr(): number {
    return Atomics.load(this.h, GP_CTR);
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.closed !== null;
  }

  /**
   * Waits for a full grace period: every read-side critical section that began before the
   * call has ended. Never blocks the event loop (polls with `Atomics.waitAsync` and
   * backoff), and keeps the thread alive while it waits.
   *
   * Called by an online QSBR reader thread, it means what liburcu's `synchronize_rcu()`
   * means (which goes offline for its duration): the thread holds no handle across the
   * `await` — QSBR cannot check this (its read lock is empty); a handle kept across the
   * call may be reclaimed under the caller. The thread's reader then announces a
   * quiescent state at each wake-up of the wait (from the event loop, never inside this
   * call's synchronous body), so the thread never waits for itself.
   * @throws KernelError (the promise rejects) EDEADLK inside this thread's own
   *   memory-barrier read-side critical section, ESHUTDOWN if close() is called first
   *   (nothing was waited for).
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_synchronize_rcu)
   * @see kernel/rcu/tree.c: synchronize_rcu() (RCU_LOCKDEP_WARN "Illegal synchronize_rcu()")
   */
  async synchronizeRcu(): Promise<void> {
    this.checkOpen();
    this.assertNotReading('synchronizeRcu()');
    await this.waitQuiescent(this.synchronizeSteps());
    this.synchronizes++;
  }

  /**
   * @internal Throws EDEADLK if this thread is inside a memory-barrier read-side critical
   * section of this domain: `what` would wait for the thread itself.
   */
  assertNotReading(what: string): void {
    const r = this.#reader;
    if (r !== null && r.flavor === 'mb' && r.online)
      throw new KernelError(
        'EDEADLK',
        `Illegal ${what} in RCU read-side critical section: memory-barrier reader slot ${r.slot} of this thread is inside one (nesting ${r.depth}), and the grace period would wait for it forever`,
      );
  }

  /**
   * @internal Drives `steps` as a wait whose caller holds no handle: at each wake-up the
   * thread's QSBR reader announces a quiescent state (see {@link RcuDomain.synchronizeRcu}).
   */
  async waitQuiescent<T>(steps: Generator<WaitStep, T, void>): Promise<T> {
    this.holdsNoHandle();
    try {
      return await driveAsync(steps, this.#quiescentBetweenWaits);
    } finally {
      this.quiescentWaiters--;
    }
  }

  /**
   * Counts a pending wait whose caller holds no handle. A grace period of this attachment
   * already asleep (callRcu's batch) may be waiting for this thread's reader: it is woken,
   * so that its wake-up announces the quiescent state (from the event loop, not here).
   */
  private holdsNoHandle(): void {
    this.quiescentWaiters++;
    if (this.asleepOnReaders) Atomics.notify(this.h, GP_FUTEX);
  }

  /**
   * Called at each wake-up of an asynchronous wait of this attachment (the top of an
   * event-loop continuation, where no task of the thread is running): announces a
   * quiescent state for the thread's reader only while a caller that holds no handle
   * waits. Never called from a synchronous body. (A private field: own properties must
   * stay cloneable.)
   */
  readonly #quiescentBetweenWaits = (): void => {
    if (this.quiescentWaiters > 0) this.#reader?.rcuQuiescentState();
  };

  /**
   * Blocking {@link RcuDomain.synchronizeRcu} for workers (`Atomics.wait`). An online QSBR
   * reader goes offline for the wait, as in liburcu (the same rule: no handle held across
   * the call).
   * @throws KernelError EPERM on the main thread, EDEADLK inside this thread's own
   *   memory-barrier read-side critical section, ESHUTDOWN after close().
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_synchronize_rcu)
   */
  synchronizeRcuSync(): void {
    assertMayBlock('synchronizeRcuSync()');
    this.checkOpen();
    this.assertNotReading('synchronizeRcuSync()');
    const r = this.#reader;
    const wasOnline = r?.flavor === 'qsbr' && r.online;
    if (wasOnline) r.rcuThreadOffline();
    try {
      driveSync(this.synchronizeSteps());
    } finally {
      if (wasOnline) r.rcuThreadOnline();
    }
    this.synchronizes++;
  }

  /**
   * Queues `fn` to run after a grace period, batched: callbacks queued while one grace
   * period runs share the next one. Runs in this thread.
   *
   * May be called inside a read-side critical section: unlike synchronizeRcu() it asserts
   * nothing about this thread's handles and never announces a quiescent state for its
   * reader, so if this thread is an online QSBR reader the callback also waits for the
   * thread's own next quiescent state (as `call_rcu()` in liburcu).
   *
   * A callback that throws does not stop the others of its batch; the error goes to the
   * attachment's `onCallbackError` hook, or without one is rethrown as an uncaught
   * exception after the batch (see {@link RcuAttachOptions.onCallbackError}).
   * @throws KernelError EINVAL if `fn` is not a function (nothing is queued), ESHUTDOWN
   *   after close().
   * @see liburcu: src/urcu-call-rcu-impl.h (call_rcu)
   */
  callRcu(fn: RcuCallback): void {
    this.checkOpen();
    if (typeof fn !== 'function')
      throw new KernelError('EINVAL', `callRcu: fn must be a function, got ${describeValue(fn)}`);
    this.#callbacks.callRcu(fn);
  }

  /**
   * Resolves once every callback this thread queued before the call has run. Like
   * synchronizeRcu() (and liburcu's `rcu_barrier()`, which goes offline), it means this
   * thread holds no handle across the `await`: while it waits, the thread's QSBR reader
   * announces a quiescent state at each wake-up of the callbacks' grace period.
   * @throws KernelError (rejects) EDEADLK inside this thread's own memory-barrier
   *   read-side critical section, ESHUTDOWN if close() comes first.
   * @see liburcu: src/urcu-call-rcu-impl.h (rcu_barrier)
   */
  async rcuBarrier(): Promise<void> {
    this.checkOpen();
    this.assertNotReading('rcuBarrier()');
    this.holdsNoHandle();
    // The batches it waits for do not keep the thread alive by themselves (see the
    // constructor): this wait does, from start to end.
    holdEventLoop();
    try {
      await this.#callbacks.rcuBarrier();
    } finally {
      releaseEventLoop();
      this.quiescentWaiters--;
    }
  }

  /** This thread's counters. */
  stats(): RcuDomainStats {
    return {
      ...this.#callbacks.stats,
      gpsRun: this.gpsRun,
      synchronizes: this.synchronizes,
      gpSeq: this.gpSeq,
      gpCtr: this.gpCtr,
    };
  }

  /**
   * Shuts this thread's attachment down: pending grace periods abort with ESHUTDOWN (one
   * this thread was running is rolled back), queued callbacks are dropped and never run,
   * and the thread's reader is unregistered. Other threads are not affected.
   * @throws KernelError EBUSY inside this thread's memory-barrier read-side critical
   *   section (nothing is changed).
   * @see liburcu: src/urcu-call-rcu-impl.h (call_rcu_data_free), src/urcu-qsbr.c
   */
  close(): void {
    if (this.closed) return;
    const r = this.#reader;
    if (r !== null && r.flavor === 'mb' && r.online)
      throw new KernelError(
        'EBUSY',
        `close() inside a read-side critical section (memory-barrier reader slot ${r.slot}, nesting ${r.depth}): call rcuReadUnlock() first`,
      );
    this.closed = new KernelError('ESHUTDOWN', 'RCU domain closed while waiting');
    this.#callbacks.abort(this.closed);
    r?.rcuUnregisterThread();
    this.#reader = null;
  }

  private checkOpen(): void {
    if (this.closed) throw this.closed;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.pointerSlots)
      throw badSlotError(slot, this.pointerSlots);
  }

  /** Lock GP_LOCK, or wait for a grace period that started after `snap`'s call. */
  private *synchronizeSteps(): Generator<WaitStep, void, void> {
    const h = this.h;
    const snap = rcuSeqSnap(Atomics.load(h, GP_SEQ));
    let ms = 0;
    for (let spins = 0; ; spins++) {
      this.checkOpen();
      const seq = Atomics.load(h, GP_SEQ);
      if (rcuSeqDone(seq, snap)) return;
      if (Atomics.compareExchange(h, GP_LOCK, GP_LOCK_FREE, LOCK_OWNER) === GP_LOCK_FREE) {
        try {
          if (!rcuSeqDone(Atomics.load(h, GP_SEQ), snap)) yield* this.gpSteps();
        } finally {
          // A compare-exchange: if a reap took the lock from this (live) thread, it may
          // be another thread's by now.
          Atomics.compareExchange(h, GP_LOCK, LOCK_OWNER, GP_LOCK_FREE);
          Atomics.notify(h, GP_LOCK);
        }
        continue;
      }
      // Another thread runs a grace period: sleep until GP_SEQ moves (or a timeout).
      ms = nextBackoff(ms, spins);
      if (ms > 0) this.checkLockStall(seq);
      yield { array: h, index: GP_SEQ, value: seq, ms };
    }
  }

  /** One grace period, with GP_LOCK held. */
  private *gpSteps(): Generator<WaitStep, void, void> {
    const h = this.h;
    const nr = this.maxReaders;
    const seq = Atomics.load(h, GP_SEQ);
    Atomics.store(h, GP_SEQ, (seq + 1) | 0); // rcu_seq_start
    this.#stallStartNs = -1;
    let completed = false;
    try {
      // GP_CTR is written only by this thread while it holds GP_LOCK.
      const tso = this.tso;
      let ctr = Atomics.load(h, GP_CTR);
      if (this.flavor === 'qsbr') {
        yield* this.waitForReaders(() => qsbrReadersQuiescent(h, nr, ctr, tso));
        Atomics.store(h, GP_CTR, (ctr = (ctr + QSBR_GP_CTR) | 0));
        yield* this.waitForReaders(() => qsbrReadersQuiescent(h, nr, ctr, tso));
      } else {
        yield* this.waitForReaders(() => mbReadersQuiescent(h, nr, ctr, tso));
        Atomics.store(h, GP_CTR, (ctr ^= MB_GP_PHASE));
        yield* this.waitForReaders(() => mbReadersQuiescent(h, nr, ctr, tso));
      }
      completed = true;
    } finally {
      // An aborted grace period is rolled back: it never counts as having elapsed.
      Atomics.store(h, GP_SEQ, completed ? (seq + 2) | 0 : seq); // rcu_seq_end
      Atomics.notify(h, GP_SEQ);
    }
    this.gpsRun++;
  }

  /**
   * Waits until `quiescent()`, as liburcu's `wait_for_readers`: `GP_SPIN` polls after every
   * wake-up, then a sleep on GP_FUTEX = -1, which the first reader to announce a quiescent
   * state after that store sees (wakeUpGp): it clears the word and notifies. Readers never
   * notify an updater that is not asleep. The sleep is bounded (GP_SLEEP_MS doubling to
   * 5 ms, or `wakeTimeoutMs`), so a lost wake-up costs latency, never progress.
   */
  private *waitForReaders(quiescent: () => boolean): Generator<WaitStep, void, void> {
    const h = this.h;
    let ms = 0;
    let asleep = false;
    for (;;) {
      for (let i = 0; i < GP_SPIN; i++) {
        if (quiescent()) {
          if (asleep) Atomics.store(h, GP_FUTEX, 0);
          return;
        }
      }
      this.checkOpen();
      // This thread's own reader, if it is the one waited for, announces at the wake-ups
      // (quiescentBetweenWaits), never here: let the event loop turn once before sleeping.
      if (this.selfBlocks()) {
        yield { array: h, index: GP_FUTEX, value: -1, ms: 0 };
        continue;
      }
      this.checkReaderStall();
      // Announce the sleep, then check once more: a reader that stored its counter before
      // seeing -1 is seen here (both sides store, then load: seq-cst).
      Atomics.store(h, GP_FUTEX, -1);
      asleep = true;
      if (quiescent()) {
        Atomics.store(h, GP_FUTEX, 0);
        return;
      }
      ms = this.wakeTimeoutMs ?? (ms === 0 ? GP_SLEEP_MS : Math.min(ms * 2, 5));
      this.asleepOnReaders = true;
      try {
        yield { array: h, index: GP_FUTEX, value: -1, ms };
      } finally {
        this.asleepOnReaders = false;
      }
    }
  }

  /**
   * Whether the stall clock says to warn now: starts it at the first sleep of a wait
   * (`restart`), then fires once the domain's timeout has passed and every three
   * timeouts after (as Linux re-arms `jiffies_stall`). Returns the stalled ms, or -1.
   * @see kernel/rcu/tree_stall.h: record_gp_stall_check_time(), check_cpu_stall()
   */
  private stallDue(restart: boolean): number {
    const limitMs = this.stallTimeoutMs;
    if (limitMs === 0) return -1;
    const now = this.#clock.nowNs();
    if (restart || this.#stallStartNs < 0) {
      this.#stallStartNs = now;
      this.#stallNextNs = now + limitMs * NSEC_PER_MSEC;
      return -1;
    }
    if (now < this.#stallNextNs) return -1;
    this.#stallNextNs = now + 3 * limitMs * NSEC_PER_MSEC;
    return Math.round((now - this.#stallStartNs) / NSEC_PER_MSEC);
  }

  /**
   * The grace period this thread runs has waited a stall timeout for readers: reports
   * each reader slot that holds it, with its thread, as Linux's `print_other_cpu_stall`.
   * @see kernel/rcu/tree_stall.h: print_other_cpu_stall(), print_cpu_stall_info()
   */
  private checkReaderStall(): void {
    const ms = this.stallDue(false);
    if (ms < 0) return;
    const h = this.h;
    const ctr = Atomics.load(h, GP_CTR);
    const lines: string[] = [];
    for (let i = 0; i < this.maxReaders; i++) {
      const line = readerLine(i);
      const v = Atomics.load(h, line + R_CTR);
      const holds =
        this.flavor === 'qsbr' ? v !== 0 && v !== ctr : v !== 0 && ((v ^ ctr) & MB_GP_PHASE) !== 0;
      if (!holds) continue;
      const what =
        this.flavor === 'qsbr'
          ? `online, no quiescent state since counter ${hex(v)} (now ${hex(ctr)})`
          : `in a read-side critical section begun in phase ${(v & MB_GP_PHASE) >> 1} (now ${(ctr & MB_GP_PHASE) >> 1})`;
      lines.push(`rcu: \tslot ${i} (thread ${Atomics.load(h, line + R_TID)}): ${what}`);
    }
    if (lines.length === 0) return;
    const log = this.#log;
    log.printk(KERN_ERR, `rcu: INFO: rcu_${this.flavor} detected stalls on reader threads:`);
    for (const l of lines) log.printk(KERN_ERR, l);
    log.printk(
      KERN_ERR,
      `\t(detected by thread ${threadId}, t=${ms} ms, g=${Atomics.load(h, GP_SEQ)}, q=${lines.length} nreaders=${this.maxReaders})`,
    );
    log.printk(
      KERN_ERR,
      'rcu: a reader thread that exited without rcuUnregisterThread() holds grace periods up until it is reaped: domain.rcuReapThread(threadId), or domain.rcuReapOnExit(worker) when it starts',
    );
  }

  /**
   * This thread has waited a stall timeout for another thread's grace period (GP_SEQ
   * `seq` has not moved): reports the holder of the grace-period lock, which is either
   * waiting for readers itself (and reports them) or has exited holding the lock.
   */
  private checkLockStall(seq: number): void {
    const moved = seq !== this.#stallSeq;
    this.#stallSeq = seq;
    const ms = this.stallDue(moved);
    if (ms < 0) return;
    const owner = Atomics.load(this.h, GP_LOCK);
    if (owner === GP_LOCK_FREE || owner === GP_LOCK_REAPING) return;
    const tid = owner - 1;
    this.#log.printk(
      KERN_ERR,
      `rcu: INFO: rcu_${this.flavor} grace period g=${seq} has not ended for ${ms} ms (detected by thread ${threadId}); thread ${tid} holds the grace-period lock`,
    );
    this.#log.printk(
      KERN_ERR,
      `rcu: if thread ${tid} has exited, reap it so grace periods go on: domain.rcuReapThread(${tid})`,
    );
  }

  /**
   * Whether this thread's own online QSBR reader holds up the grace period while a caller
   * that holds no handle waits (it announces only at the wait's wake-ups).
   */
  private selfBlocks(): boolean {
    const r = this.#reader;
    if (this.quiescentWaiters === 0 || r?.flavor !== 'qsbr' || !r.online) return false;
    return Atomics.load(this.h, readerLine(r.slot) + R_CTR) !== Atomics.load(this.h, GP_CTR);
  }
}

/** A reader slot's words back to free (the reader goes offline first); wakes the updater. */
function releaseSlot(h: Int32Array, line: number): void {
  Atomics.store(h, line + R_CTR, 0);
  Atomics.add(h, line + R_GEN, 1);
  Atomics.store(h, line + R_TID, 0);
  Atomics.store(h, line + R_REG, 0);
  wakeUpGp(h);
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
