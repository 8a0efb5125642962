import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { isKernelError } from '../src/errno.js';
import {
  LOG_NEWLINE,
  PRINTK_HEADER_SIZE,
  type PrintkRecord,
  createPrintk,
  printkLayout,
  readLogBuffer,
  readLogHeader,
} from '../src/printk.js';

type Op =
  | { kind: 'print'; level: number; text: string; dtNs: number; callerId: number }
  | { kind: 'reattach' };

// Level prefixes are covered by the unit tests; here a text is only a text.
const text = fc
  .oneof(
    fc.constant(''),
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\n', '\\', '\t'), maxLength: 80 }),
    fc.string({ unit: 'binary-ascii', minLength: 100, maxLength: 1500 }),
  )
  .map((s) => (s.startsWith('\x01') || s.startsWith('<') ? `_${s.slice(1)}` : s));

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('print' as const),
      level: fc.integer({ min: 0, max: 7 }),
      text,
      dtNs: fc.oneof(fc.constant(0), fc.nat(2_000_000), fc.nat(2 ** 40)),
      callerId: fc.integer({ min: 0, max: 0xffff_ffff }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reattach' as const }) },
);

const recordSize = (textBytes: number) => (32 + textBytes + 7) & ~7;

/** What printk stores of `text`: one trailing newline stripped, cut to `max` UTF-8 bytes by whole characters. */
function stored(text: string, max: number): { text: string; flags: number; bytes: number } {
  const nl = text.endsWith('\n');
  let out = '';
  let bytes = 0;
  for (const ch of nl ? text.slice(0, -1) : text) {
    const cp = ch.codePointAt(0)!;
    const lone = cp >= 0xd800 && cp <= 0xdfff; // TextEncoder writes U+FFFD
    const n = lone || (cp >= 0x800 && cp < 0x10000) ? 3 : cp < 0x80 ? 1 : cp < 0x800 ? 2 : 4;
    if (bytes + n > max) break;
    out += lone ? '\ufffd' : ch;
    bytes += n;
  }
  return { text: out, flags: nl ? LOG_NEWLINE : 0, bytes };
}

/** Ring-buffer offsets (from the start of the buffer) of the surviving records, oldest first. */
function recordOffsets(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = readLogHeader(bytes);
  const out: number[] = [];
  let idx = h.firstIdx;
  while (out.length < h.nextSeq - h.firstSeq) {
    const len = v.getUint16(PRINTK_HEADER_SIZE + idx + printkLayout.record.len, true);
    if (len === 0) {
      idx = 0;
      continue;
    }
    out.push(PRINTK_HEADER_SIZE + idx);
    idx += len;
  }
  return out;
}

/** Writes `ops` into a fresh buffer and returns it with the model: every record ever written. */
function run(dataSize: number, slack: number, ops: Op[]) {
  const buffer = new Uint8Array(PRINTK_HEADER_SIZE + dataSize + slack);
  const clock = new VirtualClock();
  let callerId = 0;
  let p = createPrintk({ buffer, clock, callerId: () => callerId });
  const max = Math.min(1024, dataSize / 4 - 32);
  const model: PrintkRecord[] = [];
  let maxRecord = 0;
  for (const o of ops) {
    if (o.kind === 'reattach') {
      p = createPrintk({ buffer, clock, keep: true, callerId: () => callerId });
      expect(p.reused).toBe(true);
      continue;
    }
    clock.advance(o.dtNs);
    callerId = o.callerId;
    const s = stored(o.text, max);
    expect(p.printk(o.level, o.text)).toBe(s.bytes);
    model.push({
      seq: model.length,
      tsNsec: clock.nowNs(),
      level: o.level,
      facility: 0,
      flags: s.flags,
      callerId,
      text: s.text,
    });
    maxRecord = Math.max(maxRecord, recordSize(s.bytes));
  }
  return { buffer, p, model, maxRecord };
}

// Small rings and long runs, so that most runs wrap several times.
const logs = fc.record({
  dataSize: fc
    .oneof(fc.integer({ min: 32, max: 64 }), fc.integer({ min: 32, max: 320 }))
    .map((n) => n * 8),
  slack: fc.integer({ min: 0, max: 7 }),
  ops: fc.array(op, { maxLength: 80, size: 'large' }),
});

