/**
 * printk: the kernel log, a ring buffer of variable-length structured records kept in
 * bytes the caller provides (a view on physical memory, so that a crash dump tool can
 * read it back from raw bytes without one JS object of the crashed kernel), readable as
 * `dmesg` and `/dev/kmsg` lines.
 *
 * The algorithm is that of Linux 3.5–5.9 (`struct printk_log` records, before the
 * lockless ringbuffer of 5.10): a record that does not fit drops the oldest records
 * until there is contiguous room for it plus an empty header, and a record that does
 * not fit at the end of the ring leaves a zero-length wrap marker and starts at index 0.
 *
 * ## Layout (all integers little-endian)
 *
 * Control header, {@link PRINTK_HEADER_SIZE} = 64 bytes at offset 0. Every field but
 * `lock` is written only by a holder of the lock word.
 *
 * | offset | type | field          | meaning                                                    |
 * | -----: | ---- | -------------- | ---------------------------------------------------------- |
 * |      0 | u32  | `magic`        | {@link PRINTK_MAGIC} `0x4b545250` (the bytes `PRTK`)       |
 * |      4 | u32  | `version`      | {@link PRINTK_VERSION} (1)                                 |
 * |      8 | u32  | `dataSize`     | bytes in the data ring, a multiple of 8, at least 256      |
 * |     12 | u32  | `headerSize`   | 64: where the data ring starts                             |
 * |     16 | u64  | `firstSeq`     | sequence number of the oldest record (`log_first_seq`)     |
 * |     24 | u64  | `nextSeq`      | sequence number the next record gets (`log_next_seq`)      |
 * |     32 | u32  | `firstIdx`     | ring index of the oldest record (`log_first_idx`)          |
 * |     36 | u32  | `nextIdx`      | ring index where the next record goes (`log_next_idx`)     |
 * |     40 | i32  | `lock`         | spinlock word (`logbuf_lock`): 0 free, 1 held; Atomics only |
 * |     44 | u32  | `droppedCount` | records dropped to make room (wraps at 2^32)               |
 * |     48 | u32  | `lockBreaks`   | times a writer broke a lock held too long (`zap_locks`)    |
 * |     52 |      | reserved       | zero up to offset 64                                       |
 *
 * Data ring, `dataSize` bytes from offset 64. Ring indices are relative to its start.
 * Each record starts on an 8-byte boundary ({@link PRINTK_LOG_ALIGN}) and has a
 * {@link PRINTK_RECORD_HEADER_SIZE} = 32-byte header followed by its UTF-8 text (no
 * trailing newline) and zero padding:
 *
 * | offset | type | field      | meaning                                                      |
 * | -----: | ---- | ---------- | ------------------------------------------------------------ |
 * |      0 | u64  | `seq`      | sequence number                                              |
 * |      8 | u64  | `tsNsec`   | timestamp, nanoseconds since boot                            |
 * |     16 | u16  | `len`      | whole record incl. header and padding; 0 = wrap marker: the next record is at index 0 |
 * |     18 | u16  | `textLen`  | bytes of text                                                |
 * |     20 | u8   | `level`    | log level 0..7                                               |
 * |     21 | u8   | `facility` | syslog facility (0 = kernel)                                 |
 * |     22 | u16  | `flags`    | {@link LOG_NEWLINE}, {@link LOG_CONT}                        |
 * |     24 | u32  | `callerId` | who printed: a pid, or 0x80000000 + CPU as Linux's `caller_id` |
 * |     28 | u32  | reserved   | zero                                                         |
 *
 * Invariants a writer keeps and {@link readLogBuffer} checks: `nextSeq - firstSeq`
 * records are found by walking from `firstIdx` (crossing at most one wrap marker) and
 * the walk ends at `nextIdx`; every record ends at least 32 bytes before the end of the
 * ring (room for a wrap marker) and, after the wrap, at least 32 bytes before
 * `firstIdx`; `len` is exactly `textLen + 32` rounded up to 8; `seq` counts up by one.
 *
 * Text is cut to {@link Printk.maxTextLen} bytes (`min(1024, dataSize / 4 - 32)`) at a
 * UTF-8 character boundary, so every record fits an empty ring with room to spare.
 *
 * @see kernel/printk/printk.c (v5.9): log_store, log_make_free_space, logbuf_has_space,
 *      log_next, msg_print_text, msg_print_ext_header, msg_print_ext_body, print_time
 * @see kernel/printk/printk.c: log_buf_vmcoreinfo_setup (what kdump exports of it)
 */

import type { Clock } from './clock.js';
import { describeValue, shown } from './describe.js';
import { KernelError, isKernelError } from './errno.js';

/** `magic` of a log buffer: the bytes `PRTK` read as a little-endian u32. */
export const PRINTK_MAGIC = 0x4b545250;
/** Layout version this module writes and reads. */
export const PRINTK_VERSION = 1;
/** Bytes of the control header; the data ring starts here. */
export const PRINTK_HEADER_SIZE = 64;
/**
 * Bytes of a record header (`sizeof(struct printk_log)` here).
 * @see kernel/printk/printk.c (v5.9): struct printk_log
 */
