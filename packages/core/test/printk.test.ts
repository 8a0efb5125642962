import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { KernelError } from '../src/errno.js';
import {
  KERN_CONT,
  KERN_DEFAULT,
  KERN_EMERG,
  KERN_ERR,
  KERN_INFO,
  LOG_CONT,
  LOG_NEWLINE,
  LOGLEVEL_DEFAULT,
  LOGLEVEL_INFO,
  PRINTK_HEADER_SIZE,
  PRINTK_MAGIC,
  PRINTK_MIN_BUFFER_SIZE,
  PRINTK_RECORD_HEADER_SIZE,
  type PrintkOptions,
  type PrintkRecord,
  createPrintk,
  formatDmesgLine,
  formatKmsgLine,
  initLogBuffer,
  printkLayout,
  readLogBuffer,
  readLogHeader,
} from '../src/printk.js';

function setup(size = 4096, opts: Partial<PrintkOptions> = {}) {
  const bytes = new Uint8Array(size);
  const clock = new VirtualClock();
  const lines: string[] = [];
  const p = createPrintk({ buffer: bytes, clock, console: (l) => lines.push(l), ...opts });
  return { bytes, clock, p, lines };
}

const rec = (over: Partial<PrintkRecord>): PrintkRecord => ({
  seq: 0,
  tsNsec: 0,
  level: 6,
  facility: 0,
  flags: 0,
  callerId: 0,
  text: '',
  ...over,
});

/** The EBADMSG message readLogBuffer throws for `bytes`. */
function corruption(bytes: Uint8Array): string {
  try {
    readLogBuffer(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(KernelError);
    expect((e as KernelError).errno).toBe('EBADMSG');
    return (e as KernelError).message;
  }
  throw new Error('readLogBuffer accepted a corrupt buffer');
}

describe('formatDmesgLine', () => {
  it('prints the timestamp as print_time does', () => {
    expect(formatDmesgLine(rec({ tsNsec: 1_234_567_891, text: 'hello' }))).toBe(
      '[    1.234567] hello',
    );
    expect(formatDmesgLine(rec({ tsNsec: 0, text: '' }))).toBe('[    0.000000] ');
    expect(formatDmesgLine(rec({ tsNsec: 999, text: 'x' }))).toBe('[    0.000000] x');
    expect(formatDmesgLine(rec({ tsNsec: 123_456_789_000_000, text: 'late' }))).toBe(
      '[123456.789000] late',
    );
  });

  it('prefixes every line of a multi-line text', () => {
    expect(formatDmesgLine(rec({ tsNsec: 2_000_001_000, text: 'a\nb\n' }))).toBe(
      '[    2.000001] a\n[    2.000001] b\n[    2.000001] ',
    );
  });
});

describe('formatKmsgLine', () => {
  it('prints prefix, seq, microseconds and flag', () => {
    expect(formatKmsgLine(rec({ seq: 7, tsNsec: 1_234_567_891, level: 6, text: 'hello' }))).toBe(
      '6,7,1234567,-;hello',
    );
    expect(formatKmsgLine(rec({ seq: 0, facility: 1, level: 5, text: 'user' }))).toBe(
      '13,0,0,-;user',
    );
    expect(formatKmsgLine(rec({ level: 4, flags: LOG_CONT, text: 'more' }))).toBe('4,0,0,c;more');
    expect(formatKmsgLine(rec({ level: 4, flags: LOG_NEWLINE, text: 'nl' }))).toBe('4,0,0,-;nl');
  });

  it('escapes control bytes, DEL, non-ASCII bytes and backslash as msg_print_ext_body', () => {
    expect(formatKmsgLine(rec({ text: 'a\\b\tc\nd\x7fé€' }))).toBe(
      '6,0,0,-;a\\x5cb\\x09c\\x0ad\\x7f\\xc3\\xa9\\xe2\\x82\\xac',
    );
    expect(formatKmsgLine(rec({ text: ' ~' }))).toBe('6,0,0,-; ~');
  });
});

describe('initLogBuffer', () => {
  it('rejects a buffer smaller than header plus 256 bytes, naming the size', () => {
    expect(() => initLogBuffer(new Uint8Array(PRINTK_MIN_BUFFER_SIZE - 1))).toThrow(
      /EINVAL: .*319 bytes/,
    );
    expect(() => createPrintk({ buffer: new Uint8Array(100), clock: new VirtualClock() })).toThrow(
      /EINVAL: .*100 bytes/,
    );
  });

  it('rejects a buffer the lock word cannot be aligned in', () => {
    const buffer = new Uint8Array(new ArrayBuffer(1024), 2, 1000);
    expect(() => createPrintk({ buffer, clock: new VirtualClock() })).toThrow(
      /EINVAL: .*byte offset 2/,
    );
  });

  it('writes the header and rounds the ring down to a multiple of 8', () => {
    const bytes = new Uint8Array(PRINTK_MIN_BUFFER_SIZE + 13).fill(0xaa);
    initLogBuffer(bytes);
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(0, true)).toBe(PRINTK_MAGIC);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('PRTK');
    expect(v.getUint32(4, true)).toBe(1);
    expect(v.getUint32(8, true)).toBe(264);
    expect(v.getUint32(12, true)).toBe(PRINTK_HEADER_SIZE);
    expect(bytes.subarray(16, 64 + 264).every((b) => b === 0)).toBe(true);
    expect(bytes[64 + 264]).toBe(0xaa); // beyond the ring: untouched
    expect(readLogHeader(bytes)).toEqual({
      dataSize: 264,
      firstSeq: 0,
      nextSeq: 0,
      firstIdx: 0,
      nextIdx: 0,
      locked: false,
      droppedCount: 0,
      lockBreaks: 0,
    });
    expect(readLogBuffer(bytes)).toEqual([]);
  });
});

