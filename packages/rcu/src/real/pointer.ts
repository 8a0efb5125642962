/**
 * RCU-protected pointers in shared memory. JS objects cannot be shared between threads,
 * so an RCU-protected pointer is an Int32 handle (an index or offset into shared memory,
 * 0 = NULL) stored in a slot of an Int32Array: a domain's `pointers`, a hash bucket, a
 * node's `next` field.
 *
 * A value that is not an Int32 (`2 ** 40`, `'7'`, `{}`) would be stored truncated or as
 * 0 by the typed array, and an index outside the array would be a RangeError from inside
 * `Atomics` (or `undefined` from a plain read): each is EINVAL here, decided after the
 * fast path's own comparison so that correct calls pay nothing more.
 *
 * @see liburcu: include/urcu/static/pointer.h, include/urcu/rcuhlist.h
 */
import { KernelError } from '@kern/core';
import { describeValue } from '../describe.js';

/**
 * Publishes `value` in `array[index]` with a seq-cst store: everything the updater wrote
 * to the object before is visible to a reader that dereferences the handle.
 * @throws KernelError EINVAL if `value` is not an Int32 or `index` is not an index of
 *   `array` (nothing is stored).
 * @see liburcu: include/urcu/static/pointer.h (_rcu_assign_pointer, _rcu_set_pointer)
 */
export function rcuAssignPointer(array: Int32Array, index: number, value: number): void {
  if ((value | 0) !== value || !(index >= 0 && index < array.length && (index | 0) === index))
    badPointerOp('rcuAssignPointer', array, index, value);
  Atomics.store(array, index, value);
}

/**
 * Reads the handle in `array[index]`: a plain typed-array read, tear-free for an aligned
 * Int32. Loads through the handle depend on it, so the hardware orders them after it, as
 * `rcu_dereference()` relies on in C. Only valid inside a read-side critical section.
 *
 * Hoist `array` into a local (`const buckets = ...`) in hot loops: V8 then reads it once,
 * and the read side costs the same as an unsynchronized read.
 * @throws KernelError EINVAL if `index` is not an index of `array`.
 * @see liburcu: include/urcu/static/pointer.h (_rcu_dereference)
 */
export function rcuDereference(array: Int32Array, index: number): number {
  const v = array[index];
  if (v === undefined) badPointerOp('rcuDereference', array, index, 0);
  return v;
}

/**
 * Replaces the handle in `array[index]` and returns the old one (seq-cst exchange).
 * @throws KernelError EINVAL as {@link rcuAssignPointer}.
 * @see liburcu: include/urcu/static/pointer.h (_rcu_xchg_pointer)
 */
export function rcuXchgPointer(array: Int32Array, index: number, value: number): number {
  if ((value | 0) !== value || !(index >= 0 && index < array.length && (index | 0) === index))
    badPointerOp('rcuXchgPointer', array, index, value);
  return Atomics.exchange(array, index, value);
}

/**
 * Replaces the handle in `array[index]` if it still is `old`; returns what was there.
 * @throws KernelError EINVAL as {@link rcuAssignPointer} (for `old` too).
 * @see liburcu: include/urcu/static/pointer.h (_rcu_cmpxchg_pointer)
 */
export function rcuCmpxchgPointer(
  array: Int32Array,
  index: number,
  old: number,
  value: number,
): number {
  if (
    (value | 0) !== value ||
    (old | 0) !== old ||
    !(index >= 0 && index < array.length && (index | 0) === index)
  )
    badPointerOp('rcuCmpxchgPointer', array, index, (old | 0) !== old ? old : value);
  return Atomics.compareExchange(array, index, old, value);
}

/** Out of line: the EINVAL of a pointer operation, naming what was wrong. */
function badPointerOp(what: string, array: unknown, index: unknown, value: unknown): never {
  if (!(array instanceof Int32Array))
    throw new KernelError(
      'EINVAL',
      `${what}: array must be an Int32Array, got ${describeValue(array)}`,
    );
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= array.length)
    throw new KernelError(
      'EINVAL',
      `${what}: index ${describeValue(index)} is not an integer in 0..${array.length - 1}`,
    );
  throw notInt32Error(what, value);
}

/** EINVAL for a value that is not an Int32 handle. */
export function notInt32Error(what: string, value: unknown): KernelError {
  return new KernelError(
    'EINVAL',
    `${what}: value must be an Int32 handle (an integer in -2^31..2^31-1), got ${describeValue(value)}`,
  );
}
