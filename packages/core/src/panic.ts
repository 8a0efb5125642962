/**
 * panic, BUG and WARN: how the kernel reports that something went wrong, with Linux's
 * exact lines, the panic notifier chain, the crash hook kdump installs, and the taint
 * flags a WARN or an oops leaves behind.
 *
 * @see kernel/panic.c: panic, __warn, print_tainted, add_taint, print_oops_end_marker
 * @see lib/bug.c: report_bug; arch/x86/kernel/dumpstack.c: __die_header
 */

import { describeValue, shown } from './describe.js';
import { KernelError } from './errno.js';
import { NOTIFY_DONE, NotifierChain, type NotifierBlock } from './notifier.js';
import { CONSOLE_LOGLEVEL_MOTORMOUTH, LOGLEVEL_DEFAULT, type Printk } from './printk.js';

/** Taint bit: a proprietary module was loaded (`P`; `G` when clear). @see include/linux/panic.h */
export const TAINT_PROPRIETARY_MODULE = 0;
/** Taint bit: a module was force-loaded (`F`). @see include/linux/panic.h */
export const TAINT_FORCED_MODULE = 1;
/** Taint bit: SMP with CPUs not designed for it (`S`). @see include/linux/panic.h */
export const TAINT_CPU_OUT_OF_SPEC = 2;
/** Taint bit: a module was force-unloaded (`R`). @see include/linux/panic.h */
export const TAINT_FORCED_RMMOD = 3;
/** Taint bit: a machine check exception occurred (`M`). @see include/linux/panic.h */
export const TAINT_MACHINE_CHECK = 4;
/** Taint bit: bad page referenced or unexpected page flags (`B`). @see include/linux/panic.h */
export const TAINT_BAD_PAGE = 5;
/** Taint bit: user space asked for it (`U`). @see include/linux/panic.h */
export const TAINT_USER = 6;
/** Taint bit: the kernel died recently, an OOPS or BUG (`D`). @see include/linux/panic.h */
export const TAINT_DIE = 7;
/** Taint bit: an ACPI table was overridden (`A`). @see include/linux/panic.h */
export const TAINT_OVERRIDDEN_ACPI_TABLE = 8;
/** Taint bit: a WARN fired (`W`). @see include/linux/panic.h */
export const TAINT_WARN = 9;
/** Taint bit: a staging driver was loaded (`C`). @see include/linux/panic.h */
export const TAINT_CRAP = 10;
/** Taint bit: working around a firmware bug (`I`). @see include/linux/panic.h */
export const TAINT_FIRMWARE_WORKAROUND = 11;
/** Taint bit: an out-of-tree module was loaded (`O`). @see include/linux/panic.h */
export const TAINT_OOT_MODULE = 12;
/** Taint bit: an unsigned module was loaded (`E`). @see include/linux/panic.h */
export const TAINT_UNSIGNED_MODULE = 13;
/** Taint bit: a soft lockup occurred (`L`). @see include/linux/panic.h */
export const TAINT_SOFTLOCKUP = 14;
/** Taint bit: the kernel was live patched (`K`). @see include/linux/panic.h */
export const TAINT_LIVEPATCH = 15;
/** Taint bit: distribution-defined (`X`). @see include/linux/panic.h */
export const TAINT_AUX = 16;
/** Taint bit: built with the struct randomization plugin (`T`). @see include/linux/panic.h */
export const TAINT_RANDSTRUCT = 17;
/** Number of taint bits (Linux 4.15–5.14). @see include/linux/panic.h */
export const TAINT_FLAGS_COUNT = 18;

/** `taint_flags[i].c_true`; `c_false` is `G` for bit 0 and a space for the rest. */
const TAINT_CHARS = 'PFSRMBUDAWCIOELKXT';

const CUT_HERE = '------------[ cut here ]------------';
/** `print_oops_end_marker` with an oops id of 0 (Linux draws a random one). */
const END_TRACE = '---[ end trace 0000000000000000 ]---';

/**
 * Thrown by {@link PanicState.panic}: the machine is dead. `message` is the panic message.
 * @see kernel/panic.c: panic
 */
export class KernelPanic extends Error {
  /** The error for a panic with `message` (without the `Kernel panic - not syncing: ` prefix). */
  constructor(message: string) {
    super(message);
    this.name = 'KernelPanic';
  }
}

/**
 * Thrown by {@link PanicState.bug}: an invariant was violated at `where`.
 * @see include/asm-generic/bug.h: BUG; lib/bug.c: report_bug
 */
