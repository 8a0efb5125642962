import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const bootstrap = new URL('../../../scripts/ts-worker.mjs', import.meta.url);
const script = new URL('./fixtures/lock-path-worker.ts', import.meta.url).href;

/**
 * The steps fixtures/lock-path-worker.ts finished before it posted 'verified' or stopped
 * for `liveness` ms (a path that takes a lock word directly waits for it forever).
 */
async function stepsFinished(mode: 'up' | 'no-locks', liveness = 20_000): Promise<string[]> {
  const steps: string[] = [];
  const w = new Worker(bootstrap, {
    workerData: { script, mode },
    execArgv: ['--conditions=@kern/source'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, liveness);
      w.on('message', (m: string) => {
        steps.push(m);
        if (m === 'verified' || m === 'corrupt') {
          clearTimeout(timer);
          resolve();
        }
      });
      w.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  } finally {
    await w.terminate();
  }
  return steps;
}

const ALL = [
  'startIsolatePageRange',
  'undoIsolatePageRange',
  'procZoneinfo',
  'lruAdd',
  'onlineSectionPages',
  'verified',
];

describe('every lock of the allocator goes through one path', () => {
  // Zone and LRU lock words are set to "held" forever: a uniprocessor machine takes no
  // locks (as a UP kernel compiles spinlocks away), so isolation, onlining, /proc and the
  // LRU lists never look at them; neither does the no-locks negative control.
  it.each(['up', 'no-locks'] as const)(
    '%s: isolation, onlining, /proc and the LRU lists take no lock word',
    async (mode) => {
      expect(await stepsFinished(mode)).toEqual(ALL);
    },
    60_000,
  );
});
