import { describe, expect, it } from 'vitest';
import { VirtualClock, createRealClock } from '../src/clock.js';
import { isKernelError } from '../src/errno.js';

describe('VirtualClock', () => {
  it('fires timers in expiry then arming order, each at its own time', () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.addTimer(30, () => seen.push(`c@${c.nowNs()}`));
    c.addTimer(10, () => seen.push(`a@${c.nowNs()}`));
    c.addTimer(10, () => seen.push(`b@${c.nowNs()}`));
    c.advance(25);
    expect(seen).toEqual(['a@10', 'b@10']);
    expect(c.nowNs()).toBe(25);
    c.advance(100);
    expect(seen).toEqual(['a@10', 'b@10', 'c@30']);
    expect(c.nowNs()).toBe(125);
  });

  it('del_timer and mod_timer', () => {
    const c = new VirtualClock();
    let fired = 0;
    const t = c.addTimer(10, () => fired++);
    expect(c.delTimer(t)).toBe(true);
    expect(c.delTimer(t)).toBe(false);
    c.advance(20);
    expect(fired).toBe(0);
    const t2 = c.modTimer(t, 5);
    expect(t2.expires).toBe(25);
    expect(c.nextExpiry()).toBe(25);
    expect(c.runNextTimer()).toBe(true);
    expect(fired).toBe(1);
    expect(c.runNextTimer()).toBe(false);
  });

  it('a timer armed by a timer fires in the same advance if due', () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    c.addTimer(5, () => c.addTimer(5, () => seen.push(c.nowNs())));
    c.advance(20);
    expect(seen).toEqual([10]);
  });

  it('jiffies at HZ', () => {
    const c = new VirtualClock({ hz: 250 });
    c.advance(12_000_000);
    expect(c.jiffies()).toBe(3);
  });

  it('rejects going backwards and bad delays', () => {
    const c = new VirtualClock({ startNs: 100 });
    expect(() => c.advanceTo(50)).toThrow(/cannot move the clock back from 100 to 50/);
    try {
      c.addTimer(-1, () => {});
    } catch (e) {
      expect(isKernelError(e, 'EINVAL')).toBe(true);
    }
    expect(() => new VirtualClock({ hz: 7 })).toThrow(/HZ 7/);
  });

  it('real clock is monotonic', () => {
    const c = createRealClock();
    const a = c.nowNs();
    const b = c.nowNs();
    expect(b).toBeGreaterThanOrEqual(a);
  });
});
