// rcutorture for the real (worker-thread) RCU: reader workers check every object they
// see; the writer (main thread) replaces the current object and frees old ones through
// callRcu, one pipe stage per grace period, poisoning them at the end. Prints Linux's
// Reader Pipe / Reader Batch / Free-Block Circulation lines. Any Reader Pipe entry past
// the second is a failure; the 'busted' negative control (reclaim without waiting) must
// produce such entries. Free-Block Circulation counts, as Linux's rcu_torture_wcount[],
// how many objects left each pipe stage (at removal, then once per grace period).
//
// Short in CI; KERN_TORTURE_LONG=1 runs each configuration for a minute.
import { afterEach, describe, expect, it } from 'vitest';
import { createRcuDomain, type RcuFlavor } from '../src/real/domain.js';
import { nextMessage, spawn, terminateAll } from './fixtures/real-spawn.js';
import {
  ALIVE,
  CTL_STARTED,
  CTL_STOP,
  DATA,
  GEN,
  MAGIC,
  OBJ_WORDS,
  PIPE,
  POISON,
  RCU_TORTURE_PIPE_LEN,
  dataOf,
  formatHist,
  type TortureReaderResult,
} from './fixtures/real-torture.js';

const LONG = process.env.KERN_TORTURE_LONG === '1';
const SECONDS = LONG ? 60 : 3;
const NR_READERS = 2;
const NR_OBJS = 1024;

afterEach(terminateAll);

interface TortureResult {
  pipe: number[];
  batch: number[];
  wcount: number[];
  reads: number;
  errors: number;
  firstError: string;
  versions: number;
  frees: number;
  gps: number;
}

