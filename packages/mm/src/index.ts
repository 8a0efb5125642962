/**
 * @kern/mm: physical memory as real bytes, the struct page array, zones and nodes, and
 * the buddy page allocator.
 * @packageDocumentation
 */
export * as gfp from './gfp.js';
export {
  GFP_ATOMIC,
  GFP_DMA32,
  GFP_HIGHUSER,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_NOFS,
  GFP_NOIO,
  GFP_NOWAIT,
  GFP_USER,
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_DMA32,
  __GFP_HIGH,
  __GFP_HIGHMEM,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MOVABLE,
  __GFP_NOFAIL,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  __GFP_THISNODE,
  __GFP_ZERO,
  formatGfp,
} from './gfp.js';
export {
  MAX_NR_ZONES,
  MAX_PAGE_ORDER,
  MIGRATE_HIGHATOMIC,
  MIGRATE_ISOLATE,
  MIGRATE_MOVABLE,
  MIGRATE_PCPTYPES,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
  MIGRATE_UNMOVABLE,
  NR_PAGE_ORDERS,
  PAGE_ALLOC_COSTLY_ORDER,
  PAGE_SHIFT,
  PAGE_SIZE,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  gfpMigratetype,
  gfpZone,
  migratetypeNames,
  pageblock_nr_pages,
  pageblock_order,
  zoneNames,
} from './mmzone.js';
export * from './page-flags.js';
export * as layout from './layout.js';
export { Memblock } from './memblock.js';
export type { MemblockRegion } from './memblock.js';
export { MemSection, memmapPagesFor, paddrToPfn, pfnToPaddr } from './sparse.js';
export { Memory, WMARK_HIGH, WMARK_LOW, WMARK_MIN } from './memory.js';
export type { DebugBreak, MemPolicy, MemoryHandle, MmLog, Reclaimer, ZoneRef } from './memory.js';
export { bootMemory, createMemory, onlineSectionPages, setupPerZoneWmarks } from './mm-init.js';
export type { BootedMemory, MemoryConfig, ReserveRequest, Size } from './mm-init.js';
export { attachMemory } from './smpboot.js';
export type { AttachOptions } from './smpboot.js';
export { NODE_STAT, VM_EVENT, nodeStatItems, vmEventItems } from './vmstat-items.js';
export type { NodeStatItem, VmEventItem } from './vmstat-items.js';
export { decodeStructPage, structPageOffset, verifyMemory } from './debug.js';
export type { MemoryReport, StructPage } from './debug.js';
export {
  procBuddyinfo,
  procMeminfo,
  procPagetypeinfo,
  procVmstat,
  procZoneinfo,
  siMemAvailable,
  totalreservePages,
} from './proc.js';
export {
  KMALLOC_MAX_CACHE_SIZE,
  KMALLOC_MAX_SIZE,
  KMALLOC_MIN_SIZE,
  SLUB_MAX_ORDER,
  ZERO_SIZE_PTR,
  createSlabAllocator,
} from './slab.js';
export type {
  KmemCache,
  KmemCacheOptions,
  KmemObjInfo,
  SlabAllocator,
  SlabAllocatorOptions,
  SlabDebugBreak,
  SlabInfo,
  SlabTaint,
} from './slab.js';
export { MappingRegistry, mappingIsAnon } from './mapping.js';
export type { FileBacking, MappingOps, RmapVma } from './mapping.js';
export { migratePages } from './migrate.js';
export type { MigrateFailure, MigrateOptions, MigrateResult } from './migrate.js';
export {
  firstUnmovablePage,
  isSectionMemmap,
  offlineIsolatedPages,
  startIsolatePageRange,
  testPagesIsolated,
  undoIsolatePageRange,
} from './page-isolation.js';
export type { IsolateOptions } from './page-isolation.js';
export {
  PAGECACHE_TAG_DIRTY,
  PAGECACHE_TAG_WRITEBACK,
  createAddressSpace,
  isAddressSpace,
} from './filemap.js';
export type {
  AddressSpace,
  AddressSpaceOptions,
  PageMkwriteFn,
  PagecacheTag,
  ReadPageFn,
  RmapVmaWrprotect,
  WritePageFn,
  WritebackControl,
} from './filemap.js';
export {
  activatePage,
  deactivatePage,
  isolateLruPage,
  isolateLruPages,
  lruAdd,
  lruAddPage,
  lruCount,
  lruDel,
  lruListPages,
  lruNames,
  markPageAccessed,
  pageLruList,
  putLruPage,
  putbackLruPage,
  rotateReclaimable,
  verifyLru,
} from './swap.js';
export {
  DEFAULT_SEEKS,
  DEF_PRIORITY,
  SHRINK_BATCH,
  SHRINK_STOP,
  SWAP_CLUSTER_MAX,
  createPageReclaim,
} from './vmscan.js';
export type { PageReclaim, PageReclaimOptions, ReclaimDebugBreak, Shrinker } from './vmscan.js';
export {
  LRU_ACTIVE_ANON,
  LRU_ACTIVE_FILE,
  LRU_INACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_UNEVICTABLE,
  NR_LRU_LISTS,
} from './layout.js';
export {
  DEFAULT_MAX_MAP_COUNT,
  DEFAULT_MMAP_MIN_ADDR,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_TYPE,
  Mm,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  STACK_GUARD_GAP,
  STACK_LIMIT,
  STACK_TOP,
  TASK_SIZE,
  Vma,
  calcVmProtBits,
  createMm,
} from './mmap.js';
export type { FaultAccess, MmOptions, MmapRequest } from './mmap.js';
export {
  PGTABLE_LEVELS,
  PTRS_PER_TABLE,
  PageTable,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NONE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_TABLE,
  _PAGE_USER,
  linearPageIndex,
  pteMapped,
  ptePfn,
} from './fault.js';
export type { Pte } from './fault.js';
export { AnonVma, anonVmaAlloc, pageMapcount, rmapWalk } from './rmap.js';
export type { RmapWalkFn } from './rmap.js';
export {
  AT_BASE,
  AT_BASE_PLATFORM,
  AT_CLKTCK,
  AT_EGID,
  AT_ENTRY,
  AT_EUID,
  AT_EXECFD,
  AT_EXECFN,
  AT_FLAGS,
  AT_GID,
  AT_HWCAP,
  AT_HWCAP2,
  AT_IGNORE,
  AT_MINSIGSTKSZ,
  AT_NOTELF,
  AT_NULL,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_PLATFORM,
  AT_RANDOM,
  AT_SECURE,
  AT_SYSINFO_EHDR,
  AT_UID,
  ELF_PLATFORM,
  MAX_ARG_STRLEN,
  auxvNames,
  parseAuxv,
  procPidAuxv,
  readInitialStack,
  setupArgPages,
} from './exec.js';
export type {
  ArgPagesOptions,
  ElfInfo,
  ExecStack,
  InitialStack,
  RandomBytesSource,
} from './exec.js';
export {
  checkMemoryBlockSize,
  findMemoryBlock,
  memoryBlockId,
  memoryBlockSizeBytes,
  memoryBlockSysfs,
  memoryBlocks,
  pfnToBlockId,
  sectionsPerBlock,
  setMemoryBlockSize,
  sysBlockSizeBytes,
  sysDevicesSystemMemory,
  validZones,
} from './memory-block.js';
export type { MemoryBlock, MemoryBlockState, MemoryBlockSysfs } from './memory-block.js';
export type { MigrateDebugBreak } from './migrate.js';
