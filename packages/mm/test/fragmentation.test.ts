import { describe, expect, it } from 'vitest';
import { fragmentation, mixedChurn } from '../bench/workloads.js';
import { verifyMemory } from '../src/debug.js';
import { createMemory } from '../src/mm-init.js';

describe('grouping by migrate type', () => {
  it('keeps high orders available after a mixed churn that defeats a single free list', () => {
    const run = (groupByMobility: boolean): ReturnType<typeof fragmentation> => {
      const mem = createMemory({ size: '128M', sectionSize: '128M', groupByMobility, smp: false });
      mixedChurn(mem, 7, 150_000);
      expect(verifyMemory(mem).errors).toEqual([]);
      return fragmentation(mem, 9);
    };
    const grouped = run(true);
    const single = run(false);
    // The same kernel allocations pin far fewer pageblocks when grouped.
    expect(grouped.largestOrder).toBe(10);
    expect(grouped.suitableBlocks).toBeGreaterThan(4 * Math.max(1, single.suitableBlocks));
    expect(grouped.unusableIndex).toBeLessThan(0.5);
    expect(single.unusableIndex).toBeGreaterThan(0.9);
  }, 60_000);
});
