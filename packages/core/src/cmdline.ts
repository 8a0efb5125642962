/**
 * Sizes and the boot command line.
 *
 * @see lib/cmdline.c (memparse, next_arg), init/main.c (unknown_bootoption), kernel/params.c (parse_args),
 *      kernel/crash_reserve.c (parse_crashkernel), Documentation/admin-guide/kernel-parameters.txt
 */

import { describeValue, shown } from './describe.js';
import { KernelError } from './errno.js';

const SUFFIXES = ['K', 'M', 'G', 'T', 'P', 'E'] as const;

/**
 * Parses a size at the start of `s` as `memparse()` does: a number (decimal, `0x` hex or
 * leading-`0` octal) with an optional K/M/G/T/P/E suffix (either case). Returns the value
 * and the unparsed rest, or null if `s` does not start with a number.
 * @throws KernelError ERANGE if the value is not a safe integer; EINVAL if `s` is not a
 *   string.
 * @see lib/cmdline.c: memparse
 */
export function memparsePrefix(s: string): { value: number; rest: string } | null {
  if (typeof s !== 'string')
    throw new KernelError('EINVAL', `memparsePrefix: expected a string, got ${describeValue(s)}`);
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)/.exec(s);
  if (!m) return null;
  const digits = m[1]!;
  let value: bigint;
  if (/^0[xX]/.test(digits)) value = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) value = BigInt(`0o${digits.slice(1)}`);
  else value = BigInt(digits);
  const suffix = m[2]!.toUpperCase();
  if (suffix) value <<= BigInt(10 * (SUFFIXES.indexOf(suffix as (typeof SUFFIXES)[number]) + 1));
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new KernelError('ERANGE', `size '${m[0]}' is larger than ${Number.MAX_SAFE_INTEGER}`);
  return { value: Number(value), rest: s.slice(m[0].length) };
}

/**
 * Parses a whole size string: `4096`, `64K`, `64M`, `1G`, `2T`, `0x1000`. A number is
 * taken as a count of bytes and returned as it is if it is a non-negative safe integer
 * (Linux's memparse takes only strings; a JS caller passing `4096` means 4096 bytes).
 * @throws KernelError EINVAL naming the string if it is not a size, or the value and its
 *   type if it is neither a string nor a non-negative safe integer; ERANGE if too large.
 * @see lib/cmdline.c: memparse
 */
export function memparse(s: string | number): number {
  if (typeof s === 'number') {
    if (Number.isSafeInteger(s) && s >= 0) return s;
    throw new KernelError(
      'EINVAL',
      `${shown(s)} is not a size: a number of bytes must be a non-negative safe integer`,
    );
  }
  if (typeof s !== 'string')
    throw new KernelError(
      'EINVAL',
      `a size is a string such as '64M' or a number of bytes, got ${describeValue(s)}`,
    );
  const r = memparsePrefix(s.trim());
  if (!r || r.rest !== '')
    throw new KernelError('EINVAL', `'${s}' is not a size (expected e.g. 4096, 64K, 64M, 1G, 2T)`);
  return r.value;
}

/**
 * Formats a size with the largest suffix that divides it exactly (`67108864` → `64M`).
 * @throws KernelError EINVAL if `bytes` is not a non-negative safe integer.
 * @see lib/cmdline.c: memparse (the suffixes it reads)
 */
export function formatMemSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new KernelError('EINVAL', `size ${shown(bytes)} is not a non-negative integer`);
  if (bytes === 0) return '0';
  let value = BigInt(bytes);
  let i = -1;
  while (i + 1 < SUFFIXES.length && value % 1024n === 0n) {
    value /= 1024n;
    i++;
  }
  return `${value}${i < 0 ? '' : SUFFIXES[i]}`;
}

/**
 * One `crashkernel=` range: `start-[end]:size`, end exclusive, open if absent.
 * @see kernel/crash_reserve.c: parse_crashkernel_mem
 */
export interface CrashkernelRange {
  /** Smallest system RAM size (bytes) the range applies to. */
  start: number;
  /** System RAM size (bytes) the range stops at, exclusive; absent: no upper bound. */
  end?: number;
  /** Bytes to reserve when system RAM falls in the range. */
  size: number;
}

/**
 * A parsed `crashkernel=` value: a fixed size (`256M`, `256M@16M`) or sizes chosen by
 * the amount of system RAM (`512M-2G:64M,2G-:128M[@offset]`), optionally `,high` or
 * `,low`.
 *
 * @see kernel/crash_reserve.c: parse_crashkernel
 */
export type CrashkernelSpec =
  | { kind: 'fixed'; size: number; offset?: number; placement?: 'high' | 'low' }
  | { kind: 'ranges'; ranges: CrashkernelRange[]; offset?: number };

