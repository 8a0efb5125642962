import { describe, expect, it } from 'vitest';
import { Cpumask } from '../src/cpumask.js';
import { KernelError } from '../src/errno.js';

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
  return undefined;
}

describe('Cpumask bit operations', () => {
  it('sets, clears and tests bits across word boundaries', () => {
    const m = new Cpumask(100);
    m.set(0).set(31).set(32).set(99);
    expect(m.test(0)).toBe(true);
    expect(m.test(1)).toBe(false);
    expect(m.test(31)).toBe(true);
    expect(m.test(32)).toBe(true);
    expect(m.test(99)).toBe(true);
    expect(m.weight()).toBe(4);
    m.clear(31);
    expect(m.test(31)).toBe(false);
    expect(m.weight()).toBe(3);
    expect(m.toArray()).toEqual([0, 32, 99]);
  });

  it('testAndSet / testAndClear return the old value', () => {
    const m = new Cpumask(8);
    expect(m.testAndSet(3)).toBe(false);
    expect(m.testAndSet(3)).toBe(true);
    expect(m.testAndClear(3)).toBe(true);
    expect(m.testAndClear(3)).toBe(false);
    expect(m.isEmpty()).toBe(true);
  });

  it('rejects CPUs out of range with ERANGE and non-integers with EINVAL', () => {
    const m = new Cpumask(64);
    expect(errnoOf(() => m.set(64))).toBe('ERANGE');
    expect(errnoOf(() => m.test(-1))).toBe('ERANGE');
    expect(errnoOf(() => m.clear(1.5))).toBe('EINVAL');
    expect(errnoOf(() => new Cpumask(-1))).toBe('EINVAL');
    expect(errnoOf(() => m.and(new Cpumask(65)))).toBe('EINVAL');
  });

  it('first / next / last / nextZero / nth follow cpumask.h conventions', () => {
    const m = Cpumask.of(70, [3, 4, 40, 69]);
    expect(m.first()).toBe(3);
    expect(m.next(3)).toBe(4);
    expect(m.next(4)).toBe(40);
    expect(m.next(40)).toBe(69);
    expect(m.next(69)).toBe(70); // nr_cpu_ids when none left
    expect(m.next(-1)).toBe(3);
    expect(m.last()).toBe(69);
    expect(m.firstZero()).toBe(0);
    expect(m.nextZero(2)).toBe(5);
    expect(m.nth(0)).toBe(3);
    expect(m.nth(2)).toBe(40);
    expect(m.nth(3)).toBe(69);
    expect(m.nth(4)).toBe(70);
    const e = new Cpumask(70);
    expect(e.first()).toBe(70);
    expect(e.last()).toBe(70);
    const f = Cpumask.full(70);
    expect(f.nextZero(-1)).toBe(70);
    expect(f.isFull()).toBe(true);
    expect(f.weight()).toBe(70);
  });

  it('and / or / xor / andNot / complement / equals / intersects / isSubset', () => {
    const a = Cpumask.of(40, [1, 2, 3, 35]);
    const b = Cpumask.of(40, [3, 4, 35, 39]);
    expect(a.copy().and(b).toArray()).toEqual([3, 35]);
    expect(a.copy().or(b).toArray()).toEqual([1, 2, 3, 4, 35, 39]);
    expect(a.copy().xor(b).toArray()).toEqual([1, 2, 4, 39]);
    expect(a.copy().andNot(b).toArray()).toEqual([1, 2]);
    expect(a.copy().complement().weight()).toBe(36);
    expect(a.copy().complement().test(39)).toBe(true);
    expect(a.copy().complement().bits[1]! >>> 8).toBe(0); // no bits past nr
    expect(a.intersects(b)).toBe(true);
    expect(a.copy().and(b).isSubset(a)).toBe(true);
    expect(a.isSubset(b)).toBe(false);
    expect(a.equals(a.copy())).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(a.copy().clearAll().isEmpty()).toBe(true);
  });

  it('setRange / clearRange work a word at a time', () => {
    const m = new Cpumask(200).setRange(5, 100);
    expect(m.weight()).toBe(100);
    expect(m.first()).toBe(5);
    expect(m.last()).toBe(104);
    m.clearRange(30, 40);
    expect(m.toList()).toBe('5-29,70-104');
    expect(errnoOf(() => m.setRange(150, 51))).toBe('ERANGE');
  });

  it('iterates in ascending order, like for_each_cpu', () => {
    const m = Cpumask.of(1000, [999, 0, 500, 31, 32]);
    expect([...m]).toEqual([0, 31, 32, 500, 999]);
    const seen: number[] = [];
    m.forEach((c) => seen.push(c));
    expect(seen).toEqual([0, 31, 32, 500, 999]);
  });
});