async function rcuTorture(flavor: RcuFlavor, busted: boolean): Promise<TortureResult> {
  const domain = createRcuDomain({ flavor, maxReaders: 8, pointerSlots: 1 });
  const pool = new Int32Array(new SharedArrayBuffer((NR_OBJS + 1) * OBJ_WORDS * 4));
  const ctl = new Int32Array(new SharedArrayBuffer(64));
  const free: number[] = [];
  for (let h = 2; h <= NR_OBJS; h++) free.push(h);
  let gen = 1;
  const init = (h: number): void => {
    const o = h * OBJ_WORDS;
    pool[o + PIPE] = 0;
    pool[o + GEN] = ++gen;
    pool[o + DATA] = dataOf(gen);
    pool[o + MAGIC] = ALIVE;
  };
  init(1);
  domain.rcuAssignPointer(0, 1);
  const wcount = new Array<number>(RCU_TORTURE_PIPE_LEN + 1).fill(0);
  let versions = 0;
  let frees = 0;

  // rcu_torture_pipe_update_one(): count the stage the object leaves and advance it;
  // true once it has reached the end of the pipe.
  const pipeUpdateOne = (h: number): boolean => {
    const o = h * OBJ_WORDS;
    const i = Math.min(pool[o + PIPE]!, RCU_TORTURE_PIPE_LEN);
    wcount[i]!++;
    Atomics.store(pool, o + PIPE, i + 1);
    return i + 1 >= RCU_TORTURE_PIPE_LEN;
  };

  // rcu_torture_cb(): one pipe stage per grace period; rcu_torture_free() (poison and
  // quarantine) at the end.
  const cb = (h: number): void => {
    if (pipeUpdateOne(h)) {
      const o = h * OBJ_WORDS;
      Atomics.store(pool, o + MAGIC, POISON);
      Atomics.store(pool, o + DATA, POISON);
      free.push(h);
      frees++;
    } else if (busted) cb(h);
    else domain.callRcu(() => cb(h));
  };

  const readers = Array.from({ length: NR_READERS }, (_, i) =>
    spawn('real-torture-reader.ts', {
      domain: domain.handle,
      pool: pool.buffer,
      ctl: ctl.buffer,
      seed: 0x9e3779b9 ^ (i * 7919),
    }),
  );
  const done = readers.map((w) =>
    nextMessage<TortureReaderResult>(w, 'done', SECONDS * 1000 + 30_000),
  );
  const t0 = performance.now();
  while (Atomics.load(ctl, CTL_STARTED) < NR_READERS && performance.now() - t0 < 20_000)
    await new Promise((r) => setTimeout(r, 5));
  const gp0 = domain.gpSeq;

  // rcu_torture_writer()
  const deadline = performance.now() + SECONDS * 1000;
  while (performance.now() < deadline) {
    // Quarantine: reuse only while half the pool is free, oldest first (busted mode frees
    // at once, so it never waits here).
    if (free.length < NR_OBJS / 2) {
      await domain.synchronizeRcu();
      continue;
    }
    const h = free.shift()!;
    init(h);
    const old = domain.rcuDereference(0);
    domain.rcuAssignPointer(0, h);
    versions++;
    pipeUpdateOne(old); // removal: stage 0 → 1, as rcu_torture_writer() does
    if (busted) cb(old);
    else domain.callRcu(() => cb(old));
    if ((versions & 7) === 0) await new Promise((r) => setImmediate(r));
  }
  Atomics.store(ctl, CTL_STOP, 1);
  const results = await Promise.all(done);
  const gps = ((domain.gpSeq - gp0) | 0) >> 1;
  domain.close();
  const sum = (k: 'pipe' | 'batch'): number[] =>
    results.reduce((acc, r) => acc.map((v, i) => v + r[k][i]!), new Array<number>(11).fill(0));
  return {
    pipe: sum('pipe'),
    batch: sum('batch'),
    wcount,
    reads: results.reduce((s, r) => s + r.reads, 0),
    errors: results.reduce((s, r) => s + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError ?? '',
    versions,
    frees,
    gps,
  };
}

function report(name: string, r: TortureResult): void {
  const bad = r.pipe.slice(2).some((n) => n > 0) || r.errors > 0;
  const flag = bad ? '!!! ' : '';
  console.log(
    [
      `${name}-torture: rtc: ${r.versions} ver: ${r.versions} tfle: 0 rta: ${r.versions} rtaf: 0 rtf: ${r.frees} rtmbe: ${r.errors} gps: ${r.gps} reads: ${r.reads}`,
      `${name}-torture: ${flag}${formatHist('Reader Pipe', r.pipe)}`,
      `${name}-torture: ${formatHist('Reader Batch', r.batch)}`,
      `${name}-torture: ${formatHist('Free-Block Circulation', r.wcount)}`,
      ...(r.firstError ? [`${name}-torture: first reader error: ${r.firstError}`] : []),
    ].join('\n'),
  );
}

describe(`rcutorture, real RCU (${SECONDS}s per run${LONG ? ', long' : ''})`, () => {
  for (const flavor of ['qsbr', 'mb'] as const) {
    it(`${flavor}: no reader sees an object past the second pipe stage, none sees poison`, async () => {
      const r = await rcuTorture(flavor, false);
      report(`rcu-${flavor}`, r);
      expect(r.reads).toBeGreaterThan(1000);
      expect(r.versions).toBeGreaterThan(100);
      expect(r.gps).toBeGreaterThan(10);
      expect(r.frees).toBeGreaterThan(0);
      expect(r.pipe.slice(2)).toEqual(new Array<number>(RCU_TORTURE_PIPE_LEN - 1).fill(0));
      expect(r.errors).toBe(0);
      // Free-Block Circulation: every removed object left stage 0; each later stage saw
      // at most as many (the rest are still in the pipe); the last one freed `frees`
      // objects, and none went past the end of the pipe.
      expect(r.wcount[0]).toBe(r.versions);
      for (let i = 1; i < RCU_TORTURE_PIPE_LEN; i++)
        expect(r.wcount[i]).toBeLessThanOrEqual(r.wcount[i - 1]!);
      expect(r.wcount[RCU_TORTURE_PIPE_LEN - 1]).toBe(r.frees);
      expect(r.wcount[RCU_TORTURE_PIPE_LEN]).toBe(0);
    });
  }

  it('negative control (busted: reclaim without waiting) is caught by the Reader Pipe histogram', async () => {
    const r = await rcuTorture('qsbr', true);
    report('busted', r);
    expect(r.pipe.slice(2).reduce((s, n) => s + n, 0)).toBeGreaterThan(0);
    expect(r.errors).toBeGreaterThan(0);
    // Freed at once: every object went through every stage in the same call.
    expect(r.wcount).toEqual([...new Array<number>(RCU_TORTURE_PIPE_LEN).fill(r.versions), 0]);
  });
});
