/**
 * Property: for random machines, tree shapes and schedules, no RCU callback runs while
 * a read-side critical section that began before its callRcu is still running, and
 * every synchronizeRcu returns only after such readers end. A `broken` run (callbacks
 * invoked at once) must violate it, so the property can fail.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeSim } from './tree-helpers.js';

interface Cfg {
  seed: number;
  nrCpus: number;
  fanout: number;
  fanoutLeaf: number;
  nReaders: number;
  maxLen: number;
  offline: boolean;
}

/** Runs one schedule; returns the number of violations seen. */
function violations(c: Cfg, broken = false): number {
  const { sched, rcu } = makeSim({
    nrCpus: c.nrCpus,
    seed: c.seed,
    fanout: c.fanout,
    fanoutLeaf: c.fanoutLeaf,
    jiffiesTillFirstFqs: 1,
    jiffiesTillNextFqs: 1,
  });
  const active = new Set<number>();
  let nextId = 0;
  let bad = 0;
  let live = 0;
  const until = 30e6;
  for (let r = 0; r < c.nReaders; r++) {
    live++;
    sched.spawn({ name: `reader${r}` }, function* (ctx) {
      while (ctx.now() < until) {
        rcu.rcuReadLock(ctx);
        const id = nextId++;
        active.add(id);
        const n = ctx.rng.below(c.maxLen);
        for (let i = 0; i < n; i++) yield;
        active.delete(id);
        rcu.rcuReadUnlock(ctx);
        if (ctx.rng.below(3) === 0) yield ctx.sleep(ctx.rng.below(20_000));
        else yield;
      }
      live--;
    });
  }
  live++;
  sched.spawn({ name: 'updater' }, function* (ctx) {
    let k = 0;
    while (ctx.now() < until) {
      yield ctx.sleep(ctx.rng.below(40_000));
      const before = [...active];
      const check = (): void => {
        for (const id of before) if (active.has(id)) bad++;
      };
      if (k++ % 3 === 0) {
        if (broken) check();
        else {
          yield* rcu.synchronizeRcu(ctx);
          check();
        }
      } else {
        const cpu = rcu.cpuOnline(ctx.cpu) ? ctx.cpu : 0;
        if (broken) check();
        else rcu.callRcu(cpu, check);
      }
      if (c.offline && k % 5 === 0 && c.nrCpus > 2) {
        const victim = 1 + ctx.rng.below(c.nrCpus - 1);
        try {
          if (rcu.cpuOnline(victim)) rcu.offlineCpu(victim);
          else rcu.onlineCpu(victim);
        } catch {
          // EBUSY: a reader holds it, or it runs us.
        }
      }
    }
    yield* rcu.rcuBarrier(ctx);
    live--;
  });
  sched.run({ until: () => live === 0 });
  rcu.stop();
  return bad;
}

const cfg = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  nrCpus: fc.integer({ min: 2, max: 12 }),
  fanout: fc.integer({ min: 2, max: 4 }),
  fanoutLeaf: fc.integer({ min: 2, max: 4 }),
  nReaders: fc.integer({ min: 1, max: 8 }),
  maxLen: fc.integer({ min: 1, max: 200 }),
  offline: fc.boolean(),
});

describe('Tree RCU grace-period guarantee (property)', () => {
  it('no callback or synchronizeRcu return overlaps a reader that predates it', () => {
    fc.assert(
      fc.property(cfg, (c) => {
        expect(violations(c)).toBe(0);
      }),
      { numRuns: 40, seed: 20_240_601 },
    );
  });

  it('negative control: invoking callbacks without a grace period is caught', () => {
    const seen = [1, 2, 3].map((seed) =>
      violations(
        { seed, nrCpus: 4, fanout: 2, fanoutLeaf: 2, nReaders: 4, maxLen: 100, offline: false },
        true,
      ),
    );
    expect(seen.some((v) => v > 0)).toBe(true);
  });
});
