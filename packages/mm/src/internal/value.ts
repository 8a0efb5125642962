/**
 * How error messages name a value a caller passed, with its type, so that a string
 * where a number belongs is seen as one: `'8' (string)`, `1.5 (number)`, `undefined`,
 * `an object with keys buffer, id`; and the check every entry point that takes a
 * Memory makes of it.
 */

import { KernelError } from '@kern/core';

/** A value as an error message shows it: `'2' (string)`, `-1 (number)`, `an ArrayBuffer`. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}' (string)`;
    case 'number':
    case 'boolean':
      return `${String(v)} (${typeof v})`;
    case 'bigint':
      return `${v}n (bigint)`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return `${String(v)} (symbol)`;
    default:
      break;
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor
    ?.name;
  if (name && name !== 'Object') return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
  const keys = Object.keys(v as object);
  if (keys.length === 0) return 'an empty object';
  return `an object with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}`;
}

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
