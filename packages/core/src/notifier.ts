/**
 * Notifier chains: how subsystems react to each other without importing each other
 * (memory hotplug → kdump, panic → anyone who must flush).
 *
 * @see include/linux/notifier.h, kernel/notifier.c
 */

import { describeValue } from './describe.js';
import { ERRNO, type Errno, KernelError, errnoName, isErrno } from './errno.js';

/** Don't care. @see include/linux/notifier.h */
export const NOTIFY_DONE = 0x0000;
/** Suits me. @see include/linux/notifier.h */
export const NOTIFY_OK = 0x0001;
/** Don't call further. @see include/linux/notifier.h */
export const NOTIFY_STOP_MASK = 0x8000;
/** Bad/Veto action. @see include/linux/notifier.h */
export const NOTIFY_BAD = NOTIFY_STOP_MASK | 0x0002;
/** Clean way to return from the notifier and stop further calls. @see include/linux/notifier.h */
export const NOTIFY_STOP = NOTIFY_OK | NOTIFY_STOP_MASK;

/**
 * One callback on a chain.
 * @see include/linux/notifier.h (struct notifier_block)
 */
export interface NotifierBlock<T> {
  /** Higher runs first; equal priorities run in registration order. Default 0. */
  readonly priority?: number;
  /** Called with the chain's action and data; returns a `NOTIFY_*` value. */
  call(action: number, data: T): number;
}

/**
 * What {@link NotifierChain.call} did.
 * @see kernel/notifier.c: notifier_call_chain (its `nr_calls`)
 */
export interface NotifierCallResult {
  /** The last notifier's return value (NOTIFY_DONE if none ran). */
  ret: number;
  /** How many notifiers were called. */
  nrCalls: number;
}

/**
 * A priority-ordered chain of notifier blocks. Unregistering (or registering) from
 * inside a callback is safe: a block removed during a call is not called afterwards, a
 * block added during a call is called from the next call on.
 *
 * @see kernel/notifier.c: notifier_chain_register, notifier_call_chain
 */
export class NotifierChain<T> {
  /** Registered blocks in call order; replaced on every change, never changed in place. */
  private blocks: NotifierBlock<T>[] = [];

  /**
   * An empty chain. It takes no lock (a raw notifier chain): use it from one thread.
   * @see include/linux/notifier.h: RAW_NOTIFIER_HEAD
   */
  constructor(
    /** A name for messages, such as `'memory_chain'`. */
    readonly name = 'notifier chain',
  ) {}

  /**
   * Adds a block in priority order; registering the same block twice is a no-op (Linux WARNs).
   * @throws KernelError EINVAL if `block` has no `call` function or its `priority` is not
   *   a finite number.
   * @see kernel/notifier.c: notifier_chain_register
   */
  register(block: NotifierBlock<T>): void {
    if (typeof block !== 'object' || block === null || typeof block.call !== 'function')
      throw new KernelError(
        'EINVAL',
        `${this.name}: a notifier block is an object with a call(action, data) method, got ${describeValue(block)}`,
      );
    if (block.priority !== undefined && !Number.isFinite(block.priority))
      throw new KernelError(
        'EINVAL',
        `${this.name}: notifier priority must be a finite number, got ${describeValue(block.priority)}`,
      );
    if (this.blocks.includes(block)) return;
    const prio = block.priority ?? 0;
    const i = this.blocks.findIndex((b) => (b.priority ?? 0) < prio);
    // A new array, so a call in progress keeps walking the old one.
    const next = this.blocks.slice();
    next.splice(i < 0 ? next.length : i, 0, block);
    this.blocks = next;
  }

  /**
   * Removes a block; returns false if it was not registered (Linux returns -ENOENT).
   * @see kernel/notifier.c: notifier_chain_unregister
   */
  unregister(block: NotifierBlock<T>): boolean {
    const i = this.blocks.indexOf(block);
    if (i < 0) return false;
    const next = this.blocks.slice();
    next.splice(i, 1);
    this.blocks = next;
    return true;
  }

