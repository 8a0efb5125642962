/**
 * Counter indices: node-wide statistics and VM events, kept as atomic words in node data
 * (layout.ts: N_VMSTAT, N_EVENTS), with the names `/proc/vmstat` prints.
 *
 * @see include/linux/mmzone.h (enum node_stat_item), include/linux/vm_event_item.h
 */

/** Node counters (`enum node_stat_item`, the subset kern keeps), in pages unless named _B. */
export const nodeStatItems = [
  'nr_inactive_anon',
  'nr_active_anon',
  'nr_inactive_file',
  'nr_active_file',
  'nr_unevictable',
  'nr_slab_reclaimable',
  'nr_slab_unreclaimable',
  'nr_isolated_anon',
  'nr_isolated_file',
  'nr_anon_pages',
  'nr_mapped',
  'nr_file_pages',
  'nr_dirty',
  'nr_writeback',
  'nr_shmem',
  'nr_page_table_pages',
] as const;
/** A node counter name. */
export type NodeStatItem = (typeof nodeStatItems)[number];
/** Index of a node counter. */
export const NODE_STAT: { readonly [K in NodeStatItem]: number } = Object.fromEntries(
  nodeStatItems.map((n, i) => [n, i]),
) as { [K in NodeStatItem]: number };

/** VM events (`enum vm_event_item`, the subset kern counts), in `/proc/vmstat` order. */
export const vmEventItems = [
  'pgpgin',
  'pgpgout',
  'pswpin',
  'pswpout',
  'pgalloc_dma32',
  'pgalloc_normal',
  'pgalloc_movable',
  'allocstall_dma32',
  'allocstall_normal',
  'allocstall_movable',
  'pgfree',
  'pgactivate',
  'pgdeactivate',
  'pgfault',
  'pgmajfault',
  'pgrefill',
  'pgsteal_kswapd',
  'pgsteal_direct',
  'pgscan_kswapd',
  'pgscan_direct',
  'slabs_scanned',
  'kswapd_low_wmark_hit_quickly',
  'kswapd_high_wmark_hit_quickly',
  'pageoutrun',
  'pgrotated',
  'drop_pagecache',
  'drop_slab',
  'pgmigrate_success',
  'pgmigrate_fail',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'unevictable_pgs_culled',
  'unevictable_pgs_mlocked',
  'pgalloc_fail',
  'pcp_refill',
  'pcp_drain',
  'pageblock_steal',
  'highatomic_reserve',
  'bad_page',
] as const;
/** A VM event name. */
export type VmEventItem = (typeof vmEventItems)[number];
/** Index of a VM event. */
export const VM_EVENT: { readonly [K in VmEventItem]: number } = Object.fromEntries(
  vmEventItems.map((n, i) => [n, i]),
) as { [K in VmEventItem]: number };