describe('printk ring buffer properties', () => {
  it('raw bytes read back as the newest suffix of everything written', () => {
    fc.assert(
      fc.property(logs, ({ dataSize, slack, ops }) => {
        const { buffer, p, model, maxRecord } = run(dataSize, slack, ops);
        const got = readLogBuffer(buffer.slice());
        const h = readLogHeader(buffer);

        expect(h.nextSeq).toBe(model.length);
        expect(got.length).toBe(h.nextSeq - h.firstSeq);
        expect(got).toEqual(model.slice(h.firstSeq));
        got.forEach((r, i) => expect(r.seq).toBe(h.firstSeq + i));
        if (got.length > 0) expect(got.at(-1)!.seq).toBe(h.nextSeq - 1);
        expect(h.firstSeq).toBe(model.length - got.length); // the count dropped
        expect(h.droppedCount).toBe(h.firstSeq);
        expect(p.records()).toEqual(got);

        // The survivors fit with a header of room to spare, and dropping kept as much as
        // Linux's scheme guarantees: all but a wrap's waste, the record being placed and
        // the one dropped last (see logbuf_has_space).
        const used = got.reduce(
          (sum, r) => sum + recordSize(new TextEncoder().encode(r.text).length),
          0,
        );
        expect(used).toBeLessThanOrEqual(dataSize - 32);
        if (h.firstSeq > 0) expect(used).toBeGreaterThan(dataSize - 2 * maxRecord - 64);
      }),
      { numRuns: 300 },
    );
  });

  it("negative control: a flipped bit in any surviving record's len is detected", () => {
    fc.assert(
      fc.property(
        logs.filter((l) => l.ops.some((o) => o.kind === 'print')),
        fc.nat(),
        fc.integer({ min: 0, max: 15 }),
        ({ dataSize, slack, ops }, pick, bit) => {
          const { buffer } = run(dataSize, slack, ops);
          const offsets = recordOffsets(buffer);
          const at = offsets[pick % offsets.length]! + printkLayout.record.len + (bit >> 3);
          expect(() => readLogBuffer(buffer)).not.toThrow();
          buffer[at]! ^= 1 << (bit & 7);
          expect(() => readLogBuffer(buffer)).toThrow(/EBADMSG/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('terminates on arbitrary bytes and fails only with EBADMSG', () => {
    const arbitraryLog = fc.oneof(
      // Random bytes under a plausible header, so the record walk runs.
      fc
        .record({
          bytes: fc.uint8Array({ minLength: 320, maxLength: 1200 }),
          firstSeq: fc.nat(1000),
          count: fc.nat(40),
          firstIdx: fc.nat(150),
          nextIdx: fc.nat(150),
        })
        .map(({ bytes, firstSeq, count, firstIdx, nextIdx }) => {
          const H = printkLayout.header;
          const v = new DataView(bytes.buffer);
          v.setUint32(H.magic, printkLayout.magic, true);
          v.setUint32(H.version, printkLayout.version, true);
          v.setUint32(H.dataSize, (bytes.length - PRINTK_HEADER_SIZE) & ~7, true);
          v.setUint32(H.headerSize, PRINTK_HEADER_SIZE, true);
          v.setBigUint64(H.firstSeq, BigInt(firstSeq), true);
          v.setBigUint64(H.nextSeq, BigInt(firstSeq + count), true);
          v.setUint32(H.firstIdx, firstIdx * 8, true);
          v.setUint32(H.nextIdx, nextIdx * 8, true);
          return bytes;
        }),
      // A real log with random bytes overwritten.
      fc
        .tuple(
          logs,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 8,
          }),
        )
        .map(([{ dataSize, slack, ops }, hits]) => {
          const { buffer } = run(dataSize, slack, ops);
          for (const [at, value] of hits) buffer[at % buffer.length] = value;
          return buffer;
        }),
    );
    fc.assert(
      fc.property(arbitraryLog, (bytes) => {
        try {
          const records = readLogBuffer(bytes);
          expect(records.length).toBeLessThanOrEqual(bytes.length / 32);
        } catch (e) {
          if (!isKernelError(e, 'EBADMSG')) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
