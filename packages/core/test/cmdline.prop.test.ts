import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CmdlineParam,
  formatCmdline,
  formatCrashkernel,
  formatMemSize,
  memparse,
  parseCrashkernel,
  splitCmdline,
  type CrashkernelSpec,
} from '../src/cmdline.js';

const size = fc
  .tuple(fc.integer({ min: 1, max: 4095 }), fc.constantFrom(1, 1024, 1024 ** 2, 1024 ** 3))
  .map(([n, unit]) => n * unit);
const name = fc.stringMatching(/^[a-z_][a-z0-9_.]{0,12}$/).filter((s) => s !== '--');
const value = fc.stringMatching(/^[A-Za-z0-9 ,:@/=.+-]{0,16}$/);
const param: fc.Arbitrary<CmdlineParam> = fc.oneof(
  name.map((n) => ({ name: n })),
  fc.tuple(name, value).map(([n, v]) => ({ name: n, value: v })),
);

describe('command line properties', () => {
  it('memparse(formatMemSize(x)) === x', () => {
    fc.assert(fc.property(fc.nat({ max: 2 ** 50 }), (x) => memparse(formatMemSize(x)) === x));
  });

  it('split(format(params)) === params', () => {
    fc.assert(
      fc.property(fc.array(param, { maxLength: 12 }), (params) => {
        expect(splitCmdline(formatCmdline(params))).toEqual(params);
      }),
    );
  });

  it('crashkernel specs round-trip', () => {
    const fixed = fc.record(
      { kind: fc.constant('fixed' as const), size, offset: size },
      { requiredKeys: ['kind', 'size'] },
    );
    const ranges = fc
      .array(fc.tuple(size, size), { minLength: 1, maxLength: 4 })
      .chain((pairs) =>
        fc.tuple(fc.constant(pairs), fc.boolean(), fc.option(size, { nil: undefined })),
      )
      .map(([pairs, openEnd, offset]) => {
        let at = 0;
        const rs = pairs.map(([gap, sz]) => {
          const start = at + gap;
          at = start + gap;
          return { start, end: at, size: sz };
        });
        const last = rs[rs.length - 1]!;
        const lastOut: { start: number; end?: number; size: number } = openEnd
          ? { start: last.start, size: last.size }
          : last;
        const spec: CrashkernelSpec = { kind: 'ranges', ranges: [...rs.slice(0, -1), lastOut] };
        if (offset !== undefined) spec.offset = offset;
        return spec;
      });
    fc.assert(
      fc.property(fc.oneof(fixed, ranges), (spec) => {
        expect(parseCrashkernel(formatCrashkernel(spec))).toEqual(spec);
      }),
    );
  });
});
