/**
 * CPU topology: which NUMA node, package (socket) and core each CPU id belongs to, the
 * node distance table (ACPI SLIT), and the possible/present/online CPU masks.
 *
 * Layout is arithmetic, not per-CPU objects, so 4,194,304 CPUs cost a few typed arrays
 * sized by nodes and packages. CPUs are numbered the way a typical SRAT enumerates them:
 *
 * - physical node `p` owns one contiguous block of CPU ids (blocks as even as possible,
 *   lower nodes get the extra CPU);
 * - each physical node's block is split evenly into `packagesPerNode` packages;
 * - within a package, cores are runs of `threadsPerCore` consecutive CPUs (SMT siblings
 *   are adjacent ids; the last core of a package may have fewer threads);
 * - with `numaFake: N` each physical node's block is further split into `N / nrNodes`
 *   fake nodes with consecutive ids, as `numa=fake=<N/nrNodes>U` does.
 *
 * @see drivers/base/arch_topology.c, arch/x86/mm/numa.c, mm/numa_emulation.c,
 *      drivers/acpi/numa/srat.c (SLIT), include/linux/topology.h, mm/page_alloc.c: build_zonelists
 */

import { describeValue, shown } from './describe.js';
import { KernelError } from './errno.js';
import { Cpumask } from './cpumask.js';
import type { ReadonlyCpumask } from './cpumask.js';

/**
 * Most NUMA nodes a topology may have (`MAX_NUMNODES` with x86_64's largest `NODES_SHIFT`, 10).
 * @see include/linux/numa.h
 */
export const MAX_NUMNODES = 1024;
/**
 * Most CPUs a topology may have (kern's limit; 2^22).
 * @see arch/x86/Kconfig: NR_CPUS (Linux's own, far smaller, build-time limit)
 */
export const MAX_NR_CPUS = 4_194_304;
/** Distance of a node to itself (`LOCAL_DISTANCE`). @see include/linux/topology.h */
export const LOCAL_DISTANCE = 10;
/**
 * Default distance between two different nodes (`REMOTE_DISTANCE`).
 * @see include/linux/topology.h
 */
export const REMOTE_DISTANCE = 20;
/**
 * Largest valid distance; 255 means unreachable in the SLIT and is rejected.
 * @see arch/x86/mm/numa.c: numa_set_distance; drivers/acpi/numa/srat.c: acpi_numa_slit_init
 */
export const MAX_DISTANCE = 254;

/**
 * How to build a {@link Topology}.
 * @see arch/x86/mm/numa.c, mm/numa_emulation.c (`numaFake`), kernel/cpu.c (`maxcpus`)
 */
export interface TopologyOptions {
  /** Number of possible CPU ids (`nr_cpu_ids`), 1..{@link MAX_NR_CPUS}. */
  nrCpus: number;
  /** Physical NUMA nodes (default 1). Needs `nrCpus >= nrNodes * packagesPerNode`. */
  nrNodes?: number;
  /** Packages (sockets) per physical node (default 1). */
  packagesPerNode?: number;
  /** SMT threads per core (default 1). */
  threadsPerCore?: number;
  /**
   * Physical node distance matrix (`nrNodes` x `nrNodes`, the ACPI SLIT): diagonal
   * {@link LOCAL_DISTANCE}, every entry an integer 10..254; need not be symmetric.
   * Default: 10 local, 20 remote.
   */
  distances?: readonly (readonly number[])[];
  /**
   * Total number of fake nodes (`numa=fake=`), a multiple of `nrNodes`: each physical
   * node is split into `numaFake / nrNodes` nodes, at distance 10 from their siblings
   * (as numa_emulation copies the physical distance).
   */
  numaFake?: number;
  /** CPUs online at boot, the first ones (`maxcpus=`); the rest are present but offline. Default all. */
  maxcpus?: number;
}

/**
 * A machine's CPU and NUMA layout. Query methods take CPU and node ids and throw
 * EINVAL on ids out of range.
 *
 * @see include/linux/topology.h, include/linux/cpumask.h (cpu_possible_mask & co.)
 */