export const PRINTK_RECORD_HEADER_SIZE = 32;
/** Alignment of records in the ring (`LOG_ALIGN`). @see kernel/printk/printk.c (v5.9) */
export const PRINTK_LOG_ALIGN = 8;
/** Smallest data ring accepted. */
export const PRINTK_MIN_DATA_SIZE = 256;
/** Smallest buffer {@link initLogBuffer} accepts: header plus the smallest ring. */
export const PRINTK_MIN_BUFFER_SIZE = PRINTK_HEADER_SIZE + PRINTK_MIN_DATA_SIZE;
/**
 * Longest text a record holds in a large enough ring (Linux's `LOG_LINE_MAX` is 992).
 * @see kernel/printk/printk.c (v5.9): LOG_LINE_MAX
 */
export const PRINTK_TEXT_MAX = 1024;

/**
 * Byte offsets of every field of the log buffer, for tools that read it from raw memory
 * (kdump puts them in VMCOREINFO as Linux does with `OFFSET(printk_log.len)`...).
 *
 * @see kernel/printk/printk.c (v5.9): log_buf_vmcoreinfo_setup
 */
export const printkLayout = {
  magic: PRINTK_MAGIC,
  version: PRINTK_VERSION,
  headerSize: PRINTK_HEADER_SIZE,
  recordHeaderSize: PRINTK_RECORD_HEADER_SIZE,
  align: PRINTK_LOG_ALIGN,
  /** Offsets in the control header. */
  header: {
    magic: 0,
    version: 4,
    dataSize: 8,
    headerSize: 12,
    firstSeq: 16,
    nextSeq: 24,
    firstIdx: 32,
    nextIdx: 36,
    lock: 40,
    droppedCount: 44,
    lockBreaks: 48,
  },
  /** Offsets in a record header. */
  record: {
    seq: 0,
    tsNsec: 8,
    len: 16,
    textLen: 18,
    level: 20,
    facility: 21,
    flags: 22,
    callerId: 24,
  },
} as const;

/** Use the default message level (`default_message_loglevel`). @see include/linux/kern_levels.h */
export const LOGLEVEL_DEFAULT = -1;
/** System is unusable. @see include/linux/kern_levels.h */
export const LOGLEVEL_EMERG = 0;
/** Action must be taken immediately. @see include/linux/kern_levels.h */
export const LOGLEVEL_ALERT = 1;
/** Critical conditions. @see include/linux/kern_levels.h */
export const LOGLEVEL_CRIT = 2;
/** Error conditions. @see include/linux/kern_levels.h */
export const LOGLEVEL_ERR = 3;
/** Warning conditions. @see include/linux/kern_levels.h */
export const LOGLEVEL_WARNING = 4;
/** Normal but significant condition. @see include/linux/kern_levels.h */
export const LOGLEVEL_NOTICE = 5;
/** Informational. @see include/linux/kern_levels.h */
export const LOGLEVEL_INFO = 6;
/** Debug-level messages. @see include/linux/kern_levels.h */
export const LOGLEVEL_DEBUG = 7;

/**
 * Level of a message printed without one (`CONFIG_MESSAGE_LOGLEVEL_DEFAULT`).
 * @see include/linux/printk.h
 */
export const MESSAGE_LOGLEVEL_DEFAULT = LOGLEVEL_WARNING;
/**
 * Default console level: messages below it are echoed (`CONSOLE_LOGLEVEL_DEFAULT`).
 * @see include/linux/printk.h
 */
export const CONSOLE_LOGLEVEL_DEFAULT = 7;
/**
 * Console level set by `console_verbose()` on panic and oops: echo everything.
 * @see include/linux/printk.h: console_verbose
 */
export const CONSOLE_LOGLEVEL_MOTORMOUTH = 15;

/** ASCII Start Of Header, the first byte of a level prefix. @see include/linux/kern_levels.h */
export const KERN_SOH = '\x01';
/** Prefix for level 0. @see include/linux/kern_levels.h */
export const KERN_EMERG = '\x010';
/** Prefix for level 1. @see include/linux/kern_levels.h */
export const KERN_ALERT = '\x011';
/** Prefix for level 2. @see include/linux/kern_levels.h */
export const KERN_CRIT = '\x012';
/** Prefix for level 3. @see include/linux/kern_levels.h */
export const KERN_ERR = '\x013';
/** Prefix for level 4. @see include/linux/kern_levels.h */
export const KERN_WARNING = '\x014';
/** Prefix for level 5. @see include/linux/kern_levels.h */
export const KERN_NOTICE = '\x015';
/** Prefix for level 6. @see include/linux/kern_levels.h */
export const KERN_INFO = '\x016';
/** Prefix for level 7. @see include/linux/kern_levels.h */
export const KERN_DEBUG = '\x017';
/** Prefix for the default level. @see include/linux/kern_levels.h */
export const KERN_DEFAULT = '\x01d';
/**
 * Prefix of a continuation fragment (stored as its own record flagged {@link LOG_CONT}).
 * @see include/linux/kern_levels.h
 */
export const KERN_CONT = '\x01c';

/** Record flag: the text ended with a newline (stripped). @see kernel/printk/printk.c (v5.9) */
export const LOG_NEWLINE = 2;
/**
 * Record flag: a continuation fragment; `/dev/kmsg` shows it as `c`.
 * @see kernel/printk/printk.c (v5.9): enum log_flags
 */
export const LOG_CONT = 8;

/**
 * One record of the log, as read back.
 * @see kernel/printk/printk.c (v5.9): struct printk_log
 */
