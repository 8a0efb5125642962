// Bad input to the simulated Tree RCU and its drivers: EINVAL at the call, naming the
// option and its value with its type — not a TypeError from inside, and not a run that
// silently means something else.
import { describe, expect, it } from 'vitest';
import { VirtualClock, isKernelError } from '@kern/core';
import { createClassicRcu } from '../src/classic.js';
import { planBulkGp, runClassicGpBulk, runTreeGpBulk } from '../src/sim-bulk.js';
import { runSimTorture } from '../src/sim-torture.js';
import { createRcuState } from '../src/tree.js';

/** Expects `fn` to throw EINVAL whose message (after `EINVAL: `) matches `msg`. */
const expectEinval = (fn: () => unknown, msg: RegExp): void => {
  let e: unknown;
  try {
    fn();
  } catch (x) {
    e = x;
  }
  expect(isKernelError(e, 'EINVAL'), `expected EINVAL, got ${String(e)}`).toBe(true);
  expect((e as Error).message.replace(/^EINVAL: /, '')).toMatch(msg);
};

describe('createRcuState', () => {
  it('without a clock (or with something else) is EINVAL naming the clock, not a TypeError reading hz', () => {
    expectEinval(
      () => createRcuState({ nrCpus: 16 } as never),
      /^rcu: clock must be a VirtualClock \(createVirtualClock\(\) from @kern\/core\), got undefined$/,
    );
    expectEinval(
      () => createRcuState({ nrCpus: 16, clock: { nowNs: () => 0 } } as never),
      /clock must be a VirtualClock .*got an object with keys nowNs$/,
    );
    expectEinval(
      () => createRcuState(undefined as never),
      /options must be an object .*got undefined$/,
    );
  });

  it('numbers given as strings are named as strings', () => {
    expectEinval(
      () => createRcuState({ nrCpus: '16' as never, clock: new VirtualClock() }),
      /^rcu: nr_cpu_ids '16' \(string\) is not 1\.\./,
    );
    expectEinval(
      () => createRcuState({ nrCpus: 16, clock: new VirtualClock(), fanout: '8' as never }),
      /^rcu fanout '8' \(string\) is not an integer from 2 to 64$/,
    );
    expectEinval(
      () => createRcuState({ nrCpus: 16, clock: new VirtualClock(), lockHoldNs: '100' as never }),
      /^rcu: lockHoldNs '100' \(string\) is not a finite number >= 0$/,
    );
  });
});

describe('runSimTorture', () => {
  it('an unknown torture type is EINVAL, not a run of type rcu under another name', () => {
    expectEinval(
      () => runSimTorture({ seed: 1, type: 'bogus' as never }),
      /^torture type must be 'rcu' or 'busted', got 'bogus' \(string\)$/,
    );
    expectEinval(
      () => runSimTorture({ seed: 1, nReaders: 0 }),
      /^torture nReaders 0 is not an integer >= 1$/,
    );
    expectEinval(
      () => runSimTorture({ seed: 1, durationNs: '5' as never }),
      /^torture duration '5' \(string\) is not > 0$/,
    );
  });
});

describe('the bulk driver', () => {
  it('planBulkGp refuses an idle fraction outside [0, 1] and bad times', () => {
    expectEinval(
      () => planBulkGp(4096, { seed: 1, idleFraction: 2 }),
      /^planBulkGp: idleFraction 2 is not a fraction in \[0, 1\]$/,
    );
    expectEinval(
      () => planBulkGp(4096, { seed: 1, idleFraction: Number.NaN }),
      /idleFraction NaN is not a fraction/,
    );
    expectEinval(
      () => planBulkGp(4096, { seed: 1, nsPerJiffy: 0 }),
      /^planBulkGp: nsPerJiffy 0 is not a finite number > 0$/,
    );
    expectEinval(
      () => planBulkGp(0, { seed: 1 }),
      /^planBulkGp: nrCpus 0 is not an integer 1\.\.4194304$/,
    );
    expectEinval(() => planBulkGp(16, undefined as never), /options must be an object/);
    // The edges are accepted: every CPU idle (CPU 0 is kept busy to queue the callback), none idle.
    expect(planBulkGp(16, { seed: 1, idleFraction: 1 }).busy.reduce((a, b) => a + b, 0)).toBe(1);
    expect(planBulkGp(16, { seed: 1, idleFraction: 0 }).busy.every((b) => b === 1)).toBe(true);
  });

  it('a plan made for another number of CPUs is EINVAL, and nothing is run', () => {
    const rs = createRcuState({ nrCpus: 16, clock: new VirtualClock() });
    const plan = planBulkGp(4096, { seed: 1 });
    expectEinval(
      () => runTreeGpBulk(rs, plan),
      /^runTreeGpBulk: the plan is for 4096 CPUs, the RCU it runs on has 16 \(make it with planBulkGp\(16, \.\.\.\)\)$/,
    );
    expect(rs.completedGps).toBe(0);
    const cr = createClassicRcu({ nrCpus: 16, clock: new VirtualClock() });
    expectEinval(
      () => runClassicGpBulk(cr, plan, 3),
      /^runClassicGpBulk: the plan is for 4096 CPUs/,
    );
    expectEinval(
      () => runClassicGpBulk(cr, planBulkGp(16, { seed: 1 }), Number.NaN),
      /^runClassicGpBulk: firstFqsJiffies NaN is not a finite number >= 0/,
    );
    expectEinval(
      () => runTreeGpBulk(rs, {} as never),
      /plan must be made by planBulkGp\(\), got an empty object$/,
    );
    expect(runTreeGpBulk(rs, planBulkGp(16, { seed: 1 })).callbackInvoked).toBe(true);
  });
});