describe('layout', () => {
  it('lays a record out at the documented offsets (golden bytes)', () => {
    const { bytes, clock, p } = setup(PRINTK_MIN_BUFFER_SIZE, { callerId: () => 0x8000_0002 });
    clock.advanceTo(1_234_567_891);
    expect(p.printk(LOGLEVEL_DEFAULT, `${KERN_ERR}hi\n`)).toBe(2);
    const hex = (from: number, to: number) => Buffer.from(bytes.subarray(from, to)).toString('hex');
    expect(hex(0, 64)).toBe(
      '5052544b' + // magic 'PRTK'
        '01000000' + // version
        '00010000' + // dataSize 256
        '40000000' + // headerSize 64
        '0000000000000000' + // firstSeq
        '0100000000000000' + // nextSeq
        '00000000' + // firstIdx
        '28000000' + // nextIdx 40
        '00000000' + // lock
        '00000000' + // droppedCount
        '00000000' + // lockBreaks
        '00'.repeat(12),
    );
    expect(hex(64, 64 + 40)).toBe(
      '0000000000000000' + // seq
        'd302964900000000' + // tsNsec 1234567891
        '2800' + // len 40
        '0200' + // textLen
        '03' + // level
        '00' + // facility
        '0200' + // flags LOG_NEWLINE
        '02000080' + // callerId
        '00000000' + // reserved
        '6869' + // 'hi'
        '000000000000',
    );
    expect(printkLayout.header).toMatchObject({
      firstSeq: 16,
      nextSeq: 24,
      firstIdx: 32,
      nextIdx: 36,
      lock: 40,
    });
    expect(printkLayout.record).toMatchObject({ len: 16, textLen: 18, level: 20 });
    expect(PRINTK_RECORD_HEADER_SIZE).toBe(32);
  });
});

