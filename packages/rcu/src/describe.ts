/**
 * How error messages show a value the caller passed: a number as itself, anything else
 * as `@kern/core`'s {@link coreDescribeValue} names it, with its type, so that `'8'` is not
 * mistaken for `8` (`got '8' (string)`).
 */
import { describeValue as coreDescribeValue } from '@kern/core';

/** `8` → `8`; `'8'` → `'8' (string)`; anything else as `@kern/core`'s `describeValue`. */
export function describeValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : coreDescribeValue(v);
}