export interface PrintkRecord {
  /** Sequence number: 0 for the first record ever stored, counting up by one. */
  readonly seq: number;
  /** Timestamp in nanoseconds since boot, from the injected clock. */
  readonly tsNsec: number;
  /** Log level 0 (emerg) .. 7 (debug). */
  readonly level: number;
  /** Syslog facility; 0 (LOG_KERN) for printk. */
  readonly facility: number;
  /** {@link LOG_NEWLINE} | {@link LOG_CONT}. */
  readonly flags: number;
  /** Who printed it, from the `callerId` option. */
  readonly callerId: number;
  /** The message, without its level prefix or trailing newline. */
  readonly text: string;
}

/**
 * The control header of a log buffer, as read back by {@link readLogHeader}.
 * @see kernel/printk/printk.c (v5.9): log_first_seq, log_next_seq, log_first_idx, log_next_idx
 */
export interface PrintkHeader {
  /** Bytes in the data ring. */
  readonly dataSize: number;
  /** Sequence number of the oldest record. */
  readonly firstSeq: number;
  /** Sequence number the next record gets. */
  readonly nextSeq: number;
  /** Ring index of the oldest record (or of a wrap marker before it). */
  readonly firstIdx: number;
  /** Ring index where the next record goes. */
  readonly nextIdx: number;
  /** Whether the lock word was held when read (a dump taken mid-write). */
  readonly locked: boolean;
  /** Records dropped to make room, modulo 2^32. */
  readonly droppedCount: number;
  /** Times a writer broke a lock held too long. */
  readonly lockBreaks: number;
}

/**
 * Options of {@link createPrintk}.
 * @see kernel/printk/printk.c: setup_log_buf, console_loglevel
 */
export interface PrintkOptions {
  /** Where the log lives: at least {@link PRINTK_MIN_BUFFER_SIZE} bytes, 4-byte aligned. */
  buffer: Uint8Array;
  /** Source of record timestamps (`local_clock()`). */
  clock: Clock;
  /** Reuse a valid log already in `buffer` (after a crash, or from another thread) instead of reinitializing it. */
  keep?: boolean;
  /** Messages with a level below this are echoed to `console` (default 7). */
  consoleLoglevel?: number;
  /** Receives each echoed message as `dmesg` lines, one call per line. */
  console?: (line: string) => void;
  /** Caller id stored in each record (a pid, or 0x80000000 + CPU); default 0. */
  callerId?: () => number;
}

const H = printkLayout.header;
const R = printkLayout.record;
const HDR = PRINTK_RECORD_HEADER_SIZE;
const TWO32 = 0x1_0000_0000;
const LOCK_INDEX = H.lock / 4;
/**
 * Attempts before a writer breaks the lock. A holder keeps it for a few hundred
 * nanoseconds; one that keeps it for this long (about 10 ms) has died or been stopped
 * holding it, as a CPU stopped by a panic, and waiting longer would hang the panic path.
 */
const LOCK_SPIN_LIMIT = 1 << 20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function getU64(view: DataView, off: number): number {
  return view.getUint32(off + 4, true) * TWO32 + view.getUint32(off, true);
}

function setU64(view: DataView, off: number, value: number): void {
  view.setUint32(off, value >>> 0, true);
  view.setUint32(off + 4, Math.floor(value / TWO32), true);
}

/** Bytes a record with `textLen` bytes of text takes (`msg_used_size`). */
function recordSize(textLen: number): number {
  return (HDR + textLen + PRINTK_LOG_ALIGN - 1) & ~(PRINTK_LOG_ALIGN - 1);
}

/**
 * Whether the ring has contiguous room for `size` bytes plus an empty header that may
 * mark the wrap (`logbuf_has_space`).
 */
function hasSpace(
  dataSize: number,
  firstIdx: number,
  nextIdx: number,
  size: number,
  empty: boolean,
): boolean {
  const free =
    nextIdx > firstIdx || empty ? Math.max(dataSize - nextIdx, firstIdx) : firstIdx - nextIdx;
  return free >= size + HDR;
}

function corrupt(offset: number, field: string, problem: string): KernelError {
  return new KernelError('EBADMSG', `printk log buffer offset ${offset} (${field}): ${problem}`);
}

/** Reads a u64 field that must hold a safe integer. */
function getSafeU64(view: DataView, off: number, field: string): number {
  const hi = view.getUint32(off + 4, true);
  if (hi >= 0x20_0000)
    throw corrupt(
      off,
      field,
      `0x${hi.toString(16)}${view.getUint32(off, true).toString(16).padStart(8, '0')} is beyond 2^53`,
    );
  return hi * TWO32 + view.getUint32(off, true);
}

