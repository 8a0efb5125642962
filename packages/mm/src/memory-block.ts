/**
 * Memory blocks: the unit memory hotplug onlines, offlines and removes — a power-of-two
 * run of sections (`memory_block_size_bytes()`; on x86_64 with less than 64 GiB, one
 * 128 MiB section). This module only reads them: which blocks exist, their node, state
 * and zones, and the text of their files under `/sys/devices/system/memory/` as Linux
 * prints them. Onlining and offlining blocks is `@kern/hotplug`'s work.
 *
 * The block size lives in every section's header ({@link SEC_BLOCK_SECTIONS}), not in a
 * JS object, so a worker thread that attached to the memory and a crash-dump reader see
 * the same blocks as the thread that booted it.
 *
 * State of a block, derived from its sections' headers (`SEC_STATE`, `SEC_ZONE`):
 * - `online`: at least one of its sections is online (`SECTION_IS_ONLINE`: its pages
 *   are in a zone, managed by the buddy allocator). Hotplug onlines and offlines whole
 *   blocks, so a partly online block only arises from onlining single sections by hand;
 *   it counts as online, with no single zone (`valid_zones` prints `none`).
 * - `offline`: none of its sections is online.
 *
 * @see drivers/base/memory.c, mm/memory_hotplug.c (zone_for_pfn_range),
 *      arch/x86/mm/init_64.c (memory_block_size_bytes)
 */

import { SEC_BLOCK_SECTIONS } from './layout.js';
import { KernelError } from '@kern/core';
import { SECTION_IS_ONLINE, SEC_ZONE } from './layout.js';
import type { Memory } from './memory.js';
import { ZONE_MOVABLE, ZONE_NORMAL, zoneNames } from './mmzone.js';
import type { MemSection } from './sparse.js';
import { checkMemory } from './internal/value.js';

/** What `state` of a memory block says. @see drivers/base/memory.c: state_show */
export type MemoryBlockState = 'online' | 'offline';

/** One memory block (`struct memory_block`), as read from its sections. */
export interface MemoryBlock {
  /** Block id: first section number / sections per block (`memoryN`, `phys_index`). */
  id: number;
  /** First section number (`start_section_nr`). */
  startSectionNr: number;
  /** First PFN of the block. */
  startPfn: number;
  /** PFNs the block spans: block size / PAGE_SIZE, holes included, as Linux counts them. */
  nrPages: number;
  /** Numbers of the block's sections that are present, ascending. */
  sections: number[];
  /** Pages in the present sections. */
  presentPages: number;
  /**
   * The block's node (`mem->nid`): the highest node its sections belong to, as Linux
   * keeps the last node it registered the block under.
   */
  nid: number;
  /** Every node its sections belong to, ascending (Linux links `memoryN/nodeM` for each). */
  nids: number[];
  /** Derived from the sections' online bits (see the module comment). */
  state: MemoryBlockState;
  /** Zone indices (`ZONE_*`) its online sections are in, ascending; empty when offline. */
  zones: number[];
  /**
   * The one zone the whole block is online in (`mem->zone`): null when it is offline,
   * partly online, or spans zones or nodes (then it cannot be offlined as one).
   */
  zone: number | null;
}

/** The files of `/sys/devices/system/memory/memoryN/`, each with its trailing newline. */
export interface MemoryBlockSysfs {
  /** Block id as `%08lx`. */
  phys_index: string;
  /** `online` or `offline`. */
  state: string;
  /** Always `0` (only s390 ever printed anything else). */
  phys_device: string;
  /** Always `1`: the legacy file says "removable" whenever hot-remove is built in. */
  removable: string;
  /** The zone an online block is in (`none` if several), or the zones an offline block could go to, default first. */
  valid_zones: string;
  /** Names of the block's `nodeM` symlinks (to `/sys/devices/system/node/nodeM`). */
  links: string[];
}

/**
 * Checks a memory block size: a power-of-two multiple of the section size
 * (`memory_dev_init` panics on anything else). `label` names the value in the message
 * (a config field and what was written there).
 * @throws KernelError EINVAL naming the size and the section size.
 * @see drivers/base/memory.c: memory_dev_init
 */
export function checkMemoryBlockSize(
  blockBytes: number,
  sectionBytes: number,
  label = `memory block size ${blockBytes}`,
): void {
  const n = blockBytes / sectionBytes;
  if (!Number.isSafeInteger(blockBytes) || !Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0)
    throw new KernelError(
      'EINVAL',
      `${label} must be a power-of-two multiple of the section size ${sectionBytes}`,
    );
}

