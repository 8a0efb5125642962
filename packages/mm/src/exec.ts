/**
 * A new program's initial stack, built as `execve` builds it: the argument and
 * environment strings at the very top (`copy_strings`), then what the ELF loader adds
 * below them (`create_elf_tables`): the platform string, 16 random bytes, the auxiliary
 * vector, the envp and argv pointer arrays and argc, with the stack pointer 16-byte
 * aligned on argc. Everything is written as 8-byte little-endian words into the stack
 * VMA through page faults, so it lands in physical memory where a libc (or a crash-dump
 * reader) finds it by walking from `sp`.
 *
 * ```
 * STACK_TOP  ┌──────────────────────────────┐
 *            │ 8 bytes of zero               │
 *            │ execfn "/bin/prog\0"          │ ← AT_EXECFN
 *            │ envp strings                  │
 *            │ argv strings                  │ ← arg_start
 *            │ (align 16) "x86_64\0"         │ ← AT_PLATFORM
 *            │ 16 random bytes               │ ← AT_RANDOM
 *            │ padding                       │
 *            │ auxv pairs … AT_NULL, 0       │
 *            │ envp[0] … NULL                │
 *            │ argv[0] … NULL                │
 *  sp (16B)  │ argc                          │
 *            └──────────────────────────────┘
 * ```
 *
 * @see fs/exec.c: do_execveat_common, copy_strings, setup_arg_pages;
 *      fs/binfmt_elf.c: create_elf_tables; fs/proc/base.c: proc_pid_auxv
 */

