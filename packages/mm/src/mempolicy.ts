/**
 * NUMA memory policies: which node an allocation comes from.
 *
 * @see mm/mempolicy.c: alloc_pages_mpol, include/uapi/linux/mempolicy.h
 */

import { KernelError } from '@kern/core';
import type { Memory } from './memory.js';
import { describeValue } from './internal/value.js';

/** A node's allocation policy (`struct mempolicy`). */
export type MemPolicy =
  | { mode: 'local' }
  | { mode: 'preferred'; node: number }
  | { mode: 'bind'; nodes: readonly number[] }
  | { mode: 'interleave'; nodes: readonly number[] };

/**
 * Allocates with a memory policy (`alloc_pages_mpol`): local node, a preferred node,
 * bound to a set of nodes, or interleaved round-robin over a set.
 * @throws KernelError EINVAL for an unknown policy or an empty node set.
 */
export function allocPagesPolicy(
  mem: Memory,
  gfp: number,
  order: number,
  policy: MemPolicy,
): number | null {
  switch (policy?.mode) {
    case 'local':
      return mem.allocPages(gfp, order);
    case 'preferred':
      return mem.allocPages(gfp, order, policy.node);
    case 'bind': {
      const local = mem.cpuToNode[mem.cpu] ?? 0;
      const first = policy.nodes.includes(local) ? local : policy.nodes[0];
      if (first === undefined)
        throw new KernelError('EINVAL', 'bind policy with an empty node set');
      return mem.allocPages(gfp, order, first, policy.nodes);
    }
    case 'interleave': {
      if (policy.nodes.length === 0)
        throw new KernelError('EINVAL', 'interleave policy with an empty node set');
      const n = policy.nodes[mem.interleaveNext++ % policy.nodes.length]!;
      return mem.allocPages(gfp, order, n);
    }
    default:
      throw new KernelError(
        'EINVAL',
        `memory policy ${describeValue(policy)} has no mode 'local', 'preferred', 'bind' or 'interleave'`,
      );
  }
}
