/**
 * CPU masks: a bitmap with one bit per possible CPU id, in 32-bit words, cheap enough for
 * millions of CPUs (4,194,304 CPUs is a 512 KiB mask). Bit `n` of word `k` is CPU
 * `32 * k + n`; bits at or above `nrCpuIds` are always zero.
 *
 * Text forms follow Linux exactly: {@link Cpumask.toList} is the list form of `%*pbl`
 * (`/sys/devices/system/cpu/online`, `/sys/devices/system/node/nodeN/cpulist`), and
 * {@link Cpumask.toHex} is the mask form of `%*pb` (`/sys/devices/system/node/nodeN/cpumap`).
 *
 * @see include/linux/cpumask.h, lib/bitmap.c, lib/bitmap-str.c, lib/vsprintf.c: bitmap_string
 */

import { describeValue, shown } from './describe.js';
import { KernelError } from './errno.js';

const WORD_BITS = 32;

/** Number of set bits in a 32-bit word (`hweight32`). */
function hweight32(w: number): number {
  w = w - ((w >>> 1) & 0x55555555);
  w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
  w = (w + (w >>> 4)) & 0x0f0f0f0f;
  return Math.imul(w, 0x01010101) >>> 24;
}

/** Index of the lowest set bit of a non-zero word (`__ffs`). */
function ffs32(w: number): number {
  return 31 - Math.clz32(w & -w);
}

/** Mask of the valid bits in the last word of an `nr`-bit map (`BITMAP_LAST_WORD_MASK`). */
function checkText(form: 'cpulist' | 'cpumask', str: unknown): asserts str is string {
  if (typeof str !== 'string')
    throw new KernelError(
      'EINVAL',
      `a ${form} is a string such as '${form === 'cpulist' ? '0-3,8' : 'ff,00000001'}', got ${describeValue(str)}`,
    );
}

function lastWordMask(nr: number): number {
  const r = nr % WORD_BITS;
  return r === 0 ? 0xffffffff : ((1 << r) - 1) >>> 0;
}

/**
 * The query side of a {@link Cpumask}: what Linux passes as `const struct cpumask *`.
 * Masks owned by a topology or scheduler are handed out with this type; change them only
 * through their owner.
 *
 * @see include/linux/cpumask.h
 */
export interface ReadonlyCpumask extends Iterable<number> {
  /** Number of CPU ids the mask covers (`nr_cpu_ids`); valid CPUs are `0..nrCpuIds-1`. */
  readonly nrCpuIds: number;
  /**
   * The bitmap words (`cpumask_bits()`): bit `n` of word `k` is CPU `32k + n`. Exposed for
   * word-at-a-time algorithms; never write through a {@link ReadonlyCpumask}.
   */
  readonly bits: Uint32Array;
  /** Whether `cpu` is set (`cpumask_test_cpu`). @throws KernelError ERANGE/EINVAL on a bad CPU. */
  test(cpu: number): boolean;
  /** Number of set CPUs (`cpumask_weight`). */
  weight(): number;
  /** Lowest set CPU, or `nrCpuIds` if none (`cpumask_first`). */
  first(): number;
  /** Highest set CPU, or `nrCpuIds` if none (`cpumask_last`). */
  last(): number;
  /**
   * Lowest set CPU above `cpu` (`cpu` may be -1), or `nrCpuIds` if none (`cpumask_next`).
   * @throws KernelError EINVAL unless `cpu` is an integer >= -1.
   */
  next(cpu: number): number;
  /** Lowest clear CPU, or `nrCpuIds` if none (`cpumask_first_zero`). */
  firstZero(): number;
  /**
   * Lowest clear CPU above `cpu` (`cpu` may be -1), or `nrCpuIds` (`cpumask_next_zero`).
   * @throws KernelError EINVAL unless `cpu` is an integer >= -1.
   */
  nextZero(cpu: number): number;
  /** The `n`th set CPU counting from 0, or `nrCpuIds` if fewer are set (`cpumask_nth`). */
  nth(n: number): number;
  /** Whether no CPU is set (`cpumask_empty`). */
  isEmpty(): boolean;
  /** Whether every CPU is set (`cpumask_full`). */
  isFull(): boolean;
  /** Whether both masks hold the same CPUs (`cpumask_equal`). @throws KernelError EINVAL on a size mismatch. */
  equals(other: ReadonlyCpumask): boolean;
  /** Whether the masks share a CPU (`cpumask_intersects`). @throws KernelError EINVAL on a size mismatch. */
  intersects(other: ReadonlyCpumask): boolean;
  /** Whether every CPU of this mask is in `other` (`cpumask_subset`). @throws KernelError EINVAL on a size mismatch. */
  isSubset(other: ReadonlyCpumask): boolean;
  /** Calls `fn` for each set CPU in ascending order (`for_each_cpu`). */
  forEach(fn: (cpu: number) => void): void;
  /** The set CPUs in ascending order. */
  toArray(): number[];
  /** Linux's list form, `"0-3,8,10-11"` (`%*pbl`); `""` when empty. */
  toList(): string;
  /** Linux's mask form, comma-separated 32-bit hex groups (`%*pb`), e.g. `"ff"`, `"1,00000000"`. */
  toHex(): string;
  /** A mutable copy (`cpumask_copy` into a new mask). */
  copy(): Cpumask;
}

