// Bad input from a plain-JS user (the review's E and S cases for @kern/core): every call
// gets a KernelError EINVAL naming the value and its type, never a raw TypeError from
// inside and never a silent success.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Cpumask,
  NotifierChain,
  createPanic,
  createPrintk,
  createRandomPool,
  createRng,
  createScheduler,
  createTopology,
  createVirtualClock,
  formatCmdline,
  formatCrashkernel,
  formatMemSize,
  isKernelError,
  memparse,
  notifierFromErrno,
  notifierToErrno,
  parseCmdline,
  parseCrashkernel,
  resolveCrashkernel,
  splitCmdline,
} from '../src/index.js';

/** The KernelError `fn` throws; fails the test if it throws anything else or nothing. */
function kernelErrorOf(fn: () => unknown): { errno: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isKernelError(e)) return e;
    throw new Error(`threw ${String(e)}, not a KernelError`, { cause: e });
  }
  throw new Error('did not throw');
}

const clock = createVirtualClock();
const buffer = (): Uint8Array => new Uint8Array(16384);

describe('printk', () => {
  it('an ArrayBuffer instead of a Uint8Array is named as such', () => {
    const e = kernelErrorOf(() =>
      createPrintk({ buffer: new ArrayBuffer(4096) as unknown as Uint8Array, clock }),
    );
    expect(e.errno).toBe('EINVAL');
    expect(e.message).toMatch(/must be a Uint8Array.*got an ArrayBuffer of 4096 bytes/);
  });

  it('a missing clock fails at creation, not at the first message', () => {
    const e = kernelErrorOf(() =>
      createPrintk({ buffer: buffer() } as unknown as Parameters<typeof createPrintk>[0]),
    );
    expect(e.errno).toBe('EINVAL');
    expect(e.message).toMatch(/needs a clock.*got undefined/);
  });

  it('names a bad console, level or text', () => {
    expect(
      kernelErrorOf(() => createPrintk({ buffer: buffer(), clock, console: 'stderr' as never }))
        .message,
    ).toMatch(/console must be a function, got 'stderr' \(string\)/);
    const pk = createPrintk({ buffer: buffer(), clock });
    expect(kernelErrorOf(() => pk.printk('6' as never, 'x')).message).toMatch(
      /printk level '6' \(string\)/,
    );
    expect(kernelErrorOf(() => pk.info(42 as never)).message).toMatch(/got 42 \(number\)/);
    expect(kernelErrorOf(() => (pk.consoleLoglevel = '4' as never)).message).toMatch(
      /loglevel '4' \(string\)/,
    );
    expect(kernelErrorOf(() => createPrintk(undefined as never)).message).toMatch(/got undefined/);
  });
});

describe('memparse', () => {
  it('takes a non-negative safe integer as bytes', () => {
    expect(memparse(64)).toBe(64);
    expect(memparse(0)).toBe(0);
    expect(memparse(2 ** 40)).toBe(2 ** 40);
  });

  it('names other numbers and other types', () => {
    expect(kernelErrorOf(() => memparse(1.5)).message).toMatch(/^EINVAL: 1\.5 is not a size/);
    expect(kernelErrorOf(() => memparse(-1)).message).toMatch(/-1 is not a size/);
    expect(kernelErrorOf(() => memparse(NaN)).message).toMatch(/NaN is not a size/);
    expect(kernelErrorOf(() => memparse(undefined as never)).message).toMatch(/got undefined/);
    expect(kernelErrorOf(() => memparse(64n as never)).message).toMatch(/got 64n \(bigint\)/);
    expect(kernelErrorOf(() => memparse({} as never)).message).toMatch(/got an empty object/);
    expect(kernelErrorOf(() => memparse('lots')).message).toMatch(/'lots' is not a size/);
  });

  it('formatMemSize names a string', () => {
    expect(kernelErrorOf(() => formatMemSize('4096' as never)).message).toMatch(
      /size '4096' \(string\)/,
    );
  });
});

describe('command line', () => {
  it('parseCmdline and splitCmdline reject a non-string', () => {
    for (const f of [parseCmdline, splitCmdline]) {
      const e = kernelErrorOf(() => f(123 as never));
      expect(e.errno).toBe('EINVAL');
      expect(e.message).toMatch(/got 123 \(number\)/);
    }
    expect(kernelErrorOf(() => parseCmdline(undefined as never)).message).toMatch(/got undefined/);
  });

  it('an unterminated quote is reported at the column of the quote', () => {
    expect(kernelErrorOf(() => parseCmdline('quiet splash root="/dev/sda ro')).message).toBe(
      'EINVAL: unterminated quote in command line at column 18',
    );
    // A second quoted part in the same word: the quote that opens the unterminated one.
    expect(kernelErrorOf(() => splitCmdline('a="b c"d"e')).message).toMatch(/column 8$/);
  });

  it('the column is always that of a double quote with no closing one after it', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '"', '=') }), (line) => {
        try {
          splitCmdline(line);
        } catch (e) {
          const col = Number(/column (\d+)$/.exec((e as Error).message)?.[1]);
          expect(line[col]).toBe('"');
          expect(line.slice(col + 1)).not.toContain('"');
        }
      }),
    );
  });

  it('crashkernel functions name a bad spec or RAM size', () => {
    expect(kernelErrorOf(() => parseCrashkernel(256 as never)).message).toMatch(
      /got 256 \(number\)/,
    );
    expect(kernelErrorOf(() => formatCrashkernel({} as never)).message).toMatch(
      /got an empty object/,
    );
    const spec = parseCrashkernel('256M');
    expect(kernelErrorOf(() => resolveCrashkernel(spec, '1G' as never)).message).toMatch(
      /system RAM '1G' \(string\)/,
    );
    expect(
      kernelErrorOf(() => formatCmdline([{ name: 'mem', value: 5 }] as never)).message,
    ).toMatch(/got an object with keys name, value/);
  });
});

