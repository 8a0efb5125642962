import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { GFP_KERNEL } from '../src/gfp.js';
import { P_REFCOUNT } from '../src/layout.js';
import type { Memory, MemoryHandle } from '../src/memory.js';
import { createMemory } from '../src/mm-init.js';
import { attachMemory } from '../src/smpboot.js';
import { thrown } from './helpers.js';

const bootstrap = new URL('../../../scripts/ts-worker.mjs', import.meta.url);
const script = new URL('./fixtures/attach-worker.ts', import.meta.url).href;

const small = (): Memory => createMemory({ size: '32M', sectionSize: '16M', nrCpus: 2, log: null });

describe('mem.handle', () => {
  it('is a property: a plain object that structured clone copies and attachMemory takes', () => {
    const mem = small();
    const h = mem.handle;
    expect(typeof h).toBe('object');
    const other = attachMemory(structuredClone(h), { cpu: 1 });
    const p = other.allocPages(GFP_KERNEL, 0)!;
    expect(mem.pageField(p, P_REFCOUNT)).toBe(1); // the same struct page, seen by the booting instance
    other.freePages(p, 0);
  });
});

describe('attachMemory names what it was given instead of a handle', () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      'the Memory object',
      () => attachMemory(small() as unknown as MemoryHandle, { cpu: 1 }),
      /^EINVAL: attachMemory: pass mem\.handle, not the Memory object$/,
    ],
    [
      'undefined',
      () => attachMemory(undefined as unknown as MemoryHandle, { cpu: 1 }),
      /handle must be mem\.handle from the thread that booted the memory, got undefined/,
    ],
    [
      'an empty object',
      () => attachMemory({} as MemoryHandle, { cpu: 1 }),
      /attachMemory: an empty object is not a memory handle \(mem\.handle: sections/,
    ],
    [
      "an RCU domain's handle",
      () =>
        attachMemory({ buffer: new SharedArrayBuffer(64), id: 7 } as unknown as MemoryHandle, {
          cpu: 1,
        }),
      /an object with keys buffer, id is not a memory handle/,
    ],
  ];
  it.each(cases)('%s', (_what, call, message) => {
    const e = thrown(call);
    expect(e.errno).toBe('EINVAL');
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/smp: false/);
  });

  it('no options: says which CPU is missing, not a TypeError', () => {
    const mem = small();
    const e = thrown(() => attachMemory(mem.handle, undefined as unknown as { cpu: number }));
    expect(e.message).toMatch(
      /opts must say which CPU this thread runs as, e\.g\. \{ cpu: 1 \} \(machine has 2 CPUs\), got undefined/,
    );
    expect(
      thrown(() => attachMemory(mem.handle, { cpu: '1' as unknown as number })).message,
    ).toMatch(/cpu '1' \(string\) is out of range \(machine has 2 CPUs\)/);
  });

  it('a handle of a uniprocessor machine, or of buffers that are not sections', () => {
    const up = createMemory({ size: '32M', sectionSize: '16M', smp: false, log: null });
    expect(thrown(() => attachMemory(up.handle, { cpu: 0 })).message).toMatch(/smp: false/);
    const h = small().handle;
    const zeroed = {
      ...h,
      sections: h.sections.map((b) => b && new SharedArrayBuffer(b.byteLength)),
    };
    expect(thrown(() => attachMemory(zeroed, { cpu: 1 })).message).toMatch(/not KSEC/);
  });

  it('a Memory passed to a worker as workerData arrives (no DataCloneError) and is named', async () => {
    const mem = small();
    // What `workerData: mem` does to it: only plain fields cross, none of them a function.
    expect(() => structuredClone(mem)).not.toThrow();
    expect(
      thrown(() => attachMemory(structuredClone(mem) as unknown as MemoryHandle, { cpu: 1 }))
        .message,
    ).toMatch(
      /pass mem\.handle, not the Memory object \(this is a copy of one, as workerData: mem makes\)/,
    );
    const w = new Worker(bootstrap, {
      workerData: { script, mem },
      execArgv: ['--conditions=@kern/source'],
    });
    try {
      const said = await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      expect(said).toMatch(/pass mem\.handle, not the Memory object/);
    } finally {
      await w.terminate();
    }
  }, 30_000);
});