export class KernelBug extends Error {
  /** `file:line` of the BUG, as in `kernel BUG at mm/slub.c:123!`. */
  readonly where: string;

  /** The error for a BUG at `where`; its message is `kernel BUG at <where>!`. */
  constructor(where: string) {
    super(`kernel BUG at ${where}!`);
    this.name = 'KernelBug';
    this.where = where;
  }
}

/**
 * Options of {@link createPanic}.
 * @see kernel/panic.c: panic_on_warn, crash_kexec_post_notifiers
 */
export interface PanicOptions {
  /** Where the reports go. */
  printk: Printk;
  /** The current CPU, for the WARNING line (default 0). */
  cpu?: () => number;
  /** The current pid, for the WARNING line (default 0). */
  pid?: () => number;
  /** Panic on the first WARN (`panic_on_warn`; default false). */
  panicOnWarn?: boolean;
  /**
   * Run the panic notifiers before the crash hook (`crash_kexec_post_notifiers`; default
   * true here so notifiers can flush before kdump takes over). When false, the hook runs
   * first, as in Linux's default.
   */
  crashKexecPostNotifiers?: boolean;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** `file:line` of a V8 or SpiderMonkey stack frame line, if it has one. */
function frameLocation(frame: string): { file: string; line: string } | null {
  const m = /([^\s()@]+):(\d+):\d+\)?$/.exec(frame.trim());
  return m ? { file: m[1]!, line: m[2]! } : null;
}

/**
 * `file:line` of the first caller outside this module, with the file shortened to its
 * last two path components (`test/panic.test.ts:42`, like Linux's `mm/slub.c:123`).
 */