/**
 * Records the memory block size in the header of every present section: at boot, and by
 * hotplug after it adds sections. The size is fixed once recorded.
 * @throws KernelError EINVAL if the size is not a power-of-two multiple of the section
 *   size, or if a section already records a different one.
 */
export function setMemoryBlockSize(mem: Memory, blockBytes: number): void {
  checkMemoryBlockSize(blockBytes, mem.sectionBytes);
  const n = blockBytes / mem.sectionBytes;
  for (const sec of mem.sections) {
    const have = sec?.i32[SEC_BLOCK_SECTIONS];
    if (have && have !== n)
      throw new KernelError(
        'EINVAL',
        `memory block size is already ${have * mem.sectionBytes}; cannot change it to ${blockBytes}`,
      );
  }
  for (const sec of mem.sections) if (sec) sec.i32[SEC_BLOCK_SECTIONS] = n;
}

/** Sections per memory block (`sections_per_block`), read from the section headers. */
export function sectionsPerBlock(mem: Memory): number {
  for (const sec of mem.sections) {
    const n = sec?.i32[SEC_BLOCK_SECTIONS];
    if (n) return n;
  }
  return 1;
}

/**
 * Bytes per memory block (`memory_block_size_bytes`).
 * @see drivers/base/memory.c: memory_block_size_bytes
 */
export function memoryBlockSizeBytes(mem: Memory): number {
  return sectionsPerBlock(mem) * mem.sectionBytes;
}

/** The id of the block holding section `sectionNr` (`memory_block_id`). */
export function memoryBlockId(mem: Memory, sectionNr: number): number {
  return Math.floor(sectionNr / sectionsPerBlock(mem));
}

/** The id of the block holding `pfn` (`pfn_to_block_id`). */
export function pfnToBlockId(mem: Memory, pfn: number): number {
  return memoryBlockId(mem, pfn >>> mem.sectionShift);
}

/**
 * Every memory block with at least one present section, by id (`memory_dev_init`
 * registers one per such run of sections).
 * @see drivers/base/memory.c: add_boot_memory_block
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function memoryBlocks(mem: Memory): MemoryBlock[] {
  checkMemory(mem, 'memoryBlocks');
  const spb = sectionsPerBlock(mem);
  const blocks: MemoryBlock[] = [];
  for (let id = 0; id * spb < mem.sections.length; id++) {
    const b = readBlock(mem, id, spb);
    if (b) blocks.push(b);
  }
  return blocks;
}

/**
 * The block with id `id`, or null if none of its sections is present
 * (`find_memory_block_by_id`).
 */
export function findMemoryBlock(mem: Memory, id: number): MemoryBlock | null {
  if (!Number.isSafeInteger(id) || id < 0) return null;
  return readBlock(mem, id, sectionsPerBlock(mem));
}

function readBlock(mem: Memory, id: number, spb: number): MemoryBlock | null {
  const present: MemSection[] = [];
  for (let nr = id * spb; nr < (id + 1) * spb; nr++) {
    const sec = mem.sections[nr];
    if (sec) present.push(sec);
  }
  if (present.length === 0) return null;
  const nids = [...new Set(present.map((s) => s.nid))].sort((a, b) => a - b);
  const online = present.filter((s) => s.state & SECTION_IS_ONLINE);
  const zones = [...new Set(online.map((s) => s.i32[SEC_ZONE]!))].sort((a, b) => a - b);
  const whole = online.length === present.length && zones.length === 1 && nids.length === 1;
  const startSectionNr = id * spb;
  return {
    id,
    startSectionNr,
    startPfn: startSectionNr << mem.sectionShift,
    nrPages: spb << mem.sectionShift,
    sections: present.map((s) => s.nr),
    presentPages: present.reduce((n, s) => n + s.nrPages, 0),
    nid: nids[nids.length - 1]!,
    nids,
    state: online.length ? 'online' : 'offline',
    zones,
    zone: whole ? zones[0]! : null,
  };
}

/** `zone_intersects`: the zone spans any PFN of [startPfn, startPfn + nrPages). */
function zoneIntersects(
  mem: Memory,
  nid: number,
  zid: number,
  startPfn: number,
  nrPages: number,
): boolean {
  const { start, spanned } = mem.zoneSpan(mem.zone(nid, zid));
  if (!spanned) return false;
  return startPfn < start + spanned && startPfn + nrPages > start;
}

