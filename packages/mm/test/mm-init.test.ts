import { describe, expect, it } from 'vitest';
import { GFP_KERNEL, GFP_HIGHUSER_MOVABLE } from '../src/gfp.js';
import type { MemoryConfig } from '../src/mm-init.js';
import { createMemory } from '../src/mm-init.js';
import { ZONE_MOVABLE, ZONE_NORMAL } from '../src/mmzone.js';
import { procBuddyinfo } from '../src/proc.js';
import { captureLog, thrown } from './helpers.js';

/** Pages of node 0's ZONE_MOVABLE, and the log of booting `config`. */
function boot(config: MemoryConfig): {
  movable: number;
  normal: number;
  total: number;
  log: string[];
} {
  const log = captureLog();
  const mem = createMemory({ ...config, log });
  return {
    movable: mem.zoneSpan(mem.zone(0, ZONE_MOVABLE)).present,
    normal: mem.zoneSpan(mem.zone(0, ZONE_NORMAL)).present,
    total: mem.totalPresentPages(),
    log: log.lines,
  };
}

const SECTION = (128 << 20) / 4096;

describe('createMemory checks its configuration', () => {
  const bad = (config: unknown): string =>
    thrown(() => createMemory(config as MemoryConfig)).message;

  it('names a value of the wrong type with its type', () => {
    expect(bad({ nrCpus: '2' })).toBe(
      "EINVAL: createMemory: nrCpus must be an integer from 1 to 4096, got '2' (string)",
    );
    expect(bad({ size: true })).toMatch(
      /size must be a size in bytes or a string such as 64M, got true \(boolean\)/,
    );
    expect(bad({ nodes: ['64M', 64n] })).toMatch(/nodes\[1\] must be a size .* got 64n \(bigint\)/);
    expect(bad({ smp: 'yes' })).toMatch(/smp must be true or false, got 'yes' \(string\)/);
    expect(bad({ log: {} })).toMatch(
      /log must be null or an object with a printk\(level, text\) method/,
    );
    expect(bad({ size: '64Q' })).toMatch(/size: '64Q' is not a size/);
  });

  it('refuses a configuration that is not an object, and unknown options', () => {
    expect(bad('256M')).toMatch(
      /the configuration must be an object such as \{ size: '256M' \}, got '256M' \(string\)/,
    );
    expect(bad({ sizee: '128M' })).toMatch(/unknown option 'sizee' \(options: nodes, size, /);
  });

  it('procBuddyinfo and the other entry points refuse what is not a Memory', () => {
    const e = thrown(() => procBuddyinfo({} as never));
    expect([e.errno, e.message]).toEqual([
      'EINVAL',
      'EINVAL: procBuddyinfo: mem must be a Memory (from createMemory or attachMemory), got an empty object',
    ]);
  });
});

describe('movablecore= and kernelcore= (find_zone_movable_pfns_for_nodes)', () => {
  it('movablecore below all of memory makes the top sections ZONE_MOVABLE', () => {
    expect(boot({ movablecore: '128M' })).toMatchObject({ movable: SECTION, log: [] });
    expect(boot({ cmdline: 'movablecore=100M' })).toMatchObject({ movable: SECTION });
  });

  it('movablecore of all of memory or more is ignored with a warning, and GFP_KERNEL still works', () => {
    for (const config of [
      { movablecore: '1G' },
      { movablecore: '256M' },
      { cmdline: 'movablecore=200M' },
    ]) {
      const r = boot(config);
      expect(r.movable).toBe(0);
      expect(r.log).toEqual([
        expect.stringMatching(
          /^movablecore=(1G|256M|200M): in whole 128M sections that leaves no memory for the kernel out of 256M; ignored, no ZONE_MOVABLE$/,
        ),
      ]);
    }
    const mem = createMemory({ movablecore: '1G', log: null });
    expect(mem.allocPages(GFP_KERNEL, 0)).not.toBeNull();
  });

  it('kernelcore keeps that much for the kernel and makes the rest ZONE_MOVABLE', () => {
    expect(boot({ kernelcore: '128M' })).toMatchObject({ movable: SECTION, log: [] });
    expect(boot({ cmdline: 'kernelcore=100M', size: '512M' })).toMatchObject({
      movable: 3 * SECTION,
    });
    // Both: the larger kernel share wins (movablecore 128M would leave 384M to the kernel).
    expect(boot({ kernelcore: '128M', movablecore: '128M', size: '512M' })).toMatchObject({
      movable: SECTION,
    });
  });

  it('kernelcore of all of memory or more is ignored with a warning', () => {
    const r = boot({ kernelcore: '256M' });
    expect(r.movable).toBe(0);
    expect(r.log).toEqual([
      'kernelcore=256M: in whole 128M sections that leaves no movable memory out of 256M; ignored, no ZONE_MOVABLE',
    ]);
    const mem = createMemory({ kernelcore: '1G', log: null });
    expect(mem.allocPages(GFP_HIGHUSER_MOVABLE, 0)).not.toBeNull();
  });
});

describe('mem=', () => {
  it('is rounded down to whole sections, saying what was used', () => {
    for (const config of [{ mem: '200M' }, { cmdline: 'mem=200M' }]) {
      const r = boot(config);
      expect(r.total).toBe(SECTION);
      expect(r.log).toEqual(['mem=200M: memory comes in 128M sections here; using 128M']);
    }
    expect(boot({ mem: '128M' })).toMatchObject({ total: SECTION, log: [] });
    expect(boot({ mem: '1G' })).toMatchObject({ total: 2 * SECTION, log: [] });
  });

  it("mem=0 is refused as Linux's parse_memopt refuses it, and all memory is used", () => {
    for (const config of [{ mem: 0 }, { cmdline: 'mem=0' }])
      expect(boot(config)).toMatchObject({
        total: 2 * SECTION,
        log: ["Malformed early option 'mem'"],
      });
  });

  it('less than one section is EINVAL: there is nothing to boot with', () => {
    for (const config of [{ mem: '4K' }, { cmdline: 'mem=64M' }])
      expect(thrown(() => createMemory(config)).message).toMatch(
        /^EINVAL: mem=(4K|64M) is less than one memory section \(128M\): memory comes in whole sections here \(sectionSize\)$/,
      );
  });
});
