/**
 * How error messages name a value a caller passed, with its type, so that a string
 * where a number belongs is seen as one: `'8' (string)`, `1.5 (number)`, `undefined`,
 * `an object with keys buffer, id`; and the check every entry point that takes a
 * Memory makes of it.
 */

import { KernelError, describeValue } from '@kern/core';

/** A value as an error message shows it, with its type: `@kern/core`'s `describeValue`. */
export { describeValue };

/** Whether `v` is an integer number in [lo, hi]. */
export function isIntIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** A value in a message: a finite number as itself, anything else as {@link describeValue}. */
export function named(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : describeValue(v);
}

/**
 * Checks that `mem` is a Memory (from createMemory or attachMemory) before `fn` reads
 * it, so `procBuddyinfo({})` is an error rather than an empty file. Checks the shape,
 * not the class, so a Memory from another copy of the package passes.
 * @throws KernelError EINVAL naming `fn` and what `mem` is.
 */
export function checkMemory(mem: unknown, fn: string): void {
  const m = mem as { allocPages?: unknown; zones?: unknown } | null | undefined;
  if (typeof m?.allocPages !== 'function' || !Array.isArray(m.zones))
    throw new KernelError(
      'EINVAL',
      `${fn}: mem must be a Memory (from createMemory or attachMemory), got ${describeValue(mem)}`,
    );
}
