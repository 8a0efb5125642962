import { describe, expect, it } from 'vitest';
import { MODULE_BYTES, seqCstCopyFor, sharedWasmMemory } from '../src/real/wasm-store.js';

const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } })
  .WebAssembly;

/** Index of `needle` in `hay`, or -1. */
const indexOf = (hay: Uint8Array, needle: number[], from = 0): number => {
  for (let i = from; i + needle.length <= hay.length; i++)
    if (needle.every((b, k) => hay[i + k] === b)) return i;
  return -1;
};

describe('wasm seq-cst stores (wasm-store.ts)', () => {
  it('the module is valid, 79 bytes, and only its second body has atomic.fence', () => {
    expect(wasm.validate(MODULE_BYTES)).toBe(true);
    expect(MODULE_BYTES.length).toBe(79);
    const store = [0xfe, 0x17, 0x02, 0x00]; // i32.atomic.store align=4
    const fence = [0xfe, 0x03, 0x00]; // atomic.fence
    const s = indexOf(MODULE_BYTES, store);
    const f = indexOf(MODULE_BYTES, store, s + 1);
    expect(s).toBeGreaterThan(0);
    expect(f).toBeGreaterThan(s);
    expect(indexOf(MODULE_BYTES, fence)).toBe(f + store.length); // right after f's store
    expect(MODULE_BYTES[f + store.length + fence.length]).toBe(0x0b); // end
  });

  it('both exports store: s (TSO: the store is xchg) and f (store, then atomic.fence)', () => {
    const mem = sharedWasmMemory(4096);
    const w = new Int32Array(mem.buffer);
    const s = seqCstCopyFor(mem);
    const f = seqCstCopyFor(mem, true);
    expect(f).not.toBe(s);
    expect(seqCstCopyFor(mem, true)).toBe(f); // one instance per memory
    w[1] = 0x12345678;
    s(8, 4);
    expect(w[2]).toBe(0x12345678);
    w[1] = -7;
    f(12, 4);
    expect(w[3]).toBe(-7);
    expect(w[2]).toBe(0x12345678);
  });
});