describe('Cpumask list form (bitmap_print_to_pagebuf / bitmap_parselist)', () => {
  it('prints ranges like /sys/devices/system/cpu/online', () => {
    expect(Cpumask.of(16, [0, 1, 2, 3, 8, 10, 11]).toList()).toBe('0-3,8,10-11');
    expect(new Cpumask(16).toList()).toBe('');
    expect(Cpumask.full(1).toList()).toBe('0');
    expect(Cpumask.full(64).toList()).toBe('0-63');
    expect(String(Cpumask.of(8, [7]))).toBe('7');
  });

  it('parses plain lists and ranges', () => {
    expect(Cpumask.parseList('0-3,8,10-11', 16).toArray()).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(Cpumask.parseList('', 16).isEmpty()).toBe(true);
    expect(Cpumask.parseList('5', 16).toArray()).toEqual([5]);
    expect(Cpumask.parseList('1,1,1-2', 16).toArray()).toEqual([1, 2]);
    expect(Cpumask.parseList('0-3\n', 16).toList()).toBe('0-3');
    expect(Cpumask.parseList('0 2', 16).toList()).toBe('0,2');
  });

  it('parses the used/group stride form (lib/bitmap-str.c example)', () => {
    // From the kernel-doc of bitmap_parselist: 0-1023:2/256 ==> 0,1,256,257,512,513,768,769
    expect(Cpumask.parseList('0-1023:2/256', 1024).toList()).toBe('0-1,256-257,512-513,768-769');
    expect(Cpumask.parseList('0-9:1/3', 16).toArray()).toEqual([0, 3, 6, 9]);
    expect(Cpumask.parseList('2-10:3/4', 16).toList()).toBe('2-4,6-8,10');
  });

  it('accepts N (last CPU) and all', () => {
    expect(Cpumask.parseList('0-N', 12).toList()).toBe('0-11');
    expect(Cpumask.parseList('N', 12).toList()).toBe('11');
    expect(Cpumask.parseList('all', 12).toList()).toBe('0-11');
    expect(Cpumask.parseList('ALL:1/2', 6).toList()).toBe('0,2,4');
  });

  it('rejects malformed regions with EINVAL naming the token', () => {
    const bad = [
      '1-',
      '-1',
      'a',
      '1--2',
      '3-1',
      '0-7:0/0',
      '0-7:3/2',
      '0-7:2',
      '1,x,3',
      'n',
      '1.5',
    ];
    for (const s of bad) {
      let err: unknown;
      try {
        Cpumask.parseList(s, 16);
      } catch (e) {
        err = e;
      }
      expect(err, s).toBeInstanceOf(KernelError);
      expect((err as KernelError).errno, s).toBe('EINVAL');
    }
    expect(() => Cpumask.parseList('1,x,3', 16)).toThrow(/"x"/);
    expect(() => Cpumask.parseList('3-1', 16)).toThrow(/"3-1"/);
  });

  it('rejects CPUs >= nr with ERANGE, 33-bit numbers with EOVERFLOW', () => {
    expect(errnoOf(() => Cpumask.parseList('0-16', 16))).toBe('ERANGE');
    expect(errnoOf(() => Cpumask.parseList('16', 16))).toBe('ERANGE');
    expect(() => Cpumask.parseList('2,99', 16)).toThrow(/"99"/);
    expect(errnoOf(() => Cpumask.parseList('4294967296', 16))).toBe('EOVERFLOW');
    expect(errnoOf(() => Cpumask.parseList('N', 0))).toBe('ERANGE');
  });
});

describe('Cpumask mask form (%*pb, /sys/.../cpumap)', () => {
  it('prints comma-separated 32-bit groups, the first only as wide as needed', () => {
    expect(Cpumask.full(8).toHex()).toBe('ff');
    expect(Cpumask.full(4).toHex()).toBe('f');
    expect(Cpumask.of(8, [0, 1]).toHex()).toBe('03');
    expect(Cpumask.full(32).toHex()).toBe('ffffffff');
    expect(Cpumask.full(36).toHex()).toBe('f,ffffffff');
    expect(Cpumask.of(64, [32]).toHex()).toBe('00000001,00000000');
    expect(Cpumask.of(72, [0]).toHex()).toBe('00,00000000,00000001');
    expect(new Cpumask(0).toHex()).toBe('');
  });

  it('parses what it prints, and rejects bits beyond nr', () => {
    for (const m of [Cpumask.of(72, [0, 33, 71]), Cpumask.full(36), new Cpumask(8)])
      expect(Cpumask.parseHex(m.toHex(), m.nrCpuIds).equals(m)).toBe(true);
    expect(Cpumask.parseHex('1,00000000', 64).toArray()).toEqual([32]);
    expect(errnoOf(() => Cpumask.parseHex('100', 8))).toBe('EOVERFLOW');
    expect(errnoOf(() => Cpumask.parseHex('1,00000000', 32))).toBe('EOVERFLOW');
    expect(errnoOf(() => Cpumask.parseHex('123456789', 64))).toBe('EOVERFLOW');
    expect(errnoOf(() => Cpumask.parseHex('zz', 64))).toBe('EINVAL');
  });
});

describe('Cpumask at 4,194,304 CPUs', () => {
  it('is a 512 KiB bitmap and its operations stay word-at-a-time', () => {
    const nr = 4_194_304;
    const m = new Cpumask(nr);
    expect(m.bits.byteLength).toBe(512 * 1024);
    m.setRange(0, nr);
    expect(m.isFull()).toBe(true);
    expect(m.weight()).toBe(nr);
    expect(m.toList()).toBe('0-4194303');
    m.clear(2_000_000);
    expect(m.toList()).toBe('0-1999999,2000001-4194303');
    expect(m.nextZero(-1)).toBe(2_000_000);
    expect(m.nth(2_000_000)).toBe(2_000_001);
    const sparse = Cpumask.parseList('0-4194303:1/65536', nr);
    expect(sparse.weight()).toBe(64);
    expect(sparse.last()).toBe(4_194_304 - 65_536);
    expect(sparse.toHex().split(',')).toHaveLength(131_072);
  });
});
