/**
 * Sequentially consistent stores compiled to machine instructions.
 *
 * In Node 20 every `Atomics` call is a call into a V8 builtin (~15–25 ns on the project's
 * machine); V8 does not inline them into optimized JS. WebAssembly's
 * `i32.atomic.store` is compiled inline, and V8 calls small exported wasm functions from
 * optimized JS cheaply, so a domain whose memory is a shared `WebAssembly.Memory` can do
 * the memory-barrier flavor's one seq-cst store per outermost `rcuReadLock` for about
 * half the cost. Same semantics: a seq-cst store is a seq-cst store whichever API issues
 * it (both are the Atomics of the one JS/wasm memory model).
 *
 * What the hardware does with it differs, and liburcu's read lock needs more than the
 * memory model promises for plain loads: `_urcu_mb_read_lock` (and QSBR's
 * `_urcu_qsbr_thread_online` / `_quiescent_state`) store the counter and then
 * `cmm_smp_mb()`, so that the critical section's plain loads cannot be performed before
 * the store is visible to the updater.
 * - x64 and ia32 (TSO): V8 compiles a seq-cst store to `xchg`, a full barrier: `s` is
 *   enough.
 * - arm64 and other weakly ordered hardware: V8 compiles it to a store-release (`stlr`),
 *   which a later plain load may pass. `f` adds `atomic.fence` after the store (arm64:
 *   `dmb ish`), liburcu's trailing `cmm_smp_mb()`.
 *
 * The module is 79 bytes, built below section by section from its text form (every
 * section's size is computed, not written by hand).
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
 *     i32.atomic.store align=4)
 *   ;; the same, then a full fence (liburcu's trailing cmm_smp_mb() on weak hardware)
 *   (func (export "f") (param $dst i32) (param $src i32)
 *     local.get $dst
 *     local.get $src
 *     i32.load align=4
 *     i32.atomic.store align=4
 *     atomic.fence))
 * ```
 */
const STORE_BODY = [
  ...[0x20, 0x00], // local.get $dst
  ...[0x20, 0x01], // local.get $src
  ...[0x28, 0x02, 0x00], // i32.load align=4 (encoded as log2: 2) offset=0
  ...[0xfe, 0x17, 0x02, 0x00], // i32.atomic.store align=4 offset=0
];
const FENCE = [0xfe, 0x03, 0x00]; // atomic.fence (flags 0)
const END = 0x0b;

/** A section: id, size (one LEB128 byte: every section here is < 128 bytes), contents. */
const section = (id: number, contents: number[]): number[] => [id, contents.length, ...contents];
/** A function body: size, no locals, code. */
const body = (code: number[]): number[] => [code.length + 1, 0x00, ...code];
const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

/** @internal The module's bytes (exported for the test that checks them). */
export const MODULE_BYTES = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00]), // type 0: (i32, i32) -> ()
  // import "e" "m": memory (0x02), flags shared|has-max (0x03), min 1, max 65536
  ...section(2, [0x01, ...name('e'), ...name('m'), 0x02, 0x03, 0x01, 0x80, 0x80, 0x04]),
  ...section(3, [0x02, 0x00, 0x00]), // functions 0 and 1: type 0
  ...section(7, [0x02, ...name('s'), 0x00, 0x00, ...name('f'), 0x00, 0x01]), // exports
  ...section(10, [0x02, ...body([...STORE_BODY, END]), ...body([...STORE_BODY, ...FENCE, END])]),
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

/** `c(dst, src)`: a seq-cst store of the Int32 at byte `src` into byte `dst`. */
export type SeqCstCopy = (dst: number, src: number) => void;

let compiled: object | undefined;
const instances = new WeakMap<WasmMemory, { s: SeqCstCopy; f: SeqCstCopy }>();

/**
 * The store function for `memory` (a shared WebAssembly.Memory): `c(dst, src)` does a
 * seq-cst store of the Int32 at byte `src` into byte `dst`; with `fenced`, followed by a
 * full fence (use it where the hardware is not TSO). One instance per memory per thread.
 */
export function seqCstCopyFor(memory: WasmMemory, fenced = false): SeqCstCopy {
  let inst = instances.get(memory);
  if (!inst) {
    compiled ??= new wasm.Module(MODULE_BYTES);
    const e = new wasm.Instance(compiled, { e: { m: memory } }).exports;
    inst = { s: e.s as SeqCstCopy, f: e.f as SeqCstCopy };
    instances.set(memory, inst);
  }
  return fenced ? inst.f : inst.s;
}

/** A shared WebAssembly.Memory of at least `bytes` bytes (whole 64 KiB pages). */
export function sharedWasmMemory(bytes: number): WasmMemory {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
}

/**
 * Whether `arch` is x86 (TSO): there V8 compiles a seq-cst store to `xchg`, a full
 * barrier, and a plain store already has release ordering (earlier loads cannot pass it).
 */
export const hardwareIsTso = (arch: string): boolean => arch === 'x64' || arch === 'ia32';
