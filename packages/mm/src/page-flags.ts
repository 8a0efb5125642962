/**
 * Page flags: bits of the first word of each `struct page`, plus the zone and node the
 * page belongs to packed into the top bits, as Linux packs them into `page->flags`.
 * kern numbers its own bits; kdump exports them in VMCOREINFO (`NUMBER(PG_lru)=…`)
 * so makedumpfile-style filters read them from the dump.
 *
 * @see include/linux/page-flags.h, include/linux/page-flags-layout.h
 */

/** Page is locked for I/O or by its owner. */
export const PG_locked = 0;
/** Page is being written back. */
export const PG_writeback = 1;
/** Recently referenced (LRU aging). */
export const PG_referenced = 2;
/** Contents are valid. */
export const PG_uptodate = 3;
/** Contents differ from the backing store. */
export const PG_dirty = 4;
/** Page is on an LRU list. */
export const PG_lru = 5;
/** First page of a compound page. */
export const PG_head = 6;
/** On the active LRU list. */
export const PG_active = 7;
/** Never freed to the buddy allocator (memmap, memblock reservations, holes). */
export const PG_reserved = 8;
/** `private` holds filesystem data. */
export const PG_private = 9;
/** Being reclaimed: rotate to the tail when writeback ends. */
export const PG_reclaim = 10;
/** Backed by RAM or swap (anonymous and shmem pages). */
export const PG_swapbacked = 11;
/** Cannot be reclaimed (mlocked). */
export const PG_unevictable = 12;
/** Free, in the buddy allocator; `private` is its order. (Linux keeps this in page_type.) */
export const PG_buddy = 13;
/** Belongs to the slab allocator. */
export const PG_slab = 14;
/** Offline (memory block offlined, or ballooned out). */
export const PG_offline = 15;
/** Tail page of a compound page; `lru.next` holds the head PFN + 1. */
export const PG_tail = 16;
/** Free, on a per-CPU list (kern's own bit: lets a double free be caught). */
export const PG_pcp = 17;
/** Taken out of circulation by `bad_page()` (Linux: leaked with TAINT_BAD_PAGE). */
export const PG_hwpoison = 18;
/** Isolated for migration. */
export const PG_isolated = 19;
/**
 * First page of a block of order 1 or more that is not compound (kern's own bit): the
 * first tail page's `private` holds the block's order while it is allocated, as a
 * compound page's does, so a free with another order is refused before anything changes.
 */
export const PG_highorder = 20;
/** Number of page-flag bits. */
export const NR_PAGEFLAGS = 21;

/** Bit where the zone index starts in the flags word. */
export const ZONES_PGSHIFT = 24;
/** Width of the zone index. */
export const ZONES_WIDTH = 2;
/** Bit where the node id starts. */
export const NODES_PGSHIFT = 26;
/** Width of the node id. */
export const NODES_WIDTH = 6;
/** The mask of all PG_* bits. */
export const PAGEFLAGS_MASK = (1 << NR_PAGEFLAGS) - 1;

/** Flags that must be clear when a page is freed (`PAGE_FLAGS_CHECK_AT_FREE`). */
export const PAGE_FLAGS_CHECK_AT_FREE =
  (1 << PG_locked) |
  (1 << PG_writeback) |
  (1 << PG_lru) |
  (1 << PG_active) |
  (1 << PG_reserved) |
  (1 << PG_private) |
  (1 << PG_slab) |
  (1 << PG_unevictable) |
  (1 << PG_buddy) |
  (1 << PG_pcp) |
  (1 << PG_hwpoison) |
  (1 << PG_isolated);

/** Flags cleared on every page handed out by the allocator (`PAGE_FLAGS_CHECK_AT_PREP`). */
export const PAGE_FLAGS_CHECK_AT_PREP = PAGEFLAGS_MASK & ~((1 << PG_head) | (1 << PG_tail));

/** Flag names as `%pGp` prints them, by bit. */
export const pageflagNames: readonly string[] = [
  'locked',
  'writeback',
  'referenced',
  'uptodate',
  'dirty',
  'lru',
  'head',
  'active',
  'reserved',
  'private',
  'reclaim',
  'swapbacked',
  'unevictable',
  'buddy',
  'slab',
  'offline',
  'tail',
  'pcp',
  'hwpoison',
  'isolated',
  'highorder',
];

/**
 * Formats a flags word as Linux's `%#lx(%pGp)`: `0x2000428(uptodate|lru|swapbacked|node=0|zone=2)`.
 * @see lib/vsprintf.c: format_page_flags
 */
export function formatPageFlags(flags: number): string {
  const names: string[] = [];
  for (let b = 0; b < NR_PAGEFLAGS; b++) if (flags & (1 << b)) names.push(pageflagNames[b]!);
  names.push(`node=${flags >>> NODES_PGSHIFT}`);
  names.push(`zone=${(flags >>> ZONES_PGSHIFT) & ((1 << ZONES_WIDTH) - 1)}`);
  return `0x${(flags >>> 0).toString(16)}(${names.join('|')})`;
}
