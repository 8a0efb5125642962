/**
 * Workloads shared by the benchmark and the tests: a mixed churn that fragments a
 * single free list, and the fragmentation measures Linux reports.
 */
import { createRng } from '@kern/core';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_NOWARN } from '../src/gfp.js';
import { Z_FREE_NR } from '../src/layout.js';
import type { Memory } from '../src/memory.js';
import { MAX_PAGE_ORDER } from '../src/mmzone.js';

/** Free-area figures of a machine (all zones together). */
export interface Fragmentation {
  /** Free pages on the buddy lists. */
  freePages: number;
  /** Largest order with a free block (-1 if none). */
  largestOrder: number;
  /** Free blocks of order ≥ `order`, counted in order-`order` units. */
  suitableBlocks: number;
  /**
   * Unusable free space index at `order`, 0 (none) to 1 (all free memory unusable):
   * the share of free pages not in blocks of at least that order.
   * @see mm/vmstat.c: unusable_free_index
   */
  unusableIndex: number;
}

/** Fragmentation of the free lists for allocations of `order` (default a pageblock, 9). */
export function fragmentation(mem: Memory, order = 9): Fragmentation {
  let freePages = 0;
  let largestOrder = -1;
  let suitableBlocks = 0;
  for (const z of mem.zones)
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const n = z.a[z.b + Z_FREE_NR + o]!;
      freePages += n << o;
      if (n > 0) largestOrder = Math.max(largestOrder, o);
      if (o >= order) suitableBlocks += n << (o - order);
    }
  const unusableIndex = freePages === 0 ? 1 : (freePages - (suitableBlocks << order)) / freePages;
  return { freePages, largestOrder, suitableBlocks, unusableIndex };
}

/**
 * Mixed churn: kernel (unmovable, order 0–2, long-lived) and user (movable, order 0)
 * allocations and frees, filling memory to about 90%, then every movable page freed,
 * as reclaim would drop the page cache. Returns the operations done and the kernel
 * allocations still held.
 */
export function mixedChurn(
  mem: Memory,
  seed: number,
  steps = 200_000,
): { ops: number; kernel: [number, number][] } {
  const rng = createRng(seed);
  const movable: number[] = [];
  const kernel: [number, number][] = [];
  const total = mem.totalManagedPages();
  let ops = 0;
  let used = 0;
  for (let s = 0; s < steps; s++) {
    const r = rng.below(100);
    if (r < 8) {
      const order = rng.below(3);
      const p = mem.allocPages(GFP_KERNEL | __GFP_NOWARN, order);
      if (p !== null) {
        kernel.push([p, order]);
        used += 1 << order;
      }
    } else if (r < 12 && kernel.length) {
      const k = rng.below(kernel.length);
      const [p, order] = kernel[k]!;
      kernel[k] = kernel[kernel.length - 1]!;
      kernel.pop();
      mem.freePages(p, order);
      used -= 1 << order;
    } else if (r < 70 && used < total * 0.9) {
      const p = mem.allocPages(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, 0);
      if (p !== null) {
        movable.push(p);
        used++;
      }
    } else if (movable.length) {
      const k = rng.below(movable.length);
      const p = movable[k]!;
      movable[k] = movable[movable.length - 1]!;
      movable.pop();
      mem.freePages(p, 0);
      used--;
    }
    ops++;
  }
  for (const p of movable) mem.freePages(p, 0);
  ops += movable.length;
  mem.drainAllPages();
  return { ops, kernel };
}