/** Reads and validates the control header. @throws KernelError EBADMSG */
function parseHeader(view: DataView): PrintkHeader {
  const length = view.byteLength;
  if (length < PRINTK_HEADER_SIZE)
    throw corrupt(
      0,
      'header',
      `buffer of ${length} bytes is shorter than the ${PRINTK_HEADER_SIZE}-byte header`,
    );
  const magic = view.getUint32(H.magic, true);
  if (magic !== PRINTK_MAGIC)
    throw corrupt(
      H.magic,
      'magic',
      `0x${magic.toString(16)} is not 0x${PRINTK_MAGIC.toString(16)}`,
    );
  const version = view.getUint32(H.version, true);
  if (version !== PRINTK_VERSION)
    throw corrupt(H.version, 'version', `${version} is not ${PRINTK_VERSION}`);
  const headerSize = view.getUint32(H.headerSize, true);
  if (headerSize !== PRINTK_HEADER_SIZE)
    throw corrupt(H.headerSize, 'headerSize', `${headerSize} is not ${PRINTK_HEADER_SIZE}`);
  const dataSize = view.getUint32(H.dataSize, true);
  if (
    dataSize % PRINTK_LOG_ALIGN !== 0 ||
    dataSize < PRINTK_MIN_DATA_SIZE ||
    PRINTK_HEADER_SIZE + dataSize > length
  )
    throw corrupt(
      H.dataSize,
      'dataSize',
      `${dataSize} is not a multiple of ${PRINTK_LOG_ALIGN} between ${PRINTK_MIN_DATA_SIZE} and ${length - PRINTK_HEADER_SIZE}`,
    );
  const firstSeq = getSafeU64(view, H.firstSeq, 'firstSeq');
  const nextSeq = getSafeU64(view, H.nextSeq, 'nextSeq');
  if (nextSeq < firstSeq)
    throw corrupt(H.nextSeq, 'nextSeq', `${nextSeq} is below firstSeq ${firstSeq}`);
  if (nextSeq - firstSeq > dataSize / HDR)
    throw corrupt(
      H.nextSeq,
      'nextSeq',
      `${nextSeq - firstSeq} records cannot fit in ${dataSize} bytes`,
    );
  const index = (off: number, field: string): number => {
    const idx = view.getUint32(off, true);
    if (idx % PRINTK_LOG_ALIGN !== 0 || idx > dataSize - HDR)
      throw corrupt(
        off,
        field,
        `${idx} is not an ${PRINTK_LOG_ALIGN}-byte aligned index below ${dataSize - HDR}`,
      );
    return idx;
  };
  return {
    dataSize,
    firstSeq,
    nextSeq,
    firstIdx: index(H.firstIdx, 'firstIdx'),
    nextIdx: index(H.nextIdx, 'nextIdx'),
    locked: view.getInt32(H.lock, true) !== 0,
    droppedCount: view.getUint32(H.droppedCount, true),
    lockBreaks: view.getUint32(H.lockBreaks, true),
  };
}

/**
 * Walks the records from `firstIdx`, validating each. Terminates on any input: it
 * visits at most `nextSeq - firstSeq` records (bounded by the header check) and crosses
 * at most one wrap marker. @throws KernelError EBADMSG
 */
function walkRecords(view: DataView, h: PrintkHeader): PrintkRecord[] {
  const out: PrintkRecord[] = [];
  let idx = h.firstIdx;
  let wrapped = false;
  for (let seq = h.firstSeq; seq < h.nextSeq;) {
    const off = PRINTK_HEADER_SIZE + idx;
    const len = view.getUint16(off + R.len, true);
    if (len === 0) {
      if (wrapped)
        throw corrupt(
          off + R.len,
          'record.len',
          `second wrap marker while looking for seq ${seq}: the index chain is cyclic`,
        );
      wrapped = true;
      idx = 0;
      continue;
    }
    // Records before the wrap leave room for a wrap marker at the end of the ring; those
    // after it end a header's length before the oldest record (logbuf_has_space).
    const limit = wrapped ? h.firstIdx : h.dataSize;
    if (len < HDR || len % PRINTK_LOG_ALIGN !== 0 || idx + len + HDR > limit)
      throw corrupt(
        off + R.len,
        'record.len',
        `${len} at index ${idx} is not an ${PRINTK_LOG_ALIGN}-byte multiple of at least ${HDR} ending by index ${limit - HDR}`,
      );
    const recSeq = getU64(view, off + R.seq);
    if (recSeq !== seq)
      throw corrupt(off + R.seq, 'record.seq', `${recSeq} where ${seq} was expected`);
    const textLen = view.getUint16(off + R.textLen, true);
    if (textLen > len - HDR)
      throw corrupt(
        off + R.textLen,
        'record.textLen',
        `${textLen} does not fit in a ${len}-byte record`,
      );
    if (recordSize(textLen) !== len)
      throw corrupt(
        off + R.len,
        'record.len',
        `${len} is not ${recordSize(textLen)}, the size of a record with ${textLen} bytes of text`,
      );
    const level = view.getUint8(off + R.level);
    if (level > LOGLEVEL_DEBUG)
      throw corrupt(off + R.level, 'record.level', `${level} is above ${LOGLEVEL_DEBUG}`);
    const textStart = view.byteOffset + off + HDR;
    out.push({
      seq,
      tsNsec: getSafeU64(view, off + R.tsNsec, 'record.tsNsec'),
      level,
      facility: view.getUint8(off + R.facility),
      flags: view.getUint16(off + R.flags, true),
      callerId: view.getUint32(off + R.callerId, true),
      // slice() copies: TextDecoder refuses views on a SharedArrayBuffer in browsers.
      text: decoder.decode(new Uint8Array(view.buffer).slice(textStart, textStart + textLen)),
    });
    idx += len;
    seq++;
  }
  if (idx !== h.nextIdx)
    throw corrupt(H.nextIdx, 'nextIdx', `${h.nextIdx} but the records end at ${idx}`);
  return out;
}

function checkBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array))
    throw new KernelError(
      'EINVAL',
      `a printk buffer must be a Uint8Array (e.g. new Uint8Array(new SharedArrayBuffer(65536))), got ${describeValue(bytes)}`,
    );
}