/**
 * Parses a `crashkernel=` value.
 * @throws KernelError EINVAL naming the offending part, or the value and its type if it
 *   is not a string.
 * @see kernel/crash_reserve.c: parse_crashkernel_mem, parse_crashkernel_simple, parse_crashkernel_suffix
 */
export function parseCrashkernel(value: string): CrashkernelSpec {
  if (typeof value !== 'string')
    throw new KernelError(
      'EINVAL',
      `crashkernel: expected a string such as '256M' or '512M-2G:64M,2G-:128M', got ${describeValue(value)}`,
    );
  const bad = (why: string): KernelError =>
    new KernelError('EINVAL', `crashkernel: ${why} in '${value}'`);
  const first = memparsePrefix(value);
  if (!first) throw bad('memory value expected');
  if (first.rest.startsWith('-') || first.rest.startsWith(':')) {
    // RANGE:SIZE,... form.
    const ranges: CrashkernelRange[] = [];
    let rest = value;
    for (;;) {
      const start = memparsePrefix(rest);
      if (!start) throw bad('memory value expected');
      if (!start.rest.startsWith('-')) throw bad("'-' expected");
      rest = start.rest.slice(1);
      let end: number | undefined;
      if (!rest.startsWith(':')) {
        const e = memparsePrefix(rest);
        if (!e) throw bad('end of range expected');
        end = e.value;
        rest = e.rest;
        if (end <= start.value) throw bad(`end ${end} not after start ${start.value}`);
      }
      if (!rest.startsWith(':')) throw bad("':' expected");
      const size = memparsePrefix(rest.slice(1));
      if (!size) throw bad('size expected');
      if (size.value === 0) throw bad('invalid size 0');
      const last = ranges[ranges.length - 1];
      if (last && (last.end === undefined || start.value < last.end))
        throw bad(`range starting at ${start.value} overlaps the previous one`);
      ranges.push(
        end === undefined
          ? { start: start.value, size: size.value }
          : { start: start.value, end, size: size.value },
      );
      rest = size.rest;
      if (rest.startsWith(',')) {
        rest = rest.slice(1);
        continue;
      }
      break;
    }
    if (rest === '') return { kind: 'ranges', ranges };
    if (rest.startsWith('@')) {
      const off = memparsePrefix(rest.slice(1));
      if (!off || off.rest !== '') throw bad('offset expected after @');
      return { kind: 'ranges', ranges, offset: off.value };
    }
    throw bad(`unexpected '${rest}'`);
  }
  if (first.value === 0) throw bad('invalid size 0');
  if (first.rest === '') return { kind: 'fixed', size: first.value };
  if (first.rest === ',high' || first.rest === ',low')
    return { kind: 'fixed', size: first.value, placement: first.rest === ',high' ? 'high' : 'low' };
  if (first.rest.startsWith('@')) {
    const off = memparsePrefix(first.rest.slice(1));
    if (!off || off.rest !== '') throw bad('offset expected after @');
    return { kind: 'fixed', size: first.value, offset: off.value };
  }
  throw bad(`unexpected '${first.rest}'`);
}

function checkSpec(spec: unknown): asserts spec is CrashkernelSpec {
  const kind = typeof spec === 'object' && spec !== null ? (spec as { kind?: unknown }).kind : null;
  if (
    kind === 'fixed' ||
    (kind === 'ranges' && Array.isArray((spec as { ranges?: unknown }).ranges))
  )
    return;
  throw new KernelError(
    'EINVAL',
    `crashkernel: expected a spec from parseCrashkernel ({ kind: 'fixed' | 'ranges', … }), got ${describeValue(spec)}`,
  );
}

/**
 * Formats a {@link CrashkernelSpec} back into its command-line value.
 * @throws KernelError EINVAL if `spec` is not a spec, or a size or offset is not a
 *   non-negative safe integer.
 * @see kernel/crash_reserve.c: parse_crashkernel (the syntax it reads)
 */
export function formatCrashkernel(spec: CrashkernelSpec): string {
  checkSpec(spec);
  const off = spec.offset === undefined ? '' : `@${formatMemSize(spec.offset)}`;
  if (spec.kind === 'fixed' && spec.offset !== undefined && spec.placement)
    throw new KernelError('EINVAL', 'crashkernel: an offset and ,high/,low cannot be combined');
  if (spec.kind === 'fixed')
    return `${formatMemSize(spec.size)}${off}${spec.placement ? `,${spec.placement}` : ''}`;
  const ranges = spec.ranges
    .map(
      (r) =>
        `${formatMemSize(r.start)}-${r.end === undefined ? '' : formatMemSize(r.end)}:${formatMemSize(r.size)}`,
    )
    .join(',');
  return ranges + off;
}

