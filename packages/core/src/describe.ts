/**
 * How a bad value is named in an error message, so that every kern package says
 * `got '8' (string)` for a string where a number belongs, and never prints `8` as if it
 * were fine.
 */

/** Longest string quoted whole; longer ones are cut with `…` and their length given. */
const MAX_QUOTED = 40;
/** Keys of a plain object listed before `…`. */
const MAX_KEYS = 4;

function describeString(s: string): string {
  const cut = s.length > MAX_QUOTED ? s.slice(0, MAX_QUOTED) : s;
  // JSON escapes control characters and backslashes; swap its double quotes for single.
  const body = JSON.stringify(cut).slice(1, -1).replaceAll('\\"', '"').replaceAll("'", "\\'");
  return s.length > MAX_QUOTED
    ? `'${body}…' (string of ${s.length} characters)`
    : `'${body}' (string)`;
}

function article(word: string): string {
  // 'a Uint8Array' (you-int), 'an Int32Array'.
  return /^(?!uint)[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}

function describeObject(v: object): string {
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (v instanceof ArrayBuffer) return `an ArrayBuffer of ${v.byteLength} bytes`;
  if (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer)
    return `a SharedArrayBuffer of ${v.byteLength} bytes`;
  if (ArrayBuffer.isView(v)) return `${article(v.constructor.name)} of ${v.byteLength} bytes`;
  if (v instanceof Error) return `${article(v.name)} (${v.message})`;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === null || proto === Object.prototype) {
    const keys = Object.keys(v);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, MAX_KEYS).join(', ');
    return `an object with keys ${shown}${keys.length > MAX_KEYS ? ', …' : ''}`;
  }
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `${article(name)} object` : 'an object';
}

/**
 * Names a value and its type for an error message, so that a string where a number
 * belongs is not printed as if it were the number:
 *
 * | value | text |
 * | --- | --- |
 * | `'8'` | `'8' (string)` |
 * | `1.5` | `1.5 (number)` |
 * | `8n` | `8n (bigint)` |
 * | `true` | `true (boolean)` |
 * | `undefined`, `null` | `undefined`, `null` |
 * | `new ArrayBuffer(4096)` | `an ArrayBuffer of 4096 bytes` |
 * | `new Uint8Array(16)` | `a Uint8Array of 16 bytes` |
 * | `[1, 2]` | `an array of 2 items` |
 * | `{ size: 1 }` | `an object with keys size` |
 * | `new Map()` | `a Map object` |
 * | `function f() {}` | `function f` |
 *
 * Strings longer than 40 characters are cut and their length given. Use it after `got`:
 * `` `maxReaders must be an integer from 1 to 4096, got ${describeValue(v)}` ``. It never
 * throws, not even for a revoked Proxy or an object whose getters throw.
 *
 * @throws nothing.
 * @see Node's `ERR_INVALID_ARG_TYPE` message (`Received type string ('8')`), which names
 *      the type for the same reason
 */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return describeString(v);
    case 'number':
      return `${Object.is(v, -0) ? '-0' : String(v)} (number)`;
    case 'bigint':
      return `${v}n (bigint)`;
    case 'boolean':
      return `${v} (boolean)`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return `${String(v)} (symbol)`;
    case 'function':
      try {
        return v.name ? `function ${String(v.name)}` : 'an anonymous function';
      } catch {
        return 'a function';
      }
  }
  if (v === null || typeof v !== 'object') return 'null';
  try {
    return describeObject(v);
  } catch {
    return 'an object';
  }
}

/**
 * A number as itself (`7`), anything else as {@link describeValue} names it (`'7'
 * (string)`): for messages such as `CPU ${shown(cpu)} is out of range` that print a value
 * which should have been a number. Internal to @kern/core (not exported from its index).
 */
export function shown(v: unknown): string {
  return typeof v === 'number' ? String(v) : describeValue(v);
}
