import { type KernelError, createRandomPool } from '@kern/core';
import { describe, expect, it } from 'vitest';
import { verifyMemory } from '../src/debug.js';
import {
  AT_BASE,
  AT_CLKTCK,
  AT_EGID,
  AT_ENTRY,
  AT_EUID,
  AT_EXECFN,
  AT_FLAGS,
  AT_GID,
  AT_HWCAP,
  AT_HWCAP2,
  AT_MINSIGSTKSZ,
  AT_NULL,
  AT_PAGESZ,
  AT_PHDR,
  AT_PHENT,
  AT_PHNUM,
  AT_PLATFORM,
  AT_RANDOM,
  AT_SECURE,
  AT_SYSINFO_EHDR,
  AT_UID,
  MAX_ARG_STRLEN,
  parseAuxv,
  procPidAuxv,
  readInitialStack,
  setupArgPages,
} from '../src/exec.js';
import { VM_GROWSDOWN, VM_READ, VM_WRITE } from '../src/fault.js';
import type { Memory } from '../src/memory.js';
import { type Mm, STACK_TOP, createMm } from '../src/mmap.js';
import { PAGE_SIZE } from '../src/mmzone.js';
import { boot } from './helpers.js';

/**
 * Reads user memory straight from physical memory by walking the 4-level page table
 * from the PGD, as a crash-dump tool's `vtop` does: no help from the mm's code.
 */
function readVirt(mem: Memory, mm: Mm, va: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let done = 0; done < len;) {
    const at = va + done;
    let table = mm.pt.pgd;
    for (const shift of [39, 30, 21, 12]) {
      const idx = Math.floor(at / 2 ** shift) % 512;
      const e = new DataView(mem.readPhys(table * PAGE_SIZE + idx * 8, 8).buffer).getBigUint64(
        0,
        true,
      );
      if (!(e & 1n)) throw new Error(`0x${at.toString(16)} not present`);
      table = Number((e >> 12n) & 0xffffffffffn);
    }
    const off = at % PAGE_SIZE;
    const n = Math.min(len - done, PAGE_SIZE - off);
    out.set(mem.readPhys(table * PAGE_SIZE + off, n), done);
    done += n;
  }
  return out;
}

/** What a libc `_start` finds, read through {@link readVirt}. */
function walkStack(mem: Memory, mm: Mm, sp: number) {
  const u64 = (a: number): number =>
    Number(new DataView(readVirt(mem, mm, a, 8).buffer).getBigUint64(0, true));
  const str = (a: number): string => {
    const parts: number[] = [];
    for (;;) {
      const chunk = readVirt(mem, mm, a, PAGE_SIZE - (a % PAGE_SIZE));
      const z = chunk.indexOf(0);
      parts.push(...(z < 0 ? chunk : chunk.subarray(0, z)));
      if (z >= 0) return new TextDecoder().decode(new Uint8Array(parts));
      a += chunk.length;
    }
  };
  let at = sp;
  const argc = u64(at);
  at += 8;
  const argv: string[] = [];
  for (let p = u64(at); p; p = u64(at)) {
    argv.push(str(p));
    at += 8;
  }
  at += 8;
  const envp: string[] = [];
  for (let p = u64(at); p; p = u64(at)) {
    envp.push(str(p));
    at += 8;
  }
  at += 8;
  const auxv: [number, number][] = [];
  for (;;) {
    const t = u64(at);
    auxv.push([t, u64(at + 8)]);
    at += 16;
    if (t === AT_NULL) break;
  }
  return { argc, argv, envp, auxv, str, end: at };
}

const ARGV = ['/usr/bin/env', '-i', 'héllo wörld', ''];
const ENVP = ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C.UTF-8'];
const ELF = { phdr: 0x400040, phnum: 11, entry: 0x401020, interpBase: 0x7ffff7fc3000 };

function exec(mem: Memory, seed: number, extra: Partial<Parameters<typeof setupArgPages>[1]> = {}) {
  const mm = createMm(mem, { pid: 100, comm: 'env' });
  const st = setupArgPages(mm, {
    argv: ARGV,
    envp: ENVP,
    execfn: '/usr/bin/env',
    random: createRandomPool({ seed }),
    elf: ELF,
    uid: 1000,
    euid: 1000,
    gid: 100,
    egid: 100,
    ...extra,
  });
  return { mm, st };
}