/**
 * The crash kernel size and base a spec asks for on a machine with `systemRam` bytes:
 * for the range form, the first range with `start <= systemRam < end`; null if none
 * matches (no reservation), as Linux's `parse_crashkernel_mem` leaves the size 0.
 *
 * @throws KernelError EINVAL if `spec` is not a spec or `systemRam` is not a
 *   non-negative safe integer.
 * @see kernel/crash_reserve.c: parse_crashkernel_mem
 */
export function resolveCrashkernel(
  spec: CrashkernelSpec,
  systemRam: number,
): { size: number; base?: number } | null {
  checkSpec(spec);
  if (!Number.isSafeInteger(systemRam) || systemRam < 0)
    throw new KernelError(
      'EINVAL',
      `crashkernel: system RAM ${shown(systemRam)} is not a non-negative integer of bytes`,
    );
  let size: number | undefined;
  if (spec.kind === 'fixed') size = spec.size;
  else
    size = spec.ranges.find(
      (r) => systemRam >= r.start && (r.end === undefined || systemRam < r.end),
    )?.size;
  if (size === undefined) return null;
  if (size >= systemRam) return null; // a region as large as memory cannot be reserved
  return spec.offset === undefined ? { size } : { size, base: spec.offset };
}

/**
 * `numa=` as parsed: `off`, `fake=N` nodes or `fake=SIZE` per node, or another word kept raw.
 * @see arch/x86/mm/numa.c: numa_setup; mm/numa_emulation.c: numa_emu_cmdline
 */
export type NumaOption =
  | { mode: 'off' }
  | { mode: 'fake'; nodes: number }
  | { mode: 'fake'; nodeSize: number }
  | { mode: 'other'; value: string };

/**
 * One `name` or `name=value` word of the command line, in order.
 * @see lib/cmdline.c: next_arg
 */
export interface CmdlineParam {
  /** The word before the first `=` (the whole word if it has none), without quotes. */
  name: string;
  /** The value after `=`, without quotes; undefined for a bare word. */
  value?: string;
}

/**
 * A parsed boot command line. The parameters kern's subsystems know are typed; every
 * word is also kept in `params`, in order, and those nobody claimed in `unknown`, the way
 * Linux hands them on (`initArgv` for bare words and everything after `--`,
 * `initEnvp` for `name=value` words).
 *
 * @see init/main.c: unknown_bootoption; kernel/params.c: parse_args
 */
export interface BootParams {
  /** Every word in order (before `--`). */
  params: CmdlineParam[];
  /** `mem=`: limit usable memory to this many bytes. */
  mem?: number;
  /** `crashkernel=`. */
  crashkernel?: CrashkernelSpec;
  /** `nr_cpus=`: number of possible CPUs. */
  nrCpus?: number;
  /** `maxcpus=`: CPUs brought up at boot. */
  maxCpus?: number;
  /** `numa=`. */
  numa?: NumaOption;
  /** `loglevel=` (console log level), or 15 for `debug`, 4 for `quiet`. */
  loglevel?: number;
  /** `movablecore=`: bytes for ZONE_MOVABLE. */
  movablecore?: number;
  /** `kernelcore=`: bytes for non-movable zones. */
  kernelcore?: number;
  /** `panic=`: seconds before reboot after a panic (0: never). */
  panicTimeout?: number;
  /** Words no kern subsystem claimed (Linux's unknown_bootoption). */
  unknown: CmdlineParam[];
  /** What init would get as argv after its own name. */
  initArgv: string[];
  /** What init would get as environment (`name=value`). */
  initEnvp: string[];
}

/**
 * Splits a command line into words the way `next_arg()` does: whitespace separates,
 * double quotes group (`name="a b"`), quotes are removed from the value.
 * @throws KernelError EINVAL on an unterminated quote (naming the 0-based column of the
 *   opening quote), or if `line` is not a string.
 * @see lib/cmdline.c: next_arg
 */
export function splitCmdline(line: string): CmdlineParam[] {
  checkLine(line);
  const out: CmdlineParam[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i]!)) i++;
    if (i >= n) break;
    let word = '';
    let inQuote = false;
    let eq = -1;
    let quoteAt = -1;
    while (i < n && (inQuote || !/\s/.test(line[i]!))) {
      const c = line[i]!;
      if (c === '"') {
        inQuote = !inQuote;
        if (inQuote) quoteAt = i;
      } else {
        if (c === '=' && eq < 0) eq = word.length;
        word += c;
      }
      i++;
    }
    if (inQuote)
      throw new KernelError('EINVAL', `unterminated quote in command line at column ${quoteAt}`);
    out.push(eq < 0 ? { name: word } : { name: word.slice(0, eq), value: word.slice(eq + 1) });
  }
  return out;
}

function checkLine(line: unknown): asserts line is string {
  if (typeof line !== 'string')
    throw new KernelError(
      'EINVAL',
      `a command line is a string such as 'mem=1G nr_cpus=4', got ${describeValue(line)}`,
    );
}

