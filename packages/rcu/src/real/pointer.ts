/**
 * RCU-protected pointers in shared memory. JS objects cannot be shared between threads,
 * so an RCU-protected pointer is an Int32 handle (an index or offset into shared memory,
 * 0 = NULL) stored in a slot of an Int32Array: a domain's `pointers`, a hash bucket, a
 * node's `next` field.
 *
 * @see liburcu: include/urcu/static/pointer.h, include/urcu/rcuhlist.h
 */

/**
 * Publishes `value` in `array[index]` with a seq-cst store: everything the updater wrote
 * to the object before is visible to a reader that dereferences the handle.
 * @see liburcu: include/urcu/static/pointer.h (_rcu_assign_pointer, _rcu_set_pointer)
 */
export function rcuAssignPointer(array: Int32Array, index: number, value: number): void {
  Atomics.store(array, index, value);
}

/**
 * Reads the handle in `array[index]`: a plain typed-array read, tear-free for an aligned
 * Int32. Loads through the handle depend on it, so the hardware orders them after it, as
 * `rcu_dereference()` relies on in C. Only valid inside a read-side critical section.
 *
 * Hoist `array` into a local (`const buckets = ...`) in hot loops: V8 then reads it once,
 * and the read side costs the same as an unsynchronized read.
 * @see liburcu: include/urcu/static/pointer.h (_rcu_dereference)
 */
export function rcuDereference(array: Int32Array, index: number): number {
  return array[index]!;
}

/**
 * Replaces the handle in `array[index]` and returns the old one (seq-cst exchange).
 * @see liburcu: include/urcu/static/pointer.h (_rcu_xchg_pointer)
 */
export function rcuXchgPointer(array: Int32Array, index: number, value: number): number {
  return Atomics.exchange(array, index, value);
}

/**
 * Replaces the handle in `array[index]` if it still is `old`; returns what was there.
 * @see liburcu: include/urcu/static/pointer.h (_rcu_cmpxchg_pointer)
 */
export function rcuCmpxchgPointer(
  array: Int32Array,
  index: number,
  old: number,
  value: number,
): number {
  return Atomics.compareExchange(array, index, old, value);
}
