/**
 * Byte layouts of everything the allocator keeps in physical memory. All fields are
 * little-endian 32-bit words (Int32Array indices), so a worker thread or the capture
 * kernel can read them from raw bytes. docs/design.md mirrors these tables.
 *
 * A memory section (one SharedArrayBuffer) begins with its own metadata, as Linux's
 * `memmap_on_memory` places the memmap inside hot-added memory:
 *
 * | bytes | what |
 * | --- | --- |
 * | 0..63 | section header (SEC_*) |
 * | 64..4095 | usemap: one byte per pageblock, its migrate type (bits 0-2) |
 * | 4096.. | memmap: `struct page` for every page of the section, PAGE_STRUCT_SIZE bytes each |
 * | after the memmap | the section's usable pages |
 *
 * @see include/linux/mm_types.h (struct page), include/linux/mmzone.h (struct zone, per_cpu_pages)
 */

// This module imports nothing and declares its constants before anything else, so esbuild
// inlines them into the bundle (its cross-module constant inlining requires both); a
// bundle's module-level `var` is a memory load on every use, which the allocator's hot
// paths would pay dozens of times per call.

// ---- the allocator's basic numbers (include/linux/mmzone.h) ----

/** log2 of the page size. */
export const PAGE_SHIFT = 12;
/** Bytes in a page. */
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** The largest order the buddy allocator hands out: 2^10 pages, 4 MiB. */
export const MAX_PAGE_ORDER = 10;
/** Number of orders, 0..MAX_PAGE_ORDER. */
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** Orders above this are "costly" and bypass the per-CPU lists. */
export const PAGE_ALLOC_COSTLY_ORDER = 3;
/** A pageblock is 2^9 pages (2 MiB): the unit migrate types are tracked in. */
export const pageblock_order = 9;
/** Pages in a pageblock. */
export const pageblock_nr_pages = 1 << pageblock_order;
/** What the allocator's internal paths return for "no page" (the public ones return null). */
export const NO_PAGE = -1;

/** Pages that cannot move (most kernel allocations). */
export const MIGRATE_UNMOVABLE = 0;
/** Pages that can be migrated (page cache, anonymous memory). */
export const MIGRATE_MOVABLE = 1;
/** Pages a shrinker can free (reclaimable slab). */
export const MIGRATE_RECLAIMABLE = 2;
/** The migrate types with per-CPU lists. */
export const MIGRATE_PCPTYPES = 3;
/** A reserve for high-order atomic allocations. */
export const MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES;
/** Pageblocks being isolated (memory offline): nothing is allocated from them. */
export const MIGRATE_ISOLATE = 4;
/** Number of migrate types (kern has no CMA). */
export const MIGRATE_TYPES = 5;
/** Memory below 4 GiB (devices limited to 32-bit DMA). */
export const ZONE_DMA32 = 0;
/** Normal kernel memory. */
export const ZONE_NORMAL = 1;
/** Only movable allocations: memory that can be offlined. */
export const ZONE_MOVABLE = 2;
/** Number of zones per node. */
export const MAX_NR_ZONES = 3;
/** Most NUMA nodes a machine may have (node id fits the page flags). */
export const MAX_NUMNODES = 64;

/** Per-CPU lists: one per (order ≤ PAGE_ALLOC_COSTLY_ORDER, migrate type < MIGRATE_PCPTYPES). */
export const NR_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);

// ---- struct page: 8 words, 32 bytes ----

/** Bytes per `struct page` (Linux: 64). */
export const PAGE_STRUCT_SIZE = 32;
/** Words per `struct page`. */
export const PAGE_WORDS = PAGE_STRUCT_SIZE / 4;
/** `flags`: PG_* bits, zone and node (see page-flags.ts). Guarded by ownership; Atomics for shared pages. */
export const P_FLAGS = 0;
/** `_refcount`: references; 0 when free. Atomic. */
export const P_REFCOUNT = 1;
/** `_mapcount`: page-table mappings minus one (-1: unmapped). Guarded by the mapping's lock. */
export const P_MAPCOUNT = 2;
/** `private`: the order of a free buddy or per-CPU page; owner's data otherwise. Zone lock when free. */
export const P_PRIVATE = 3;
/** `lru.next`: next PFN + 1 on a free, per-CPU or LRU list (0: none); head PFN + 1 on a tail page. */
export const P_NEXT = 4;
/** `lru.prev`: previous PFN + 1 (0: none). */
export const P_PREV = 5;
/** `mapping`: id of the address space (even) or anon_vma (id | 1, PAGE_MAPPING_ANON); 0: none. */
export const P_MAPPING = 6;
/** `index`: page offset within the mapping. */
export const P_INDEX = 7;

// ---- section header: first 64 bytes of a section ----

