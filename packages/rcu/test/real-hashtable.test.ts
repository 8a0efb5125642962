import { afterEach, describe, expect, it } from 'vitest';
import { RcuHashTable, valueFor } from '../examples/hashtable.js';
import { createRcuDomain } from '../src/real/domain.js';
import { nextMessage, spawn, terminateAll } from './fixtures/real-spawn.js';

afterEach(terminateAll);

interface Counts {
  lookups: number;
  found: number;
  errors: number;
}

async function churn(
  broken: boolean,
  ms: number,
): Promise<{ counts: Counts[]; ops: number; gps: number }> {
  const domain = createRcuDomain();
  const table = RcuHashTable.create(domain, 64, 2048);
  table.brokenReclaim = broken;
  // [0] stop, [1] readers started, [2] lookups done by both readers.
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  // The main thread churns keys 0..511; keys 512..639 are inserted before the readers
  // start and never removed, so a lookup can find something however slowly grace periods
  // give deleted nodes back to the pool (while it is empty, inserts fail).
  const keys = 512;
  const permanent = 128;
  for (let key = keys; key < keys + permanent; key++) table.insert(key, valueFor(key, 0));
  const readers = [1, 2].map((seed) =>
    spawn('real-hashtable-reader.ts', {
      domain: domain.handle,
      table: table.handle,
      ctl: ctl.buffer,
      keys: keys + permanent,
      seed: seed * 7919,
    }),
  );
  const done = readers.map((w) => nextMessage<Counts>(w, 'done', ms + 60_000));
  // Let both readers start (ctl[1]): on a loaded machine a worker can take seconds.
  for (let t = 0; Atomics.load(ctl, 1) < 2; t++) {
    if (t > 2000) throw new Error('the reader workers never started');
    await new Promise((r) => setTimeout(r, 10));
  }
  // Churn for `ms` and until the readers have done 20,000 lookups between them and this
  // thread 2,000 updates: how much each side gets done in `ms` depends on the host.
  let ops = 0;
  let x = 99;
  const end = performance.now() + ms;
  while (performance.now() < end || Atomics.load(ctl, 2) < 20_000 || ops < 2000) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const key = (x >>> 8) % keys;
    if (x & 0x10000 || !table.insert(key, valueFor(key, ops))) table.delete(key);
    if (++ops % 32 === 0) await new Promise((r) => setImmediate(r));
  }
  Atomics.store(ctl, 0, 1);
  const counts = await Promise.all(done);
  await domain.rcuBarrier();
  const gps = domain.stats().gpsRun;
  domain.close();
  return { counts, ops, gps };
}

describe('example: RCU-protected hash table in shared memory', () => {
  it('two reader workers never see a freed node while the main thread inserts, replaces and deletes', async () => {
    const { counts, ops, gps } = await churn(false, 1500);
    for (const c of counts) expect(c.errors).toBe(0);
    expect(counts.reduce((s, c) => s + c.lookups, 0)).toBeGreaterThanOrEqual(20_000);
    expect(counts.reduce((s, c) => s + c.found, 0)).toBeGreaterThan(0);
    expect(ops).toBeGreaterThanOrEqual(2000);
    expect(gps).toBeGreaterThan(0);
  }, 60_000);

  it('negative control: reclaiming without a grace period is seen by the readers', async () => {
    // The readers must overlap the churn to see a reused node; on a loaded machine one
    // run may starve them, so try a few times and require that one run is caught.
    let errors = 0;
    for (let attempt = 0; attempt < 3 && errors === 0; attempt++) {
      const { counts } = await churn(true, 1500);
      errors = counts.reduce((s, c) => s + c.errors, 0);
    }
    expect(errors).toBeGreaterThan(0);
  }, 180_000);
});
