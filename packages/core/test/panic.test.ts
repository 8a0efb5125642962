import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { NOTIFY_OK, NOTIFY_STOP, type NotifierBlock } from '../src/notifier.js';
import {
  KernelBug,
  KernelPanic,
  type PanicOptions,
  TAINT_DIE,
  TAINT_WARN,
  createPanic,
} from '../src/panic.js';
import { CONSOLE_LOGLEVEL_MOTORMOUTH, createPrintk } from '../src/printk.js';

/** A machine's panic state whose console lines (without timestamps) and hook calls go to `events`. */
function setup(opts: Partial<PanicOptions> = {}) {
  const events: string[] = [];
  const printk = createPrintk({
    buffer: new Uint8Array(16384),
    clock: new VirtualClock(),
    console: (line) => events.push(line.replace(/^\[[ \d]+\.\d{6}\] /, '')),
  });
  const ps = createPanic({ printk, ...opts });
  const notifier = (name: string, priority = 0, ret = NOTIFY_OK): NotifierBlock<string> => ({
    priority,
    call: (action, data) => {
      events.push(`notifier ${name}: ${action} ${data}`);
      return ret;
    },
  });
  ps.setCrashHook((msg) => events.push(`crash hook: ${msg}`));
  return { events, printk, ps, notifier };
}

/** The KernelPanic `fn` throws. */
function panicOf(fn: () => unknown): KernelPanic {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KernelPanic);
    return e as KernelPanic;
  }
  throw new Error('did not panic');
}