export interface Topology {
  /** Number of CPU ids (`nr_cpu_ids`). */
  readonly nrCpuIds: number;
  /** Number of NUMA nodes, fake ones included (`nr_node_ids`). */
  readonly nrNodes: number;
  /** Number of physical nodes (equal to `nrNodes` without numa fake). */
  readonly nrPhysNodes: number;
  /** Number of packages (sockets) in the machine. */
  readonly nrPackages: number;
  /** SMT threads per core. */
  readonly threadsPerCore: number;
  /** CPUs that could ever exist (`cpu_possible_mask`): all ids, fixed at boot. */
  readonly possible: ReadonlyCpumask;
  /** CPUs physically present (`cpu_present_mask`); change with {@link Topology.setCpuPresent}. */
  readonly present: ReadonlyCpumask;
  /** CPUs online (`cpu_online_mask`); change with {@link Topology.setCpuOnline}. */
  readonly online: ReadonlyCpumask;

  /** Node of `cpu` (`cpu_to_node`). @throws KernelError EINVAL on a bad CPU. */
  cpuToNode(cpu: number): number;
  /** CPUs of `node` (`cpumask_of_node`), made on first use and shared. @throws KernelError EINVAL on a bad node. */
  cpumaskOfNode(node: number): ReadonlyCpumask;
  /** Distance between two nodes (`node_distance`, SLIT units). @throws KernelError EINVAL on a bad node. */
  nodeDistance(from: number, to: number): number;
  /** Physical node a (possibly fake) node lives on. @throws KernelError EINVAL on a bad node. */
  physNode(node: number): number;
  /**
   * All nodes in fallback order from `node` (zonelist order): `node` itself, then the
   * others nearest first, ties by lower node id. @throws KernelError EINVAL on a bad node.
   */
  nodesByDistance(node: number): readonly number[];
  /** Package of `cpu` (`topology_physical_package_id`), numbered machine-wide. @throws KernelError EINVAL on a bad CPU. */
  cpuPackage(cpu: number): number;
  /** Core id of `cpu` within its package (`topology_core_id`, sysfs `core_id`). @throws KernelError EINVAL on a bad CPU. */
  cpuCore(cpu: number): number;
  /** CPUs sharing `cpu`'s core, `cpu` included, ascending (`topology_sibling_cpumask`). @throws KernelError EINVAL on a bad CPU. */
  siblingsOf(cpu: number): number[];
  /**
   * Marks `cpu` online or offline (`set_cpu_online`).
   * @throws KernelError EINVAL on a CPU out of range or not present, or `online` not a
   *   boolean; EBUSY when offlining the last online CPU.
   */
  setCpuOnline(cpu: number, online: boolean): void;
  /**
   * Marks `cpu` present or absent (`set_cpu_present`, CPU hot add/remove).
   * @throws KernelError EINVAL on a CPU out of range or `present` not a boolean; EBUSY
   *   when removing an online CPU.
   */
  setCpuPresent(cpu: number, present: boolean): void;
  /**
   * The contents of `/sys/devices/system/node/node<node>/distance` (`"10 20\n"`), or of
   * every node's file one after another when `node` is omitted.
   * @throws KernelError EINVAL on a bad node.
   */
  formatNodeDistances(node?: number): string;
  /** An `lscpu`-like summary (CPU counts, threads/cores/sockets, per-node CPU lists). */
  formatLscpu(): string;
}

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new KernelError('EINVAL', `topology ${name} ${shown(v)} is not an integer in 1..${max}`);
  return v;
}

function checkBoolean(name: string, v: unknown): void {
  if (typeof v !== 'boolean')
    throw new KernelError('EINVAL', `${name} must be true or false, got ${describeValue(v)}`);
}

/** Start offsets of `parts` near-even pieces of `count` items from `base` into `out` at `at`. */
function splitEven(out: Uint32Array, at: number, base: number, count: number, parts: number): void {
  const q = Math.floor(count / parts);
  const r = count % parts;
  for (let i = 0; i < parts; i++) out[at + i] = base + i * q + Math.min(i, r);
}