/** 'KSEC' */
export const SECTION_MAGIC = 0x4345534b;
/** Header word: magic. */
export const SEC_MAGIC = 0;
/** Header word: section number (start PFN / pages per section). */
export const SEC_NR = 1;
/** Header word: node id. */
export const SEC_NID = 2;
/** Header word: SECTION_* state bits. */
export const SEC_STATE = 3;
/** Header word: pages in the section. */
export const SEC_NR_PAGES = 4;
/** Header word: pages at the start holding the header, usemap and memmap. */
export const SEC_MEMMAP_PAGES = 5;
/** Header word: the zone the section's pages were onlined to (-1 offline). */
export const SEC_ZONE = 6;
/**
 * Section header word (after `SEC_ZONE`): sections per memory block, the same in every
 * section of a machine. Written at boot, and by hotplug for the sections it adds, with
 * `setMemoryBlockSize` (memory-block.ts); a section still holding 0 defers to the others (none: one).
 */
export const SEC_BLOCK_SECTIONS = 7;
/** Byte offset of the usemap. */
export const SEC_USEMAP_OFFSET = 64;
/** Byte offset of the memmap. */
export const SEC_MEMMAP_OFFSET = PAGE_SIZE;
/** Word index of the memmap (the first `struct page`) in a section's Int32Array. */
export const MEMMAP_WORD = SEC_MEMMAP_OFFSET >> 2;
/** Section state: memory is present. */
export const SECTION_MARKED_PRESENT = 1;
/** Section state: memmap initialised. */
export const SECTION_HAS_MEM_MAP = 2;
/** Section state: pages online (given to the buddy allocator). */
export const SECTION_IS_ONLINE = 4;

// ---- per-CPU pages: one per (CPU, zone) ----

/** pcp word: lock (the owning CPU, or a CPU draining it remotely). */
export const PCP_LOCK = 0;
/** pcp word: pages on all lists (in base pages). */
export const PCP_COUNT = 1;
/** pcp word: free to the buddy lists above this count. */
export const PCP_HIGH = 2;
/** pcp word: pages moved per refill or drain. */
export const PCP_BATCH = 3;
/** pcp words: head PFN + 1 of each list (NR_PCP_LISTS). */
export const PCP_HEADS = 4;
/** pcp words: tail PFN + 1 of each list. */
export const PCP_TAILS = PCP_HEADS + NR_PCP_LISTS;
/**
 * pcp word: threads waiting for PCP_LOCK while its owner holds it lazily (see
 * internal/pcp-lock.ts); the owner reads it with a plain load and lets go when non-zero.
 */
export const PCP_REVOKE = PCP_TAILS + NR_PCP_LISTS;
/** Words per pcp, padded to a 64-byte line so CPUs do not share lines. */
export const PCP_WORDS = ((PCP_REVOKE + 1 + 15) >> 4) << 4;

// ---- struct zone ----

/** zone word: the zone lock; guards free_area and everything marked "zone lock". */
export const Z_LOCK = 0;
/** zone word: first PFN. */
export const Z_START_PFN = 1;
/** zone word: PFNs spanned (holes included). */
export const Z_SPANNED = 2;
/** zone word: pages present. */
export const Z_PRESENT = 3;
/** zone word: pages managed by the buddy allocator (present − reserved). Zone lock. */
export const Z_MANAGED = 4;
/** zone words: watermarks min, low, high (pages). */
export const Z_WMARK = 5;
/** Watermark indices (into Z_WMARK). */
export const WMARK_MIN = 0;
export const WMARK_LOW = 1;
export const WMARK_HIGH = 2;
/** zone word: NR_FREE_PAGES (buddy lists only, not per-CPU lists). Zone lock for writes. */
export const Z_NR_FREE = 8;
/** zone word: pages in the MIGRATE_HIGHATOMIC reserve. Zone lock. */
export const Z_NR_RESERVED_HIGHATOMIC = 9;
/** zone word: pageblocks currently MIGRATE_ISOLATE. Zone lock. */
export const Z_NR_ISOLATE_PAGEBLOCK = 10;
/** zone words: lowmem_reserve against each higher zone (pages). */
export const Z_LOWMEM_RESERVE = 11;
/** zone words: per-zone vmstat counters (NR_ZONE_*), atomic. */
export const Z_VMSTAT = Z_LOWMEM_RESERVE + MAX_NR_ZONES;
/** Number of per-zone counters. */
export const NR_ZONE_STAT_ITEMS = 8;
/** zone words: free_area[order].nr_free. Zone lock. */
export const Z_FREE_NR = Z_VMSTAT + NR_ZONE_STAT_ITEMS;
/** zone words: free blocks per (order, migrate type), `free_area[o].free_list[mt]` length. Zone lock. */
export const Z_FREE_MT_NR = Z_FREE_NR + NR_PAGE_ORDERS;
/** zone words: head PFN + 1 of each free list (order × MIGRATE_TYPES + mt). Zone lock. */
export const Z_FREE_HEAD = Z_FREE_MT_NR + NR_PAGE_ORDERS * MIGRATE_TYPES;
/** zone words: tail PFN + 1 of each free list. Zone lock. */
export const Z_FREE_TAIL = Z_FREE_HEAD + NR_PAGE_ORDERS * MIGRATE_TYPES;
/** Words per zone, padded to 64 bytes. */
export const ZONE_WORDS = ((Z_FREE_TAIL + NR_PAGE_ORDERS * MIGRATE_TYPES + 15) >> 4) << 4;

