import {
  createMemory,
  GFP_KERNEL,
  GFP_HIGHUSER_MOVABLE,
  procBuddyinfo,
  verifyMemory,
} from '@kern/mm';

const mem = createMemory({ nodes: ['256M', '256M'], nrCpus: 2, movablecore: '128M' });
const pfn = mem.allocPages(GFP_KERNEL, 3); // 8 contiguous pages, or null
if (pfn !== null) {
  mem.pageBytes(pfn, 3).fill(0xaa); // real bytes at physical address pfn * 4096
  mem.freePages(pfn, 3);
}
const user = mem.allocPagesPolicy(GFP_HIGHUSER_MOVABLE, 0, { mode: 'interleave', nodes: [0, 1] });
console.log(user === null ? 'no page' : `user page on node ${mem.pageToNid(user)}`);
console.log(procBuddyinfo(mem)); // Node 0, zone    DMA32   ...
console.log(verifyMemory(mem).errors); // [] — every list and page checked