/**
 * A set of CPU ids `0..nrCpuIds-1` as a bitmap (`struct cpumask`). Mutating operations
 * change this mask and return it, so `a.copy().and(b)` is `cpumask_and(dst, a, b)`.
 * Binary operations need masks of the same `nrCpuIds`.
 *
 * @see include/linux/cpumask.h, lib/bitmap.c
 */
export class Cpumask implements ReadonlyCpumask {
  /** Number of CPU ids the mask covers (`nr_cpu_ids`); fixed at construction. */
  readonly nrCpuIds: number;
  /**
   * The bitmap, `ceil(nrCpuIds / 32)` words (`cpumask_bits()`); bits at or above
   * `nrCpuIds` stay zero. Not guarded: a mask belongs to one thread.
   */
  readonly bits: Uint32Array;

  /**
   * An empty mask for `nrCpuIds` CPUs (`zalloc_cpumask_var`).
   * @throws KernelError EINVAL if `nrCpuIds` is not a non-negative safe integer.
   */
  constructor(nrCpuIds: number) {
    if (!Number.isSafeInteger(nrCpuIds) || nrCpuIds < 0)
      throw new KernelError(
        'EINVAL',
        `cpumask size ${shown(nrCpuIds)} is not a non-negative integer`,
      );
    this.nrCpuIds = nrCpuIds;
    this.bits = new Uint32Array(Math.ceil(nrCpuIds / WORD_BITS));
  }

  /**
   * A mask of `nrCpuIds` CPUs with the given CPUs set.
   * @throws KernelError EINVAL/ERANGE on a bad size or CPU.
   */
  static of(nrCpuIds: number, cpus: Iterable<number>): Cpumask {
    const m = new Cpumask(nrCpuIds);
    for (const cpu of cpus) m.set(cpu);
    return m;
  }

  /**
   * A mask of `nrCpuIds` CPUs with every CPU set (`cpu_all_mask` of that size).
   * @throws KernelError EINVAL if `nrCpuIds` is not a non-negative safe integer.
   * @see include/linux/cpumask.h: cpumask_setall
   */
  static full(nrCpuIds: number): Cpumask {
    return new Cpumask(nrCpuIds).fill();
  }

