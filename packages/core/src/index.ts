/**
 * @kern/core: the layer under @kern/mm.
 * @packageDocumentation
 */
export { ERRNO, KernelError, errnoName, isErrno, isKernelError, strerror } from './errno.js';
export type { Errno } from './errno.js';
export {
  NSEC_PER_MSEC,
  NSEC_PER_SEC,
  NSEC_PER_USEC,
  VirtualClock,
  createRealClock,
  createVirtualClock,
} from './clock.js';
export type { Clock, Timer } from './clock.js';
export { createRandomPool, createRng } from './random.js';
export type { RandomPool, RandomSource, Rng } from './random.js';