/**
 * The kernel zone hotplug would online a range to (`default_kernel_zone_for_pfn`): the
 * first zone below ZONE_NORMAL that spans part of it, else ZONE_NORMAL.
 */
function defaultKernelZone(mem: Memory, nid: number, startPfn: number, nrPages: number): number {
  for (let zid = 0; zid < ZONE_NORMAL; zid++)
    if (zoneIntersects(mem, nid, zid, startPfn, nrPages)) return zid;
  return ZONE_NORMAL;
}

/**
 * The zone `online` (no type given) would pick (`default_zone_for_pfn` under the default
 * "contig-zones" policy): the zone already spanning the range if exactly one of the
 * kernel zone and ZONE_MOVABLE does, else the kernel zone (kern has no `movable_node`).
 */
function defaultZone(mem: Memory, nid: number, startPfn: number, nrPages: number): number {
  const kernel = defaultKernelZone(mem, nid, startPfn, nrPages);
  const inKernel = zoneIntersects(mem, nid, kernel, startPfn, nrPages);
  const inMovable = zoneIntersects(mem, nid, ZONE_MOVABLE, startPfn, nrPages);
  if (inKernel !== inMovable) return inKernel ? kernel : ZONE_MOVABLE;
  return kernel;
}

/**
 * The text of `valid_zones`: for an online block the zone it is in, or `none` when it
 * spans several (or several nodes); for an offline block the zone `online` would choose,
 * then the others `online_kernel` and `online_movable` would choose, if different.
 * @see drivers/base/memory.c: valid_zones_show, print_allowed_zone
 */
export function validZones(mem: Memory, block: MemoryBlock): string {
  if (block.state === 'online') return `${block.zone === null ? 'none' : zoneNames[block.zone]!}\n`;
  const { nid, startPfn, nrPages } = block;
  const def = defaultZone(mem, nid, startPfn, nrPages);
  let out = zoneNames[def]!;
  for (const zid of [defaultKernelZone(mem, nid, startPfn, nrPages), ZONE_MOVABLE])
    if (zid !== def) out += ` ${zoneNames[zid]!}`;
  return `${out}\n`;
}

/**
 * The files of `/sys/devices/system/memory/memoryN/` for a block, in Linux's formats.
 * (Linux has no per-block `online_type` or `node` file: the online type is what is
 * written to `state`, and the node is the `nodeM` symlink listed in `links`.)
 * @see drivers/base/memory.c: phys_index_show, state_show, phys_device_show,
 *      removable_show, valid_zones_show; drivers/base/node.c: register_mem_block_under_node_early
 */
export function memoryBlockSysfs(mem: Memory, block: MemoryBlock): MemoryBlockSysfs {
  return {
    phys_index: `${block.id.toString(16).padStart(8, '0')}\n`,
    state: `${block.state}\n`,
    phys_device: '0\n',
    removable: '1\n',
    valid_zones: validZones(mem, block),
    links: block.nids.map((n) => `node${n}`),
  };
}

/**
 * `/sys/devices/system/memory/block_size_bytes`: the block size in hex, no `0x`
 * (`8000000` for 128 MiB).
 * @see drivers/base/memory.c: block_size_bytes_show
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function sysBlockSizeBytes(mem: Memory): string {
  checkMemory(mem, 'sysBlockSizeBytes');
  return `${memoryBlockSizeBytes(mem).toString(16)}\n`;
}

/**
 * Every regular file under `/sys/devices/system/memory/` that this module knows, by path
 * relative to that directory (`block_size_bytes`, `memory0/state`, ...), with its text.
 * `auto_online_blocks` and the `probe`/`soft_offline_page` files belong to hotplug.
 * @throws KernelError EINVAL if `mem` is not a Memory.
 */
export function sysDevicesSystemMemory(mem: Memory): Map<string, string> {
  checkMemory(mem, 'sysDevicesSystemMemory');
  const files = new Map<string, string>([['block_size_bytes', sysBlockSizeBytes(mem)]]);
  for (const b of memoryBlocks(mem)) {
    const f = memoryBlockSysfs(mem, b);
    for (const name of ['phys_index', 'phys_device', 'removable', 'state', 'valid_zones'] as const)
      files.set(`memory${b.id}/${name}`, f[name]);
  }
  return files;
}
