// RCU's node and per-CPU state in @kern/mm physical memory, readable from a raw copy.
import { bootMemory } from '@kern/mm';
import { describe, expect, it } from 'vitest';
import { rcuArenaBytes } from '../src/rcu-arena.js';
import { rcuInitGeometry } from '../src/tree.js';
import { makeSim } from './tree-helpers.js';

describe('RcuState in physical memory', () => {
  it('keeps its arrays in a boot reservation and a dump of the raw bytes shows them', () => {
    const nrCpus = 64;
    const g = rcuInitGeometry(nrCpus, 4, 4);
    const size = rcuArenaBytes(nrCpus, g.numNodes);
    const { mem, memblock } = bootMemory({
      size: '32M',
      sectionSize: '16M',
      reserve: [{ name: 'rcu_state', size, align: 64 }],
    });
    const region = memblock.find('rcu_state')!;
    const { sched, rcu } = makeSim({
      nrCpus,
      fanout: 4,
      fanoutLeaf: 4,
      arena: mem.physBytes(region.base, size),
    });
    expect(rcu.arena.used).toBeLessThanOrEqual(size);
    let done = false;
    sched.spawn({ name: 'updater' }, function* (ctx) {
      for (let i = 0; i < 3; i++) yield* rcu.synchronizeRcu(ctx);
      done = true;
    });
    expect(sched.run({ until: () => done, untilNs: 10e9 }).reason).toBe('until');
    // A dump: copy the raw bytes and find fields through the recorded layout alone.
    const raw = mem.readPhys(region.base, size);
    const dv = new DataView(raw.buffer);
    const field = (name: string) => rcu.arena.layout.find((e) => e.name === name)!;
    const root = 0;
    expect(dv.getFloat64(field('nodeGpSeq').offset + root * 8, true)).toBe(rcu.node(root).gpSeq);
    const leaf = rcu.firstLeaf + 3;
    expect(dv.getInt32(field('grplo').offset + leaf * 4, true)).toBe(rcu.node(leaf).grplo);
    expect(dv.getInt32(field('grphi').offset + leaf * 4, true)).toBe(rcu.node(leaf).grphi);
    for (let cpu = 0; cpu < nrCpus; cpu += 9)
      expect(dv.getUint32(field('dynticks').offset + cpu * 4, true)).toBe(rcu.dynticks[cpu]);
  });

  it('names what does not fit', () => {
    expect(() => makeSim({ nrCpus: 64, arena: new Uint8Array(256) })).toThrow(
      /ENOMEM: rcu arena of 256 bytes cannot hold/,
    );
  });
});
