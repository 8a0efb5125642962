import { KernelError } from '@kern/core';
import { afterEach, expect } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import type { MmLog, Memory } from '../src/memory.js';
import { type MemoryConfig, createMemory } from '../src/mm-init.js';
import { verifyLru } from '../src/swap.js';

/** A log that keeps lines for assertions. */
export function captureLog(): MmLog & { lines: string[]; text(): string } {
  const lines: string[] = [];
  return {
    lines,
    printk: (_level: number, text: string) => {
      lines.push(text);
    },
    text: () => lines.join('\n'),
  };
}

/** A 64 MiB machine with the per-CPU lists drained, and its free page count then. */
export function boot(): { mem: Memory; free0: number } {
  const mem = createMemory({ size: '64M', sectionSize: '16M' });
  mem.drainAllPages();
  return { mem, free0: mem.nrFreePages() };
}

/** The KernelError `fn` throws (fails the test if it throws nothing, rethrows anything else). */
export function thrown(fn: () => unknown): KernelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('expected a KernelError');
}

/**
 * Call at the top of a test file: returns a `boot` whose memory (64 MiB unless `config`
 * says otherwise) passes `verifyMemory` and `verifyLru` after each test, checked by an
 * `afterEach` hook this registers.
 */
export function checkedBoot(): (config?: MemoryConfig) => Memory {
  let current: Memory | null = null;
  afterEach(() => {
    if (current) {
      expect(verifyMemory(current).errors).toEqual([]);
      expect(verifyLru(current)).toEqual([]);
    }
    current = null;
  });
  return (config = { size: '64M', sectionSize: '16M' }) => {
    current = createMemory(config);
    return current;
  };
}
