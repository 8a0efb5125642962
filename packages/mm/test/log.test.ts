import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { GFP_KERNEL } from '../src/gfp.js';
import { createMemory } from '../src/mm-init.js';
import { MAX_PAGE_ORDER } from '../src/mmzone.js';

const fixture = fileURLToPath(new URL('./fixtures/default-log.ts', import.meta.url));

/** Runs fixtures/default-log.ts in a child node (sources through tsx); its stderr lines. */
function stderrOf(mode: 'default' | 'null'): string[] {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@kern/source', fixture, mode],
    { encoding: 'utf8', timeout: 60_000 },
  );
  expect([r.status, r.stdout]).toEqual([0, 'done\n']);
  return r.stderr.split('\n').filter((l) => l !== '');
}

describe('reports without a log', () => {
  it("go to stderr in the kernel log's format: the WARN, warn_alloc and bad_page", () => {
    const lines = stderrOf('default');
    expect(lines).toContain(
      `<4>WARNING: CPU: 0 PID: 0 at mm/page_alloc.c:__alloc_pages: order ${MAX_PAGE_ORDER + 1} > MAX_PAGE_ORDER ${MAX_PAGE_ORDER}`,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^<4>swapper\/0: page allocation failure: order:10, mode:0x[0-9a-f]+\(GFP_KERNEL\|__GFP_NORETRY\), nodemask=\(null\),cpuset=\/,mems_allowed=0$/,
      ),
    );
    expect(lines).toContain('<4>Mem-Info:');
    expect(lines).toContainEqual(
      expect.stringMatching(/^<1>BUG: Bad page state in process swapper\/0 {2}pfn:[0-9a-f]{5}$/),
    );
    expect(lines).toContain('<1>page dumped because: VM_BUG_ON_PAGE(page_ref_count(page) == 0)');
  }, 60_000);

  it('go nowhere with log: null', () => {
    expect(stderrOf('null')).toEqual([]);
  }, 60_000);

  it('are written with console.warn, so a program can redirect them', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const mem = createMemory({ size: '32M', sectionSize: '16M' });
      expect(mem.allocPages(GFP_KERNEL, MAX_PAGE_ORDER + 1)).toBeNull();
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/^<4>WARNING: CPU: 0 PID: 0 at mm\/page_alloc\.c:__alloc_pages/),
      );
    } finally {
      warn.mockRestore();
    }
  });
});