function checkBufferSize(bytes: Uint8Array): void {
  checkBytes(bytes);
  if (bytes.length < PRINTK_MIN_BUFFER_SIZE)
    throw new KernelError(
      'EINVAL',
      `printk buffer of ${bytes.length} bytes is smaller than ${PRINTK_MIN_BUFFER_SIZE} (a ${PRINTK_HEADER_SIZE}-byte header and a ${PRINTK_MIN_DATA_SIZE}-byte ring)`,
    );
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Formats a log buffer in `bytes`: an empty log with the data ring as large as fits
 * (rounded down to a multiple of 8). Everything in `bytes` before the end of the ring
 * is zeroed.
 *
 * @throws KernelError EINVAL if `bytes` is not a Uint8Array or is shorter than
 *   {@link PRINTK_MIN_BUFFER_SIZE}.
 * @see kernel/printk/printk.c: setup_log_buf
 */
export function initLogBuffer(bytes: Uint8Array): void {
  checkBufferSize(bytes);
  const dataSize =
    Math.min(bytes.length - PRINTK_HEADER_SIZE, 0xffff_ffff) & ~(PRINTK_LOG_ALIGN - 1);
  bytes.fill(0, 0, PRINTK_HEADER_SIZE + dataSize);
  const view = viewOf(bytes);
  view.setUint32(H.magic, PRINTK_MAGIC, true);
  view.setUint32(H.version, PRINTK_VERSION, true);
  view.setUint32(H.dataSize, dataSize >>> 0, true);
  view.setUint32(H.headerSize, PRINTK_HEADER_SIZE, true);
}

/**
 * Reads and validates the control header of a log buffer from raw bytes.
 *
 * @throws KernelError EBADMSG naming the offset and field of the first bad value; EINVAL
 *   if `bytes` is not a Uint8Array.
 * @see kernel/printk/printk.c (v5.9): log_first_seq, log_next_seq, log_first_idx, log_next_idx
 */
export function readLogHeader(bytes: Uint8Array): PrintkHeader {
  checkBytes(bytes);
  return parseHeader(viewOf(bytes));
}

/**
 * Reads every record of a log buffer from raw bytes alone (as a crash dump tool does),
 * validating the header and each record. Takes no lock: give it a copy or a quiescent
 * buffer. Terminates on any input.
 *
 * @throws KernelError EBADMSG naming the offset and field of the first bad value: bad
 *   magic, version or sizes, an index out of range, a record whose `len` is out of
 *   bounds or misaligned, whose `textLen` does not fit, whose `seq` is out of order, or an
 *   index chain that loops. EINVAL if `bytes` is not a Uint8Array.
 * @see kernel/printk/printk.c: log_from_idx, log_next; makedumpfile dump_log_entry
 */
export function readLogBuffer(bytes: Uint8Array): PrintkRecord[] {
  checkBytes(bytes);
  const view = viewOf(bytes);
  return walkRecords(view, parseHeader(view));
}

/** `[%5lu.%06lu] ` of a timestamp (`print_time`). */
function timePrefix(tsNsec: number): string {
  const sec = Math.floor(tsNsec / 1e9);
  const usec = Math.floor((tsNsec % 1e9) / 1000);
  return `[${String(sec).padStart(5)}.${String(usec).padStart(6, '0')}] `;
}

function dmesgLines(rec: PrintkRecord): string[] {
  const prefix = timePrefix(rec.tsNsec);
  return rec.text.split('\n').map((line) => prefix + line);
}

/**
 * Formats a record as `dmesg` and the console show it: `[    1.234567] text`, each line
 * of a multi-line text with its own prefix, lines joined by `\n` (no trailing newline).
 *
 * @see kernel/printk/printk.c: msg_print_text, print_time
 */
export function formatDmesgLine(rec: PrintkRecord): string {
  return dmesgLines(rec).join('\n');
}

/**
 * Formats a record as a read of `/dev/kmsg` returns it, without the trailing newline:
 * `<(facility << 3) | level>,<seq>,<usec>,<flag>;<text>`, where flag is `c` for a
 * {@link LOG_CONT} fragment and `-` otherwise, and text bytes below `' '`, from 127, and
 * `\` are escaped as `\xNN`.
 *
 * @see kernel/printk/printk.c: msg_print_ext_header, msg_print_ext_body
 * @see Documentation/ABI/testing/dev-kmsg
 */
export function formatKmsgLine(rec: PrintkRecord): string {
  let body = '';
  for (const c of encoder.encode(rec.text))
    body +=
      c < 0x20 || c >= 0x7f || c === 0x5c
        ? `\\x${c.toString(16).padStart(2, '0')}`
        : String.fromCharCode(c);
  const flag = rec.flags & LOG_CONT ? 'c' : '-';
  return `${(rec.facility << 3) | rec.level},${rec.seq},${Math.floor(rec.tsNsec / 1000)},${flag};${body}`;
}

/** A level prefix at the start of `text`: `\x01` or `<`...`>` around one of `0`-`7`, `d`, `c`. */
function levelPrefix(text: string): { code: string; length: number } | null {
  let code: string | undefined;
  let length = 0;
  if (text.startsWith(KERN_SOH)) [code, length] = [text[1], 2];
  else if (text.startsWith('<') && text[2] === '>') [code, length] = [text[1], 3];
  return code !== undefined && '01234567dc'.includes(code) ? { code, length } : null;
}

/**
 * The kernel log over caller-provided bytes. All state is in the bytes, so several
 * instances (one per worker thread) may share one buffer in a SharedArrayBuffer; the
 * lock word serializes them.
 *
 * @see kernel/printk/printk.c
 */
export class Printk {
  /** The bytes the log lives in. */
  readonly buffer: Uint8Array;
  /** Whether a valid log found in the buffer was kept (`keep`) rather than reinitialized. */
  readonly reused: boolean;
  /**
   * Longest text a record holds: `min(1024, dataSize / 4 - 32)` bytes; longer text is cut.
   * @see kernel/printk/printk.c (v5.9): LOG_LINE_MAX
   */
  readonly maxTextLen: number;
  private readonly view: DataView;
  private readonly lockWord: Int32Array;
  private readonly dataSize: number;
  private readonly clock: Clock;
  private readonly console: ((line: string) => void) | undefined;
  private readonly callerId: () => number;
  private loglevel: number = CONSOLE_LOGLEVEL_DEFAULT;
  private readonly scratch: Uint8Array;

  /**
   * Attaches to `opts.buffer`, formatting it unless `keep` is set and it already holds a
   * valid log (see {@link createPrintk}).
   *
   * @throws KernelError EINVAL if the buffer is not a Uint8Array, too small or not 4-byte
   *   aligned (the lock word needs an Int32Array view), the clock is missing (an object
   *   with `nowNs()`), `console` or `callerId` is given but not a function, or
   *   `consoleLoglevel` is out of range.
   * @see kernel/printk/printk.c: setup_log_buf
   */
  constructor(opts: PrintkOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new KernelError(
        'EINVAL',
        `printk options must be an object such as { buffer, clock }, got ${describeValue(opts)}`,
      );
    const { buffer, clock } = opts;
    checkBytes(buffer);
    if (
      typeof clock !== 'object' ||
      clock === null ||
      typeof (clock as Partial<Clock>).nowNs !== 'function'
    )
      throw new KernelError(
        'EINVAL',
        `printk needs a clock for its timestamps (createVirtualClock() or createRealClock()), got ${describeValue(clock)}`,
      );
    for (const name of ['console', 'callerId'] as const)
      if (opts[name] !== undefined && typeof opts[name] !== 'function')
        throw new KernelError(
          'EINVAL',
          `printk option ${name} must be a function, got ${describeValue(opts[name])}`,
        );
    if (buffer.byteOffset % 4 !== 0)
      throw new KernelError(
        'EINVAL',
        `printk buffer at byte offset ${buffer.byteOffset} is not 4-byte aligned`,
      );
    checkBufferSize(buffer);
    this.buffer = buffer;
    this.view = viewOf(buffer);
    this.lockWord = new Int32Array(buffer.buffer, buffer.byteOffset, PRINTK_HEADER_SIZE / 4);
    this.clock = opts.clock;
    this.console = opts.console;
    this.callerId = opts.callerId ?? (() => 0);
    if (opts.consoleLoglevel !== undefined) this.consoleLoglevel = opts.consoleLoglevel;
    this.reused =
      opts.keep === true && this.view.getUint32(H.magic, true) === PRINTK_MAGIC && this.validLog();
    if (!this.reused) initLogBuffer(buffer);
    this.dataSize = this.view.getUint32(H.dataSize, true);
    this.maxTextLen = Math.min(PRINTK_TEXT_MAX, this.dataSize / 4 - HDR);
    this.scratch = new Uint8Array(this.maxTextLen);
  }

  /** Messages with a level below this are echoed to the console (`console_loglevel`). */
  get consoleLoglevel(): number {
    return this.loglevel;
  }

  /**
   * Sets the console level (as `dmesg -n` or `loglevel=` do).
   * @throws KernelError EINVAL unless an integer 0..15.
   */
  set consoleLoglevel(level: number) {
    if (!Number.isInteger(level) || level < 0 || level > CONSOLE_LOGLEVEL_MOTORMOUTH)
      throw new KernelError(
        'EINVAL',
        `console loglevel ${shown(level)} is not an integer 0..${CONSOLE_LOGLEVEL_MOTORMOUTH}`,
      );
    this.loglevel = level;
  }

  /** Sequence number of the oldest record still in the buffer (`log_first_seq`). */
  get firstSeq(): number {
    return this.withLock(() => getU64(this.view, H.firstSeq));
  }

  /** Sequence number the next record will get (`log_next_seq`). */
  get nextSeq(): number {
    return this.withLock(() => getU64(this.view, H.nextSeq));
  }

  /** Records dropped to make room, modulo 2^32 (so equal to `firstSeq` below 2^32 drops). */
  get droppedCount(): number {
    return this.withLock(() => this.view.getUint32(H.droppedCount, true));
  }

  /**
   * Times a writer broke the lock because its holder kept it too long. Read without the lock.
   * @see kernel/printk/printk.c (v5.9): zap_locks
   */
  get lockBreaks(): number {
    return this.view.getUint32(H.lockBreaks, true);
  }

  /**
   * Stores a message and echoes it to the console if its level is below the console
   * level. The level comes from `level` unless `text` starts with level prefixes
   * (`KERN_ERR` = `"\x013"`, or the pre-3.6 `"<3>"`), which override it; `KERN_DEFAULT`
   * or {@link LOGLEVEL_DEFAULT} means {@link MESSAGE_LOGLEVEL_DEFAULT}; `KERN_CONT` marks a
   * continuation fragment. One trailing newline is stripped. Returns the bytes of text
   * stored, which is the UTF-8 length cut to {@link Printk.maxTextLen}.
   *
   * @throws KernelError EINVAL if `level` is not an integer from -1 to 7 or `text` is not
   *   a string. Whatever the `console` callback throws propagates, after the record is
   *   stored.
   * @see kernel/printk/printk.c: vprintk_store, log_store, printk_get_level
   */
  printk(level: number, text: string): number {
    if (!Number.isInteger(level) || level < LOGLEVEL_DEFAULT || level > LOGLEVEL_DEBUG)
      throw new KernelError(
        'EINVAL',
        `printk level ${shown(level)} is not an integer from ${LOGLEVEL_DEFAULT} to ${LOGLEVEL_DEBUG}`,
      );
    if (typeof text !== 'string')
      throw new KernelError('EINVAL', `printk text must be a string, got ${describeValue(text)}`);
    let lvl = level;
    let flags = 0;
    let body = text;
    for (let p = levelPrefix(body); p; p = levelPrefix(body)) {
      if (p.code === 'c') flags |= LOG_CONT;
      else lvl = p.code === 'd' ? LOGLEVEL_DEFAULT : Number(p.code);
      body = body.slice(p.length);
    }
    if (lvl === LOGLEVEL_DEFAULT) lvl = MESSAGE_LOGLEVEL_DEFAULT;
    if (body.endsWith('\n')) {
      body = body.slice(0, -1);
      flags |= LOG_NEWLINE;
    }
    // Read outside the lock: a clock or caller-id callback that printed would otherwise
    // spin on our own lock.
    const now = this.clock.nowNs();
    const tsNsec =
      Number.isFinite(now) && now > 0 ? Math.min(Math.floor(now), Number.MAX_SAFE_INTEGER) : 0;
    const callerId = this.callerId() >>> 0;
    // After the callbacks above: a nested printk from them would reuse the scratch buffer.
    const text8 = this.encodeText(body);
    const seq = this.withLock(() => this.logStoreLocked(tsNsec, lvl, flags, callerId, text8));
    if (seq !== null && this.console && lvl < this.loglevel) {
      const rec: PrintkRecord = {
        seq,
        tsNsec,
        level: lvl,
        facility: 0,
        flags,
        callerId,
        text: decoder.decode(text8),
      };
      for (const line of dmesgLines(rec)) {
        try {
          this.console(line);
        } catch {
          // A console that fails must not stop the log (nor a panic printing through it).
        }
      }
    }
    return seq === null ? 0 : text8.length;
  }

  /**
   * UTF-8 of `body`, cut to maxTextLen bytes on a character boundary, in a scratch
   * buffer reused across calls (TextEncoder.encode allocates and dominated printk's cost).
   */
  private encodeText(body: string): Uint8Array {
    const out = this.scratch;
    const n = Math.min(body.length, out.length);
    let i = 0;
    for (; i < n; i++) {
      const c = body.charCodeAt(i);
      if (c >= 0x80) break;
      out[i] = c;
    }
    if (i === body.length || i === out.length) return out.subarray(0, i);
    const { written } = encoder.encodeInto(body.slice(i), out.subarray(i));
    return out.subarray(0, i + written);
  }

  /**
   * Prints at {@link LOGLEVEL_EMERG} (`pr_emerg`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_emerg
   */
  emerg(text: string): number {
    return this.printk(LOGLEVEL_EMERG, text);
  }

  /**
   * Prints at {@link LOGLEVEL_ALERT} (`pr_alert`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_alert
   */
  alert(text: string): number {
    return this.printk(LOGLEVEL_ALERT, text);
  }

  /**
   * Prints at {@link LOGLEVEL_CRIT} (`pr_crit`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_crit
   */
  crit(text: string): number {
    return this.printk(LOGLEVEL_CRIT, text);
  }

  /**
   * Prints at {@link LOGLEVEL_ERR} (`pr_err`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_err
   */
  err(text: string): number {
    return this.printk(LOGLEVEL_ERR, text);
  }

  /**
   * Prints at {@link LOGLEVEL_WARNING} (`pr_warn`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_warn
   */
  warning(text: string): number {
    return this.printk(LOGLEVEL_WARNING, text);
  }

  /**
   * Prints at {@link LOGLEVEL_NOTICE} (`pr_notice`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_notice
   */
  notice(text: string): number {
    return this.printk(LOGLEVEL_NOTICE, text);
  }

  /**
   * Prints at {@link LOGLEVEL_INFO} (`pr_info`); returns the bytes of text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_info
   */
  info(text: string): number {
    return this.printk(LOGLEVEL_INFO, text);
  }

  /**
   * Prints at {@link LOGLEVEL_DEBUG} (`pr_debug`; always stored here); returns the bytes of
   * text stored.
   * @throws Whatever the `console` callback throws, after the record is stored.
   * @see include/linux/printk.h: pr_debug
   */
  debug(text: string): number {
    return this.printk(LOGLEVEL_DEBUG, text);
  }

  /**
   * The records still in the buffer with `seq >= fromSeq`, oldest first.
   * @throws KernelError EBADMSG if the buffer was corrupted (written by something else).
   * @see kernel/printk/printk.c (v5.9): log_from_idx, log_next
   */
  records(fromSeq = 0): PrintkRecord[] {
    const all = this.withLock(() => walkRecords(this.view, parseHeader(this.view)));
    return all.filter((r) => r.seq >= fromSeq);
  }

  /**
   * The log as `dmesg` prints it, one string per line (see {@link formatDmesgLine}).
   * @throws KernelError EBADMSG as {@link Printk.records}.
   * @see kernel/printk/printk.c (v5.9): syslog_print_all, msg_print_text
   */
  dmesg(): string[] {
    return this.records().flatMap(dmesgLines);
  }

  /**
   * The log as successive reads of `/dev/kmsg` return it, from `fromSeq` (see
   * {@link formatKmsgLine}).
   * @throws KernelError EBADMSG as {@link Printk.records}.
   * @see kernel/printk/printk.c (v5.9): devkmsg_read
   */
  kmsg(fromSeq = 0): string[] {
    return this.records(fromSeq).map(formatKmsgLine);
  }

  /**
   * Inserts a record, dropping the oldest until it fits; returns its sequence number, or
   * null if it cannot fit even in an empty ring (not possible for text cut to
   * `maxTextLen`; Linux's log_store returns 0 there).
   *
   * @see kernel/printk/printk.c: log_store, log_make_free_space
   */
  private logStoreLocked(
    tsNsec: number,
    level: number,
    flags: number,
    callerId: number,
    text: Uint8Array,
  ): number | null {
    const { view, dataSize } = this;
    const size = recordSize(text.length);
    let firstSeq = getU64(view, H.firstSeq);
    const nextSeq = getU64(view, H.nextSeq);
    let firstIdx = view.getUint32(H.firstIdx, true);
    let nextIdx = view.getUint32(H.nextIdx, true);

    let dropped = 0;
    while (firstSeq < nextSeq && !hasSpace(dataSize, firstIdx, nextIdx, size, false)) {
      firstIdx = this.logNext(firstIdx);
      firstSeq++;
      dropped++;
    }
    if (dropped > 0) {
      setU64(view, H.firstSeq, firstSeq);
      view.setUint32(H.firstIdx, firstIdx, true);
      view.setUint32(H.droppedCount, (view.getUint32(H.droppedCount, true) + dropped) >>> 0, true);
    }
    if (!hasSpace(dataSize, firstIdx, nextIdx, size, firstSeq === nextSeq)) return null;

    if (nextIdx + size + HDR > dataSize) {
      // No room at the end for this record and a header: leave a wrap marker.
      const marker = PRINTK_HEADER_SIZE + nextIdx;
      this.buffer.fill(0, marker, marker + HDR);
      nextIdx = 0;
    }
    const off = PRINTK_HEADER_SIZE + nextIdx;
    setU64(view, off + R.seq, nextSeq);
    setU64(view, off + R.tsNsec, tsNsec);
    view.setUint16(off + R.len, size, true);
    view.setUint16(off + R.textLen, text.length, true);
    view.setUint8(off + R.level, level);
    view.setUint8(off + R.facility, 0);
    view.setUint16(off + R.flags, flags, true);
    view.setUint32(off + R.callerId, callerId, true);
    view.setUint32(off + R.callerId + 4, 0, true);
    this.buffer.set(text, off + HDR);
    this.buffer.fill(0, off + HDR + text.length, off + size);
    // Publish only once the record is complete, so a dump never shows half of it.
    view.setUint32(H.nextIdx, nextIdx + size, true);
    setU64(view, H.nextSeq, nextSeq + 1);
    return nextSeq;
  }

  /** Index of the record after the one at `idx`, following a wrap marker (`log_next`). */
  private logNext(idx: number): number {
    const len = this.view.getUint16(PRINTK_HEADER_SIZE + idx + R.len, true);
    // A wrap marker: the record at index 0 is this one; return the one after it.
    return len === 0 ? this.view.getUint16(PRINTK_HEADER_SIZE + R.len, true) : idx + len;
  }

  /** Whether the buffer holds a log that reads back cleanly. */
  private validLog(): boolean {
    try {
      this.withLock(() => walkRecords(this.view, parseHeader(this.view)));
      return true;
    } catch (e) {
      if (isKernelError(e, 'EBADMSG')) return false;
      throw e;
    }
  }

  /**
   * Runs `fn` holding the lock word. The spin is bounded: a lock held for
   * {@link LOCK_SPIN_LIMIT} attempts is broken and the break counted, as Linux's
   * `zap_locks` reinitializes `logbuf_lock` rather than hang a dying kernel.
   */
  private withLock<T>(fn: () => T): T {
    let spins = 0;
    while (Atomics.compareExchange(this.lockWord, LOCK_INDEX, 0, 1) !== 0) {
      if (++spins >= LOCK_SPIN_LIMIT) {
        Atomics.store(this.lockWord, LOCK_INDEX, 1);
        this.view.setUint32(
          H.lockBreaks,
          (this.view.getUint32(H.lockBreaks, true) + 1) >>> 0,
          true,
        );
        break;
      }
    }
    try {
      return fn();
    } finally {
      Atomics.store(this.lockWord, LOCK_INDEX, 0);
    }
  }
}

/**
 * Creates the kernel log over `opts.buffer`, formatting it unless `keep` is set and the
 * buffer already holds a valid log.
 *
 * @throws KernelError EINVAL as the {@link Printk} constructor.
 * @see kernel/printk/printk.c: setup_log_buf
 */
export function createPrintk(opts: PrintkOptions): Printk {
  return new Printk(opts);
}
