/**
 * Where an {@link RcuState}'s typed arrays live. By default each is a fresh ArrayBuffer;
 * given bytes (a view on `@kern/mm` physical memory, say, reserved at boot as Linux
 * keeps `rcu_state`, the `rcu_node` array and per-CPU `rcu_data` in kernel memory), the
 * arrays are carved out of them in a fixed order, 8-byte aligned, and the layout records
 * each one's offset so a reader of the raw bytes (a crash dump) can find every field.
 */

import { KernelError } from '@kern/core';

/** A typed-array constructor the RCU state uses. */
type TypedArrayCtor =
  Uint8ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor | Float64ArrayConstructor;

/** One array in the arena: name, element type, element count and byte offset. */
export interface RcuArenaEntry {
  name: string;
  type: 'u8' | 'i32' | 'u32' | 'f64';
  length: number;
  offset: number;
}

const TYPE_NAME = new Map<TypedArrayCtor, RcuArenaEntry['type']>([
  [Uint8Array, 'u8'],
  [Int32Array, 'i32'],
  [Uint32Array, 'u32'],
  [Float64Array, 'f64'],
]);

/** Hands out typed arrays, from caller-provided bytes if given, recording the layout. */
export class RcuArena {
  /** Every array handed out, in order. */
  readonly layout: RcuArenaEntry[] = [];
  private next = 0;

  constructor(
    /** The bytes to carve arrays from; null: each array gets its own ArrayBuffer. */
    readonly bytes: Uint8Array | null = null,
  ) {
    if (bytes && bytes.byteOffset % 8 !== 0)
      throw new KernelError(
        'EINVAL',
        `rcu arena at byte offset ${bytes.byteOffset} is not 8-byte aligned`,
      );
  }

  /** Bytes used so far. */
  get used(): number {
    return this.next;
  }

  /**
   * A zeroed array of `length` elements named `name`.
   * @throws KernelError ENOMEM if the provided bytes are too small (naming the array and the size needed).
   */
  array<T extends TypedArrayCtor>(ctor: T, length: number, name: string): InstanceType<T> {
    const size = length * ctor.BYTES_PER_ELEMENT;
    const offset = this.next;
    this.next = (offset + size + 7) & ~7;
    this.layout.push({ name, type: TYPE_NAME.get(ctor)!, length, offset });
    if (!this.bytes) return new ctor(length) as InstanceType<T>;
    if (this.next > this.bytes.byteLength)
      throw new KernelError(
        'ENOMEM',
        `rcu arena of ${this.bytes.byteLength} bytes cannot hold ${name} (needs at least ${this.next})`,
      );
    // The buffer may be a SharedArrayBuffer (physical memory); the constructors accept both.
    const view = new ctor(
      this.bytes.buffer as ArrayBuffer,
      this.bytes.byteOffset + offset,
      length,
    ) as InstanceType<T>;
    view.fill(0);
    return view;
  }
}

/** Bytes an arena needs for an {@link RcuState} of `nrCpus` CPUs and `numNodes` nodes. */
export function rcuArenaBytes(nrCpus: number, numNodes: number): number {
  // Node arrays: 12 u32 masks, 3 i32, 2 u8, 8 f64, 1 u32 (the order RcuState's constructor takes them in).
  const node = (n: number, bytes: number): number => (n * bytes + 7) & ~7;
  const perNode =
    12 * node(numNodes, 4) +
    3 * node(numNodes, 4) +
    2 * node(numNodes, 1) +
    8 * node(numNodes, 8) +
    node(numNodes, 4);
  // Per-CPU arrays: 2 f64, 4 u8, 5 u32.
  const perCpu = 2 * node(nrCpus, 8) + 4 * node(nrCpus, 1) + 5 * node(nrCpus, 4);
  return perNode + perCpu;
}