describe('Printk', () => {
  it('stores records with clock timestamps and reads them back', () => {
    const { clock, p } = setup();
    p.info('first');
    clock.advance(1_500_000_000);
    p.err('second');
    expect(p.records()).toEqual([
      { seq: 0, tsNsec: 0, level: 6, facility: 0, flags: 0, callerId: 0, text: 'first' },
      {
        seq: 1,
        tsNsec: 1_500_000_000,
        level: 3,
        facility: 0,
        flags: 0,
        callerId: 0,
        text: 'second',
      },
    ]);
    expect(p.records(1).map((r) => r.text)).toEqual(['second']);
    expect(p.dmesg()).toEqual(['[    0.000000] first', '[    1.500000] second']);
    expect(p.kmsg()).toEqual(['6,0,0,-;first', '3,1,1500000,-;second']);
    expect(p.kmsg(1)).toEqual(['3,1,1500000,-;second']);
    expect([p.firstSeq, p.nextSeq]).toEqual([0, 2]);
  });

  it('takes the level from the argument, a KERN_ prefix or a <N> prefix', () => {
    const { p } = setup();
    p.printk(LOGLEVEL_INFO, 'plain');
    p.printk(LOGLEVEL_DEFAULT, 'default');
    p.printk(LOGLEVEL_DEFAULT, `${KERN_EMERG}soh`);
    p.printk(LOGLEVEL_INFO, `${KERN_ERR}override`);
    p.printk(LOGLEVEL_INFO, `${KERN_DEFAULT}kd`);
    p.printk(LOGLEVEL_DEFAULT, '<2>angle');
    p.printk(LOGLEVEL_DEFAULT, '<9>not a level');
    p.printk(LOGLEVEL_DEFAULT, `${KERN_CONT}${KERN_INFO}cont`);
    p.printk(LOGLEVEL_DEFAULT, '\x01x');
    p.emerg('0');
    p.alert('1');
    p.crit('2');
    p.err('3');
    p.warning('4');
    p.notice('5');
    p.info('6');
    p.debug('7');
    expect(p.records().map((r) => [r.level, r.flags, r.text])).toEqual([
      [6, 0, 'plain'],
      [4, 0, 'default'],
      [0, 0, 'soh'],
      [3, 0, 'override'],
      [4, 0, 'kd'],
      [2, 0, 'angle'],
      [4, 0, '<9>not a level'],
      [6, LOG_CONT, 'cont'],
      [4, 0, '\x01x'],
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((l) => [l, 0, String(l)]),
    ]);
  });

  it('rejects a level that is not -1..7', () => {
    const { p } = setup();
    for (const level of [8, -2, 1.5, Number.NaN])
      expect(() => p.printk(level, 'x')).toThrow(/EINVAL: printk level/);
    expect(p.nextSeq).toBe(0);
  });

  it('strips one trailing newline and flags it', () => {
    const { p } = setup();
    p.info('a\n');
    p.info('b\n\n');
    p.info('c');
    expect(p.records().map((r) => [r.text, r.flags])).toEqual([
      ['a', LOG_NEWLINE],
      ['b\n', LOG_NEWLINE],
      ['c', 0],
    ]);
  });

  it('echoes levels below the console level as dmesg lines', () => {
    const { clock, p, lines } = setup(4096, { consoleLoglevel: 4 });
    clock.advance(3_000_000);
    p.err('two\nlines');
    p.warning('not shown');
    p.debug('not shown');
    expect(lines).toEqual(['[    0.003000] two', '[    0.003000] lines']);
    p.consoleLoglevel = 8;
    p.debug('debug');
    expect(lines.at(-1)).toBe('[    0.003000] debug');
    expect(() => (p.consoleLoglevel = 16)).toThrow(/EINVAL/);
  });

  it('echoes below level 7 by default', () => {
    const { p, lines } = setup();
    p.info('info');
    p.debug('debug');
    expect(lines).toEqual(['[    0.000000] info']);
  });

  it('stores the caller id', () => {
    let pid = 42;
    const { p } = setup(4096, { callerId: () => pid });
    p.info('a');
    pid = 0x8000_0003;
    p.info('b');
    expect(p.records().map((r) => r.callerId)).toEqual([42, 0x8000_0003]);
  });

  it('cuts text to min(1024, dataSize/4 - 32) bytes at a character boundary', () => {
    const small = setup(PRINTK_MIN_BUFFER_SIZE).p;
    expect(small.maxTextLen).toBe(32);
    const stored = (text: string): [number, string] => [
      small.info(text),
      small.records().at(-1)!.text,
    ];
    expect(stored('a'.repeat(100))).toEqual([32, 'a'.repeat(32)]);
    expect(stored('é'.repeat(20))).toEqual([32, 'é'.repeat(16)]);
    expect(stored(`a${'é'.repeat(20)}`)).toEqual([31, `a${'é'.repeat(15)}`]);
    expect(stored('😀'.repeat(10))).toEqual([32, '😀'.repeat(8)]);
    expect(stored(`ab${'😀'.repeat(10)}`)).toEqual([30, `ab${'😀'.repeat(7)}`]);
    expect(stored('a'.repeat(32))).toEqual([32, 'a'.repeat(32)]);

    const big = setup(64 + 8192).p;
    expect(big.maxTextLen).toBe(1024);
    expect(big.info('x'.repeat(5000))).toBe(1024);
    expect(big.records()[0]!.text).toBe('x'.repeat(1024));
  });

  it('drops the oldest records on wrap exactly as log_make_free_space does', () => {
    // A 256-byte ring; 24-byte texts make 56-byte records. Records 0..3 fill it to
    // index 224, leaving exactly one header of room. Record 4 needs 56 + 32: it drops
    // 0 and 1 (then firstIdx 112 has room), writes a wrap marker at 224 and goes to 0.
    const { bytes, p } = setup(PRINTK_MIN_BUFFER_SIZE);
    const text = (i: number) => `record ${i}`.padEnd(24, '.');
    for (let i = 0; i < 4; i++) p.info(text(i));
    expect(readLogHeader(bytes)).toMatchObject({
      firstSeq: 0,
      nextSeq: 4,
      firstIdx: 0,
      nextIdx: 224,
    });
    p.info(text(4));
    expect(readLogHeader(bytes)).toMatchObject({
      firstSeq: 2,
      nextSeq: 5,
      firstIdx: 112,
      nextIdx: 56,
    });
    expect(p.records().map((r) => r.seq)).toEqual([2, 3, 4]);
    // 5 and 6 each drop one record; 7 reaches the wrap marker and drops record 4 at 0.
    p.info(text(5));
    p.info(text(6));
    expect(readLogHeader(bytes)).toMatchObject({ firstSeq: 4, firstIdx: 224, nextIdx: 168 });
    p.info(text(7));
    expect(readLogHeader(bytes)).toMatchObject({
      firstSeq: 5,
      nextSeq: 8,
      firstIdx: 56,
      nextIdx: 224,
      droppedCount: 5,
    });
    expect(p.records()).toEqual(
      [5, 6, 7].map((seq) => ({
        seq,
        tsNsec: 0,
        level: 6,
        facility: 0,
        flags: 0,
        callerId: 0,
        text: text(seq),
      })),
    );
    expect(p.droppedCount).toBe(p.firstSeq);
    expect(readLogBuffer(bytes.slice())).toEqual(p.records());
  });

  it('keeps a valid log with keep, and formats garbage', () => {
    const { bytes, clock, p } = setup();
    p.info('before the crash');
    const again = createPrintk({ buffer: bytes, clock, keep: true });
    expect(again.reused).toBe(true);
    again.info('after');
    expect(again.records().map((r) => r.text)).toEqual(['before the crash', 'after']);

    const fresh = createPrintk({ buffer: bytes, clock });
    expect(fresh.reused).toBe(false);
    expect(fresh.records()).toEqual([]);

    bytes.fill(0x5a);
    const garbage = createPrintk({ buffer: bytes, clock, keep: true });
    expect(garbage.reused).toBe(false);
    expect(garbage.nextSeq).toBe(0);

    garbage.info('x');
    new DataView(bytes.buffer).setUint16(64 + 18, 999, true); // textLen
    expect(createPrintk({ buffer: bytes, clock, keep: true }).reused).toBe(false);
  });

  it('breaks a lock held too long and counts it', () => {
    const { bytes, p } = setup();
    const lockWord = new Int32Array(bytes.buffer, 0, 16);
    lockWord[printkLayout.header.lock / 4] = 1; // a writer died holding it
    expect(readLogHeader(bytes).locked).toBe(true);
    p.info('still logged');
    expect(p.lockBreaks).toBe(1);
    expect(readLogHeader(bytes)).toMatchObject({ locked: false, lockBreaks: 1 });
    expect(p.records().map((r) => r.text)).toEqual(['still logged']);
  });

  it('works on a SharedArrayBuffer shared by two instances', () => {
    const buffer = new Uint8Array(new SharedArrayBuffer(2048));
    const clock = new VirtualClock();
    const cpu0 = createPrintk({ buffer, clock, callerId: () => 0x8000_0000 });
    const cpu1 = createPrintk({ buffer, clock, keep: true, callerId: () => 0x8000_0001 });
    cpu0.info('from cpu0');
    cpu1.info('from cpu1');
    expect(cpu0.records().map((r) => [r.callerId, r.text])).toEqual([
      [0x8000_0000, 'from cpu0'],
      [0x8000_0001, 'from cpu1'],
    ]);
    expect(readLogBuffer(buffer)).toEqual(cpu1.records());
  });
});

