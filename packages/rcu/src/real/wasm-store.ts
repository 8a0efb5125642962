/**
 * A sequentially consistent store compiled to one machine instruction.
 *
 * In Node 20 every `Atomics` call is a call into a V8 builtin (~15–25 ns on the project's
 * machine); V8 does not inline them into optimized JS. WebAssembly's
 * `i32.atomic.store` is compiled inline (x64: `xchg`), and V8 calls small exported wasm
 * functions from optimized JS cheaply, so a domain whose memory is a shared
 * `WebAssembly.Memory` can do the memory-barrier flavor's one seq-cst store per
 * outermost `rcuReadLock` for about half the cost. Same semantics: a seq-cst store is a
 * seq-cst store whichever API issues it (both are the Atomics of the one JS/wasm memory
 * model).
 *
 * The module is 57 bytes, written out below with its text form.
 */

/**
 * ```wat
 * (module
 *   (import "e" "m" (memory 1 65536 shared))
 *   ;; mem[dst] = atomic_store(mem[src]) — a plain load of src, a seq-cst store to dst
 *   (func (export "s") (param $dst i32) (param $src i32)
 *     local.get $dst
 *     local.get $src
 *     i32.load align=4
 *     i32.atomic.store align=4))
 * ```
 */
const MODULE_BYTES = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version 1
  0x01,
  0x06,
  0x01,
  0x60,
  0x02,
  0x7f,
  0x7f,
  0x00, // type: (i32, i32) -> ()
  0x02,
  0x0b,
  0x01,
  0x01,
  0x65,
  0x01,
  0x6d,
  0x02,
  0x03,
  0x01,
  0x80,
  0x80,
  0x04, // import e.m memory shared 1..65536
  0x03,
  0x02,
  0x01,
  0x00, // function 0: type 0
  0x07,
  0x05,
  0x01,
  0x01,
  0x73,
  0x00,
  0x00, // export "s" = func 0
  0x0a,
  0x0f,
  0x01,
  0x0d,
  0x00, // code: 1 body, 13 bytes, no locals
  0x20,
  0x00,
  0x20,
  0x01,
  0x28,
  0x02,
  0x00,
  0xfe,
  0x17,
  0x02,
  0x00,
  0x0b,
]);

/**
 * A shared `WebAssembly.Memory` (declared here: Node 20's type definitions do not
 * describe the WebAssembly namespace).
 */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
}

/** The part of the global WebAssembly namespace used here. */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;
const stores = new WeakMap<WasmMemory, (dst: number, src: number) => void>();

/**
 * The store function for `memory` (a shared WebAssembly.Memory): `s(dst, src)` does a
 * seq-cst store of the Int32 at byte `src` into byte `dst`. One instance per memory per
 * thread.
 */
export function seqCstCopyFor(memory: WasmMemory): (dst: number, src: number) => void {
  let s = stores.get(memory);
  if (!s) {
    compiled ??= new wasm.Module(MODULE_BYTES);
    const inst = new wasm.Instance(compiled, { e: { m: memory } });
    s = inst.exports.s as (dst: number, src: number) => void;
    stores.set(memory, s);
  }
  return s;
}

/** A shared WebAssembly.Memory of at least `bytes` bytes (whole 64 KiB pages). */
export function sharedWasmMemory(bytes: number): WasmMemory {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
}