describe('notifiers', () => {
  it("notifierFromErrno('NOPE') is EINVAL; null is NOTIFY_OK", () => {
    const e = kernelErrorOf(() => notifierFromErrno('NOPE' as never));
    expect(e.errno).toBe('EINVAL');
    expect(e.message).toMatch(/got 'NOPE' \(string\)/);
    expect(notifierFromErrno(null)).toBe(1);
    expect(notifierToErrno(notifierFromErrno('EBUSY'))).toBe('EBUSY');
    expect(kernelErrorOf(() => notifierToErrno('1' as never)).message).toMatch(/'1' \(string\)/);
  });

  it('a block without call() or with a string priority is refused at register', () => {
    const chain = new NotifierChain<number>('test_chain');
    expect(kernelErrorOf(() => chain.register({} as never)).message).toMatch(
      /test_chain: .*got an empty object/,
    );
    expect(
      kernelErrorOf(() => chain.register({ priority: '5' as never, call: () => 0 })).message,
    ).toMatch(/priority .*got '5' \(string\)/);
    expect(kernelErrorOf(() => chain.callChain(0, 0, '1' as never)).message).toMatch(
      /nrToCall .*'1' \(string\)/,
    );
    expect(chain.size).toBe(0);
  });
});

describe('clock, random, cpumask, topology, scheduler, panic', () => {
  it('numbers given as strings are named as strings', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => createVirtualClock({ hz: '1000' as never }), /HZ '1000' \(string\)/],
      [() => clock.addTimer('5' as never, () => {}), /delay '5' \(string\)/],
      [() => clock.addTimer(5, 'f' as never), /callback .*'f' \(string\)/],
      [() => clock.advanceTo('5000' as never), /got '5000' \(string\)/],
      [() => createRng('1' as never), /seed '1' \(string\)/],
      [() => createRng(1).below('4' as never), /bound '4' \(string\)/],
      [() => createRng(1).fill(new ArrayBuffer(4) as never), /got an ArrayBuffer of 4 bytes/],
      [() => createRandomPool(undefined as never), /got undefined/],
      [() => createRandomPool({ seed: 1 }).getRandomBytes('4' as never), /count '4' \(string\)/],
      [() => new Cpumask('8' as never), /size '8' \(string\)/],
      [() => new Cpumask(8).set('1' as never), /CPU '1' \(string\)/],
      [() => Cpumask.parseList(5 as never, 8), /got 5 \(number\)/],
      [() => Cpumask.parseHex(null as never, 8), /got null/],
      [() => createTopology(undefined as never), /got undefined/],
      [() => createTopology({ nrCpus: '4' as never }), /nrCpus '4' \(string\)/],
      [() => createTopology({ nrCpus: 4 }).cpuToNode('1' as never), /CPU '1' \(string\)/],
      [() => createTopology({ nrCpus: 4 }).setCpuOnline(1, 'no' as never), /'no' \(string\)/],
      [() => createScheduler({ nrCpus: 2, seed: 1 } as never), /virtual clock.*got undefined/],
      [() => createScheduler({ nrCpus: '2' as never, seed: 1, clock }), /nrCpus '2' \(string\)/],
      [
        () => createScheduler({ nrCpus: 2, seed: 1, clock }).spawn({ name: 't' }, 5 as never),
        /generator function, got 5 \(number\)/,
      ],
      [
        () => createScheduler({ nrCpus: 2, seed: 1, clock }).run({ maxSteps: '9' as never }),
        /maxSteps '9' \(string\)/,
      ],
      [() => createPanic({} as never), /needs a printk.*got undefined/],
      [
        () =>
          createPanic({ printk: createPrintk({ buffer: buffer(), clock }) }).addTaint('9' as never),
        /taint flag '9' \(string\)/,
      ],
      [
        () =>
          createPanic({ printk: createPrintk({ buffer: buffer(), clock }) }).setCrashHook(
            'kdump' as never,
          ),
        /crash hook .*'kdump' \(string\)/,
      ],
    ];
    for (const [fn, re] of cases) {
      const e = kernelErrorOf(fn);
      expect(e.errno).toBe('EINVAL');
      expect(e.message).toMatch(re);
    }
  });

  it('panic with a non-string message still panics and names it', () => {
    const p = createPanic({ printk: createPrintk({ buffer: buffer(), clock }) });
    expect(() => p.panic(42 as never)).toThrow(/42 \(number\)/);
  });
});
