/**
 * Real RCU for worker threads: a domain in a SharedArrayBuffer that any worker attaches to.
 *
 * Layout (Int32 words; each line is 64 bytes = 16 words; constants in `layout.ts`):
 *
 * | word | name | what | guarded by |
 * | --- | --- | --- | --- |
 * | line 0 | MAGIC, FLAVOR, NR_READERS, NR_PTRS, ID (two words: 64 random bits) | header | written once before sharing |
 * | | PROBE | scratch for an attach's memory-identity check: a nonce written through the buffer, read back through the WebAssembly.Memory | compare-exchange |
 * | line 1 | GP_CTR | grace-period counter readers snapshot (QSBR: odd, +2 per phase, wraps at 2^32; MB: bit 0 = active, bit 1 = phase) | written only by the GP_LOCK holder (seq-cst store); readers read it plainly |
 * | line 2 | GP_LOCK | 0 free / 1 held: one grace period at a time | compare-exchange |
 * | | GP_SEQ | grace-period sequence: even idle, odd in progress (Linux's rcu_seq), wraps | written only by the GP_LOCK holder; waiters read and `waitAsync` on it |
 * | | GP_FUTEX | -1 while the GP_LOCK holder sleeps waiting for readers, else 0 | the holder stores -1 (seq-cst) and checks the readers once more before it sleeps; a reader that sees -1 after its announcing store stores 0 and notifies |
 * | line 3+i | R_CTR | reader i's snapshot of GP_CTR (0 = offline / outside a critical section) | written only by reader i (seq-cst store); read by the updater |
 * | | R_REG | 0 free / 1 registered | compare-exchange at registration, store at unregistration |
 * | | R_TID | threadId of the registered thread (debugging) | written by reader i at registration |
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
import { KernelError } from '@kern/core';
import { RcuCallbackQueue, type RcuCallback, type RcuCallbackStats } from './callbacks.js';
import { assertMayBlock, driveAsync, driveSync, nextBackoff, type WaitStep } from './futex.js';
import {
  FLAVOR_MB,
  FLAVOR_QSBR,
  GP_CTR,
  GP_FUTEX,
  GP_LOCK,
  GP_SEQ,
  H_FLAVOR,
  H_ID,
  H_MAGIC,
  H_NR_PTRS,
  H_NR_READERS,
  H_PROBE,
  LINE_WORDS,
  MB_GP_COUNT,
  MB_GP_PHASE,
  QSBR_GP_CTR,
  QSBR_GP_ONLINE,
  R_CTR,
  R_REG,
  R_TID,
  RCU_MAGIC,
  ptrBase,
  readerLine,
} from './layout.js';
import { MbReader, mbReadersQuiescent } from './mb.js';
import { hardwareIsTso, seqCstCopyFor, sharedWasmMemory, type WasmMemory } from './wasm-store.js';
import { QsbrReader, qsbrReadersQuiescent } from './qsbr.js';

/** RCU flavor of a domain: `'qsbr'` (default) or `'mb'` (memory barrier). */
export type RcuFlavor = 'qsbr' | 'mb';

/** A registered reader of either flavor. */
export type RcuReader = QsbrReader | MbReader;

/** Options of {@link createRcuDomain}. */
export interface RcuDomainOptions {
  /** `'qsbr'` (default): free read side, quiescent states; `'mb'`: barrier per section. */
  flavor?: RcuFlavor;
  /** Reader slots (threads that may read at once); default 64. */
  maxReaders?: number;
  /** Pointer slots for `rcuAssignPointer`/`rcuDereference`; default 16. */
  pointerSlots?: number;
  /** QSBR: initial GP_CTR (forced odd). Default: 300 grace periods before the 2^32 wrap. */
  gpCtrStart?: number;
  /** Initial GP_SEQ (forced even). Default: 300 grace periods before the wrap. */
  gpSeqStart?: number;
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
 * @throws KernelError EINVAL on a bad size or an unknown flavor.
 * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_init), src/urcu.c (urcu_mb_init)
 */
