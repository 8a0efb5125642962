/**
 * @kern/core: the layer under @kern/mm.
 * @packageDocumentation
 */
export {
  ERRNO,
  KERNEL_ERROR_BRAND,
  KernelError,
  errnoName,
  isErrno,
  isKernelError,
  strerror,
} from './errno.js';
export type { Errno } from './errno.js';
export { describeValue } from './describe.js';
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
export type {
  BootParams,
  CmdlineParam,
  CrashkernelRange,
  CrashkernelSpec,
  NumaOption,
} from './cmdline.js';
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
export {
  CONSOLE_LOGLEVEL_DEFAULT,
  CONSOLE_LOGLEVEL_MOTORMOUTH,
  KERN_ALERT,
  KERN_CONT,
  KERN_CRIT,
  KERN_DEBUG,
  KERN_DEFAULT,
  KERN_EMERG,
  KERN_ERR,
  KERN_INFO,
  KERN_NOTICE,
  KERN_SOH,
  KERN_WARNING,
  LOGLEVEL_ALERT,
  LOGLEVEL_CRIT,
  LOGLEVEL_DEBUG,
  LOGLEVEL_DEFAULT,
  LOGLEVEL_EMERG,
  LOGLEVEL_ERR,
  LOGLEVEL_INFO,
  LOGLEVEL_NOTICE,
  LOGLEVEL_WARNING,
  LOG_CONT,
  LOG_NEWLINE,
  MESSAGE_LOGLEVEL_DEFAULT,
  PRINTK_HEADER_SIZE,
  PRINTK_LOG_ALIGN,
  PRINTK_MAGIC,
  PRINTK_MIN_BUFFER_SIZE,
  PRINTK_MIN_DATA_SIZE,
  PRINTK_RECORD_HEADER_SIZE,
  PRINTK_TEXT_MAX,
  PRINTK_VERSION,
  Printk,
  createPrintk,
  formatDmesgLine,
  formatKmsgLine,
  initLogBuffer,
  printkLayout,
  readLogBuffer,
  readLogHeader,
} from './printk.js';
export type { PrintkHeader, PrintkOptions, PrintkRecord } from './printk.js';
export {
  KernelBug,
  KernelPanic,
  PanicState,
  TAINT_AUX,
  TAINT_BAD_PAGE,
  TAINT_CPU_OUT_OF_SPEC,
  TAINT_CRAP,
  TAINT_DIE,
  TAINT_FIRMWARE_WORKAROUND,
  TAINT_FLAGS_COUNT,
  TAINT_FORCED_MODULE,
  TAINT_FORCED_RMMOD,
  TAINT_LIVEPATCH,
  TAINT_MACHINE_CHECK,
  TAINT_OOT_MODULE,
  TAINT_OVERRIDDEN_ACPI_TABLE,
  TAINT_PROPRIETARY_MODULE,
  TAINT_RANDSTRUCT,
  TAINT_SOFTLOCKUP,
  TAINT_UNSIGNED_MODULE,
  TAINT_USER,
  TAINT_WARN,
  createPanic,
} from './panic.js';
export type { PanicOptions } from './panic.js';
export { Cpumask } from './cpumask.js';
export type { ReadonlyCpumask } from './cpumask.js';
export {
  LOCAL_DISTANCE,
  MAX_DISTANCE,
  MAX_NR_CPUS,
  MAX_NUMNODES,
  REMOTE_DISTANCE,
  createTopology,
} from './topology.js';
export type { Topology, TopologyOptions } from './topology.js';
export { COMPLETION_ALL, createCompletion, createScheduler, createWaitQueue } from './sched.js';
export type {
  BlockedTask,
  Completion,
  ContextSwitchHook,
  IdleHook,
  RunOptions,
  RunResult,
  RunStopReason,
  SchedOp,
  Scheduler,
  SchedulerOptions,
  SpawnOptions,
  Task,
  TaskBody,
  TaskContext,
  TaskState,
  TraceEntry,
  WaitQueue,
} from './sched.js';
