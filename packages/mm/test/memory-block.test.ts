import { describe, expect, it } from 'vitest';
import { SECTION_IS_ONLINE, SEC_STATE, SEC_ZONE, Z_SPANNED } from '../src/layout.js';
import type { Memory } from '../src/memory.js';
import {
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
} from '../src/memory-block.js';
import { createMemory } from '../src/mm-init.js';
import { attachMemory } from '../src/smpboot.js';
import { ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL } from '../src/mmzone.js';
import { thrown } from './helpers.js';

const MiB = 1 << 20;

/**
 * Marks a section offline the way hotplug's offline path ends (`offline_mem_sections`
 * clears the online bit; the section no longer belongs to a zone). A block's state is
 * derived from nothing else, so this is all these tests need; taking the pages out of the
 * allocator first is @kern/hotplug's job and is tested there.
 */
function markSectionOffline(mem: Memory, nr: number): void {
  const h = mem.sections[nr]!.i32;
  h[SEC_STATE] = h[SEC_STATE]! & ~SECTION_IS_ONLINE;
  h[SEC_ZONE] = -1;
}

describe('memory blocks', () => {
  it('default to one section per block, as x86_64 below 64 GiB (128 MiB with default sections)', () => {
    const mem = createMemory({ size: '256M' });
    expect(memoryBlockSizeBytes(mem)).toBe(128 * MiB);
    expect(sysBlockSizeBytes(mem)).toBe('8000000\n');
    expect(memoryBlocks(mem).map((b) => b.id)).toEqual([0, 1]);
  });

  it('group sections into blocks of the configured size', () => {
    const mem = createMemory({ size: '128M', sectionSize: '16M', memoryBlockSize: '32M' });
    expect(sectionsPerBlock(mem)).toBe(2);
    expect(sysBlockSizeBytes(mem)).toBe('2000000\n');
    const blocks = memoryBlocks(mem);
    expect(blocks.map((b) => [b.id, b.startSectionNr, b.startPfn, b.nrPages, b.sections])).toEqual([
      [0, 0, 0, 8192, [0, 1]],
      [1, 2, 8192, 8192, [2, 3]],
      [2, 4, 16384, 8192, [4, 5]],
      [3, 6, 24576, 8192, [6, 7]],
    ]);
    expect(blocks[3]).toMatchObject({
      presentPages: 8192,
      nid: 0,
      nids: [0],
      state: 'online',
      zones: [ZONE_DMA32],
      zone: ZONE_DMA32,
    });
    expect(memoryBlockId(mem, 5)).toBe(2);
    expect(pfnToBlockId(mem, 8191)).toBe(0);
    expect(pfnToBlockId(mem, 8192)).toBe(1);
    expect(findMemoryBlock(mem, 2)?.sections).toEqual([4, 5]);
    expect(findMemoryBlock(mem, 4)).toBeNull();
    expect(findMemoryBlock(mem, -1)).toBeNull();
  });

  it('print their sysfs files in Linux formats', () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M' });
    const f = memoryBlockSysfs(mem, findMemoryBlock(mem, 3)!);
    expect(f).toEqual({
      phys_index: '00000003\n', // "%08lx\n"
      state: 'online\n',
      phys_device: '0\n',
      removable: '1\n',
      valid_zones: 'DMA32\n',
      links: ['node0'],
    });
    // Block ids print in hex.
    const big = createMemory({ size: '192M', sectionSize: '4M' });
    expect(memoryBlockSysfs(big, findMemoryBlock(big, 47)!).phys_index).toBe('0000002f\n');
    const all = sysDevicesSystemMemory(mem);
    expect([...all.keys()].slice(0, 6)).toEqual([
      'block_size_bytes',
      'memory0/phys_index',
      'memory0/phys_device',
      'memory0/removable',
      'memory0/state',
      'memory0/valid_zones',
    ]);
    expect(all.size).toBe(1 + 4 * 5);
    expect(all.get('block_size_bytes')).toBe('1000000\n');
    expect(all.get('memory2/phys_index')).toBe('00000002\n');
  });

  it('an online block shows its zone, or none when it spans zones or nodes', () => {
    const zonesByBlock = (mem: Memory): string[] =>
      memoryBlocks(mem).map((b) => memoryBlockSysfs(mem, b).valid_zones);
    const perZone = createMemory({
      nodes: ['32M', '32M'],
      sectionSize: '16M',
      dma32Limit: '16M',
      movablecore: '16M',
    });
    expect(zonesByBlock(perZone)).toEqual(['DMA32\n', 'Normal\n', 'Normal\n', 'Movable\n']);
    expect(memoryBlocks(perZone).map((b) => [b.nid, b.zone])).toEqual([
      [0, ZONE_DMA32],
      [0, ZONE_NORMAL],
      [1, ZONE_NORMAL],
      [1, ZONE_MOVABLE],
    ]);

    const twoZones = createMemory({
      size: '64M',
      sectionSize: '16M',
      dma32Limit: '32M',
      memoryBlockSize: '64M',
    });
    const [b] = memoryBlocks(twoZones);
    expect(b).toMatchObject({ state: 'online', zones: [ZONE_DMA32, ZONE_NORMAL], zone: null });
    expect(zonesByBlock(twoZones)).toEqual(['none\n']);

    const twoNodes = createMemory({
      nodes: ['16M', '16M'],
      sectionSize: '16M',
      memoryBlockSize: '32M',
    });
    const [c] = memoryBlocks(twoNodes);
    expect(c).toMatchObject({ nid: 1, nids: [0, 1], zones: [ZONE_DMA32], zone: null });
    expect(memoryBlockSysfs(twoNodes, c!).links).toEqual(['node0', 'node1']);
    expect(zonesByBlock(twoNodes)).toEqual(['none\n']);
  });

  it('state follows the sections; an offline block lists the zones it could be onlined to', () => {
    // Offline blocks in the middle of a zone's span, so the answers hold whether or not
    // offlining shrinks the zone span (Linux shrinks spans only at their ends).
    const dma = createMemory({ size: '64M', sectionSize: '16M' });
    markSectionOffline(dma, 1);
    const b1 = findMemoryBlock(dma, 1)!;
    expect(b1).toMatchObject({ state: 'offline', zones: [], zone: null, nid: 0 });
    expect(memoryBlockSysfs(dma, b1)).toMatchObject({
      state: 'offline\n',
      valid_zones: 'DMA32 Movable\n',
    });

    const normal = createMemory({ size: '64M', sectionSize: '16M', dma32Limit: '16M' });
    markSectionOffline(normal, 2);
    expect(memoryBlockSysfs(normal, findMemoryBlock(normal, 2)!).valid_zones).toBe(
      'Normal Movable\n',
    );

    const movable = createMemory({
      size: '64M',
      sectionSize: '16M',
      dma32Limit: '16M',
      movablecore: '48M',
    });
    markSectionOffline(movable, 2);
    expect(memoryBlockSysfs(movable, findMemoryBlock(movable, 2)!).valid_zones).toBe(
      'Movable Normal\n',
    );

    // Beyond every zone's span: the kernel zone by default, ZONE_MOVABLE allowed.
    const top = createMemory({ size: '64M', sectionSize: '16M', dma32Limit: '16M' });
    markSectionOffline(top, 1);
    markSectionOffline(top, 2);
    markSectionOffline(top, 3);
    const zn = top.zone(0, ZONE_NORMAL);
    zn.a[zn.b + Z_SPANNED] = 0; // as offlining its last sections would shrink it
    expect(memoryBlockSysfs(top, findMemoryBlock(top, 3)!).valid_zones).toBe('Normal Movable\n');
  });

  it('a partly online block counts as online with no single zone', () => {
    const mem = createMemory({ size: '64M', sectionSize: '16M', memoryBlockSize: '32M' });
    markSectionOffline(mem, 1);
    const b = findMemoryBlock(mem, 0)!;
    expect(b).toMatchObject({ state: 'online', zones: [ZONE_DMA32], zone: null });
    expect(memoryBlockSysfs(mem, b).valid_zones).toBe('none\n');
    markSectionOffline(mem, 0);
    expect(findMemoryBlock(mem, 0)!.state).toBe('offline');
  });

  it('the block size lives in the section headers: another thread sees the same blocks', () => {
    const mem = createMemory({
      size: '128M',
      sectionSize: '16M',
      memoryBlockSize: '64M',
      nrCpus: 2,
    });
    const other = attachMemory(mem.handle, { cpu: 1 });
    expect(memoryBlockSizeBytes(other)).toBe(64 * MiB);
    expect(memoryBlocks(other)).toEqual(memoryBlocks(mem));
  });

  it('rejects a block size that is not a power-of-two multiple of the section size, by value', () => {
    for (const bad of ['24M', '48M', '8M', 0, 16 * MiB + 4096]) {
      const e = thrown(() =>
        createMemory({ size: '64M', sectionSize: '16M', memoryBlockSize: bad }),
      );
      expect(e.errno).toBe('EINVAL');
      expect(e.message).toContain(`memoryBlockSize ${String(bad)} (`);
      expect(e.message).toContain('must be a power-of-two multiple of the section size 16777216');
    }
    expect(thrown(() => createMemory({ memoryBlockSize: 'lots' })).message).toMatch(
      /'lots' is not a size/,
    );
    // Fixed once recorded.
    const mem = createMemory({ size: '64M', sectionSize: '16M' });
    expect(thrown(() => setMemoryBlockSize(mem, 32 * MiB)).message).toMatch(
      /already 16777216; cannot change it to 33554432/,
    );
    setMemoryBlockSize(mem, 16 * MiB); // the same size again is fine
  });
});
