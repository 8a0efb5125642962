/**
 * rcutorture on the simulated Tree RCU. Short in CI; KERN_TORTURE_LONG=1 runs longer
 * and over more seeds. The negative control (the `busted` type, which frees without
 * waiting for a grace period) must fail, or the test itself is broken.
 */
import { describe, expect, it } from 'vitest';
import { RCU_TORTURE_PIPE_LEN, runSimTorture } from '../src/sim-torture.js';

const long = process.env.KERN_TORTURE_LONG === '1';

/**
 * Free-Block Circulation as rcutorture keeps it: entry i counts objects leaving pipe
 * stage i, so entry 0 is every removal, entry PIPE_LEN - 1 every free, no entry exceeds
 * the one before, and the last (an update after the free) is 0.
 */
function expectCirculation(r: ReturnType<typeof runSimTorture>): void {
  const w = r.wcount;
  expect(w).toHaveLength(RCU_TORTURE_PIPE_LEN + 1);
  expect(w[0]).toBe(r.version - 1);
  expect(w[RCU_TORTURE_PIPE_LEN - 1]).toBe(r.freed);
  for (let i = 1; i < w.length; i++) expect(w[i]).toBeLessThanOrEqual(w[i - 1]!);
  expect(w[RCU_TORTURE_PIPE_LEN]).toBe(0);
  expect(r.lines[3]).toContain(`Free-Block Circulation: ${w.map((v) => ` ${v}`).join('')}`);
}
const seeds = long ? [1, 2, 3, 4, 5, 6, 7, 8] : [1, 2];
const durationNs = long ? 5e9 : 150e6;

describe('rcutorture (simulated Tree RCU)', () => {
  it.each(seeds)('seed %i: Reader Pipe never past its second entry', (seed) => {
    const r = runSimTorture({ seed, durationNs, nrCpus: 8 });
    console.log(r.lines.join('\n'));
    expect(r.pipe).toHaveLength(RCU_TORTURE_PIPE_LEN + 1);
    expect(r.pipe.slice(2).every((v) => v === 0)).toBe(true);
    expect(r.mberror).toBe(0);
    expect(r.barrierError).toBe(0);
    expect(r.failed).toBe(false);
    // The run did exercise what it claims to.
    expect(r.reads).toBeGreaterThan(1000);
    expect(r.pipe[1]).toBeGreaterThan(0);
    expect(r.gps).toBeGreaterThan(10);
    expect(r.expGps).toBeGreaterThan(0);
    expect(r.onoff.ok).toBeGreaterThan(0);
    expect(r.freed).toBeGreaterThan(0);
    expectCirculation(r);
    expect(r.lines.at(-1)).toContain('End of test: SUCCESS');
  });

  it('a wider tree (fanout 4, leaf 4, 16 CPUs) passes too', () => {
    const r = runSimTorture({ seed: 9, durationNs, nrCpus: 16, fanout: 4, fanoutLeaf: 4 });
    console.log(r.lines.join('\n'));
    expect(r.failed).toBe(false);
    expectCirculation(r);
  });

  it('negative control: the busted type (reclaim without waiting) is caught', () => {
    const r = runSimTorture({ seed: 1, durationNs: 100e6, type: 'busted' });
    console.log(r.lines.join('\n'));
    expect(r.failed).toBe(true);
    expect(r.pipe.slice(2).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(r.mberror).toBeGreaterThan(0);
    expectCirculation(r);
    expect(r.lines[1]).toContain('!!! Reader Pipe:');
    expect(r.lines.at(-1)).toContain('End of test: FAILURE');
  });
});
