/**
 * The types of `Memory`'s interface with its users: the handle another thread attaches
 * with, where reports go, what reclaim looks like to the allocator, and the negative
 * controls' broken modes.
 */

/** Where log lines go: a `Printk` from @kern/core fits. */
export interface MmLog {
  printk(level: number, text: string): void;
}

/**
 * The log a Memory reports to unless its creator passes another (or `null`): Linux's
 * console, on stderr. Lines at KERN_WARNING (4) and more severe are printed, each with
 * its level as `/proc/kmsg` shows it: `<4>swapper/0: page allocation failure: …`.
 */
export const consoleLog: MmLog = {
  printk(level: number, text: string): void {
    if (level <= 4) console.warn(`<${level}>${text}`);
  },
};

/** Something the allocator can ask to free memory: page cache reclaim, slab shrinkers. */
export interface Reclaimer {
  /** Name for statistics. */
  readonly name: string;
  /**
   * Tries to free about `nrPages` pages (preferring `nid` when given); returns how many
   * pages it freed. Called with no allocator lock held; may free pages itself.
   */
  reclaim(nrPages: number, gfp: number, nid: number | undefined, kswapd?: boolean): number;
}

/**
 * Deliberately broken modes for negative-control tests: `no-coalesce` frees without
 * merging buddies, `skip-double-free-check` lets a double free through, `no-locks` takes
 * no lock at all, `drain-without-lock` drains other CPUs' per-CPU lists without their lock,
 * `plain-refcount` drops page counts with plain stores even after a second thread attached,
 * `skip-free-order-check` frees a block without checking the order against the one it
 * was allocated with (and flags bad pages even on free lists), as before that check.
 */
export type DebugBreak =
  | 'none'
  | 'no-coalesce'
  | 'skip-double-free-check'
  | 'no-locks'
  | 'drain-without-lock'
  | 'plain-refcount'
  | 'skip-free-order-check';

/** Everything `attachMemory` needs to rebuild a Memory in another thread (`mem.handle`). */
export interface MemoryHandle {
  /** Section buffers by section number (null for absent sections). */
  sections: (SharedArrayBuffer | null)[];
  sectionBytes: number;
  nrCpus: number;
  nrNodes: number;
  /** Physical address of each node's data. */
  nodeDataPaddr: number[];
  /** Node distances (SLIT), nrNodes × nrNodes. */
  distances: number[][];
  /** CPU → node. */
  cpuToNode: number[];
  groupByMobility: boolean;
  /**
   * Whether other threads may attach (CONFIG_SMP). Without it the allocator takes no
   * locks and uses no atomics, as a uniprocessor kernel compiles spinlocks away.
   */
  smp: boolean;
}
