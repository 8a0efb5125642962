import { describe, expect, it } from 'vitest';
import { ERRNO, KernelError, errnoName, isErrno, isKernelError, strerror } from '../src/errno.js';

describe('errno', () => {
  it('uses Linux numbers', () => {
    expect(ERRNO.EPERM).toBe(1);
    expect(ERRNO.ENOMEM).toBe(12);
    expect(ERRNO.EBUSY).toBe(16);
    expect(ERRNO.EINVAL).toBe(22);
    expect(ERRNO.ESTALE).toBe(116);
    expect(ERRNO.ENOTSUPP).toBe(524);
    expect(ERRNO.EJUKEBOX).toBe(528);
  });

  it('maps numbers back to names, either sign', () => {
    expect(errnoName(-22)).toBe('EINVAL');
    expect(errnoName(116)).toBe('ESTALE');
    expect(errnoName(9999)).toBeUndefined();
    expect(isErrno('EIO')).toBe(true);
    expect(isErrno('toString')).toBe(false);
    expect(strerror('ENOSPC')).toBe('No space left on device');
  });

  it('KernelError carries the errno and the message', () => {
    const e = new KernelError('EBUSY', 'memory block 3 is in use');
    expect(e).toBeInstanceOf(Error);
    expect(e.errno).toBe('EBUSY');
    expect(e.code).toBe('EBUSY');
    expect(e.errnoValue).toBe(16);
    expect(e.message).toBe('EBUSY: memory block 3 is in use');
    expect(isKernelError(e)).toBe(true);
    expect(isKernelError(e, 'EBUSY')).toBe(true);
    expect(isKernelError(e, 'EINVAL')).toBe(false);
    expect(isKernelError(new Error('x'))).toBe(false);
  });
});

describe('KernelError across copies of @kern/core', () => {
  // Another copy's class: same brand through Symbol.for, different prototype chain.
  class OtherKernelError extends Error {
    readonly errno = 'EINVAL' as const;
    get [Symbol.for('kern.KernelError')](): true {
      return true;
    }
  }

  it('isKernelError and instanceof recognise a branded error from another copy', () => {
    const e = new OtherKernelError('EINVAL: x');
    expect(isKernelError(e)).toBe(true);
    expect(isKernelError(e, 'EINVAL')).toBe(true);
    expect(isKernelError(e, 'EBUSY')).toBe(false);
    expect(e instanceof KernelError).toBe(true);
  });

  it('an unbranded error with an errno is not a KernelError', () => {
    const e = Object.assign(new Error('EINVAL: x'), { errno: 'EINVAL' });
    expect(isKernelError(e)).toBe(false);
    expect(e instanceof KernelError).toBe(false);
    expect(isKernelError(null)).toBe(false);
    expect(isKernelError('EINVAL')).toBe(false);
  });

  it('a subclass keeps the ordinary prototype check', () => {
    class Sub extends KernelError {}
    expect(new Sub('EIO', 'x') instanceof Sub).toBe(true);
    expect(new KernelError('EIO', 'x') instanceof Sub).toBe(false);
    expect(new Sub('EIO', 'x') instanceof KernelError).toBe(true);
  });
});