/** Per-zone counters (`enum zone_stat_item`), indices into Z_VMSTAT. */
export const NR_ZONE_INACTIVE_ANON = 0;
export const NR_ZONE_ACTIVE_ANON = 1;
export const NR_ZONE_INACTIVE_FILE = 2;
export const NR_ZONE_ACTIVE_FILE = 3;
export const NR_ZONE_UNEVICTABLE = 4;
export const NR_ZONE_WRITE_PENDING = 5;
export const NR_MLOCK = 6;
export const NR_BOUNCE = 7;

// ---- struct pglist_data (node) ----

/** 'KNOD' */
export const NODE_MAGIC = 0x444f4e4b;
/** node word: magic. */
export const N_MAGIC = 0;
/** node word: node id. */
export const N_ID = 1;
/** node word: first PFN. */
export const N_START_PFN = 2;
/** node word: PFNs spanned. */
export const N_SPANNED = 3;
/** node word: pages present. */
export const N_PRESENT = 4;
/** node word: number of CPUs with per-CPU lists here. */
export const N_NR_CPUS = 5;
/** node word: kswapd wanted (a waker set it; kswapd clears it). Atomic. */
export const N_KSWAPD_WAKE = 6;
/** node word: highest zone index kswapd should balance. */
export const N_KSWAPD_ZONEIDX = 7;
/** node word: order kswapd should make available. */
export const N_KSWAPD_ORDER = 8;
/**
 * node word (the same in every node): non-zero once a second thread has attached
 * (`attachMemory`). Until then no other thread can touch a page's count, and
 * `freePages` drops it without an Atomics call, as an SMP kernel booted on one CPU
 * runs with its lock prefixes patched out (see internal/pcp.ts: activateSmp).
 */
export const N_SMP_ACTIVE = 9;
/** node words: node-wide counters (`enum node_stat_item` subset), atomic. */
export const N_VMSTAT = 16;
/** Number of node counters. */
export const NR_NODE_STAT_ITEMS = 16;
/** Room for VM event counters (`enum vm_event_item` subset) per CPU. */
export const NR_VM_EVENT_ITEMS = 48;
/** node word: the LRU lock (`lruvec->lru_lock`); guards the LRU lists and their counts. */
export const N_LRU_LOCK = N_VMSTAT + NR_NODE_STAT_ITEMS;
/** node words: head PFN + 1 of each LRU list (NR_LRU_LISTS). LRU lock. */
export const N_LRU_HEAD = N_LRU_LOCK + 1;
/** node words: tail PFN + 1 of each LRU list. LRU lock. */
export const N_LRU_TAIL = N_LRU_HEAD + 5;
/** node words: pages on each LRU list. LRU lock. */
export const N_LRU_NR = N_LRU_TAIL + 5;
/** LRU lists (`enum lru_list`): inactive/active anon, inactive/active file, unevictable. */
export const LRU_INACTIVE_ANON = 0;
export const LRU_ACTIVE_ANON = 1;
export const LRU_INACTIVE_FILE = 2;
export const LRU_ACTIVE_FILE = 3;
export const LRU_UNEVICTABLE = 4;
/** Number of LRU lists. */
export const NR_LRU_LISTS = 5;
/** node words: the zones. */
export const N_ZONES = ((N_LRU_NR + NR_LRU_LISTS + 15) >> 4) << 4;
/**
 * node words: one block per CPU: its per-CPU pages for each zone, then its VM event
 * counters (written only by that CPU, so no line is shared; readers sum them).
 */
export const N_PCP = N_ZONES + MAX_NR_ZONES * ZONE_WORDS;
/** Words per CPU block in node data. */
export const CPU_BLOCK_WORDS = MAX_NR_ZONES * PCP_WORDS + NR_VM_EVENT_ITEMS;

/** Words of node data for a machine with `nrCpus` CPUs. */
export function nodeDataWords(nrCpus: number): number {
  return N_PCP + nrCpus * CPU_BLOCK_WORDS;
}

/** Word offset of a zone inside node data. */
export function zoneBase(zoneIdx: number): number {
  return N_ZONES + zoneIdx * ZONE_WORDS;
}

/** Word offset of a (CPU, zone) per-CPU pages struct inside node data. */
export function pcpBase(cpu: number, zoneIdx: number): number {
  return N_PCP + cpu * CPU_BLOCK_WORDS + zoneIdx * PCP_WORDS;
}

/** Word offset of a CPU's VM event counters inside node data. */
export function cpuEventsBase(cpu: number): number {
  return N_PCP + cpu * CPU_BLOCK_WORDS + MAX_NR_ZONES * PCP_WORDS;
}

/** Index of a free list in Z_FREE_HEAD/Z_FREE_TAIL. */
export function freeListIndex(order: number, migratetype: number): number {
  return order * MIGRATE_TYPES + migratetype;
}
