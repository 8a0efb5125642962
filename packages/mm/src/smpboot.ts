/**
 * Another thread joining a booted machine as a further CPU: it attaches to the same
 * section buffers and allocates from the same free lists through its own per-CPU
 * lists. Before it touches a page, every thread's refcount drops become atomic, as
 * Linux patches its lock prefixes back in when a second CPU comes up.
 *
 * @see arch/x86/kernel/smpboot.c (a CPU coming up), arch/x86/kernel/alternative.c:
 *      alternatives_enable_smp
 */

import { KernelError } from '@kern/core';
import { activateSmp } from './internal/pcp.js';
import { describeValue } from './internal/value.js';
import { NODE_MAGIC, N_ID, N_MAGIC } from './layout.js';
import { Memory } from './memory.js';
import type { MemoryHandle, MmLog } from './memory-types.js';
import { PAGE_SIZE } from './mmzone.js';
import { openSection } from './sparse.js';

/** Options of {@link attachMemory}. */
export interface AttachOptions {
  /** The CPU this thread runs as: its per-CPU lists and event counters (0..nrCpus-1). */
  cpu: number;
  /** Where this thread's reports go (default: stderr, as createMemory; null: nowhere). */
  log?: MmLog | null;
}

/**
 * Attaches to memory booted elsewhere (another worker thread): same buffers, same free
 * lists; `cpu` selects this thread's per-CPU lists. Pass `mem.handle` (a plain object
 * that structured clone copies, e.g. as `workerData`), not the Memory itself.
 * @throws KernelError EINVAL if `handle` is not a memory handle (naming what it is: a
 *   Memory object, another kind of handle, a missing one), its buffers are not kern
 *   sections, `opts` or `cpu` is missing or out of range, or the memory was booted
 *   with `smp: false`; EBUSY if a thread keeps its per-CPU lists held through the attach.
 * @see arch/x86/kernel/smpboot.c (a CPU coming up), alternatives_enable_smp
 */
export function attachMemory(handle: MemoryHandle, opts: AttachOptions): Memory {
  checkHandle(handle);
  const o: unknown = opts;
  if (typeof o !== 'object' || o === null)
    throw new KernelError(
      'EINVAL',
      `attachMemory(handle, opts): opts must say which CPU this thread runs as, e.g. { cpu: 1 } (machine has ${handle.nrCpus} CPUs), got ${describeValue(o)}`,
    );
  const cpu: unknown = opts.cpu;
  if (!Number.isInteger(cpu) || (cpu as number) < 0 || (cpu as number) >= handle.nrCpus)
    throw new KernelError(
      'EINVAL',
      `attachMemory: cpu ${typeof cpu === 'number' ? cpu : describeValue(cpu)} is out of range (machine has ${handle.nrCpus} CPUs)`,
    );
  if (!handle.smp)
    throw new KernelError(
      'EINVAL',
      'this memory was booted with smp: false; other threads cannot attach',
    );
  const sections = handle.sections.map((b) => (b ? openSection(b) : undefined));
  handle.nodeDataPaddr.forEach((paddr, nid) => {
    const sec = sections[Math.floor(paddr / handle.sectionBytes)];
    const off = sec ? (paddr - sec.startPfn * PAGE_SIZE) >> 2 : -1;
    if (!sec || sec.i32[off + N_MAGIC] !== NODE_MAGIC || sec.i32[off + N_ID] !== nid)
      throw new KernelError(
        'EINVAL',
        `attachMemory: node ${nid}'s data at 0x${paddr.toString(16)} is not a kern node (bad magic)`,
      );
  });
  const mem = new Memory(handle, sections);
  if (opts.log !== undefined) mem.log = opts.log;
  // Before this thread touches a page: every thread's refcount drops become atomic.
  activateSmp(mem);
  mem.cpu = cpu as number;
  return mem;
}

/**
 * Checks that `h` is what `mem.handle` returns before anything reads it, so a wrong
 * argument is named for what it is.
 * @throws KernelError EINVAL naming what `h` is.
 */
function checkHandle(h: unknown): asserts h is MemoryHandle {
  const bad = (what: string): never => {
    throw new KernelError('EINVAL', `attachMemory: ${what}`);
  };
  if (h instanceof Memory) bad('pass mem.handle, not the Memory object');
  if (typeof h !== 'object' || h === null)
    bad(
      `the handle must be mem.handle from the thread that booted the memory, got ${describeValue(h)}`,
    );
  const r = h as Record<string, unknown>;
  // A Memory that went through structured clone (workerData: mem) keeps its fields.
  if ('zonelists' in r && 'nodeArr' in r)
    bad('pass mem.handle, not the Memory object (this is a copy of one, as workerData: mem makes)');
  const sections = r.sections;
  if (
    !Array.isArray(sections) ||
    !sections.every((b) => b === null || b instanceof SharedArrayBuffer) ||
    typeof r.sectionBytes !== 'number' ||
    !Number.isInteger(r.nrCpus) ||
    !Number.isInteger(r.nrNodes) ||
    !Array.isArray(r.nodeDataPaddr) ||
    r.nodeDataPaddr.length !== r.nrNodes ||
    !Array.isArray(r.distances) ||
    !Array.isArray(r.cpuToNode) ||
    typeof r.groupByMobility !== 'boolean' ||
    typeof r.smp !== 'boolean'
  )
    bad(
      `${describeValue(h)} is not a memory handle (mem.handle: sections, sectionBytes, nrCpus, nrNodes, nodeDataPaddr, ...)`,
    );
}