import { KernelError, type RandomPool } from '@kern/core';
import {
  type Mm,
  MAP_ANONYMOUS,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from './mmap.js';
import { PAGE_SIZE } from './mmzone.js';

// ---------------------------------------------------------------- auxv types

/** End of vector. @see include/uapi/linux/auxvec.h */
export const AT_NULL = 0;
/** Entry should be ignored. @see include/uapi/linux/auxvec.h */
export const AT_IGNORE = 1;
/** File descriptor of the program. @see include/uapi/linux/auxvec.h */
export const AT_EXECFD = 2;
/** Address of the program headers. @see include/uapi/linux/auxvec.h */
export const AT_PHDR = 3;
/** Size of a program header entry. @see include/uapi/linux/auxvec.h */
export const AT_PHENT = 4;
/** Number of program headers. @see include/uapi/linux/auxvec.h */
export const AT_PHNUM = 5;
/** System page size. @see include/uapi/linux/auxvec.h */
export const AT_PAGESZ = 6;
/** Base address of the interpreter. @see include/uapi/linux/auxvec.h */
export const AT_BASE = 7;
/** Flags. @see include/uapi/linux/auxvec.h */
export const AT_FLAGS = 8;
/** Entry point of the program. @see include/uapi/linux/auxvec.h */
export const AT_ENTRY = 9;
/** Program is not ELF. @see include/uapi/linux/auxvec.h */
export const AT_NOTELF = 10;
/** Real uid. @see include/uapi/linux/auxvec.h */
export const AT_UID = 11;
/** Effective uid. @see include/uapi/linux/auxvec.h */
export const AT_EUID = 12;
/** Real gid. @see include/uapi/linux/auxvec.h */
export const AT_GID = 13;
/** Effective gid. @see include/uapi/linux/auxvec.h */
export const AT_EGID = 14;
/** Address of a string naming the CPU. @see include/uapi/linux/auxvec.h */
export const AT_PLATFORM = 15;
/** CPU capabilities (CPUID 1 EDX on x86). @see include/uapi/linux/auxvec.h */
export const AT_HWCAP = 16;
/** Frequency of times() (USER_HZ). @see include/uapi/linux/auxvec.h */
export const AT_CLKTCK = 17;
/** Secure mode (setuid and the like): libc must distrust the environment. @see include/uapi/linux/auxvec.h */
export const AT_SECURE = 23;
/** Address of a string naming the base platform. @see include/uapi/linux/auxvec.h */
export const AT_BASE_PLATFORM = 24;
/**
 * Address of 16 random bytes. Added in Linux 2.6.29 so that libc can seed its stack
 * protector and pointer guard without opening /dev/urandom at every program start.
 * @see include/uapi/linux/auxvec.h
 */
export const AT_RANDOM = 25;
/** More CPU capabilities (x86: FSGSBASE, RING3MWAIT). @see include/uapi/linux/auxvec.h */
export const AT_HWCAP2 = 26;
/** Address of the file name the program was run as. @see include/uapi/linux/auxvec.h */
export const AT_EXECFN = 31;
/** Address of the vDSO's ELF header. @see arch/x86/include/uapi/asm/auxvec.h */
export const AT_SYSINFO_EHDR = 33;
/** Minimal stack size for signal delivery. @see include/uapi/linux/auxvec.h */
export const AT_MINSIGSTKSZ = 51;

/** `ELF_PLATFORM` on x86-64. @see arch/x86/include/asm/elf.h */
export const ELF_PLATFORM = 'x86_64';
/** Longest single argument or environment string, NUL included. @see include/uapi/linux/binfmts.h */
export const MAX_ARG_STRLEN = 32 * PAGE_SIZE;
/** `ARG_MAX`: the least room argv and envp always get. @see include/uapi/linux/limits.h */
const ARG_MAX = 131072;
/** `USER_HZ`, reported as AT_CLKTCK. @see include/asm-generic/param.h */
const CLOCKS_PER_SEC = 100;
/** `sizeof(Elf64_Phdr)`. @see include/uapi/linux/elf.h */
const ELF64_PHENT = 56;
/** Stack the initial VMA is expanded to (`stack_expand`). @see fs/exec.c: setup_arg_pages */
const STACK_EXPAND = 131072;
/** A typical x86-64 CPUID 1 EDX (fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht). */
const DEFAULT_HWCAP = 0x178bfbff;
/** HWCAP2_FSGSBASE. @see arch/x86/include/uapi/asm/hwcap2.h */
const DEFAULT_HWCAP2 = 0x2;

/** Auxv type names (as `LD_SHOW_AUXV=1` prints them), for messages and tests. @see glibc elf/dl-sysdep.c: _dl_show_auxv */
export const auxvNames: Readonly<Record<number, string>> = {
  [AT_NULL]: 'AT_NULL',
  [AT_IGNORE]: 'AT_IGNORE',
  [AT_EXECFD]: 'AT_EXECFD',
  [AT_PHDR]: 'AT_PHDR',
  [AT_PHENT]: 'AT_PHENT',
  [AT_PHNUM]: 'AT_PHNUM',
  [AT_PAGESZ]: 'AT_PAGESZ',
  [AT_BASE]: 'AT_BASE',
  [AT_FLAGS]: 'AT_FLAGS',
  [AT_ENTRY]: 'AT_ENTRY',
  [AT_NOTELF]: 'AT_NOTELF',
  [AT_UID]: 'AT_UID',
  [AT_EUID]: 'AT_EUID',
  [AT_GID]: 'AT_GID',
  [AT_EGID]: 'AT_EGID',
  [AT_PLATFORM]: 'AT_PLATFORM',
  [AT_HWCAP]: 'AT_HWCAP',
  [AT_CLKTCK]: 'AT_CLKTCK',
  [AT_SECURE]: 'AT_SECURE',
  [AT_BASE_PLATFORM]: 'AT_BASE_PLATFORM',
  [AT_RANDOM]: 'AT_RANDOM',
  [AT_HWCAP2]: 'AT_HWCAP2',
  [AT_EXECFN]: 'AT_EXECFN',
  [AT_SYSINFO_EHDR]: 'AT_SYSINFO_EHDR',
  [AT_MINSIGSTKSZ]: 'AT_MINSIGSTKSZ',
};

// ---------------------------------------------------------------- options

/** What the ELF loader learned from the program (a fake ELF description). @see fs/binfmt_elf.c: load_elf_binary */
export interface ElfInfo {
  /** Address of the program headers in memory (AT_PHDR). */
  phdr: number;
  /** Number of program headers (AT_PHNUM). */
  phnum: number;
  /** Entry point (AT_ENTRY). */
  entry: number;
  /** Size of a program header (AT_PHENT; default 56, `sizeof(Elf64_Phdr)`). */
  phent?: number;
  /** Where the interpreter (ld.so) was loaded (AT_BASE; default 0: static program). */
  interpBase?: number;
  /** AT_FLAGS (default 0). */
  flags?: number;
}

/** Where the 16 AT_RANDOM bytes come from: a {@link RandomPool} (seeded in simulation) or a function. @see drivers/char/random.c: get_random_bytes */
export type RandomBytesSource = Pick<RandomPool, 'getRandomBytes'> | ((n: number) => Uint8Array);

/** Arguments of {@link setupArgPages}. @see include/linux/binfmts.h: struct linux_binprm */
export interface ArgPagesOptions {
  /** Argument strings (argv[0] first). */
  argv: readonly string[];
  /** Environment strings ("NAME=value"). */
  envp: readonly string[];
  /** The file name run, for AT_EXECFN (default argv[0], or '' without one). */
  execfn?: string;
  /** Source of the AT_RANDOM bytes (`get_random_bytes`), and of the stack offset with `randomize`. */
  random: RandomBytesSource;
  /** The program's headers and entry (default: all zero). */
  elf?: ElfInfo;
  /** Credentials (default all 0: root). */
  uid?: number;
  euid?: number;
  gid?: number;
  egid?: number;
  /** AT_SECURE (setuid/setgid exec; default false). */
  secure?: boolean;
  /** AT_HWCAP (default a typical x86-64 CPUID 1 EDX). */
  hwcap?: number;
  /** AT_HWCAP2 (default HWCAP2_FSGSBASE); null leaves it out. */
  hwcap2?: number | null;
  /** vDSO address: emits AT_SYSINFO_EHDR first, as x86's ARCH_DLINFO does with the vDSO on. */
  sysinfoEhdr?: number;
  /** Emits AT_MINSIGSTKSZ after AT_SYSINFO_EHDR (x86's ARCH_DLINFO since 5.14). */
  minsigstksz?: number;
  /** AT_PLATFORM string (default 'x86_64'); null leaves it and its string out. */
  platform?: string | null;
  /** More pairs, placed before AT_NULL (AT_RSEQ_FEATURE_SIZE and the like). */
  extraAuxv?: readonly (readonly [number, number])[];
  /**
   * Randomize the stack below the strings as `arch_align_stack` does (up to 8 KiB, drawn
   * from `random` before the AT_RANDOM bytes). Default false, as under `setarch -R`.
   */
  randomize?: boolean;
}

/** What {@link setupArgPages} built. @see fs/binfmt_elf.c: create_elf_tables */
export interface ExecStack {
  /** The initial stack pointer: the address of argc, 16-byte aligned. */
  sp: number;
  /** The auxiliary vector as written, AT_NULL included. */
  auxv: [number, number][];
  /** Addresses of the argv strings. */
  argv: number[];
  /** Addresses of the envp strings. */
  envp: number[];
  /** Lowest address of the stack VMA. */
  stackStart: number;
}

// ---------------------------------------------------------------- building the stack

const encoder = new TextEncoder();

function cString(what: string, s: string): Uint8Array {
  const b = encoder.encode(s);
  if (b.includes(0)) throw new KernelError('EINVAL', `${what} contains a NUL byte`);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function randomBytes(src: RandomBytesSource, n: number): Uint8Array {
  const b = typeof src === 'function' ? src(n) : src.getRandomBytes(n);
  if (b.length !== n)
    throw new KernelError('EINVAL', `random source gave ${b.length} bytes, ${n} wanted`);
  return b;
}

function u64Words(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new KernelError('EINVAL', `stack word ${v} is not an unsigned integer below 2^53`);
    dv.setBigUint64(i * 8, BigInt(v), true);
  });
  return out;
}

