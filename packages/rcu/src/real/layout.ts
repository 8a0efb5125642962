/**
 * Word offsets (Int32 indices) of an RCU domain in its SharedArrayBuffer. The layout and
 * what guards each field are documented at the top of `domain.ts`.
 *
 * @see liburcu: include/urcu/static/urcu-qsbr.h (struct urcu_gp, struct urcu_qsbr_reader)
 */

/** Int32 words per 64-byte cache line. */
export const LINE_WORDS = 16;

/** Identifies an RCU domain buffer ("RCU1"). */
export const RCU_MAGIC = 0x52435531;

// Line 0: header, written once at creation.
export const H_MAGIC = 0;
export const H_FLAVOR = 1;
export const H_NR_READERS = 2;
export const H_NR_PTRS = 3;
/**
 * Scratch word for the identity check of an attach that brings a WebAssembly.Memory: a
 * fresh nonce is written here through the buffer and must be read back through the memory.
 */
export const H_PROBE = 4;
/** Two words: this domain's 64-bit random id (node:crypto), written at creation. */
export const H_ID = 5;
/** RCU CPU stall timeout of the domain in ms (0: no stall warnings), written at creation. */
export const H_STALL_MS = 7;

// Line 1: the grace-period counter readers load (read-mostly).
export const GP_CTR = 1 * LINE_WORDS;

// Line 2: updater-side words.
export const GP_LOCK = 2 * LINE_WORDS;
export const GP_SEQ = GP_LOCK + 1;
export const GP_FUTEX = GP_LOCK + 2;

// Lines 3..3+nrReaders-1: one per reader.
export const READER_BASE = 3 * LINE_WORDS;
/** Offset in a reader line: the reader's counter snapshot (0 = offline / not reading). */
export const R_CTR = 0;
/** Offset in a reader line: 0 = slot free, 1 = registered. */
export const R_REG = 1;
/**
 * Offset in a reader line: threadId of the registered thread (stall reports; reaping
 * claims the slot by compare-exchanging it to {@link R_TID_REAPING}).
 */
export const R_TID = 2;
/**
 * Offset in a reader line: the registration generation, advanced at each registration,
 * unregistration and reap, so a reader object can tell that its slot is no longer its own.
 */
export const R_GEN = 3;
/** R_TID while a reap claims the slot (no thread has a negative threadId). */
export const R_TID_REAPING = -1;

/** GP_LOCK of a free lock; a held one holds its owner's threadId + 1. */
export const GP_LOCK_FREE = 0;
/** GP_LOCK while a reaper rolls a dead holder's grace period back (held: not free). */
export const GP_LOCK_REAPING = -1;

/** Flavor codes stored in H_FLAVOR. */
export const FLAVOR_QSBR = 1;
export const FLAVOR_MB = 2;

/** QSBR: the counter's low bit, always set so an online snapshot is never 0. */
export const QSBR_GP_ONLINE = 1;
/** QSBR: the counter's increment per phase. */
export const QSBR_GP_CTR = 2;
/** MB: the "reader active" bit of a snapshot. */
export const MB_GP_COUNT = 1;
/** MB: the phase bit flipped twice per grace period. */
export const MB_GP_PHASE = 2;

/** First word of reader `i`'s line. */
export const readerLine = (i: number): number => READER_BASE + i * LINE_WORDS;

/** First pointer-slot word for a domain with `nrReaders` readers. */
export const ptrBase = (nrReaders: number): number => READER_BASE + nrReaders * LINE_WORDS;