const auxMap = (auxv: [number, number][]): Map<number, number> => new Map(auxv);

describe('setupArgPages', () => {
  it('builds the stack a libc reads back exactly, from physical memory', () => {
    const { mem, free0 } = boot();
    const { mm, st } = exec(mem, 7);
    expect(st.sp % 16).toBe(0);
    const w = walkStack(mem, mm, st.sp);
    expect(w.argc).toBe(ARGV.length);
    expect(w.argv).toEqual(ARGV);
    expect(w.envp).toEqual(ENVP);
    expect(w.auxv).toEqual(st.auxv);
    // The stack VMA.
    const v = mm.vmaLookup(st.sp)!;
    expect(v.end).toBe(STACK_TOP);
    expect(v.flags & (VM_READ | VM_WRITE | VM_GROWSDOWN)).toBe(VM_READ | VM_WRITE | VM_GROWSDOWN);
    expect(v.file).toBeNull();
    // The libc-side helper agrees.
    expect(readInitialStack(mm, st.sp)).toEqual({
      argc: ARGV.length,
      argv: ARGV,
      envp: ENVP,
      auxv: st.auxv,
    });
    mm.destroy();
    mem.drainAllPages();
    expect(verifyMemory(mem).errors).toEqual([]);
    expect(mem.nrFreePages()).toBe(free0);
  });

  it('writes the auxiliary vector in create_elf_tables order with Linux values', () => {
    const { mem } = boot();
    const { mm, st } = exec(mem, 7);
    expect(st.auxv.map(([t]) => t)).toEqual([
      AT_HWCAP,
      AT_PAGESZ,
      AT_CLKTCK,
      AT_PHDR,
      AT_PHENT,
      AT_PHNUM,
      AT_BASE,
      AT_FLAGS,
      AT_ENTRY,
      AT_UID,
      AT_EUID,
      AT_GID,
      AT_EGID,
      AT_SECURE,
      AT_RANDOM,
      AT_HWCAP2,
      AT_EXECFN,
      AT_PLATFORM,
      AT_NULL,
    ]);
    const a = auxMap(st.auxv);
    expect(a.get(AT_PAGESZ)).toBe(4096);
    expect(a.get(AT_CLKTCK)).toBe(100);
    expect(a.get(AT_PHDR)).toBe(ELF.phdr);
    expect(a.get(AT_PHENT)).toBe(56);
    expect(a.get(AT_PHNUM)).toBe(ELF.phnum);
    expect(a.get(AT_BASE)).toBe(ELF.interpBase);
    expect(a.get(AT_ENTRY)).toBe(ELF.entry);
    expect([a.get(AT_UID), a.get(AT_EUID), a.get(AT_GID), a.get(AT_EGID)]).toEqual([
      1000, 1000, 100, 100,
    ]);
    expect(a.get(AT_SECURE)).toBe(0);
    expect(a.get(AT_NULL)).toBe(0);
    const w = walkStack(mem, mm, st.sp);
    expect(w.str(a.get(AT_PLATFORM)!)).toBe('x86_64');
    expect(w.str(a.get(AT_EXECFN)!)).toBe('/usr/bin/env');
    mm.destroy();
  });

  it('places AT_RANDOM at 16 bytes equal to what the seeded pool produced', () => {
    const { mem } = boot();
    const { mm, st } = exec(mem, 1234);
    const at = auxMap(st.auxv).get(AT_RANDOM)!;
    const expected = createRandomPool({ seed: 1234 }).getRandomBytes(16);
    expect(readVirt(mem, mm, at, 16)).toEqual(expected);
    expect(mm.read(at, 16)).toEqual(expected);
    // Another seed gives other bytes.
    const other = exec(mem, 1235);
    expect(other.mm.read(auxMap(other.st.auxv).get(AT_RANDOM)!, 16)).not.toEqual(expected);
    mm.destroy();
    other.mm.destroy();
  });

  it('lays the strings out as execve does, from the top of the stack down', () => {
    const { mem } = boot();
    const { mm, st } = exec(mem, 7);
    const enc = new TextEncoder();
    const size = (s: string): number => enc.encode(s).length + 1;
    // The top pointer-sized slot stays zero; execfn ends right under it.
    expect(mm.read(STACK_TOP - 8, 8)).toEqual(new Uint8Array(8));
    const execfn = auxMap(st.auxv).get(AT_EXECFN)!;
    expect(execfn).toBe(STACK_TOP - 8 - size('/usr/bin/env'));
    // envp strings below it, in order, then argv strings below them, contiguous.
    let p = execfn;
    for (let i = ENVP.length - 1; i >= 0; i--) {
      p -= size(ENVP[i]!);
      expect(st.envp[i]).toBe(p);
    }
    for (let i = ARGV.length - 1; i >= 0; i--) {
      p -= size(ARGV[i]!);
      expect(st.argv[i]).toBe(p);
    }
    expect(mm.argStart).toBe(p);
    expect(mm.argEnd).toBe(mm.envStart);
    expect(mm.envEnd).toBe(execfn);
    // Then, 16-aligned, the platform string, then the random bytes.
    const platform = auxMap(st.auxv).get(AT_PLATFORM)!;
    expect(platform).toBe(Math.floor(p / 16) * 16 - size('x86_64'));
    expect(auxMap(st.auxv).get(AT_RANDOM)).toBe(platform - 16);
    // argc, argv[], NULL, envp[], NULL, auxv follow sp with no gaps.
    const w = walkStack(mem, mm, st.sp);
    expect(w.end).toBe(st.sp + 8 * (1 + ARGV.length + 1 + ENVP.length + 1) + 16 * st.auxv.length);
    expect(w.end).toBeLessThanOrEqual(platform - 16);
    expect(platform - 16 - w.end).toBeLessThan(16 + 16); // STACK_ROUND padding only
    expect(mm.startStack).toBe(st.sp);
    mm.destroy();
  });

  it('gives the same stack bytes for the same seed', () => {
    const a = boot();
    const b = boot();
    const x = exec(a.mem, 99);
    const y = exec(b.mem, 99);
    expect(y.st.sp).toBe(x.st.sp);
    const len = STACK_TOP - x.st.sp;
    expect(y.mm.read(y.st.sp, len)).toEqual(x.mm.read(x.st.sp, len));
    // With randomization on, the stack moves by the seed's draw, still reproducibly.
    const r1 = exec(a.mem, 5, { randomize: true });
    const r2 = exec(b.mem, 5, { randomize: true });
    expect(r1.st.sp).toBe(r2.st.sp);
    expect(r1.mm.read(r1.st.sp, STACK_TOP - r1.st.sp)).toEqual(
      r2.mm.read(r2.st.sp, STACK_TOP - r2.st.sp),
    );
    for (const m of [x.mm, y.mm, r1.mm, r2.mm]) m.destroy();
  });

  it('emits AT_SYSINFO_EHDR and AT_MINSIGSTKSZ first, extras before AT_NULL, and can omit AT_HWCAP2 and AT_PLATFORM', () => {
    const { mem } = boot();
    const { mm, st } = exec(mem, 1, {
      sysinfoEhdr: 0x7ffff7fc1000,
      minsigstksz: 3632,
      hwcap2: null,
      platform: null,
      secure: true,
      extraAuxv: [[27, 32]],
    });
    const types = st.auxv.map(([t]) => t);
    expect(types.slice(0, 3)).toEqual([AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP]);
    expect(types.slice(-3)).toEqual([AT_EXECFN, 27, AT_NULL]);
    expect(types).not.toContain(AT_HWCAP2);
    expect(types).not.toContain(AT_PLATFORM);
    expect(auxMap(st.auxv).get(AT_SECURE)).toBe(1);
    expect(walkStack(mem, mm, st.sp).auxv).toEqual(st.auxv);
    mm.destroy();
  });

  it('grows the stack by faults for big environments', () => {
    const { mem, free0 } = boot();
    const envp = Array.from({ length: 300 }, (_, i) => `VAR${i}=${'x'.repeat(1000)}`);
    const { mm, st } = exec(mem, 3, { envp });
    expect(STACK_TOP - st.stackStart).toBeGreaterThan(128 * 1024);
    const w = walkStack(mem, mm, st.sp);
    expect(w.envp).toEqual(envp);
    mm.destroy();
    mem.drainAllPages();
    expect(mem.nrFreePages()).toBe(free0);
  });

  it('rejects too-long strings (E2BIG) and NUL bytes (EINVAL) before mapping anything', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const random = createRandomPool({ seed: 1 });
    const err = (fn: () => unknown): KernelError => {
      try {
        fn();
      } catch (e) {
        return e as KernelError;
      }
      throw new Error('no error');
    };
    expect(
      err(() => setupArgPages(mm, { argv: ['x'.repeat(MAX_ARG_STRLEN)], envp: [], random })).errno,
    ).toBe('E2BIG');
    const many = Array.from({ length: 40 }, () => 'y'.repeat(60000));
    expect(err(() => setupArgPages(mm, { argv: ['a'], envp: many, random })).message).toMatch(
      /argument list too long/,
    );
    expect(err(() => setupArgPages(mm, { argv: ['a\0b'], envp: [], random })).errno).toBe('EINVAL');
    expect(mm.mapCount).toBe(0);
    // A second exec into the same mm finds the stack in place.
    setupArgPages(mm, { argv: ['a'], envp: [], random });
    expect(err(() => setupArgPages(mm, { argv: ['a'], envp: [], random })).errno).toBe('EEXIST');
    mm.destroy();
  });

  it('takes random bytes from a plain function too', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    const st = setupArgPages(mm, {
      argv: [],
      envp: [],
      random: (n) => new Uint8Array(n).fill(0xab),
    });
    const w = readInitialStack(mm, st.sp);
    expect(w.argc).toBe(0);
    expect(w.argv).toEqual([]);
    expect(mm.read(auxMap(st.auxv).get(AT_RANDOM)!, 16)).toEqual(new Uint8Array(16).fill(0xab));
    mm.destroy();
  });
});