  /**
   * Parses Linux's list form (`bitmap_parselist`): regions separated by commas or
   * whitespace, each `a`, `a-b`, `a-b:used/group` (from each `group` CPUs of the range
   * only the first `used`), `all`, with `N` meaning the last CPU (`nr - 1`). An empty
   * string gives an empty mask.
   *
   * @throws KernelError EINVAL if `str` is not a string; EINVAL naming the bad region on
   *   a malformed region, `a > b`, a
   *   zero group or `used > group`; ERANGE on a CPU `>= nr`; EOVERFLOW on a number that
   *   does not fit in 32 bits (as `bitmap_getnum`).
   * @see lib/bitmap-str.c: bitmap_parselist, bitmap_parse_region, bitmap_check_region
   */
  static parseList(str: string, nr: number): Cpumask {
    checkText('cpulist', str);
    const m = new Cpumask(nr);
    const lastbit = nr - 1;
    for (const token of str.split(/[\s,]+/)) {
      if (token === '') continue;
      const bad = (why: string): KernelError =>
        new KernelError('EINVAL', `bad cpulist region "${token}" in "${str}": ${why}`);
      // `all` is matched case-insensitively (strncasecmp in Linux); `N` only in capitals.
      const g = /^(?:(all)|(\d+|N)(?:-(\d+|N))?)(?::(\d+|N)\/(\d+|N))?$/.exec(
        token.replace(/^all/i, 'all'),
      );
      if (!g) throw bad('expected a, a-b, a-b:used/group or all');
      const num = (s: string): number => {
        if (s === 'N') {
          if (nr === 0)
            throw new KernelError('ERANGE', `cpulist region "${token}": the mask has no CPUs`);
          return lastbit;
        }
        const v = Number(s);
        if (v > 0xffffffff)
          throw new KernelError('EOVERFLOW', `number ${s} in cpulist region "${token}" overflows`);
        return v;
      };
      let start: number;
      let end: number;
      if (g[1] !== undefined) {
        start = 0;
        end = num('N');
      } else {
        start = num(g[2]!);
        end = g[3] !== undefined ? num(g[3]) : start;
      }
      let used = end - start + 1;
      let group = used;
      if (g[4] !== undefined) {
        used = num(g[4]);
        group = num(g[5]!);
      }
      if (start > end) throw bad(`range start ${start} is above its end ${end}`);
      if (group === 0) throw bad('group size is 0');
      if (used > group) throw bad(`used size ${used} is above group size ${group}`);
      if (end >= nr)
        throw new KernelError(
          'ERANGE',
          `cpulist region "${token}": CPU ${end} is out of range (nr_cpu_ids ${nr})`,
        );
      if (used === group) m.setRange(start, end - start + 1);
      else for (let s = start; s <= end; s += group) m.setRange(s, Math.min(end - s + 1, used));
    }
    return m;
  }

  /**
   * Parses Linux's mask form (`bitmap_parse`, as `/sys/.../cpumap` prints it):
   * comma-separated groups of up to 8 hex digits, most significant first; fewer groups
   * than words mean leading zeros.
   *
   * @throws KernelError EINVAL if `str` is not a string or on a malformed group;
   *   EOVERFLOW if a group has more than
   *   8 digits or a bit at or above `nr` is set.
   * @see lib/bitmap-str.c: bitmap_parse
   */
  static parseHex(str: string, nr: number): Cpumask {
    checkText('cpumask', str);
    const m = new Cpumask(nr);
    const text = str.trim();
    if (text === '') return m;
    const groups = text.split(',').reverse();
    groups.forEach((grp, i) => {
      if (!/^[0-9a-fA-F]+$/.test(grp))
        throw new KernelError('EINVAL', `bad cpumask group "${grp}" in "${str}"`);
      if (grp.length > 8)
        throw new KernelError('EOVERFLOW', `cpumask group "${grp}" has more than 32 bits`);
      const v = parseInt(grp, 16) >>> 0;
      if (v === 0) return;
      if (i >= m.bits.length || (i === m.bits.length - 1 && (v & ~lastWordMask(nr)) !== 0))
        throw new KernelError('EOVERFLOW', `cpumask "${str}" sets a CPU >= nr_cpu_ids ${nr}`);
      m.bits[i] = v;
    });
    return m;
  }

  /** Throws unless `cpu` is a CPU id of this mask. */
  private check(cpu: number): void {
    if (!Number.isInteger(cpu))
      throw new KernelError('EINVAL', `CPU ${shown(cpu)} is not an integer`);
    if (cpu < 0 || cpu >= this.nrCpuIds)
      throw new KernelError('ERANGE', `CPU ${cpu} is out of range (nr_cpu_ids ${this.nrCpuIds})`);
  }

  private checkSize(other: ReadonlyCpumask): void {
    if (other.nrCpuIds !== this.nrCpuIds)
      throw new KernelError(
        'EINVAL',
        `cpumask sizes differ: ${this.nrCpuIds} and ${other.nrCpuIds} CPUs`,
      );
  }

  /**
   * Adds `cpu` (`cpumask_set_cpu`). @throws KernelError ERANGE/EINVAL on a bad CPU.
   * @see include/linux/cpumask.h: cpumask_set_cpu
   */
  set(cpu: number): this {
    if (!(cpu >>> 0 === cpu && cpu < this.nrCpuIds)) this.check(cpu);
    this.bits[cpu >>> 5]! |= 1 << (cpu & 31);
    return this;
  }

