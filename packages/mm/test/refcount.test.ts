import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import { GFP_KERNEL } from '../src/gfp.js';
import { createMemory } from '../src/mm-init.js';
import { PG_hwpoison } from '../src/page-flags.js';
import { captureLog } from './helpers.js';

describe('page references and bad input at the allocator API', () => {
  it('getPage on a free page is refused and reported, and the page stays usable on its list', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    const p = mem.allocPages(GFP_KERNEL, 0)!;
    mem.freePages(p, 0); // now on this CPU's per-CPU list
    expect(() => mem.getPage(p)).toThrow(/EINVAL.*get_page on free pfn/);
    expect(log.text()).toMatch(/page dumped because: get_page\(\) on a page with no references/);
    expect(mem.testPageFlag(p, PG_hwpoison)).toBe(false);
    expect(verifyMemory(mem).errors).toEqual([]);
    expect(mem.allocPages(GFP_KERNEL, 0)).toBe(p); // still the head of the list
  });

  it('a page with an extra reference is freed only when the last one is dropped', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    const p = mem.allocPages(GFP_KERNEL, 0)!;
    mem.getPage(p);
    mem.freePages(p, 0);
    expect(mem.pageField(p, 1 /* P_REFCOUNT */)).toBe(1);
    mem.freePages(p, 0);
    expect(() => mem.freePages(p, 0)).toThrow(/double free/);
    mem.drainAllPages();
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(r.buddy + r.reserved).toBe(r.total);
  });

  it('a node that is not an integer or not there, and bad nodemasks, are EINVAL', () => {
    const mem = createMemory({ size: '32M', sectionSize: '16M' });
    expect(() => mem.allocPages(GFP_KERNEL, 1, 0.5)).toThrow(/EINVAL.*node 0.5 does not exist/);
    expect(() => mem.allocPages(GFP_KERNEL, 1, 3)).toThrow(/EINVAL.*node 3 does not exist/);
    expect(() => mem.allocPages(GFP_KERNEL, 0, 0, [])).toThrow(/EINVAL.*empty nodemask/);
    expect(() => mem.allocPages(GFP_KERNEL, 0, 0, [0, 4])).toThrow(/EINVAL.*nodemask names node 4/);
    expect(verifyMemory(mem).errors).toEqual([]);
  });

  it('freeing a reserved page (the memmap) is reported as PG_reserved, not as a double free', () => {
    const log = captureLog();
    const mem = createMemory({ size: '32M', sectionSize: '16M', log });
    expect(mem.isReserved(0)).toBe(true);
    expect(() => mem.freePages(0, 0)).toThrow(/EINVAL.*reserved pfn 0x0.*PG_reserved/);
    expect(log.text()).toMatch(/flags: .*reserved/);
    const r = verifyMemory(mem);
    expect(r.errors).toEqual([]);
    expect(mem.isReserved(0)).toBe(true);
  });
});
