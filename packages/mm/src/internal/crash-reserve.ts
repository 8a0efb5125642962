/**
 * The crash kernel's memory, reserved at boot from `crashkernel=`.
 *
 * @see kernel/crash_reserve.c
 */

import {
  KernelError,
  formatCrashkernel,
  resolveCrashkernel,
  type CrashkernelSpec,
} from '@kern/core';
import type { Memblock } from '../memblock.js';

/** x86_64 `CRASH_ALIGN`: the crash kernel region starts on a 16 MiB boundary. */
const CRASH_ALIGN = 16 << 20;
/** x86_64 `CRASH_ADDR_LOW_MAX`: `crashkernel=X` without `,high` stays below 4 GiB. */
const CRASH_ADDR_LOW_MAX = 4 * 2 ** 30;

/**
 * Reserves the crash kernel region in memblock as `crashkernel=` asks on a machine with
 * `systemRam` bytes: a fixed base (`@offset`) exactly there, which must be CRASH_ALIGN
 * aligned and free; otherwise the highest CRASH_ALIGN-aligned free range below 4 GiB
 * (anywhere with `,high`). A range form that matches no range reserves nothing.
 * @throws KernelError EINVAL for a size that is not below system RAM (Linux: "crashkernel:
 *   invalid size") or a misaligned base, EINVAL/EBUSY when a fixed base is outside memory
 *   or in use, ENOMEM when no free range fits.
 * @see kernel/crash_reserve.c: parse_crashkernel_mem, reserve_crashkernel_generic
 */
export function reserveCrashkernel(
  memblock: Memblock,
  spec: CrashkernelSpec,
  systemRam: number,
): void {
  let value: string;
  try {
    value = formatCrashkernel(spec);
  } catch {
    value = JSON.stringify(spec);
  }
  const r = resolveCrashkernel(spec, systemRam);
  if (!r) {
    const size =
      spec.kind === 'fixed'
        ? spec.size
        : spec.ranges.find(
            (x) => systemRam >= x.start && (x.end === undefined || systemRam < x.end),
          )?.size;
    if (size === undefined) return; // no range for this much RAM: nothing to reserve
    throw new KernelError(
      'EINVAL',
      `crashkernel=${value}: size ${size} is not below system RAM ${systemRam} (crashkernel: invalid size)`,
    );
  }
  if (!Number.isSafeInteger(r.size) || r.size <= 0)
    throw new KernelError('EINVAL', `crashkernel=${value}: size ${r.size} is not a size in bytes`);
  if (r.base !== undefined) {
    if (!Number.isSafeInteger(r.base) || r.base < 0 || r.base % CRASH_ALIGN !== 0)
      throw new KernelError(
        'EINVAL',
        `crashkernel=${value}: base 0x${r.base.toString(16)} is not aligned to CRASH_ALIGN (16M)`,
      );
    try {
      memblock.reserve(r.base, r.size, 'Crash kernel');
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      throw new KernelError(
        e.errno,
        `crashkernel=${value}: crashkernel reservation failed: ${e.message.slice(e.errno.length + 2)}`,
        { cause: e },
      );
    }
    return;
  }
  const high = spec.kind === 'fixed' && spec.placement === 'high';
  const at = memblock.alloc(
    r.size,
    CRASH_ALIGN,
    'Crash kernel',
    high ? {} : { max: CRASH_ADDR_LOW_MAX },
  );
  if (at === null)
    throw new KernelError(
      'ENOMEM',
      `crashkernel=${value}: cannot find ${r.size} bytes for the crash kernel${high ? '' : ' below 4G'}`,
    );
}
