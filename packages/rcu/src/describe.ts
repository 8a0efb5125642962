/**
 * How error messages show a value the caller passed: a number as itself, anything else
 * with its type, so that `'8'` is not mistaken for `8` (`got '8' (string)`).
 */

/**
 * `8` → `8`; `'8'` → `'8' (string)`; `true` → `true (boolean)`; `8n` → `8n (bigint)`;
 * `undefined`, `null`; a function → `a function`; an object → `an object`, `an array`,
 * `a Uint8Array`, `an ArrayBuffer` (its constructor's name).
 */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return String(v);
    case 'string':
      return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}' (string)`;
    case 'bigint':
      return `${v}n (bigint)`;
    case 'boolean':
    case 'symbol':
      return `${String(v)} (${typeof v})`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default: {
      if (v === null) return 'null';
      if (Array.isArray(v)) return 'an array';
      const name = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)
        ?.constructor?.name;
      const what = typeof name === 'string' && name !== '' ? name : 'object';
      return `${/^[AEIOU]/i.test(what) ? 'an' : 'a'} ${what === 'Object' ? 'object' : what}`;
    }
  }
}