/** Largest `i` with `starts[i] <= x` (so the last of several equal starts: empty pieces are skipped). */
function pieceOf(starts: Uint32Array, n: number, x: number): number {
  let lo = 0;
  let hi = n; // starts[n] is the end sentinel
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

class TopologyImpl implements Topology {
  readonly nrCpuIds: number;
  readonly nrNodes: number;
  readonly nrPhysNodes: number;
  readonly nrPackages: number;
  readonly threadsPerCore: number;
  readonly possible: Cpumask;
  readonly present: Cpumask;
  readonly online: Cpumask;
  /** First CPU of each node; `nodeStart[nrNodes]` is `nrCpuIds`. Immutable after boot. */
  private readonly nodeStart: Uint32Array;
  /** First CPU of each package; `pkgStart[nrPackages]` is `nrCpuIds`. Immutable after boot. */
  private readonly pkgStart: Uint32Array;
  /** Physical node of each (fake) node. */
  private readonly nodePhys: Uint16Array;
  /** Row-major `nrNodes` x `nrNodes` distances. */
  private readonly dist: Uint8Array;
  /** Per-node CPU masks, built on first request. */
  private readonly nodeMasks: (Cpumask | undefined)[] = [];
  /** Per-node fallback orders, built on first request. */
  private readonly fallback: (readonly number[] | undefined)[] = [];
  /** Number of online CPUs, kept so offlining the last one is refused in O(1). */
  private nrOnline: number;

  constructor(opts: TopologyOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new KernelError(
        'EINVAL',
        `topology options must be an object such as { nrCpus: 4 }, got ${describeValue(opts)}`,
      );
    const nrCpus = positiveInt('nrCpus', opts.nrCpus, MAX_NR_CPUS);
    const nrPhys = positiveInt('nrNodes', opts.nrNodes ?? 1, MAX_NUMNODES);
    const ppn = positiveInt('packagesPerNode', opts.packagesPerNode ?? 1, nrCpus);
    const tpc = positiveInt('threadsPerCore', opts.threadsPerCore ?? 1, nrCpus);
    if (nrCpus < nrPhys * ppn)
      throw new KernelError(
        'EINVAL',
        `topology: ${nrCpus} CPUs cannot fill ${nrPhys} nodes x ${ppn} packages (one CPU each at least)`,
      );
    const nrNodes = positiveInt('numaFake', opts.numaFake ?? nrPhys, MAX_NUMNODES);
    if (nrNodes % nrPhys !== 0)
      throw new KernelError(
        'EINVAL',
        `numa=fake=${nrNodes} is not a multiple of the ${nrPhys} physical nodes`,
      );
    const fakePer = nrNodes / nrPhys;

    this.nrCpuIds = nrCpus;
    this.nrNodes = nrNodes;
    this.nrPhysNodes = nrPhys;
    this.nrPackages = nrPhys * ppn;
    this.threadsPerCore = tpc;

    const physStart = new Uint32Array(nrPhys + 1);
    splitEven(physStart, 0, 0, nrCpus, nrPhys);
    physStart[nrPhys] = nrCpus;
    this.nodeStart = new Uint32Array(nrNodes + 1);
    this.pkgStart = new Uint32Array(this.nrPackages + 1);
    this.nodePhys = new Uint16Array(nrNodes);
    for (let p = 0; p < nrPhys; p++) {
      const base = physStart[p]!;
      const count = physStart[p + 1]! - base;
      splitEven(this.nodeStart, p * fakePer, base, count, fakePer);
      splitEven(this.pkgStart, p * ppn, base, count, ppn);
      this.nodePhys.fill(p, p * fakePer, (p + 1) * fakePer);
    }
    this.nodeStart[nrNodes] = nrCpus;
    this.pkgStart[this.nrPackages] = nrCpus;

    const phys = validateDistances(opts.distances, nrPhys);
    this.dist = new Uint8Array(nrNodes * nrNodes);
    for (let a = 0; a < nrNodes; a++)
      for (let b = 0; b < nrNodes; b++)
        this.dist[a * nrNodes + b] =
          a === b ? LOCAL_DISTANCE : phys[this.nodePhys[a]! * nrPhys + this.nodePhys[b]!]!;

    const maxcpus = positiveInt('maxcpus', opts.maxcpus ?? nrCpus, nrCpus);
    this.possible = Cpumask.full(nrCpus);
    this.present = Cpumask.full(nrCpus);
    this.online = new Cpumask(nrCpus).setRange(0, maxcpus);
    this.nrOnline = maxcpus;
  }

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpuIds)
      throw new KernelError(
        'EINVAL',
        `CPU ${shown(cpu)} is out of range (nr_cpu_ids ${this.nrCpuIds})`,
      );
  }

  private checkNode(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node >= this.nrNodes)
      throw new KernelError(
        'EINVAL',
        `node ${shown(node)} is out of range (nr_node_ids ${this.nrNodes})`,
      );
  }

  cpuToNode(cpu: number): number {
    this.checkCpu(cpu);
    return pieceOf(this.nodeStart, this.nrNodes, cpu);
  }

  cpumaskOfNode(node: number): ReadonlyCpumask {
    this.checkNode(node);
    let m = this.nodeMasks[node];
    if (!m) {
      const start = this.nodeStart[node]!;
      m = new Cpumask(this.nrCpuIds).setRange(start, this.nodeStart[node + 1]! - start);
      this.nodeMasks[node] = m;
    }
    return m;
  }

  nodeDistance(from: number, to: number): number {
    this.checkNode(from);
    this.checkNode(to);
    return this.dist[from * this.nrNodes + to]!;
  }

  physNode(node: number): number {
    this.checkNode(node);
    return this.nodePhys[node]!;
  }

  nodesByDistance(node: number): readonly number[] {
    this.checkNode(node);
    let order = this.fallback[node];
    if (!order) {
      const row = this.dist.subarray(node * this.nrNodes, (node + 1) * this.nrNodes);
      const others: number[] = [];
      for (let n = 0; n < this.nrNodes; n++) if (n !== node) others.push(n);
      others.sort((a, b) => row[a]! - row[b]! || a - b);
      order = Object.freeze([node, ...others]);
      this.fallback[node] = order;
    }
    return order;
  }

  cpuPackage(cpu: number): number {
    this.checkCpu(cpu);
    return pieceOf(this.pkgStart, this.nrPackages, cpu);
  }

  cpuCore(cpu: number): number {
    const pkg = this.cpuPackage(cpu);
    return Math.floor((cpu - this.pkgStart[pkg]!) / this.threadsPerCore);
  }

  siblingsOf(cpu: number): number[] {
    const pkg = this.cpuPackage(cpu);
    const start = this.pkgStart[pkg]!;
    const first = start + Math.floor((cpu - start) / this.threadsPerCore) * this.threadsPerCore;
    const end = Math.min(first + this.threadsPerCore, this.pkgStart[pkg + 1]!);
    const out: number[] = [];
    for (let c = first; c < end; c++) out.push(c);
    return out;
  }

  setCpuOnline(cpu: number, online: boolean): void {
    this.checkCpu(cpu);
    checkBoolean('online', online);
    if (!this.present.test(cpu))
      throw new KernelError(
        'EINVAL',
        `CPU ${cpu} is not present and cannot go ${online ? 'online' : 'offline'}`,
      );
    if (this.online.test(cpu) === online) return;
    if (!online && this.nrOnline === 1)
      throw new KernelError('EBUSY', `CPU ${cpu} is the last online CPU`);
    if (online) this.online.set(cpu);
    else this.online.clear(cpu);
    this.nrOnline += online ? 1 : -1;
  }

  setCpuPresent(cpu: number, present: boolean): void {
    this.checkCpu(cpu);
    checkBoolean('present', present);
    if (!present && this.online.test(cpu))
      throw new KernelError('EBUSY', `CPU ${cpu} is online; offline it before removing it`);
    if (present) this.present.set(cpu);
    else this.present.clear(cpu);
  }

  formatNodeDistances(node?: number): string {
    if (node === undefined) {
      let out = '';
      for (let n = 0; n < this.nrNodes; n++) out += this.formatNodeDistances(n);
      return out;
    }
    this.checkNode(node);
    return `${Array.from(this.dist.subarray(node * this.nrNodes, (node + 1) * this.nrNodes)).join(' ')}\n`;
  }

  formatLscpu(): string {
    const pad = (k: string): string => `${k}:`.padEnd(24);
    const offline = this.present.copy().andNot(this.online).toList();
    const pkg0Cpus = this.pkgStart[1]! - this.pkgStart[0]!;
    const lines = [
      `${pad('CPU(s)')}${this.present.weight()}`,
      `${pad('On-line CPU(s) list')}${this.online.toList()}`,
      ...(offline ? [`${pad('Off-line CPU(s) list')}${offline}`] : []),
      `${pad('Thread(s) per core')}${this.threadsPerCore}`,
      `${pad('Core(s) per socket')}${Math.ceil(pkg0Cpus / this.threadsPerCore)}`,
      `${pad('Socket(s)')}${this.nrPackages}`,
      `${pad('NUMA node(s)')}${this.nrNodes}`,
    ];
    for (let n = 0; n < this.nrNodes; n++)
      lines.push(`${pad(`NUMA node${n} CPU(s)`)}${this.cpumaskOfNode(n).toList()}`);
    return `${lines.join('\n')}\n`;
  }
}