describe('readLogBuffer on corrupt buffers', () => {
  function written(): Uint8Array {
    const { bytes, p } = setup(1024);
    p.info('hello'); // record at data index 0, file offset 64, len 40
    p.info('world');
    return bytes;
  }
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

  it('reads the intact buffer', () => {
    expect(readLogBuffer(written()).map((r) => r.text)).toEqual(['hello', 'world']);
  });

  it('bad magic', () => {
    const b = written();
    b[0]! ^= 1;
    expect(corruption(b)).toMatch(/offset 0 \(magic\)/);
  });

  it('bad version, header size and data size', () => {
    let b = written();
    view(b).setUint32(4, 2, true);
    expect(corruption(b)).toMatch(/offset 4 \(version\)/);
    b = written();
    view(b).setUint32(12, 32, true);
    expect(corruption(b)).toMatch(/offset 12 \(headerSize\)/);
    b = written();
    view(b).setUint32(8, 4096, true);
    expect(corruption(b)).toMatch(/offset 8 \(dataSize\): 4096/);
    expect(corruption(written().subarray(0, 40))).toMatch(/shorter than the 64-byte header/);
  });

  it('len out of bounds or misaligned', () => {
    let b = written();
    view(b).setUint16(64 + 16, 0x7ff8, true);
    expect(corruption(b)).toMatch(/offset 80 \(record\.len\): 32760/);
    b = written();
    view(b).setUint16(64 + 16, 44, true);
    expect(corruption(b)).toMatch(/offset 80 \(record\.len\): 44/);
    b = written();
    view(b).setUint16(64 + 16, 48, true); // aligned, in bounds, but not the size of its text
    expect(corruption(b)).toMatch(/offset 80 \(record\.len\): 48 is not 40/);
  });

  it('textLen too big', () => {
    const b = written();
    view(b).setUint16(64 + 18, 200, true);
    expect(corruption(b)).toMatch(/offset 82 \(record\.textLen\): 200/);
  });

  it('sequence numbers out of order', () => {
    const b = written();
    view(b).setUint32(64 + 40, 5, true); // seq of the second record
    expect(corruption(b)).toMatch(/offset 104 \(record\.seq\): 5 where 1/);
  });

  it('indices out of range or not where the records end', () => {
    let b = written();
    view(b).setUint32(32, 12, true);
    expect(corruption(b)).toMatch(/offset 32 \(firstIdx\): 12/);
    b = written();
    view(b).setUint32(36, 120, true);
    expect(corruption(b)).toMatch(/offset 36 \(nextIdx\): 120 but the records end at 80/);
    b = written();
    view(b).setUint32(16, 3, true);
    expect(corruption(b)).toMatch(/offset 24 \(nextSeq\): 2 is below firstSeq 3/);
  });

  it('a cyclic index chain', () => {
    // An empty ring claiming one record: index 0 holds a wrap marker pointing at index 0.
    const b = new Uint8Array(1024);
    initLogBuffer(b);
    view(b).setUint32(24, 1, true);
    expect(corruption(b)).toMatch(/offset 80 \(record\.len\): second wrap marker .*cyclic/);
  });

  it('a record count that cannot fit, without walking it', () => {
    const b = written();
    view(b).setUint32(28, 0x100, true); // nextSeq = 2^40 + 2
    expect(corruption(b)).toMatch(/offset 24 \(nextSeq\): \d+ records cannot fit in 960 bytes/);
    view(b).setUint32(28, 0x20_0000, true);
    expect(corruption(b)).toMatch(/offset 24 \(nextSeq\): .* beyond 2\^53/);
  });
});