  /**
   * Removes `cpu` (`cpumask_clear_cpu`). @throws KernelError ERANGE/EINVAL on a bad CPU.
   * @see include/linux/cpumask.h: cpumask_clear_cpu
   */
  clear(cpu: number): this {
    if (!(cpu >>> 0 === cpu && cpu < this.nrCpuIds)) this.check(cpu);
    this.bits[cpu >>> 5]! &= ~(1 << (cpu & 31));
    return this;
  }

  /**
   * Whether `cpu` is set (`cpumask_test_cpu`).
   * @throws KernelError ERANGE if `cpu` is out of range; EINVAL if it is not an integer.
   * @see include/linux/cpumask.h: cpumask_test_cpu
   */
  test(cpu: number): boolean {
    if (!(cpu >>> 0 === cpu && cpu < this.nrCpuIds)) this.check(cpu);
    return (this.bits[cpu >>> 5]! & (1 << (cpu & 31))) !== 0;
  }

  /**
   * Sets `cpu` and returns whether it was set before (`cpumask_test_and_set_cpu`).
   * @throws KernelError ERANGE/EINVAL on a bad CPU.
   * @see include/linux/cpumask.h: cpumask_test_and_set_cpu
   */
  testAndSet(cpu: number): boolean {
    const was = this.test(cpu);
    this.bits[cpu >>> 5]! |= 1 << (cpu & 31);
    return was;
  }

  /**
   * Clears `cpu` and returns whether it was set before (`cpumask_test_and_clear_cpu`).
   * @throws KernelError ERANGE/EINVAL on a bad CPU.
   * @see include/linux/cpumask.h: cpumask_test_and_clear_cpu
   */
  testAndClear(cpu: number): boolean {
    const was = this.test(cpu);
    this.bits[cpu >>> 5]! &= ~(1 << (cpu & 31));
    return was;
  }

  /**
   * Sets `count` CPUs from `start` (`bitmap_set`), a word at a time.
   * @throws KernelError ERANGE/EINVAL if the range leaves the mask.
   * @see lib/bitmap.c: __bitmap_set
   */
  setRange(start: number, count: number): this {
    this.fillRange(start, count, true);
    return this;
  }

  /**
   * Clears `count` CPUs from `start` (`bitmap_clear`), a word at a time.
   * @throws KernelError ERANGE/EINVAL if the range leaves the mask.
   * @see lib/bitmap.c: __bitmap_clear
   */
  clearRange(start: number, count: number): this {
    this.fillRange(start, count, false);
    return this;
  }

  private fillRange(start: number, count: number, value: boolean): void {
    if (!Number.isInteger(count) || count < 0)
      throw new KernelError('EINVAL', `CPU count ${shown(count)} is not a non-negative integer`);
    if (count === 0) return;
    this.check(start);
    this.check(start + count - 1);
    const b = this.bits;
    let i = start;
    const end = start + count;
    while (i < end) {
      const w = i >>> 5;
      const lo = i & 31;
      const hi = Math.min(32, end - (w << 5));
      const mask = hi - lo === 32 ? 0xffffffff : (((1 << (hi - lo)) - 1) << lo) >>> 0;
      b[w] = value ? b[w]! | mask : b[w]! & ~mask;
      i = (w + 1) << 5;
    }
  }

  /** Sets every CPU (`cpumask_setall`). @see include/linux/cpumask.h */
  fill(): this {
    const b = this.bits;
    if (b.length === 0) return this;
    b.fill(0xffffffff);
    b[b.length - 1] = lastWordMask(this.nrCpuIds);
    return this;
  }

  /** Clears every CPU (`cpumask_clear`). @see include/linux/cpumask.h */
  clearAll(): this {
    this.bits.fill(0);
    return this;
  }

  /**
   * Replaces this mask's CPUs with those of `src` (`cpumask_copy`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_copy
   */
  copyFrom(src: ReadonlyCpumask): this {
    this.checkSize(src);
    this.bits.set(src.bits);
    return this;
  }

  /** A mutable copy (`cpumask_copy` into a new mask). @see include/linux/cpumask.h */
  copy(): Cpumask {
    return new Cpumask(this.nrCpuIds).copyFrom(this);
  }