export function createRcuDomain(options: RcuDomainOptions = {}): RcuDomain {
  const nrReaders = options.maxReaders ?? 64;
  const nrPtrs = options.pointerSlots ?? 16;
  if (!Number.isInteger(nrReaders) || nrReaders < 1 || nrReaders > 4096)
    throw new KernelError('EINVAL', `maxReaders must be 1..4096, got ${nrReaders}`);
  if (!Number.isInteger(nrPtrs) || nrPtrs < 1 || nrPtrs > 1 << 20)
    throw new KernelError('EINVAL', `pointerSlots must be 1..${1 << 20}, got ${nrPtrs}`);
  const flavor = options.flavor ?? 'qsbr';
  if (flavor !== 'qsbr' && flavor !== 'mb')
    throw new KernelError('EINVAL', `flavor must be 'qsbr' or 'mb', got '${String(flavor)}'`);
  const words = ptrBase(nrReaders) + Math.ceil(nrPtrs / LINE_WORDS) * LINE_WORDS;
  // Memory-barrier readers do a seq-cst store per critical section: give them wasm memory.
  const memory = flavor === 'mb' ? sharedWasmMemory(words * 4) : undefined;
  const buffer = memory ? (memory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(words * 4);
  const h = new Int32Array(buffer);
  h[H_FLAVOR] = flavor === 'mb' ? FLAVOR_MB : FLAVOR_QSBR;
  h[H_NR_READERS] = nrReaders;
  h[H_NR_PTRS] = nrPtrs;
  h[GP_CTR] =
    flavor === 'mb' ? MB_GP_COUNT : (options.gpCtrStart ?? DEFAULT_START) | QSBR_GP_ONLINE;
  h[GP_SEQ] = (options.gpSeqStart ?? DEFAULT_START) & ~1;
  randomFillSync(h.subarray(H_ID, H_ID + 2));
  Atomics.store(h, H_MAGIC, RCU_MAGIC);
  return new RcuDomain(memory ? { buffer, memory } : { buffer });
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
    throw new KernelError('EINVAL', 'handle.buffer is not a SharedArrayBuffer');
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
 * Attaches the calling thread to a domain made by {@link createRcuDomain}.
 * @throws KernelError EINVAL if the buffer is not an RCU domain.
 * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_register_thread)
 */
export function attachRcuDomain(handle: RcuDomainHandle): RcuDomain {
  return new RcuDomain(handle);
}

/**
 * One thread's attachment to a real RCU domain: registration of readers, pointer
 * publication, grace periods and the thread's callRcu queue.
 *
 * `synchronizeRcu()` never blocks the event loop; `synchronizeRcuSync()` blocks and is for
 * workers only. Grace periods are shared: concurrent callers in any thread snapshot GP_SEQ
 * and return as soon as a grace period that began after their call has ended.
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
  /** The pointer slots (Int32 handles, 0 = NULL); read plainly, written with rcuAssignPointer. */
  readonly pointers: Int32Array;
  /** The registered reader of this thread, if any. */
  reader: RcuReader | null = null;
  private readonly h: Int32Array;
  /** Whether the hardware is x86 (TSO): see `qsbrReadersQuiescent`. */
  private readonly tso = hardwareIsTso(process.arch);
  /** The domain's memory as a shared WebAssembly.Memory, when it has one. */
  private readonly memory: WasmMemory | undefined;
  private readonly callbacks: RcuCallbackQueue;
  private closed: KernelError | null = null;
  private gpsRun = 0;
  private synchronizes = 0;
  /**
   * Asynchronous waits of this attachment whose caller asserted it holds no handle
   * (synchronizeRcu, rcuBarrier, rcuSyncEnter) still pending. Thread-local.
   */
  private quiescentWaiters = 0;
  /**
   * @internal Bound of one sleep waiting for readers, in ms; `null` (default): 1 ms
   * doubling to 5 ms. Tests set it long, so that a lost wake-up shows as a hang.
   */
  wakeTimeoutMs: number | null = null;
  /** Whether a grace period of this attachment sleeps on GP_FUTEX. Thread-local. */
  private asleepOnReaders = false;

  /** @internal Use {@link createRcuDomain} or {@link attachRcuDomain}. */
  constructor(readonly handle: RcuDomainHandle) {
    const h = domainWords(handle?.buffer);
    this.memory = handle.memory ? checkedMemory(h, handle.memory) : undefined;
    this.h = h;
    this.flavor = h[H_FLAVOR] === FLAVOR_MB ? 'mb' : 'qsbr';
    this.maxReaders = h[H_NR_READERS]!;
    this.pointerSlots = h[H_NR_PTRS]!;
    this.pointers = new Int32Array(handle.buffer, ptrBase(this.maxReaders) * 4, this.pointerSlots);
    // The batch's grace period: like synchronizeRcu(), but callRcu() asserts nothing about
    // this thread's handles, so the wait announces nothing for its reader by itself.
    this.callbacks = new RcuCallbackQueue(
      async () => {
        this.checkOpen();
        await driveAsync(this.synchronizeSteps(), this.quiescentBetweenWaits);
      },
      (e) =>
        queueMicrotask(() => {
          throw e;
        }),
    );
  }

  /**
   * Registers the calling thread as a reader (QSBR readers start online).
   * @throws KernelError EBUSY if this thread already registered, ENOSPC if every slot is
   *   taken, ESHUTDOWN after close().
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_register_thread)
   */
  rcuRegisterThread(): RcuReader {
    this.checkOpen();
    if (this.reader) throw new KernelError('EBUSY', `thread ${threadId} is already registered`);
    for (let i = 0; i < this.maxReaders; i++) {
      const line = readerLine(i);
      if (Atomics.compareExchange(this.h, line + R_REG, 0, 1) !== 0) continue;
      Atomics.store(this.h, line + R_TID, threadId);
      const done = (r: RcuReader): void => {
        Atomics.store(this.h, line + R_CTR, 0);
        Atomics.store(this.h, line + R_TID, 0);
        Atomics.store(this.h, line + R_REG, 0);
        if (this.reader === r) this.reader = null;
      };
      const tso = this.tso;
      const r =
        this.flavor === 'qsbr'
          ? new QsbrReader(this.h, this.pointers, i, done, tso)
          : new MbReader(
              this.h,
              this.pointers,
              i,
              done,
              tso,
              this.memory ? seqCstCopyFor(this.memory, !tso) : undefined,
            );
      this.reader = r;
      return r;
    }
    throw new KernelError('ENOSPC', `all ${this.maxReaders} reader slots are registered`);
  }

  /**
   * Publishes handle `value` in pointer slot `slot` (seq-cst store: everything written to
   * the object before is visible to a reader that dereferences the handle).
   * @throws KernelError EINVAL if `slot` is not an integer in 0..pointerSlots-1.
   * @see liburcu: include/urcu/static/pointer.h (_rcu_assign_pointer)
   */
  rcuAssignPointer(slot: number, value: number): void {
    this.checkSlot(slot);
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
   * backoff).
   *
   * Called by an online QSBR reader thread, it means what liburcu's `synchronize_rcu()`
   * means (which goes offline for its duration): the thread holds no handle across the
   * `await`. The thread's reader then announces a quiescent state at each wake-up of the
   * wait (from the event loop, never inside this call's synchronous body), so the thread
   * never waits for itself.
   * @throws KernelError ESHUTDOWN if close() is called first (nothing was waited for).
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_synchronize_rcu)
   */
  async synchronizeRcu(): Promise<void> {
    this.checkOpen();
    await this.waitQuiescent(this.synchronizeSteps());
    this.synchronizes++;
  }

  /**
   * @internal Drives `steps` as a wait whose caller holds no handle: at each wake-up the
   * thread's QSBR reader announces a quiescent state (see {@link RcuDomain.synchronizeRcu}).
   */
  async waitQuiescent<T>(steps: Generator<WaitStep, T, void>): Promise<T> {
    this.holdsNoHandle();
    try {
      return await driveAsync(steps, this.quiescentBetweenWaits);
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
   * waits. Never called from a synchronous body.
   */
  private readonly quiescentBetweenWaits = (): void => {
    if (this.quiescentWaiters > 0) this.reader?.rcuQuiescentState();
  };

  /**
   * Blocking {@link RcuDomain.synchronizeRcu} for workers (`Atomics.wait`). An online QSBR
   * reader goes offline for the wait, as in liburcu.
   * @throws KernelError EPERM on the main thread, ESHUTDOWN after close().
   * @see liburcu: src/urcu-qsbr.c (urcu_qsbr_synchronize_rcu)
   */
  synchronizeRcuSync(): void {
    assertMayBlock('synchronizeRcuSync()');
    this.checkOpen();
    const r = this.reader;
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
   * @throws KernelError ESHUTDOWN after close().
   * @see liburcu: src/urcu-call-rcu-impl.h (call_rcu)
   */
  callRcu(fn: RcuCallback): void {
    this.checkOpen();
    this.callbacks.callRcu(fn);
  }

  /**
   * Resolves once every callback this thread queued before the call has run. Like
   * synchronizeRcu() (and liburcu's `rcu_barrier()`, which goes offline), it means this
   * thread holds no handle across the `await`: while it waits, the thread's QSBR reader
   * announces a quiescent state at each wake-up of the callbacks' grace period.
   * @throws KernelError ESHUTDOWN (rejects) if close() comes first.
   * @see liburcu: src/urcu-call-rcu-impl.h (rcu_barrier)
   */
  rcuBarrier(): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    this.holdsNoHandle();
    return this.callbacks.rcuBarrier().finally(() => this.quiescentWaiters--);
  }

  /** This thread's counters. */
  stats(): RcuDomainStats {
    return {
      ...this.callbacks.stats,
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
   * @see liburcu: src/urcu-call-rcu-impl.h (call_rcu_data_free), src/urcu-qsbr.c
   */
  close(): void {
    if (this.closed) return;
    this.closed = new KernelError('ESHUTDOWN', 'RCU domain closed while waiting');
    this.callbacks.abort(this.closed);
    this.reader?.rcuUnregisterThread();
    this.reader = null;
  }

  private checkOpen(): void {
    if (this.closed) throw this.closed;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.pointerSlots)
      throw new KernelError(
        'EINVAL',
        `pointer slot ${slot} is not an integer in 0..${this.pointerSlots - 1}`,
      );
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
      if (Atomics.compareExchange(h, GP_LOCK, 0, 1) === 0) {
        try {
          if (!rcuSeqDone(Atomics.load(h, GP_SEQ), snap)) yield* this.gpSteps();
        } finally {
          Atomics.store(h, GP_LOCK, 0);
          Atomics.notify(h, GP_LOCK);
        }
        continue;
      }
      // Another thread runs a grace period: sleep until GP_SEQ moves (or a timeout).
      ms = nextBackoff(ms, spins);
      yield { array: h, index: GP_SEQ, value: seq, ms };
    }
  }

  /** One grace period, with GP_LOCK held. */
  private *gpSteps(): Generator<WaitStep, void, void> {
    const h = this.h;
    const nr = this.maxReaders;
    const seq = Atomics.load(h, GP_SEQ);
    Atomics.store(h, GP_SEQ, (seq + 1) | 0); // rcu_seq_start
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
   * Whether this thread's own online QSBR reader holds up the grace period while a caller
   * that holds no handle waits (it announces only at the wait's wake-ups).
   */
  private selfBlocks(): boolean {
    const r = this.reader;
    if (this.quiescentWaiters === 0 || r?.flavor !== 'qsbr' || !r.online) return false;
    return Atomics.load(this.h, readerLine(r.slot) + R_CTR) !== Atomics.load(this.h, GP_CTR);
  }
}