  /** Number of registered blocks. */
  get size(): number {
    return this.blocks.length;
  }

  /**
   * Calls each block in turn until one returns a value with NOTIFY_STOP_MASK set, or
   * `nrToCall` have been called (-1: all). Returns the last return value.
   *
   * @throws KernelError EINVAL if `nrToCall` is not an integer >= -1; whatever a block
   *   throws (the blocks after it are not called).
   * @see kernel/notifier.c: notifier_call_chain
   */
  callChain(action: number, data: T, nrToCall = -1): number {
    return this.call(action, data, nrToCall).ret;
  }

  /**
   * Like {@link NotifierChain.callChain} but also says how many blocks were called.
   * @throws KernelError EINVAL if `nrToCall` is not an integer >= -1; whatever a block throws.
   * @see kernel/notifier.c: notifier_call_chain
   */
  call(action: number, data: T, nrToCall = -1): NotifierCallResult {
    if (!Number.isInteger(nrToCall) || nrToCall < -1)
      throw new KernelError(
        'EINVAL',
        `${this.name}: nrToCall must be an integer >= -1 (-1: all), got ${describeValue(nrToCall)}`,
      );
    const snapshot = this.blocks;
    let ret = NOTIFY_DONE;
    let nrCalls = 0;
    for (const block of snapshot) {
      if (nrToCall === 0) break;
      if (this.blocks !== snapshot && !this.blocks.includes(block)) continue; // unregistered meanwhile
      ret = block.call(action, data);
      nrCalls++;
      if (nrToCall > 0) nrToCall--;
      if (ret & NOTIFY_STOP_MASK) break;
    }
    return { ret, nrCalls };
  }

  /**
   * Calls the chain with `valUp`; if a block vetoes, calls the blocks that already ran
   * with `valDown` so they can undo (MEM_GOING_OFFLINE → MEM_CANCEL_OFFLINE). Returns
   * the veto's errno as {@link notifierToErrno} does, or null on success.
   *
   * @throws Whatever a block throws (no rollback is made then).
   * @see kernel/notifier.c: notifier_call_chain_robust
   */
  callChainRobust(valUp: number, valDown: number, data: T): Errno | null {
    const { ret, nrCalls } = this.call(valUp, data);
    if (ret & NOTIFY_STOP_MASK) {
      this.call(valDown, data, nrCalls - 1);
      // NOTIFY_STOP rolls back too, but carries no errno: the caller sees success, as in Linux.
      return notifierToErrno(ret);
    }
    return null;
  }
}

/**
 * Encapsulates an errno in a notifier return value (`notifier_from_errno`); null (or
 * undefined) gives NOTIFY_OK.
 * @throws KernelError EINVAL if `errno` is not an errno name such as `'EBUSY'`.
 * @see include/linux/notifier.h: notifier_from_errno
 */
export function notifierFromErrno(errno: Errno | null): number {
  if (errno === null || errno === undefined) return NOTIFY_OK;
  if (!isErrno(errno))
    throw new KernelError(
      'EINVAL',
      `notifierFromErrno: expected an errno name such as 'EBUSY' or null, got ${describeValue(errno)}`,
    );
  return NOTIFY_STOP_MASK | (NOTIFY_OK + ERRNO[errno]);
}

/**
 * The errno a notifier return value carries, or null (`notifier_to_errno`).
 * @throws KernelError EINVAL if `ret` is not an integer.
 * @see include/linux/notifier.h: notifier_to_errno
 */
export function notifierToErrno(ret: number): Errno | null {
  if (!Number.isInteger(ret))
    throw new KernelError(
      'EINVAL',
      `notifierToErrno: expected a notifier return value (an integer), got ${describeValue(ret)}`,
    );
  const v = ret & ~NOTIFY_STOP_MASK;
  return v > NOTIFY_OK ? (errnoName(v - NOTIFY_OK) ?? 'EINVAL') : null;
}