  /**
   * Keeps only CPUs also in `other` (`cpumask_and`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_and
   */
  and(other: ReadonlyCpumask): this {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) a[i] = a[i]! & b[i]!;
    return this;
  }

  /**
   * Adds the CPUs of `other` (`cpumask_or`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_or
   */
  or(other: ReadonlyCpumask): this {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) a[i] = a[i]! | b[i]!;
    return this;
  }

  /**
   * Keeps the CPUs in exactly one of the masks (`cpumask_xor`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_xor
   */
  xor(other: ReadonlyCpumask): this {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) a[i] = a[i]! ^ b[i]!;
    return this;
  }

  /**
   * Removes the CPUs of `other` (`cpumask_andnot`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_andnot
   */
  andNot(other: ReadonlyCpumask): this {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) a[i] = a[i]! & ~b[i]!;
    return this;
  }

  /**
   * Inverts the mask within `0..nrCpuIds-1` (`cpumask_complement`).
   * @see include/linux/cpumask.h: cpumask_complement
   */
  complement(): this {
    const a = this.bits;
    if (a.length === 0) return this;
    for (let i = 0; i < a.length; i++) a[i] = ~a[i]!;
    a[a.length - 1]! &= lastWordMask(this.nrCpuIds);
    return this;
  }

  /** Number of set CPUs (`cpumask_weight`). @see include/linux/cpumask.h: cpumask_weight */
  weight(): number {
    const a = this.bits;
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      const w = a[i]!;
      if (w !== 0) n += hweight32(w);
    }
    return n;
  }

  /** Lowest set CPU, or `nrCpuIds` if none (`cpumask_first`). @see include/linux/cpumask.h */
  first(): number {
    return this.next(-1);
  }

  /** Highest set CPU, or `nrCpuIds` if none (`cpumask_last`). @see include/linux/cpumask.h */
  last(): number {
    const a = this.bits;
    for (let i = a.length - 1; i >= 0; i--) {
      const w = a[i]!;
      if (w !== 0) return (i << 5) + 31 - Math.clz32(w);
    }
    return this.nrCpuIds;
  }

  /**
   * Lowest set CPU above `cpu` (`cpu` may be -1), or `nrCpuIds` if none (`cpumask_next`).
   * @throws KernelError EINVAL unless `cpu` is an integer >= -1.
   * @see include/linux/cpumask.h: cpumask_next
   */
  next(cpu: number): number {
    const nr = this.nrCpuIds;
    if (!Number.isInteger(cpu) || cpu < -1)
      throw new KernelError('EINVAL', `cpumask_next from ${shown(cpu)}: not an integer >= -1`);
    const from = cpu + 1;
    if (from >= nr) return nr;
    const a = this.bits;
    let i = from >>> 5;
    let w = a[i]! & (0xffffffff << (from & 31));
    while (w === 0) {
      if (++i >= a.length) return nr;
      w = a[i]!;
    }
    return (i << 5) + ffs32(w);
  }

  /**
   * Lowest clear CPU, or `nrCpuIds` if none (`cpumask_first_zero`).
   * @see include/linux/cpumask.h: cpumask_first_zero
   */
  firstZero(): number {
    return this.nextZero(-1);
  }

  /**
   * Lowest clear CPU above `cpu` (`cpu` may be -1), or `nrCpuIds` (`cpumask_next_zero`).
   * @throws KernelError EINVAL unless `cpu` is an integer >= -1.
   * @see include/linux/cpumask.h: cpumask_next_zero
   */
  nextZero(cpu: number): number {
    const nr = this.nrCpuIds;
    if (!Number.isInteger(cpu) || cpu < -1)
      throw new KernelError('EINVAL', `cpumask_next_zero from ${shown(cpu)}: not an integer >= -1`);
    const from = cpu + 1;
    if (from >= nr) return nr;
    const a = this.bits;
    let i = from >>> 5;
    let w = ~a[i]! & (0xffffffff << (from & 31));
    while (w === 0) {
      if (++i >= a.length) return nr;
      w = ~a[i]!;
    }
    return Math.min(nr, (i << 5) + ffs32(w));
  }

  /**
   * The `n`th set CPU counting from 0, or `nrCpuIds` if fewer are set or `n` is not a
   * non-negative integer (`cpumask_nth`).
   * @see include/linux/cpumask.h: cpumask_nth
   */
  nth(n: number): number {
    if (!Number.isInteger(n) || n < 0) return this.nrCpuIds;
    const a = this.bits;
    let left = n;
    for (let i = 0; i < a.length; i++) {
      let w = a[i]!;
      if (w === 0) continue;
      const c = hweight32(w);
      if (left >= c) {
        left -= c;
        continue;
      }
      for (; left > 0; left--) w &= w - 1;
      return (i << 5) + ffs32(w);
    }
    return this.nrCpuIds;
  }

  /** Whether no CPU is set (`cpumask_empty`). @see include/linux/cpumask.h */
  isEmpty(): boolean {
    const a = this.bits;
    for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
    return true;
  }

  /** Whether every CPU is set (`cpumask_full`). @see include/linux/cpumask.h */
  isFull(): boolean {
    const a = this.bits;
    if (a.length === 0) return true;
    for (let i = 0; i < a.length - 1; i++) if (a[i] !== 0xffffffff) return false;
    return a[a.length - 1] === lastWordMask(this.nrCpuIds);
  }

  /**
   * Whether both masks hold the same CPUs (`cpumask_equal`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_equal
   */
  equals(other: ReadonlyCpumask): boolean {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /**
   * Whether the masks share a CPU (`cpumask_intersects`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_intersects
   */
  intersects(other: ReadonlyCpumask): boolean {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) if ((a[i]! & b[i]!) !== 0) return true;
    return false;
  }

  /**
   * Whether every CPU of this mask is in `other` (`cpumask_subset`).
   * @throws KernelError EINVAL on a size mismatch.
   * @see include/linux/cpumask.h: cpumask_subset
   */
  isSubset(other: ReadonlyCpumask): boolean {
    this.checkSize(other);
    const a = this.bits;
    const b = other.bits;
    for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
    return true;
  }

  /**
   * Calls `fn` for each set CPU in ascending order (`for_each_cpu`).
   * @see include/linux/cpumask.h: for_each_cpu
   */
  forEach(fn: (cpu: number) => void): void {
    const a = this.bits;
    for (let i = 0; i < a.length; i++) {
      let w = a[i]!;
      while (w !== 0) {
        fn((i << 5) + ffs32(w));
        w &= w - 1;
      }
    }
  }

  /** The set CPUs in ascending order (`for_each_cpu`), for `for...of`. */
  *[Symbol.iterator](): Iterator<number> {
    const a = this.bits;
    for (let i = 0; i < a.length; i++) {
      let w = a[i]!;
      while (w !== 0) {
        yield (i << 5) + ffs32(w);
        w &= w - 1;
      }
    }
  }

  /** The set CPUs in ascending order, as an array. */
  toArray(): number[] {
    const out: number[] = [];
    this.forEach((cpu) => out.push(cpu));
    return out;
  }

  /**
   * Linux's list form, `"0-3,8,10-11"` (`%*pbl`); `""` when empty.
   * @see lib/bitmap-str.c: bitmap_print_to_pagebuf (list form, without the newline)
   */
  toList(): string {
    const nr = this.nrCpuIds;
    const parts: string[] = [];
    for (let start = this.first(); start < nr;) {
      const end = this.nextZero(start) - 1;
      parts.push(end === start ? `${start}` : `${start}-${end}`);
      start = this.next(end);
    }
    return parts.join(',');
  }

  /**
   * Linux's mask form, comma-separated 32-bit hex groups (`%*pb`), e.g. `"ff"`, `"1,00000000"`.
   * @see lib/vsprintf.c: bitmap_string (the first group is only as wide as its bits need)
   */
  toHex(): string {
    const a = this.bits;
    if (a.length === 0) return '';
    const parts: string[] = [];
    const firstWidth = Math.ceil((this.nrCpuIds % WORD_BITS || WORD_BITS) / 4);
    for (let i = a.length - 1; i >= 0; i--)
      parts.push(a[i]!.toString(16).padStart(i === a.length - 1 ? firstWidth : 8, '0'));
    return parts.join(',');
  }

  /** The list form, as {@link Cpumask.toList}. */
  toString(): string {
    return this.toList();
  }
}
