/**
 * @kern/rcu: Tree RCU for simulated CPUs (up to millions) and real RCU for worker
 * threads over SharedArrayBuffer, with rcu_sync and percpu rw-semaphores.
 * @packageDocumentation
 */

// ---- real RCU for worker threads
export {
  RcuDomain,
  attachRcuDomain,
  createRcuDomain,
  rcuSeqDone,
  rcuSeqSnap,
} from './real/domain.js';
export type {
  RcuAttachOptions,
  RcuDomainHandle,
  RcuDomainOptions,
  RcuDomainStats,
  RcuFlavor,
  RcuLog,
  RcuReader,
  RcuReapResult,
} from './real/domain.js';
export { QsbrReader } from './real/qsbr.js';
export { MbReader } from './real/mb.js';
export type { WasmMemory } from './real/wasm-store.js';
export type { RcuCallback, RcuCallbackStats } from './real/callbacks.js';
export {
  rcuAssignPointer,
  rcuCmpxchgPointer,
  rcuDereference,
  rcuXchgPointer,
} from './real/pointer.js';
export {
  GP_ENTER as RCU_SYNC_GP_ENTER,
  GP_EXIT as RCU_SYNC_GP_EXIT,
  GP_IDLE as RCU_SYNC_GP_IDLE,
  GP_PASSED as RCU_SYNC_GP_PASSED,
  GP_REPLAY as RCU_SYNC_GP_REPLAY,
  RcuSync,
  attachRcuSync,
  createRcuSync,
} from './real/rcu-sync.js';
export type { RcuSyncHandle } from './real/rcu-sync.js';
export { PercpuRwsem, attachPercpuRwsem, createPercpuRwsem } from './real/percpu-rwsem.js';
export type { PercpuRwsemHandle } from './real/percpu-rwsem.js';

// ---- simulated Tree RCU
export {
  RCU_CPU_STALL_TIMEOUT,
  RCU_FANOUT,
  RCU_FANOUT_LEAF,
  RCU_GP_FLAG_FQS,
  RCU_GP_FLAG_INIT,
  RCU_GP_STATES,
  RCU_MAX_LVLS,
  RcuState,
  createRcuState,
  rcuInitGeometry,
} from './tree.js';
export type {
  RcuGeometry,
  RcuGpState,
  RcuLockStats,
  RcuNodeInfo,
  RcuStateOptions,
} from './tree.js';
export {
  RCU_CBLIST_NSEGS,
  RCU_DONE_TAIL,
  RCU_NEXT_READY_TAIL,
  RCU_NEXT_TAIL,
  RCU_WAIT_TAIL,
  RcuSegcblist,
} from './rcu-segcblist.js';
export { synchronizeRcuExpedited } from './tree-exp.js';
export { RCU_STALL_RAT_DELAY, checkCpuStall, rcuJiffiesTillStallCheck } from './tree-stall.js';
export { ClassicRcu, createClassicRcu } from './classic.js';
export type { ClassicRcuOptions } from './classic.js';
export { planBulkGp, runClassicGpBulk, runTreeGpBulk } from './sim-bulk.js';
export type { BulkGpOptions, BulkGpPlan, BulkGpResult } from './sim-bulk.js';
export { RCU_TORTURE_PIPE_LEN, runSimTorture } from './sim-torture.js';
export type { SimTortureOptions, SimTortureResult, SimTortureType } from './sim-torture.js';
export { RcuArena, rcuArenaBytes } from './rcu-arena.js';
export type { RcuArenaEntry } from './rcu-arena.js';
