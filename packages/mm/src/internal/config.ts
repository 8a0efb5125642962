/**
 * Checks a `createMemory` configuration before anything is built: every key known, every
 * value of the type it must have, and messages that name the key and the value with
 * its type (`nrCpus must be an integer from 1 to 4096, got '2' (string)`).
 */

import { KernelError, memparse } from '@kern/core';
import type { MemoryConfig, Size } from '../mm-init.js';
import { describeValue } from './value.js';

type Check = (v: unknown, key: string) => void;

const fail = (key: string, want: string, v: unknown): never => {
  throw new KernelError('EINVAL', `createMemory: ${key} must be ${want}, got ${describeValue(v)}`);
};

const SIZE = 'a size in bytes or a string such as 64M';
const size: Check = (v, key) => {
  if (typeof v === 'string') return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(key, SIZE, v);
};
const bool: Check = (v, key) => {
  if (typeof v !== 'boolean') fail(key, 'true or false', v);
};
const str: Check = (v, key) => {
  if (typeof v !== 'string') fail(key, 'a string', v);
};
const intIn =
  (lo: number, hi: number): Check =>
  (v, key) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      fail(key, `an integer from ${lo} to ${hi}`, v);
  };
const arrayOf =
  (want: string, each: Check): Check =>
  (v, key) => {
    if (!Array.isArray(v)) return fail(key, want, v);
    v.forEach((x: unknown, i) => each(x, `${key}[${i}]`));
  };
const number: Check = (v, key) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, 'a number', v);
};
const object: Check = (v, key) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(key, 'an object', v);
};

const CHECKS: Record<keyof MemoryConfig, Check> = {
  nodes: arrayOf(`an array of node sizes (${SIZE})`, size),
  size,
  sectionSize: size,
  memoryBlockSize: size,
  nrCpus: intIn(1, 4096),
  cpuToNode: arrayOf('an array with a node id for each CPU', intIn(0, 1 << 30)),
  distances: arrayOf('a matrix (array of arrays) of node distances', arrayOf('an array', number)),
  dma32Limit: size,
  movablecore: size,
  kernelcore: size,
  mem: size,
  crashkernel: (v, key) => {
    if (typeof v !== 'string') object(v, key);
  },
  cmdline: str,
  reserve: arrayOf('an array of { name, size } requests', (v, key) => {
    object(v, key);
    const r = v as Record<string, unknown>;
    str(r.name, `${key}.name`);
    size(r.size, `${key}.size`);
  }),
  smp: bool,
  groupByMobility: bool,
  minFreeKbytes: intIn(0, 2 ** 31 - 1),
  log: (v, key) => {
    if (v === null) return;
    if (typeof (v as { printk?: unknown } | undefined)?.printk !== 'function')
      fail(
        key,
        'null or an object with a printk(level, text) method (a Printk from @kern/core)',
        v,
      );
  },
};

/**
 * Checks a configuration's shape: an object whose keys are all options and whose values
 * have the options' types (a key given as undefined counts as absent).
 * @throws KernelError EINVAL naming the first key that is unknown or of the wrong type.
 */
export function checkMemoryConfig(config: unknown): MemoryConfig {
  if (config === undefined) return {};
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new KernelError(
      'EINVAL',
      `createMemory: the configuration must be an object such as { size: '256M' }, got ${describeValue(config)}`,
    );
  for (const [key, v] of Object.entries(config)) {
    const check = (CHECKS as Record<string, Check | undefined>)[key];
    if (!check)
      throw new KernelError(
        'EINVAL',
        `createMemory: unknown option '${key}' (options: ${Object.keys(CHECKS).join(', ')})`,
      );
    if (v !== undefined) check(v, key);
  }
  return config;
}

/** A size option in bytes. @throws KernelError EINVAL if it is not a size. */
export function toBytes(what: string, v: Size): number {
  let n: number;
  try {
    n = typeof v === 'number' ? v : memparse(String(v));
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    throw new KernelError(e.errno, `${what}: ${e.message.slice(e.errno.length + 2)}`, { cause: e });
  }
  if (!Number.isSafeInteger(n) || n < 0)
    throw new KernelError('EINVAL', `${what} ${describeValue(v)} is not a size in bytes`);
  return n;
}
