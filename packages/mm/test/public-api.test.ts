import { describe, expect, it } from 'vitest';
import * as mm from '../src/index.js';
import { Memory } from '../src/memory.js';

/**
 * The buddy lists' zone-lock-held helpers and the other internals of mm/internal.h's
 * kind. (Memory keeps private @internal trampolines to a few of the general paths,
 * allocPagesGeneral, freePagesPrepare and freePcppagesBulk, for the fast paths' sake:
 * those are checked as exports only.)
 */
const INTERNAL = [
  'addToFreeList',
  'delFromFreeList',
  'moveToFreeList',
  'freeOneBlock',
  'rmqueue',
  'rmqueueSmallest',
  'rmqueueFallback',
  'rmqueueBulk',
  'moveFreepagesBlock',
  'splitFreeBlockAt',
  'setPageblockMigratetype',
  'reserveHighatomicPageblock',
  'unreserveHighatomicPageblock',
  'freePcppagesBulk',
  'activateSmp',
  'directReclaim',
  'drainPagesZone',
  'pageBadReason',
  'allocPagesGeneral',
  'freePagesPrepare',
];

/** Every property name on an object's prototype chain below Object.prototype. */
function methodsOf(proto: object | null): Set<string> {
  const names = new Set<string>();
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null)
    for (const n of Object.getOwnPropertyNames(p)) names.add(n);
  return names;
}

describe('the public API', () => {
  it('has none of the allocator internals: not as exports, not as Memory methods', () => {
    const exported = new Set(Object.keys(mm));
    const methods = methodsOf(Memory.prototype);
    const trampolines = new Set(['allocPagesGeneral', 'freePagesPrepare', 'freePcppagesBulk']);
    expect(INTERNAL.filter((n) => exported.has(n))).toEqual([]);
    expect(INTERNAL.filter((n) => methods.has(n) && !trampolines.has(n))).toEqual([]);
  });

  it('keeps what users call', () => {
    const methods = methodsOf(Memory.prototype);
    for (const n of ['allocPages', 'freePages', 'getPage', 'putPage', 'drainAllPages', 'handle'])
      expect(methods.has(n)).toBe(true);
  });
});