function isArray(x: unknown): x is readonly unknown[] {
  return Array.isArray(x);
}

/** Checks a SLIT (or makes the default one) and returns it row-major. */
function validateDistances(
  distances: readonly (readonly number[])[] | undefined,
  nrNodes: number,
): Uint8Array {
  const out = new Uint8Array(nrNodes * nrNodes);
  if (distances === undefined) {
    for (let a = 0; a < nrNodes; a++)
      for (let b = 0; b < nrNodes; b++)
        out[a * nrNodes + b] = a === b ? LOCAL_DISTANCE : REMOTE_DISTANCE;
    return out;
  }
  if (!isArray(distances) || distances.length !== nrNodes)
    throw new KernelError(
      'EINVAL',
      `distance matrix has ${isArray(distances) ? distances.length : 'no'} rows, expected ${nrNodes}`,
    );
  for (let a = 0; a < nrNodes; a++) {
    const row: unknown = distances[a];
    if (!isArray(row) || row.length !== nrNodes)
      throw new KernelError(
        'EINVAL',
        `distance matrix row ${a} has ${isArray(row) ? row.length : 'no'} entries, expected ${nrNodes}`,
      );
    for (let b = 0; b < nrNodes; b++) {
      const d: unknown = row[b];
      if (typeof d !== 'number' || !Number.isInteger(d) || d < LOCAL_DISTANCE || d > MAX_DISTANCE)
        throw new KernelError(
          'EINVAL',
          `distances[${a}][${b}] = ${shown(d)} is not an integer in ${LOCAL_DISTANCE}..${MAX_DISTANCE}`,
        );
      if (a === b && d !== LOCAL_DISTANCE)
        throw new KernelError(
          'EINVAL',
          `distances[${a}][${b}] = ${d}: a node's distance to itself must be ${LOCAL_DISTANCE}`,
        );
      out[a * nrNodes + b] = d;
    }
  }
  return out;
}

/**
 * Builds a machine's CPU/NUMA topology; see the module comment for how CPU ids are laid
 * out. All CPUs start possible and present; the first `maxcpus` (default all) online.
 *
 * @throws KernelError EINVAL on a count out of range, fewer CPUs than packages, a
 *   `numaFake` that is not a multiple of `nrNodes`, or a bad distance matrix (the
 *   message names the entry, e.g. `distances[1][0] = 300`).
 * @see drivers/base/arch_topology.c, arch/x86/mm/numa.c: numa_set_distance,
 *      mm/numa_emulation.c
 */
export function createTopology(opts: TopologyOptions): Topology {
  return new TopologyImpl(opts);
}
