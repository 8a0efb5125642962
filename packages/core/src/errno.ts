/**
 * Linux errno names and numbers, and the one error class every kern package throws.
 *
 * @see include/uapi/asm-generic/errno-base.h, include/uapi/asm-generic/errno.h,
 *      include/linux/errno.h (kernel-internal codes such as ENOTSUPP and EBADHANDLE)
 */

/**
 * errno number of each name, as on x86_64 Linux.
 * @see include/uapi/asm-generic/errno-base.h, include/uapi/asm-generic/errno.h,
 *      include/linux/errno.h
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  ETIME: 62,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EILSEQ: 84,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EDQUOT: 122,
  ECANCELED: 125,
  EHWPOISON: 133,
  ERESTARTSYS: 512,
  EBADHANDLE: 521,
  ENOTSYNC: 522,
  EBADCOOKIE: 523,
  ENOTSUPP: 524,
  ETOOSMALL: 525,
  ESERVERFAULT: 526,
  EBADTYPE: 527,
  EJUKEBOX: 528,
  EIOCBQUEUED: 529,
} as const;

/**
 * An errno name: `'ENOMEM'`, `'EBUSY'`, `'ESTALE'`...
 * @see include/uapi/asm-generic/errno-base.h, include/uapi/asm-generic/errno.h
 */
export type Errno = keyof typeof ERRNO;

const STRERROR: Partial<Record<Errno, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  ENOEXEC: 'Exec format error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EMLINK: 'Too many links',
  EPIPE: 'Broken pipe',
  ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long',
  ENOSYS: 'Function not implemented',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  ENODATA: 'No data available',
  EBADMSG: 'Bad message',
  EOVERFLOW: 'Value too large for defined data type',
  EMSGSIZE: 'Message too long',
  EOPNOTSUPP: 'Operation not supported',
  EADDRINUSE: 'Address already in use',
  ECONNRESET: 'Connection reset by peer',
  ENOBUFS: 'No buffer space available',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  ESTALE: 'Stale file handle',
  EDQUOT: 'Disk quota exceeded',
  ECANCELED: 'Operation canceled',
};

const BY_NUMBER = new Map<number, Errno>(
  Object.entries(ERRNO).map(([name, nr]) => [nr, name as Errno]),
);

/** Whether `name` is a known errno name. */
export function isErrno(name: unknown): name is Errno {
  return typeof name === 'string' && Object.hasOwn(ERRNO, name);
}

/**
 * The errno name of a number (positive or negative, as the kernel returns `-ENOMEM`).
 * @see lib/errname.c: errname
 */
export function errnoName(nr: number): Errno | undefined {
  return BY_NUMBER.get(Math.abs(nr));
}

/** glibc's `strerror` text for an errno, or the name itself where it has none. */
export function strerror(errno: Errno): string {
  return STRERROR[errno] ?? errno;
}

/**
 * The brand every {@link KernelError} carries, registered with `Symbol.for` so that an
 * error thrown by another copy of `@kern/core` (npm may install a nested copy under a
 * package that pins a different version) is still recognised by {@link isKernelError}
 * and `instanceof KernelError`.
 * @see Node's `util.types` brand checks, which work across realms for the same reason
 */
export const KERNEL_ERROR_BRAND: unique symbol = Symbol.for('kern.KernelError');

/**
 * The error every kern package throws: an errno name and a message that says what was
 * wrong and with what value. `code` repeats the name (Node's convention for system
 * errors), `errnoValue` is the number.
 *
 * `instanceof KernelError` and {@link isKernelError} check the {@link KERNEL_ERROR_BRAND}
 * rather than the prototype chain, so they hold for a KernelError made by any copy of
 * `@kern/core` in the process. A KernelError that crossed a worker boundary arrives as a
 * plain `Error` (structured clone drops classes) with `errno` kept, and is not branded.
 *
 * @see include/linux/err.h (ERR_PTR: an errno carried with the failure)
 */
export class KernelError extends Error {
  /** The errno name, such as `'EINVAL'`. */
  readonly errno: Errno;

  /**
   * Makes the error: `message` says what was wrong and with what value; the error's
   * `message` becomes `"<errno>: <message>"`. `options.cause` chains an underlying error.
   */
  constructor(errno: Errno, message: string, options?: { cause?: unknown }) {
    super(`${errno}: ${message}`, options);
    this.name = 'KernelError';
    this.errno = errno;
  }

  /**
   * `v instanceof KernelError`: true for a KernelError of any copy of `@kern/core` (it
   * carries {@link KERNEL_ERROR_BRAND}). Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](v: unknown): v is KernelError {
    if (this !== KernelError) return Function.prototype[Symbol.hasInstance].call(this, v);
    return isBranded(v);
  }

  /** Always true: marks this object as a KernelError for every copy of `@kern/core`. */
  get [KERNEL_ERROR_BRAND](): true {
    return true;
  }

  /** Same as `errno`, as Node's system errors carry it. */
  get code(): Errno {
    return this.errno;
  }

  /** The errno number (positive). */
  get errnoValue(): number {
    return ERRNO[this.errno];
  }
}

function isBranded(v: unknown): v is KernelError {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { [KERNEL_ERROR_BRAND]?: unknown })[KERNEL_ERROR_BRAND] === true
  );
}

/**
 * Whether `e` is a {@link KernelError} (made by this or any other copy of `@kern/core`),
 * optionally with the given errno.
 * @throws nothing.
 * @see include/linux/err.h: IS_ERR
 */
export function isKernelError(e: unknown, errno?: Errno): e is KernelError {
  return isBranded(e) && (errno === undefined || e.errno === errno);
}
