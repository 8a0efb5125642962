import { it } from 'vitest';
import { createMemory } from '../../src/mm-init.js';
import { GFP_KERNEL } from '../../src/gfp.js';
import { lruAdd, lruListPages, markPageAccessed, verifyLru, lruCount } from '../../src/swap.js';
import { LRU_INACTIVE_FILE, LRU_ACTIVE_FILE } from '../../src/layout.js';
it('dbg', () => {
  const mem = createMemory({ size: '64M', sectionSize: '16M' });
  const p = mem.allocPage(GFP_KERNEL)!;
  lruAdd(mem, p, LRU_INACTIVE_FILE);
  markPageAccessed(mem, p);
  markPageAccessed(mem, p);
  console.log(p, lruListPages(mem, 0, LRU_ACTIVE_FILE), lruListPages(mem, 0, LRU_INACTIVE_FILE), lruCount(mem,0,LRU_ACTIVE_FILE), verifyLru(mem), mem.eventCount('pgactivate'));
});