/**
 * Builds a new program's initial stack at the top of `mm`'s user space, exactly as
 * `execve` lays it out on x86-64 (see the file comment): maps the stack VMA
 * (VM_GROWSDOWN, read-write, 128 KiB and growing by faults if the strings need more),
 * copies the strings, draws the 16 AT_RANDOM bytes from `opts.random`, and writes the
 * auxiliary vector, envp, argv and argc. Saves auxv and the argument area in the mm
 * (`saved_auxv`, `arg_start`…) for /proc/PID/auxv.
 *
 * Auxv order is create_elf_tables': [AT_SYSINFO_EHDR, AT_MINSIGSTKSZ,] AT_HWCAP,
 * AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY,
 * AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, [AT_HWCAP2,] AT_EXECFN,
 * [AT_PLATFORM,] [extras,] AT_NULL.
 *
 * @throws KernelError E2BIG (a string longer than MAX_ARG_STRLEN, or all of them more
 *   than a quarter of the stack limit), EINVAL (a string with a NUL byte; a bad value),
 *   EEXIST (something is already mapped where the stack goes), ENOMEM.
 * @see fs/exec.c: copy_strings, setup_arg_pages, bprm_stack_limits;
 *      fs/binfmt_elf.c: create_elf_tables; arch/x86/kernel/process.c: arch_align_stack
 */
