import { describe, expect, it } from 'vitest';
import {
  formatCrashkernel,
  formatMemSize,
  memparse,
  parseCmdline,
  parseCrashkernel,
  resolveCrashkernel,
  splitCmdline,
} from '../src/cmdline.js';
import { isKernelError } from '../src/errno.js';

const M = 1024 * 1024;
const G = 1024 * M;

describe('memparse', () => {
  it('parses suffixes and bases', () => {
    expect(memparse('4096')).toBe(4096);
    expect(memparse('64K')).toBe(65536);
    expect(memparse('64m')).toBe(64 * M);
    expect(memparse('1G')).toBe(G);
    expect(memparse('2T')).toBe(2 * 1024 * G);
    expect(memparse('0x1000')).toBe(4096);
    expect(memparse('010')).toBe(8);
    expect(memparse('0')).toBe(0);
  });

  it('names the bad value', () => {
    expect(() => memparse('12Q')).toThrow(/'12Q' is not a size/);
    expect(() => memparse('')).toThrow(/EINVAL/);
    expect(() => memparse('16E')).toThrow(/ERANGE/);
  });

  it('formats with the largest exact suffix', () => {
    expect(formatMemSize(64 * M)).toBe('64M');
    expect(formatMemSize(1536 * M)).toBe('1536M');
    expect(formatMemSize(4097)).toBe('4097');
    expect(formatMemSize(0)).toBe('0');
  });
});

describe('crashkernel=', () => {
  it('fixed size, with offset, high/low', () => {
    expect(parseCrashkernel('256M')).toEqual({ kind: 'fixed', size: 256 * M });
    expect(parseCrashkernel('256M@16M')).toEqual({ kind: 'fixed', size: 256 * M, offset: 16 * M });
    expect(parseCrashkernel('512M,high')).toEqual({
      kind: 'fixed',
      size: 512 * M,
      placement: 'high',
    });
  });

  it('the RANGE:SIZE form picks the range holding system RAM, end exclusive', () => {
    const spec = parseCrashkernel('512M-2G:64M,2G-:128M');
    expect(spec).toEqual({
      kind: 'ranges',
      ranges: [
        { start: 512 * M, end: 2 * G, size: 64 * M },
        { start: 2 * G, size: 128 * M },
      ],
    });
    expect(resolveCrashkernel(spec, 256 * M)).toBeNull();
    expect(resolveCrashkernel(spec, G)).toEqual({ size: 64 * M });
    expect(resolveCrashkernel(spec, 2 * G)).toEqual({ size: 128 * M });
    expect(resolveCrashkernel(parseCrashkernel('1G-:256M@64M'), 8 * G)).toEqual({
      size: 256 * M,
      base: 64 * M,
    });
    expect(formatCrashkernel(spec)).toBe('512M-2G:64M,2G-:128M');
  });

  it('rejects malformed values naming them', () => {
    for (const bad of [
      '',
      'abc',
      '0',
      '1G-512M:64M',
      '512M-2G',
      '512M-2G:64M,1G-:128M',
      '64M@',
      '64M,middle',
    ]) {
      let err: unknown;
      try {
        parseCrashkernel(bad);
      } catch (e) {
        err = e;
      }
      expect(isKernelError(err, 'EINVAL'), bad).toBe(true);
      expect((err as Error).message).toContain(`'${bad}'`);
    }
  });
});

describe('parseCmdline', () => {
  it('types what kern knows and hands the rest on as Linux does', () => {
    const bp = parseCmdline(
      'root=/dev/vda1 mem=1G crashkernel=256M nr_cpus=8 numa=fake=4 quiet single foo.bar=1 -- -v x=y',
    );
    expect(bp.mem).toBe(G);
    expect(bp.crashkernel).toEqual({ kind: 'fixed', size: 256 * M });
    expect(bp.nrCpus).toBe(8);
    expect(bp.numa).toEqual({ mode: 'fake', nodes: 4 });
    expect(bp.loglevel).toBe(4);
    expect(bp.unknown).toEqual([
      { name: 'root', value: '/dev/vda1' },
      { name: 'single' },
      { name: 'foo.bar', value: '1' },
    ]);
    expect(bp.initArgv).toEqual(['single', '-v', 'x=y']);
    expect(bp.initEnvp).toEqual(['root=/dev/vda1']);
  });

  it('handles quotes and numa forms', () => {
    expect(splitCmdline('a="b c" d')).toEqual([{ name: 'a', value: 'b c' }, { name: 'd' }]);
    expect(parseCmdline('numa=off').numa).toEqual({ mode: 'off' });
    expect(parseCmdline('numa=fake=512M').numa).toEqual({ mode: 'fake', nodeSize: 512 * M });
    expect(() => splitCmdline('a="b')).toThrow(/unterminated quote/);
  });

  it('names the malformed parameter', () => {
    expect(() => parseCmdline('nr_cpus=zero')).toThrow(/nr_cpus=zero/);
    expect(() => parseCmdline('mem=lots')).toThrow(/mem=lots: not a size/);
    expect(() => parseCmdline('crashkernel')).toThrow(/crashkernel: a value is required/);
  });
});