function parseCount(name: string, value: string | undefined, min: number): number {
  if (
    value === undefined ||
    !/^\d+$/.test(value) ||
    Number(value) < min ||
    !Number.isSafeInteger(Number(value))
  )
    throw new KernelError('EINVAL', `${name}=${value ?? ''}: expected an integer >= ${min}`);
  return Number(value);
}

function parseSize(name: string, value: string | undefined): number {
  if (value === undefined) throw new KernelError('EINVAL', `${name}: a size is required`);
  try {
    return memparse(value);
  } catch (e) {
    throw new KernelError('EINVAL', `${name}=${value}: not a size`, { cause: e });
  }
}

function parseNuma(value: string | undefined): NumaOption {
  if (value === 'off') return { mode: 'off' };
  if (value?.startsWith('fake=')) {
    const v = value.slice(5);
    if (/^\d+$/.test(v)) return { mode: 'fake', nodes: parseCount('numa=fake', v, 1) };
    return { mode: 'fake', nodeSize: parseSize('numa=fake', v) };
  }
  if (value === undefined || value === '')
    throw new KernelError('EINVAL', 'numa: a value is required');
  return { mode: 'other', value };
}

/**
 * Parses a boot command line.
 * @throws KernelError EINVAL naming the parameter and value that are malformed, or the
 *   value and its type if `line` is not a string.
 * @see kernel/params.c: parse_args; init/main.c: unknown_bootoption
 */
export function parseCmdline(line: string): BootParams {
  checkLine(line);
  const words = splitCmdline(line);
  const dashdash = words.findIndex((w) => w.name === '--' && w.value === undefined);
  const params = dashdash < 0 ? words : words.slice(0, dashdash);
  const after = dashdash < 0 ? [] : words.slice(dashdash + 1);
  const bp: BootParams = { params, unknown: [], initArgv: [], initEnvp: [] };
  for (const p of params) {
    const v = p.value;
    // Linux treats '-' and '_' in parameter names alike (parameq).
    switch (p.name.replace(/-/g, '_')) {
      case 'mem':
        bp.mem = parseSize('mem', v);
        break;
      case 'crashkernel':
        if (v === undefined) throw new KernelError('EINVAL', 'crashkernel: a value is required');
        bp.crashkernel = parseCrashkernel(v);
        break;
      case 'nr_cpus':
        bp.nrCpus = parseCount('nr_cpus', v, 1);
        break;
      case 'maxcpus':
        bp.maxCpus = parseCount('maxcpus', v, 0);
        break;
      case 'numa':
        bp.numa = parseNuma(v);
        break;
      case 'loglevel':
        bp.loglevel = parseCount('loglevel', v, 0);
        break;
      case 'quiet':
        bp.loglevel = 4;
        break;
      case 'debug':
        bp.loglevel = 15;
        break;
      case 'movablecore':
        bp.movablecore = parseSize('movablecore', v);
        break;
      case 'kernelcore':
        bp.kernelcore = parseSize('kernelcore', v);
        break;
      case 'panic':
        if (v === undefined || !/^-?\d+$/.test(v))
          throw new KernelError(
            'EINVAL',
            `panic=${v ?? ''}: expected an integer (seconds; negative reboots at once)`,
          );
        bp.panicTimeout = Number(v);
        break;
      default:
        bp.unknown.push(p);
        // Linux passes dotted names (module.param) to modules only, not to init.
        if (p.name.includes('.')) break;
        if (p.value === undefined) bp.initArgv.push(p.name);
        else bp.initEnvp.push(`${p.name}=${p.value}`);
    }
  }
  for (const p of after) bp.initArgv.push(p.value === undefined ? p.name : `${p.name}=${p.value}`);
  return bp;
}

/**
 * Formats words back into a command line, quoting values that hold spaces.
 * @throws KernelError EINVAL if `params` is not an array of `{ name, value? }` words.
 * @see lib/cmdline.c: next_arg (the syntax it reads)
 */
export function formatCmdline(params: readonly CmdlineParam[]): string {
  const words: unknown = params;
  if (!Array.isArray(words))
    throw new KernelError(
      'EINVAL',
      `formatCmdline: expected an array of { name, value? } words, got ${describeValue(params)}`,
    );
  return (words as readonly unknown[])
    .map((w) => {
      const p = (typeof w === 'object' && w !== null ? w : {}) as Partial<Record<string, unknown>>;
      const { name, value } = p;
      if (typeof name !== 'string' || (value !== undefined && typeof value !== 'string'))
        throw new KernelError(
          'EINVAL',
          `formatCmdline: a word is { name: string, value?: string }, got ${describeValue(w)}`,
        );
      if (value === undefined) return name;
      return /[\s]/.test(value) || value === '' ? `${name}="${value}"` : `${name}=${value}`;
    })
    .join(' ');
}
