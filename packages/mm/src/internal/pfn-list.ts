/**
 * Doubly linked lists of pages threaded through their struct pages' `lru.next` and
 * `lru.prev` words (P_NEXT / P_PREV, PFN + 1, 0 = none), with the head and tail words
 * kept elsewhere in shared memory: a zone's free lists, a CPU's per-CPU lists, a node's
 * LRU lists all use these. The caller holds the lock of the list (and of the words
 * `la[hi]` / `la[ti]`). Encoding PFNs rather than pointers keeps the lists readable
 * from a dump at any address.
 *
 * @see include/linux/list.h
 */

import { P_NEXT, P_PREV } from '../layout.js';
import type { Memory } from '../memory.js';

/** Adds `pfn` (struct page at `a[i]`) at the head of the list whose head/tail words are `la[hi]`, `la[ti]`. */
export function listAddHead(
  mem: Memory,
  la: Int32Array,
  hi: number,
  ti: number,
  pfn: number,
  a: Int32Array,
  i: number,
): void {
  const h = la[hi]!;
  a[i + P_PREV] = 0;
  a[i + P_NEXT] = h;
  if (h) mem.pageArray(h - 1)[mem.pageIndex(h - 1) + P_PREV] = pfn + 1;
  else la[ti] = pfn + 1;
  la[hi] = pfn + 1;
}

/** Adds `pfn` at the tail (`list_add_tail`). */
export function listAddTail(
  mem: Memory,
  la: Int32Array,
  hi: number,
  ti: number,
  pfn: number,
  a: Int32Array,
  i: number,
): void {
  const t = la[ti]!;
  a[i + P_NEXT] = 0;
  a[i + P_PREV] = t;
  if (t) mem.pageArray(t - 1)[mem.pageIndex(t - 1) + P_NEXT] = pfn + 1;
  else la[hi] = pfn + 1;
  la[ti] = pfn + 1;
}

/** Unlinks the page at `a[i]` from the list (`list_del`), clearing its links. */
export function listDel(
  mem: Memory,
  la: Int32Array,
  hi: number,
  ti: number,
  a: Int32Array,
  i: number,
): void {
  const next = a[i + P_NEXT]!;
  const prev = a[i + P_PREV]!;
  if (prev) mem.pageArray(prev - 1)[mem.pageIndex(prev - 1) + P_NEXT] = next;
  else la[hi] = next;
  if (next) mem.pageArray(next - 1)[mem.pageIndex(next - 1) + P_PREV] = prev;
  else la[ti] = prev;
  a[i + P_NEXT] = 0;
  a[i + P_PREV] = 0;
}