/** Line number of the first frame of `e` in this file. */
function lineOf(e: Error): number {
  const frame = e.stack!.split('\n').find((f) => f.includes('panic.test.ts'))!;
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

describe('panic', () => {
  it('prints, runs the notifiers, then the crash hook, and throws', () => {
    const { events, printk, ps, notifier } = setup();
    ps.panicNotifierList.register(notifier('low', -1));
    ps.panicNotifierList.register(notifier('high', 10));
    expect(ps.panicked).toBe(false);
    expect(ps.panicMessage).toBeNull();

    const e = panicOf(() => ps.panic('Attempted to kill init!'));
    expect(e.message).toBe('Attempted to kill init!');
    expect(e.name).toBe('KernelPanic');
    expect(events).toEqual([
      'Kernel panic - not syncing: Attempted to kill init!',
      'notifier high: 0 Attempted to kill init!',
      'notifier low: 0 Attempted to kill init!',
      'crash hook: Attempted to kill init!',
      '---[ end Kernel panic - not syncing: Attempted to kill init! ]---',
    ]);
    expect(ps.panicked).toBe(true);
    expect(ps.panicMessage).toBe('Attempted to kill init!');
    expect(printk.records().map((r) => r.level)).toEqual([0, 0]);
    expect(printk.consoleLoglevel).toBe(CONSOLE_LOGLEVEL_MOTORMOUTH); // console_verbose()
  });

  it('runs the crash hook before the notifiers when crashKexecPostNotifiers is false', () => {
    const { events, ps, notifier } = setup({ crashKexecPostNotifiers: false });
    ps.panicNotifierList.register(notifier('a'));
    panicOf(() => ps.panic('boom\n'));
    expect(events).toEqual([
      'Kernel panic - not syncing: boom',
      'crash hook: boom',
      'notifier a: 0 boom',
      '---[ end Kernel panic - not syncing: boom ]---',
    ]);
  });

  it('runs without a crash hook', () => {
    const { events, ps } = setup();
    ps.setCrashHook(null);
    panicOf(() => ps.panic('x'));
    expect(events).toEqual([
      'Kernel panic - not syncing: x',
      '---[ end Kernel panic - not syncing: x ]---',
    ]);
  });

  it('a nested panic reruns neither notifiers nor hook; it only throws', () => {
    const { events, ps, notifier } = setup();
    let hooks = 0;
    ps.setCrashHook(() => hooks++);
    ps.panicNotifierList.register({ priority: 1, call: () => ps.panic('from a notifier') });
    ps.panicNotifierList.register(notifier('after'));
    panicOf(() => ps.panic('first'));
    expect(events).toEqual([
      'Kernel panic - not syncing: first',
      'panic notifier failed: KernelPanic: from a notifier',
      'notifier after: 0 first',
      '---[ end Kernel panic - not syncing: first ]---',
    ]);
    expect(hooks).toBe(1);

    const again = panicOf(() => ps.panic('second'));
    expect(again.message).toBe('second');
    expect(events).toHaveLength(4);
    expect(hooks).toBe(1);
    expect(ps.panicMessage).toBe('first');
  });

  it('reports a notifier or hook that throws and goes on', () => {
    const { events, ps, notifier } = setup();
    ps.panicNotifierList.register({
      priority: 5,
      call: () => {
        throw new Error('flush failed');
      },
    });
    ps.panicNotifierList.register(notifier('next'));
    ps.setCrashHook(() => {
      throw new TypeError('no capture kernel');
    });
    panicOf(() => ps.panic('m'));
    expect(events).toEqual([
      'Kernel panic - not syncing: m',
      'panic notifier failed: Error: flush failed',
      'notifier next: 0 m',
      'crash hook failed: TypeError: no capture kernel',
      '---[ end Kernel panic - not syncing: m ]---',
    ]);
  });

  it('a notifier may unregister another during the panic', () => {
    const { events, ps, notifier } = setup();
    const victim = notifier('victim', 0);
    const first = notifier('first', 10);
    ps.panicNotifierList.register(first);
    ps.panicNotifierList.register(first); // twice: still once
    ps.panicNotifierList.register({
      priority: 5,
      call: () => {
        events.push(`unregistered: ${ps.panicNotifierList.unregister(victim)}`);
        return NOTIFY_OK;
      },
    });
    ps.panicNotifierList.register(victim);
    expect(ps.panicNotifierList.size).toBe(3);
    panicOf(() => ps.panic('p'));
    expect(events).toEqual([
      'Kernel panic - not syncing: p',
      'notifier first: 0 p',
      'unregistered: true',
      'crash hook: p',
      '---[ end Kernel panic - not syncing: p ]---',
    ]);
    expect(ps.panicNotifierList.unregister(victim)).toBe(false);
    expect(ps.panicNotifierList.unregister(first)).toBe(true);
  });

  it('NOTIFY_STOP ends the chain but not the panic', () => {
    const { events, ps, notifier } = setup();
    ps.panicNotifierList.register(notifier('stop', 1, NOTIFY_STOP));
    ps.panicNotifierList.register(notifier('skipped'));
    panicOf(() => ps.panic('s'));
    expect(events).toEqual([
      'Kernel panic - not syncing: s',
      'notifier stop: 0 s',
      'crash hook: s',
      '---[ end Kernel panic - not syncing: s ]---',
    ]);
  });
});

describe('BUG', () => {
  it('prints the x86 report and throws KernelBug', () => {
    const { events, printk, ps } = setup();
    expect(() => ps.bug('mm/slub.c:123')).toThrow(KernelBug);
    expect(events).toEqual([
      '------------[ cut here ]------------',
      'kernel BUG at mm/slub.c:123!',
      'invalid opcode: 0000 [#1] SMP',
      '---[ end trace 0000000000000000 ]---',
    ]);
    expect(printk.records().map((r) => r.level)).toEqual([4, 2, 4, 4]);
    expect(ps.testTaint(TAINT_DIE)).toBe(true);
    expect(ps.tainted()).toBe('Tainted: G      D          ');

    try {
      ps.bug('mm/slub.c:124');
    } catch (e) {
      expect(e).toBeInstanceOf(KernelBug);
      expect((e as KernelBug).where).toBe('mm/slub.c:124');
      expect((e as KernelBug).message).toBe('kernel BUG at mm/slub.c:124!');
    }
    expect(events).toContain('invalid opcode: 0000 [#2] SMP');
    expect(ps.panicked).toBe(false);
  });

  it("names the caller's file and line when not told where", () => {
    const { events, ps } = setup();
    const [marker, fire] = [new Error(), () => ps.bug()];
    expect(fire).toThrow(KernelBug);
    expect(events[1]).toBe(`kernel BUG at test/panic.test.ts:${lineOf(marker)}!`);
  });

  it('bugOn only fires on a true condition', () => {
    const { events, ps } = setup();
    ps.bugOn(false);
    expect(events).toEqual([]);
    const [marker, fire] = [new Error(), () => ps.bugOn(true)];
    expect(fire).toThrow(`kernel BUG at test/panic.test.ts:${lineOf(marker)}!`);
    expect(() => ps.bugOn(true, 'fs/inode.c:9')).toThrow('kernel BUG at fs/inode.c:9!');
  });
});

describe('WARN', () => {
  it('prints the warning at KERN_WARNING and taints W', () => {
    const { events, printk, ps } = setup({ cpu: () => 3, pid: () => 42 });
    expect(ps.tainted()).toBe('Not tainted');
    expect(ps.warn(false, 'never')).toBe(false);
    expect(events).toEqual([]);

    expect(ps.warn(true, 'something odd', 'fs/super.c:42')).toBe(true);
    expect(events).toEqual([
      '------------[ cut here ]------------',
      'WARNING: CPU: 3 PID: 42 at fs/super.c:42',
      'something odd',
      '---[ end trace 0000000000000000 ]---',
    ]);
    expect(printk.records().every((r) => r.level === 4)).toBe(true);
    expect(ps.testTaint(TAINT_WARN)).toBe(true);
    expect(ps.taintMask).toBe(1 << TAINT_WARN);
    expect(ps.tainted()).toBe('Tainted: G        W        ');
    expect(ps.panicked).toBe(false);
  });

  it('names the caller when not told where, and prints no text when given none', () => {
    const { events, ps } = setup();
    const [marker, fire] = [new Error(), () => ps.warn(true)];
    expect(fire()).toBe(true);
    expect(events).toEqual([
      '------------[ cut here ]------------',
      `WARNING: CPU: 0 PID: 0 at test/panic.test.ts:${lineOf(marker)}`,
      '---[ end trace 0000000000000000 ]---',
    ]);
  });

  it('warnOnce prints only the first time per key', () => {
    const { events, ps } = setup();
    expect(ps.warnOnce('k', false, 'not yet')).toBe(false);
    expect(ps.warnOnce('k', true, 'first', 'a.c:1')).toBe(true);
    expect(ps.warnOnce('k', true, 'second', 'a.c:1')).toBe(true);
    expect(ps.warnOnce('other', true, 'other key', 'b.c:2')).toBe(true);
    expect(events).toEqual([
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: 0 at a.c:1',
      'first',
      '---[ end trace 0000000000000000 ]---',
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: 0 at b.c:2',
      'other key',
      '---[ end trace 0000000000000000 ]---',
    ]);
  });

  it('panics with panicOnWarn, after the text and before the end marker and taint', () => {
    const { events, ps } = setup({ panicOnWarn: true });
    const e = panicOf(() => ps.warn(true, 'bad state', 'kernel/foo.c:7'));
    expect(e.message).toBe('panic_on_warn set ...');
    expect(events).toEqual([
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: 0 at kernel/foo.c:7',
      'bad state',
      'Kernel panic - not syncing: panic_on_warn set ...',
      'crash hook: panic_on_warn set ...',
      '---[ end Kernel panic - not syncing: panic_on_warn set ... ]---',
    ]);
    expect(ps.panicOnWarn).toBe(false);
    expect(ps.testTaint(TAINT_WARN)).toBe(false);
  });
});

describe('taint', () => {
  it('prints every bit as print_tainted does and rejects unknown bits', () => {
    const { ps } = setup();
    for (let i = 0; i < 18; i++) ps.addTaint(i);
    expect(ps.tainted()).toBe('Tainted: PFSRMBUDAWCIOELKXT');
    expect(() => ps.addTaint(18)).toThrow(/EINVAL: taint flag 18/);
    expect(() => ps.addTaint(-1)).toThrow(/EINVAL/);
  });
});