describe('/proc/PID/auxv', () => {
  it('round-trips through parseAuxv', () => {
    const { mem } = boot();
    const { mm, st } = exec(mem, 7);
    const raw = procPidAuxv(mm);
    expect(raw.length).toBe(16 * st.auxv.length);
    expect(parseAuxv(raw)).toEqual(st.auxv);
    // The same bytes as on the stack, right after envp's NULL.
    const auxvAt = st.sp + 8 * (1 + ARGV.length + 1 + ENVP.length + 1);
    expect(readVirt(mem, mm, auxvAt, raw.length)).toEqual(raw);
    // A forked child reports the same.
    const child = mm.fork();
    expect(procPidAuxv(child)).toEqual(raw);
    mm.destroy();
    child.destroy();
  });

  it('is a lone AT_NULL before exec', () => {
    const { mem } = boot();
    const mm = createMm(mem);
    expect(procPidAuxv(mm)).toEqual(new Uint8Array(16));
    expect(parseAuxv(procPidAuxv(mm))).toEqual([[AT_NULL, 0]]);
    mm.destroy();
  });

  it('parseAuxv rejects malformed input', () => {
    expect(() => parseAuxv(new Uint8Array(15))).toThrow(/multiple of 16/);
    const noNull = new Uint8Array(16);
    noNull[0] = AT_PAGESZ;
    expect(() => parseAuxv(noNull)).toThrow(/no AT_NULL/);
    const huge = new Uint8Array(32);
    huge.fill(0xff, 8, 16);
    expect(() => parseAuxv(huge)).toThrow(/EOVERFLOW/);
    // Bytes after AT_NULL are ignored, as auxv_read stops there.
    const trailing = new Uint8Array(48);
    trailing[16] = 0; // AT_NULL at pair 1
    trailing[0] = AT_PAGESZ;
    trailing[8] = 0x10;
    expect(parseAuxv(trailing)).toEqual([
      [AT_PAGESZ, 16],
      [AT_NULL, 0],
    ]);
  });
});
