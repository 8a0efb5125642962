import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { describeValue } from '../src/index.js';

describe('describeValue', () => {
  it('names the type of primitives so a string is not taken for a number', () => {
    expect(describeValue('8')).toBe("'8' (string)");
    expect(describeValue(8)).toBe('8 (number)');
    expect(describeValue(-0)).toBe('-0 (number)');
    expect(describeValue(NaN)).toBe('NaN (number)');
    expect(describeValue(8n)).toBe('8n (bigint)');
    expect(describeValue(true)).toBe('true (boolean)');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(Symbol('x'))).toBe('Symbol(x) (symbol)');
  });

  it('quotes and escapes strings, and cuts long ones', () => {
    expect(describeValue('')).toBe("'' (string)");
    expect(describeValue('it\'s "x"\n')).toBe(`'it\\'s "x"\\n' (string)`);
    expect(describeValue('x'.repeat(100))).toBe(`'${'x'.repeat(40)}…' (string of 100 characters)`);
  });

  it('names buffers, arrays, plain objects and class instances', () => {
    expect(describeValue(new ArrayBuffer(4096))).toBe('an ArrayBuffer of 4096 bytes');
    expect(describeValue(new SharedArrayBuffer(64))).toBe('a SharedArrayBuffer of 64 bytes');
    expect(describeValue(new Uint8Array(16))).toBe('a Uint8Array of 16 bytes');
    expect(describeValue(new Int32Array(4))).toBe('an Int32Array of 16 bytes');
    expect(describeValue([1, 2])).toBe('an array of 2 items');
    expect(describeValue([1])).toBe('an array of 1 item');
    expect(describeValue({})).toBe('an empty object');
    expect(describeValue({ size: 1 })).toBe('an object with keys size');
    expect(describeValue({ a: 1, b: 2, c: 3, d: 4, e: 5 })).toBe(
      'an object with keys a, b, c, d, …',
    );
    expect(describeValue(Object.create(null))).toBe('an empty object');
    expect(describeValue(new Map())).toBe('a Map object');
    expect(describeValue(new RangeError('boom'))).toBe('a RangeError (boom)');
    expect(describeValue(function f() {})).toBe('function f');
    expect(describeValue(() => {})).toBe('an anonymous function');
  });

  it('never throws, whatever it is given', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(describeValue(proxy)).toBe('an object');
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withTypedArray: true }), (v) => {
        expect(typeof describeValue(v)).toBe('string');
      }),
    );
  });
});
