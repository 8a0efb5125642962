import { describe, expect, it } from 'vitest';
import {
  NOTIFY_BAD,
  NOTIFY_DONE,
  NOTIFY_OK,
  NOTIFY_STOP,
  NotifierChain,
  notifierFromErrno,
  notifierToErrno,
  type NotifierBlock,
} from '../src/notifier.js';

const block = (
  log: string[],
  name: string,
  priority = 0,
  ret = NOTIFY_OK,
): NotifierBlock<string> => ({
  priority,
  call: (action, data) => {
    log.push(`${name}:${action}:${data}`);
    return ret;
  },
});

describe('NotifierChain', () => {
  it('calls in priority order, ties in registration order', () => {
    const log: string[] = [];
    const chain = new NotifierChain<string>('test');
    chain.register(block(log, 'low', -1));
    chain.register(block(log, 'a', 5));
    chain.register(block(log, 'b', 5));
    chain.register(block(log, 'mid', 0));
    expect(chain.callChain(1, 'x')).toBe(NOTIFY_OK);
    expect(log).toEqual(['a:1:x', 'b:1:x', 'mid:1:x', 'low:1:x']);
  });

  it('NOTIFY_STOP and NOTIFY_BAD stop the walk', () => {
    const log: string[] = [];
    const chain = new NotifierChain<string>();
    chain.register(block(log, 'first', 2, NOTIFY_STOP));
    chain.register(block(log, 'second', 1));
    expect(chain.callChain(0, '')).toBe(NOTIFY_STOP);
    expect(log).toEqual(['first:0:']);
    expect(new NotifierChain<string>().callChain(0, '')).toBe(NOTIFY_DONE);
    const bad = new NotifierChain<string>();
    bad.register(block(log, 'bad', 0, NOTIFY_BAD));
    expect(notifierToErrno(bad.callChain(0, ''))).toBe('EPERM');
  });

  it('nrToCall limits the calls', () => {
    const log: string[] = [];
    const chain = new NotifierChain<string>();
    for (const n of ['a', 'b', 'c']) chain.register(block(log, n));
    expect(chain.call(0, '', 2).nrCalls).toBe(2);
    expect(log).toEqual(['0', '0'].map((_, i) => `${'ab'[i]}:0:`));
  });

  it('a block may unregister itself and the next one during a call', () => {
    const log: string[] = [];
    const chain = new NotifierChain<string>();
    const b: NotifierBlock<string> = block(log, 'b');
    const a: NotifierBlock<string> = {
      priority: 10,
      call: () => {
        log.push('a');
        chain.unregister(a);
        chain.unregister(b);
        chain.register(block(log, 'late', -5));
        return NOTIFY_OK;
      },
    };
    chain.register(a);
    chain.register(b);
    chain.callChain(0, '');
    expect(log).toEqual(['a']);
    chain.callChain(0, 'again');
    expect(log).toEqual(['a', 'late:0:again']);
    expect(chain.size).toBe(1);
    expect(chain.unregister(a)).toBe(false);
  });

  it('robust call undoes with valDown on a veto', () => {
    const log: string[] = [];
    const chain = new NotifierChain<string>();
    chain.register(block(log, 'one', 3));
    chain.register(block(log, 'two', 2));
    chain.register(block(log, 'veto', 1, notifierFromErrno('EBUSY')));
    chain.register(block(log, 'never', 0));
    expect(chain.callChainRobust(10, 11, 'blk')).toBe('EBUSY');
    expect(log).toEqual(['one:10:blk', 'two:10:blk', 'veto:10:blk', 'one:11:blk', 'two:11:blk']);
  });

  it('errno round-trips through notifier values', () => {
    expect(notifierFromErrno(null)).toBe(NOTIFY_OK);
    expect(notifierToErrno(notifierFromErrno('ENOMEM'))).toBe('ENOMEM');
    expect(notifierToErrno(NOTIFY_OK)).toBeNull();
    expect(notifierToErrno(NOTIFY_DONE)).toBeNull();
  });
});