export function setupArgPages(mm: Mm, opts: ArgPagesOptions): ExecStack {
  const argc = opts.argv.length;
  const envc = opts.envp.length;
  const argvBytes = opts.argv.map((s, i) => cString(`argv[${i}]`, s));
  const envpBytes = opts.envp.map((s, i) => cString(`envp[${i}]`, s));
  const execfn = cString('execfn', opts.execfn ?? opts.argv[0] ?? '');
  let strings = 0;
  for (const [what, list] of [
    ['argv', argvBytes],
    ['envp', envpBytes],
  ] as const)
    list.forEach((b, i) => {
      if (b.length > MAX_ARG_STRLEN)
        throw new KernelError(
          'E2BIG',
          `${what}[${i}] is ${b.length} bytes with its NUL; MAX_ARG_STRLEN is ${MAX_ARG_STRLEN}`,
        );
      strings += b.length;
    });
  // bprm_stack_limits: a quarter of RLIMIT_STACK (at most 3/4 of _STK_LIM, at least ARG_MAX).
  const limit = Math.max(Math.min(((8 * 1024 * 1024) / 4) * 3, mm.stackLimit / 4), ARG_MAX);
  const ptrs = (Math.max(argc, 1) + envc) * 8;
  if (ptrs + strings > limit)
    throw new KernelError(
      'E2BIG',
      `argument list too long: ${strings} bytes of strings and ${ptrs} of pointers exceed ${limit}`,
    );

  const top = mm.stackTop;
  const stackStart = top - STACK_EXPAND;
  mm.mmap({
    addr: stackStart,
    length: STACK_EXPAND,
    prot: PROT_READ | PROT_WRITE,
    flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED_NOREPLACE,
  });

  // copy_strings: bprm->p starts one pointer below the top and moves down.
  let p = top - 8;
  const put = (b: Uint8Array): number => {
    p -= b.length;
    mm.write(p, b);
    return p;
  };
  const execAddr = put(execfn);
  const envAddr: number[] = new Array<number>(envc);
  for (let i = envc - 1; i >= 0; i--) envAddr[i] = put(envpBytes[i]!);
  const argAddr: number[] = new Array<number>(argc);
  for (let i = argc - 1; i >= 0; i--) argAddr[i] = put(argvBytes[i]!);
  mm.argStart = p;
  mm.argEnd = mm.envStart = p + argvBytes.reduce((n, b) => n + b.length, 0);
  mm.envEnd = mm.envStart + envpBytes.reduce((n, b) => n + b.length, 0);

  // create_elf_tables
  if (opts.randomize) {
    const r = new DataView(randomBytes(opts.random, 4).buffer).getUint32(0, true);
    p -= r % 8192;
  }
  p = Math.floor(p / 16) * 16;
  const platform = opts.platform === undefined ? ELF_PLATFORM : opts.platform;
  const uPlatform = platform === null ? 0 : put(cString('platform', platform));
  const uRandom = put(randomBytes(opts.random, 16));

  const elf = opts.elf;
  const auxv: [number, number][] = [];
  const aux = (type: number, value: number): void => {
    auxv.push([type, value]);
  };
  if (opts.sysinfoEhdr !== undefined) aux(AT_SYSINFO_EHDR, opts.sysinfoEhdr);
  if (opts.minsigstksz !== undefined) aux(AT_MINSIGSTKSZ, opts.minsigstksz);
  aux(AT_HWCAP, opts.hwcap ?? DEFAULT_HWCAP);
  aux(AT_PAGESZ, PAGE_SIZE);
  aux(AT_CLKTCK, CLOCKS_PER_SEC);
  aux(AT_PHDR, elf?.phdr ?? 0);
  aux(AT_PHENT, elf?.phent ?? ELF64_PHENT);
  aux(AT_PHNUM, elf?.phnum ?? 0);
  aux(AT_BASE, elf?.interpBase ?? 0);
  aux(AT_FLAGS, elf?.flags ?? 0);
  aux(AT_ENTRY, elf?.entry ?? 0);
  aux(AT_UID, opts.uid ?? 0);
  aux(AT_EUID, opts.euid ?? 0);
  aux(AT_GID, opts.gid ?? 0);
  aux(AT_EGID, opts.egid ?? 0);
  aux(AT_SECURE, opts.secure ? 1 : 0);
  aux(AT_RANDOM, uRandom);
  const hwcap2 = opts.hwcap2 === undefined ? DEFAULT_HWCAP2 : opts.hwcap2;
  if (hwcap2 !== null) aux(AT_HWCAP2, hwcap2);
  aux(AT_EXECFN, execAddr);
  if (uPlatform) aux(AT_PLATFORM, uPlatform);
  for (const [t, v] of opts.extraAuxv ?? []) aux(t, v);
  aux(AT_NULL, 0);

  // STACK_ADD(p, ei_index) then STACK_ROUND(sp, items): argc lands 16-byte aligned.
  const items = argc + 1 + (envc + 1) + 1;
  const sp = Math.floor((p - auxv.length * 16 - items * 8) / 16) * 16;
  const words = [argc, ...argAddr, 0, ...envAddr, 0, ...auxv.flat()];
  mm.write(sp, u64Words(words));

  mm.savedAuxv = auxv.map(([t, v]) => [t, v]);
  mm.startStack = sp;
  return {
    sp,
    auxv: auxv.map(([t, v]) => [t, v]),
    argv: argAddr,
    envp: envAddr,
    stackStart: Math.min(stackStart, mm.vmaLookup(sp)?.start ?? stackStart),
  };
}

