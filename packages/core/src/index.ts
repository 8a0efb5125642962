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
export {
  formatCmdline,
  formatCrashkernel,
  formatMemSize,
  memparse,
  memparsePrefix,
  parseCmdline,
  parseCrashkernel,
  resolveCrashkernel,
  splitCmdline,
} from './cmdline.js';
export type { BootParams, CmdlineParam, CrashkernelRange, CrashkernelSpec, NumaOption } from './cmdline.js';
export {
  NOTIFY_BAD,
  NOTIFY_DONE,
  NOTIFY_OK,
  NOTIFY_STOP,
  NOTIFY_STOP_MASK,
  NotifierChain,
  notifierFromErrno,
  notifierToErrno,
} from './notifier.js';
export type { NotifierBlock, NotifierCallResult } from './notifier.js';
