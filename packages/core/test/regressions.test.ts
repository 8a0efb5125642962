// Regressions found in review of @kern/core; each would fail on the code before the fix.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { formatCrashkernel, parseCmdline } from '../src/cmdline.js';
import { NOTIFY_OK, NOTIFY_STOP, NotifierChain } from '../src/notifier.js';
import { createPanic, KernelPanic } from '../src/panic.js';
import { createPrintk } from '../src/printk.js';
import { createRng } from '../src/random.js';

describe('review regressions', () => {
  it('seeds that differ only in the high half, or in sign, give different streams', () => {
    expect(createRng(1).nextU32()).not.toBe(createRng(2 ** 32).nextU32());
    expect(createRng(0).nextU32()).not.toBe(createRng(-1).nextU32());
  });

  it('below(n) for n above 2^32 never returns n', () => {
    const r = createRng(3);
    for (let i = 0; i < 10_000; i++) expect(r.below(2 ** 40 + 1)).toBeLessThan(2 ** 40 + 1);
  });

  it('a timer that advances the clock further does not let the outer advance move it back', () => {
    const c = new VirtualClock();
    c.addTimer(10, () => c.advanceTo(500));
    c.advanceTo(100);
    expect(c.nowNs()).toBe(500);
  });

  it('a throwing console does not stop panic notifiers or the crash hook', () => {
    const printk = createPrintk({
      buffer: new Uint8Array(16384),
      clock: new VirtualClock(),
      console: () => {
        throw new Error('console broke');
      },
    });
    const p = createPanic({ printk });
    const seen: string[] = [];
    p.panicNotifierList.register({ call: () => (seen.push('notifier'), NOTIFY_OK) });
    p.setCrashHook(() => seen.push('hook'));
    expect(() => p.panic('oops')).toThrow(KernelPanic);
    expect(seen).toEqual(['notifier', 'hook']);
  });

  it('NOTIFY_STOP in a robust call rolls back but is not an error', () => {
    const chain = new NotifierChain<null>();
    const log: number[] = [];
    chain.register({ priority: 2, call: (a) => (log.push(a), NOTIFY_OK) });
    chain.register({ priority: 1, call: (a) => (log.push(a), NOTIFY_STOP) });
    expect(chain.callChainRobust(1, 2, null)).toBeNull();
    expect(log).toEqual([1, 1, 2]);
  });

  it('command line: hyphens equal underscores, panic= may be negative', () => {
    expect(parseCmdline('nr-cpus=4').nrCpus).toBe(4);
    expect(parseCmdline('panic=-1').panicTimeout).toBe(-1);
    expect(() => parseCmdline('panic=soon')).toThrow(/panic=soon/);
  });

  it('a crashkernel spec the parser would refuse cannot be formatted', () => {
    expect(() =>
      formatCrashkernel({ kind: 'fixed', size: 1 << 28, offset: 1 << 24, placement: 'high' }),
    ).toThrow(/cannot be combined/);
  });

  it('testTaint rejects a bit that is not a taint flag', () => {
    const p = createPanic({
      printk: createPrintk({ buffer: new Uint8Array(16384), clock: new VirtualClock() }),
    });
    expect(() => p.testTaint(32)).toThrow(/taint flag 32/);
  });
});
