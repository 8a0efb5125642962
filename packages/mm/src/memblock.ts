/**
 * memblock: the boot-time allocator. Before the buddy allocator exists, memory is a list
 * of ranges and reservations are carved out of it (the memmap, node data, the crash
 * kernel region, the printk buffer). Whatever is not reserved is then handed to the
 * buddy allocator (`memblock_free_all`).
 *
 * @see mm/memblock.c
 */

import { KernelError } from '@kern/core';

/** A physical range. */
export interface MemblockRegion {
  /** Start physical address. */
  base: number;
  /** Bytes. */
  size: number;
  /** NUMA node. */
  nid: number;
  /** What it is for ("memmap", "node_data", "Crash kernel", "log_buf"...). */
  name: string;
}

/** The boot-time list of memory and reservations. */
export class Memblock {
  /** Usable memory ranges, sorted by base. */
  readonly memory: MemblockRegion[] = [];
  /** Reserved ranges, sorted by base, non-overlapping. */
  readonly reserved: MemblockRegion[] = [];

  /** Adds a memory range (`memblock_add_node`). */
  add(base: number, size: number, nid: number): void {
    this.memory.push({ base, size, nid, name: 'System RAM' });
    this.memory.sort((a, b) => a.base - b.base);
  }

  /** Drops memory at and above `limit` (`mem=`, `memblock_enforce_memory_limit` by address). */
  capMemory(limitBytes: number): void {
    let left = limitBytes;
    for (const r of this.memory) {
      const keep = Math.max(0, Math.min(r.size, left));
      left -= keep;
      r.size = keep;
    }
    for (let i = this.memory.length - 1; i >= 0; i--)
      if (this.memory[i]!.size === 0) this.memory.splice(i, 1);
  }

  /** Total usable bytes. */
  get totalSize(): number {
    return this.memory.reduce((s, r) => s + r.size, 0);
  }

  /**
   * Reserves `[base, base+size)` (`memblock_reserve`).
   * @throws KernelError EINVAL if it is not inside memory; EBUSY if it overlaps a reservation.
   */
  reserve(base: number, size: number, name: string): MemblockRegion {
    if (!(size > 0) || !Number.isSafeInteger(base) || !Number.isSafeInteger(size) || base < 0)
      throw new KernelError(
        'EINVAL',
        `memblock: bad reservation ${name} [${hex(base)}-${hex(base + size - 1)}]`,
      );
    const mem = this.memory.find((r) => base >= r.base && base + size <= r.base + r.size);
    if (!mem)
      throw new KernelError(
        'EINVAL',
        `memblock: ${name} [${hex(base)}-${hex(base + size - 1)}] is not inside memory`,
      );
    const clash = this.reserved.find((r) => base < r.base + r.size && r.base < base + size);
    if (clash)
      throw new KernelError(
        'EBUSY',
        `memblock: ${name} [${hex(base)}-${hex(base + size - 1)}] overlaps ${clash.name} [${hex(clash.base)}-${hex(clash.base + clash.size - 1)}]`,
      );
    const region = { base, size, nid: mem.nid, name };
    this.reserved.push(region);
    this.reserved.sort((a, b) => a.base - b.base);
    return region;
  }

  /**
   * Finds and reserves `size` bytes aligned to `align`, top-down as Linux does, within
   * `[min, max)` and on `nid` if given (`memblock_alloc_range_nid`). Returns the base,
   * or null if nothing fits.
   */
  alloc(
    size: number,
    align: number,
    name: string,
    opts: { nid?: number; min?: number; max?: number } = {},
  ): number | null {
    const min = opts.min ?? 0;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    for (let i = this.memory.length - 1; i >= 0; i--) {
      const r = this.memory[i]!;
      if (opts.nid !== undefined && r.nid !== opts.nid) continue;
      let top = Math.min(r.base + r.size, max);
      const bottom = Math.max(r.base, min);
      while (top - size >= bottom) {
        const base = Math.floor((top - size) / align) * align;
        if (base < bottom) break;
        const clash = this.reserved.find((x) => base < x.base + x.size && x.base < base + size);
        if (!clash) {
          this.reserve(base, size, name);
          return base;
        }
        top = clash.base;
      }
    }
    return null;
  }

  /** Whether a physical address is reserved. */
  isReserved(paddr: number): boolean {
    return this.reserved.some((r) => paddr >= r.base && paddr < r.base + r.size);
  }

  /** The reservation named `name`, if any. */
  find(name: string): MemblockRegion | undefined {
    return this.reserved.find((r) => r.name === name);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(16, '0')}`;
}