// ---------------------------------------------------------------- reading it back

/**
 * The raw contents of `/proc/PID/auxv`: the saved auxiliary vector as pairs of u64
 * little-endian words, through the AT_NULL pair (16 zero bytes before any exec).
 * @see fs/proc/base.c: proc_pid_auxv, auxv_read
 */
export function procPidAuxv(mm: Mm): Uint8Array {
  const pairs = mm.savedAuxv.length ? mm.savedAuxv : [[AT_NULL, 0] as [number, number]];
  const end = pairs.findIndex(([t]) => t === AT_NULL);
  return u64Words((end < 0 ? pairs : pairs.slice(0, end + 1)).flat());
}

/**
 * Parses auxv bytes (`/proc/PID/auxv`, or the words above envp on a stack) into
 * [type, value] pairs through AT_NULL (included).
 * @throws KernelError EINVAL (length not a multiple of 16, or no AT_NULL), EOVERFLOW (a
 *   value above 2^53, which a JS number cannot hold exactly).
 * @see fs/proc/base.c: auxv_read, man 5 proc (/proc/pid/auxv)
 */
export function parseAuxv(bytes: Uint8Array): [number, number][] {
  if (bytes.length % 16)
    throw new KernelError('EINVAL', `auxv is ${bytes.length} bytes, not a multiple of 16`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: [number, number][] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const t = dv.getBigUint64(off, true);
    const v = dv.getBigUint64(off + 8, true);
    if (t > BigInt(Number.MAX_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new KernelError('EOVERFLOW', `auxv pair at byte ${off} does not fit a JS number`);
    out.push([Number(t), Number(v)]);
    if (t === 0n) return out;
  }
  throw new KernelError('EINVAL', `auxv of ${bytes.length} bytes has no AT_NULL`);
}

/** What a libc's `_start` finds on the initial stack. @see System V AMD64 ABI §3.4.1 (Initial Stack and Register State) */
export interface InitialStack {
  argc: number;
  argv: string[];
  envp: string[];
  /** Auxv through AT_NULL. */
  auxv: [number, number][];
}

/**
 * Reads a process's initial stack back the way a libc's `_start` does: argc at `sp`,
 * the argv pointers after it up to NULL, the envp pointers up to NULL, then auxv pairs
 * up to AT_NULL; strings read NUL-terminated through the same pointers. Uses `mm.read`,
 * so it faults as user code would.
 * @throws KernelError EFAULT if a pointer leads outside the mappings, EINVAL for a
 *   string without a NUL within MAX_ARG_STRLEN.
 * @see glibc csu/libc-start.c, sysdeps/x86_64/start.S
 */
export function readInitialStack(mm: Mm, sp: number): InitialStack {
  const u64 = (addr: number): number => {
    const b = mm.read(addr, 8);
    const v = new DataView(b.buffer).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new KernelError('EOVERFLOW', `stack word at 0x${addr.toString(16)} is too large`);
    return Number(v);
  };
  const decoder = new TextDecoder();
  const str = (addr: number): string => {
    const parts: Uint8Array[] = [];
    for (let at = addr, n = 0; n < MAX_ARG_STRLEN;) {
      const chunk = mm.read(at, Math.min(PAGE_SIZE - (at % PAGE_SIZE), MAX_ARG_STRLEN - n));
      const z = chunk.indexOf(0);
      if (z >= 0) {
        parts.push(chunk.subarray(0, z));
        const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
        let o = 0;
        for (const p of parts) {
          all.set(p, o);
          o += p.length;
        }
        return decoder.decode(all);
      }
      parts.push(chunk);
      at += chunk.length;
      n += chunk.length;
    }
    throw new KernelError('EINVAL', `string at 0x${addr.toString(16)} has no NUL`);
  };
  let at = sp;
  const argc = u64(at);
  at += 8;
  const argv: string[] = [];
  for (;;) {
    const ptr = u64(at);
    at += 8;
    if (!ptr) break;
    argv.push(str(ptr));
  }
  const envp: string[] = [];
  for (;;) {
    const ptr = u64(at);
    at += 8;
    if (!ptr) break;
    envp.push(str(ptr));
  }
  const auxv: [number, number][] = [];
  for (;;) {
    const t = u64(at);
    const v = u64(at + 8);
    at += 16;
    auxv.push([t, v]);
    if (t === AT_NULL) break;
  }
  return { argc, argv, envp, auxv };
}