function callerLocation(): string {
  const frames = (new Error().stack ?? '').split('\n').flatMap((f) => frameLocation(f) ?? []);
  const self = frames[0]?.file;
  const caller = frames.find((f) => f.file !== self);
  if (!caller) return '<unknown>';
  const parts = caller.file.replace(/^file:\/\//, '').split(/[\\/]/);
  return `${parts.slice(-2).join('/')}:${caller.line}`;
}

/**
 * The panic notifier chain. A notifier that throws is caught and reported, and the
 * chain goes on: a panic must reach the crash hook whatever a notifier does.
 */
class PanicNotifierChain extends NotifierChain<string> {
  private readonly guards = new Map<NotifierBlock<string>, NotifierBlock<string>>();

  constructor(private readonly onThrow: (e: unknown) => void) {
    super('panic_notifier_list');
  }

  override register(block: NotifierBlock<string>): void {
    if (this.guards.has(block)) return;
    const call = (action: number, data: string): number => {
      try {
        return block.call(action, data);
      } catch (e) {
        this.onThrow(e);
        return NOTIFY_DONE;
      }
    };
    const guard: NotifierBlock<string> =
      block.priority === undefined ? { call } : { priority: block.priority, call };
    this.guards.set(block, guard);
    super.register(guard);
  }

  override unregister(block: NotifierBlock<string>): boolean {
    const guard = this.guards.get(block);
    if (!guard) return false;
    this.guards.delete(block);
    return super.unregister(guard);
  }
}

/**
 * Panic, BUG and WARN for one machine, reporting through its {@link Printk}.
 *
 * States: running → panicking (from the first {@link PanicState.panic}; a second panic
 * only throws). Taints only accumulate.
 *
 * @see kernel/panic.c
 */
export class PanicState {
  /**
   * Called with action 0 and the message when the machine panics (`panic_notifier_list`).
   * A block that throws is reported on the log and the chain goes on.
   * @see kernel/panic.c: panic_notifier_list
   */
  readonly panicNotifierList: NotifierChain<string>;
  /** Panic on the next WARN (`panic_on_warn`); cleared when that panic starts. */
  panicOnWarn: boolean;
  /** Whether notifiers run before the crash hook (`crash_kexec_post_notifiers`). */
  readonly crashKexecPostNotifiers: boolean;
  private readonly printk: Printk;
  private readonly cpu: () => number;
  private readonly pid: () => number;
  private crashHook: ((msg: string) => void) | null = null;
  private message: string | null = null;
  private taintMaskBits = 0;
  private dieCounter = 0;
  private readonly warned = new Set<string>();

  /**
   * Reports go to `opts.printk`; see {@link PanicOptions} for the rest.
   * @throws KernelError EINVAL if `opts.printk` is not a Printk (an object with
   *   `printk()` and `emerg()`), or `cpu`/`pid` are given but not functions.
   */
  constructor(opts: PanicOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new KernelError(
        'EINVAL',
        `panic options must be an object such as { printk }, got ${describeValue(opts)}`,
      );
    const pk: unknown = opts.printk;
    if (
      typeof pk !== 'object' ||
      pk === null ||
      typeof (pk as Partial<Printk>).printk !== 'function' ||
      typeof (pk as Partial<Printk>).emerg !== 'function'
    )
      throw new KernelError(
        'EINVAL',
        `panic needs a printk (createPrintk({ buffer, clock })), got ${describeValue(pk)}`,
      );
    for (const name of ['cpu', 'pid'] as const)
      if (opts[name] !== undefined && typeof opts[name] !== 'function')
        throw new KernelError(
          'EINVAL',
          `panic option ${name} must be a function returning a number, got ${describeValue(opts[name])}`,
        );
    this.printk = opts.printk;
    this.cpu = opts.cpu ?? (() => 0);
    this.pid = opts.pid ?? (() => 0);
    this.panicOnWarn = opts.panicOnWarn ?? false;
    this.crashKexecPostNotifiers = opts.crashKexecPostNotifiers ?? true;
    this.panicNotifierList = new PanicNotifierChain((e) =>
      this.printk.emerg(`panic notifier failed: ${describe(e)}`),
    );
  }

  /** Whether a panic has started (`panic_in_progress()`); true already while notifiers run. */
  get panicked(): boolean {
    return this.message !== null;
  }

  /** The message of the panic, or null if none happened. */
  get panicMessage(): string | null {
    return this.message;
  }

  /**
   * Installs the function a panic calls to start the capture kernel (`__crash_kexec`
   * with a loaded crash image), or removes it with null. What the hook throws is reported
   * on the log, not propagated.
   * @throws KernelError EINVAL if `fn` is neither a function nor null.
   * @see kernel/kexec_core.c: __crash_kexec
   */
  setCrashHook(fn: ((msg: string) => void) | null): void {
    if (fn !== null && typeof fn !== 'function')
      throw new KernelError(
        'EINVAL',
        `crash hook must be a function or null, got ${describeValue(fn)}`,
      );
    this.crashHook = fn;
  }

  /**
   * Stops the machine: prints `Kernel panic - not syncing: <msg>` at KERN_EMERG, runs the
   * panic notifiers and the crash hook (in the order `crashKexecPostNotifiers` says; one
   * that throws is reported and the panic goes on), prints
   * `---[ end Kernel panic - not syncing: <msg> ]---`, and throws. A trailing newline of
   * `msg` is dropped. A panic while panicking runs nothing again and only throws.
   *
   * @throws KernelPanic always, with `msg` as its message.
   * @see kernel/panic.c: panic
   */
  panic(msg: string): never {
    // A panic must not fail on its own argument: a non-string is named, not thrown over.
    const m = typeof msg === 'string' ? msg : describeValue(msg);
    const text = m.endsWith('\n') ? m.slice(0, -1) : m;
    if (this.message !== null) throw new KernelPanic(text);
    this.message = text;
    this.panicOnWarn = false;
    if (this.printk.consoleLoglevel > 0) this.printk.consoleLoglevel = CONSOLE_LOGLEVEL_MOTORMOUTH; // console_verbose()
    this.printk.emerg(`Kernel panic - not syncing: ${text}`);
    if (!this.crashKexecPostNotifiers) this.crashKexec(text);
    this.panicNotifierList.callChain(0, text);
    if (this.crashKexecPostNotifiers) this.crashKexec(text);
    this.printk.emerg(`---[ end Kernel panic - not syncing: ${text} ]---`);
    throw new KernelPanic(text);
  }

  /**
   * Reports a violated invariant as x86 Linux does and throws: `cut here`,
   * `kernel BUG at <where>!`, `invalid opcode: 0000 [#N] SMP`, the end-of-trace marker;
   * taints D. `where` defaults to the caller's `file:line`.
   *
   * @throws KernelBug always.
   * @see lib/bug.c: report_bug; arch/x86/kernel/dumpstack.c: __die_header, oops_end
   */
  bug(where?: string): never {
    const at = where ?? callerLocation();
    this.printk.printk(LOGLEVEL_DEFAULT, CUT_HERE);
    this.printk.crit(`kernel BUG at ${at}!`);
    this.printk.printk(LOGLEVEL_DEFAULT, `invalid opcode: 0000 [#${++this.dieCounter}] SMP`);
    this.printk.warning(END_TRACE);
    this.addTaint(TAINT_DIE);
    throw new KernelBug(at);
  }

  /**
   * {@link PanicState.bug} if `cond` holds (`BUG_ON`).
   * @throws KernelBug if `cond` holds.
   * @see include/asm-generic/bug.h: BUG_ON
   */
  bugOn(cond: boolean, where?: string): void {
    if (cond) this.bug(where);
  }

  /**
   * If `cond` holds, reports it at KERN_WARNING: `cut here`,
   * `WARNING: CPU: <cpu> PID: <pid> at <where>`, `text` if given, the end-of-trace
   * marker; then taints W. With `panicOnWarn`, panics after the text instead, as Linux
   * does. `where` defaults to the caller's `file:line`. Returns `cond` (`WARN_ON`, `WARN`).
   *
   * @throws KernelPanic if `cond` holds and `panicOnWarn` is set.
   * @see kernel/panic.c: warn_slowpath_fmt, __warn
   */
  warn(cond: boolean, text?: string, where?: string): boolean {
    if (!cond) return false;
    const at = where ?? callerLocation();
    this.printk.warning(CUT_HERE);
    this.printk.warning(`WARNING: CPU: ${this.cpu()} PID: ${this.pid()} at ${at}`);
    if (text !== undefined) this.printk.warning(text);
    if (this.panicOnWarn) {
      this.panicOnWarn = false;
      this.panic('panic_on_warn set ...');
    }
    this.printk.warning(END_TRACE);
    this.addTaint(TAINT_WARN);
    return true;
  }

  /**
   * {@link PanicState.warn}, but only the first time `cond` holds for `key` (`WARN_ONCE`,
   * whose key is its call site). Returns `cond`.
   *
   * @throws KernelPanic as {@link PanicState.warn}.
   * @see include/asm-generic/bug.h: WARN_ONCE
   */
  warnOnce(key: string, cond: boolean, text?: string, where?: string): boolean {
    if (!cond) return false;
    if (this.warned.has(key)) return true;
    this.warned.add(key);
    return this.warn(true, text, where);
  }

  /**
   * Sets a taint bit (`add_taint`).
   * @throws KernelError EINVAL unless `flag` is a `TAINT_*` bit number.
   * @see kernel/panic.c: add_taint
   */
  addTaint(flag: number): void {
    if (!Number.isInteger(flag) || flag < 0 || flag >= TAINT_FLAGS_COUNT)
      throw new KernelError(
        'EINVAL',
        `taint flag ${shown(flag)} is not an integer 0..${TAINT_FLAGS_COUNT - 1}`,
      );
    this.taintMaskBits |= 1 << flag;
  }

  /**
   * Whether a taint bit is set (`test_taint`).
   * @throws KernelError EINVAL unless `flag` is a `TAINT_*` bit number.
   * @see kernel/panic.c: test_taint
   */
  testTaint(flag: number): boolean {
    if (!Number.isInteger(flag) || flag < 0 || flag >= TAINT_FLAGS_COUNT)
      throw new KernelError(
        'EINVAL',
        `taint flag ${shown(flag)} is not an integer 0..${TAINT_FLAGS_COUNT - 1}`,
      );
    return (this.taintMaskBits & (1 << flag)) !== 0;
  }

  /** The taint bits as a mask (`get_taint`, `/proc/sys/kernel/tainted`). @see kernel/panic.c */
  get taintMask(): number {
    return this.taintMaskBits;
  }

  /**
   * The taint string exactly as Linux's `print_tainted()`: `Not tainted`, or `Tainted: `
   * and one character per bit (`G        W        ` after a WARN).
   *
   * @see kernel/panic.c: print_tainted
   */
  tainted(): string {
    if (this.taintMaskBits === 0) return 'Not tainted';
    let flags = '';
    for (let i = 0; i < TAINT_FLAGS_COUNT; i++)
      flags += this.testTaint(i) ? TAINT_CHARS[i]! : i === TAINT_PROPRIETARY_MODULE ? 'G' : ' ';
    return `Tainted: ${flags}`;
  }

  /** Runs the crash hook, reporting rather than propagating what it throws. */
  private crashKexec(text: string): void {
    if (!this.crashHook) return;
    try {
      this.crashHook(text);
    } catch (e) {
      this.printk.emerg(`crash hook failed: ${describe(e)}`);
    }
  }
}

/**
 * Creates the panic, BUG and WARN machinery of one machine.
 *
 * @see kernel/panic.c
 */
export function createPanic(opts: PanicOptions): PanicState {
  return new PanicState(opts);
}
