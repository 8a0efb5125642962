/**
 * An RCU-protected hash table in shared memory, read by several workers while one thread
 * updates it (the README example).
 *
 * Open hashing: `buckets[b]` holds the handle of the first node of bucket b's chain; node
 * n (1..nodes) is four Int32 words KEY, VALUE, NEXT, STATE in the same buffer; handle 0 is
 * NULL. Readers walk chains with `rcuDereference` inside a read-side critical section and
 * take no lock. The single updater links new nodes with `rcuAssignPointer` (after filling
 * them), unlinks removed ones, and returns them to its free list with `callRcu`, so a node
 * is reused only after every reader that could still see it has passed a quiescent state.
 * Freed nodes are poisoned, so a reader that ever sees one reports it.
 *
 * Run the demo: `pnpm --filter @kern/rcu exec tsx --conditions=@kern/source examples/hashtable.ts`
 *
 * @see liburcu: include/urcu/rculfhash.h, include/urcu/rcuhlist.h
 * @see include/linux/rculist.h: hlist_add_head_rcu(), hlist_del_rcu()
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import {
  attachRcuDomain,
  createRcuDomain,
  type RcuDomain,
  type RcuDomainHandle,
} from '../src/real/domain.js';
import { rcuAssignPointer, rcuDereference } from '../src/real/pointer.js';

const KEY = 0;
const VALUE = 1;
const NEXT = 2;
const STATE = 3;
const NODE_WORDS = 4;
const LIVE = 1;
const FREE = 0x6b6b6b6b; // poison (POISON_FREE bytes)

/** What a reader thread needs to attach to the table. */
export interface RcuHashTableHandle {
  readonly buffer: SharedArrayBuffer;
  readonly nrBuckets: number;
  readonly nrNodes: number;
}

/** A value that can be checked: it encodes its key (`key * 1000 + version % 1000`). */
export const valueFor = (key: number, version: number): number => key * 1000 + (version % 1000);
const keyOfValue = (v: number): number => Math.floor(v / 1000);

export class RcuHashTable {
  /** Lookups that met a poisoned or inconsistent node (must stay 0). */
  errors = 0;
  private readonly a: Int32Array;
  private readonly buckets: Int32Array;
  /** Updater only: free nodes (handles), refilled by callRcu callbacks. */
  private readonly freeList: number[] = [];
  /** Updater only: reclaim without waiting for readers (the negative control). */
  brokenReclaim = false;

  private constructor(
    private readonly domain: RcuDomain,
    readonly handle: RcuHashTableHandle,
  ) {
    this.a = new Int32Array(handle.buffer);
    this.buckets = this.a.subarray(0, handle.nrBuckets);
  }

  /** Makes an empty table (the updater's side). */
  static create(domain: RcuDomain, nrBuckets = 256, nrNodes = 4096): RcuHashTable {
    const buffer = new SharedArrayBuffer((nrBuckets + (nrNodes + 1) * NODE_WORDS) * 4);
    const t = new RcuHashTable(domain, { buffer, nrBuckets, nrNodes });
    for (let n = nrNodes; n >= 1; n--) t.freeList.push(n);
    return t;
  }

  /** Attaches a reader thread to a table made elsewhere. */
  static attach(domain: RcuDomain, handle: RcuHashTableHandle): RcuHashTable {
    return new RcuHashTable(domain, handle);
  }

  private node(n: number): number {
    return this.handle.nrBuckets + n * NODE_WORDS;
  }

  private bucketOf(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 0) % this.handle.nrBuckets;
  }

  /**
   * Looks `key` up; call inside a read-side critical section. Returns the value or -1.
   * Checks every node it walks through: a poisoned one is counted in `errors`.
   */
  lookup(key: number): number {
    const a = this.a;
    let steps = this.handle.nrNodes;
    for (let n = rcuDereference(this.buckets, this.bucketOf(key)); n !== 0;) {
      const o = this.node(n);
      if (--steps < 0) {
        this.errors++; // a cycle: only a node reused under a reader can make one
        return -1;
      }
      if (a[o + STATE] !== LIVE) {
        this.errors++;
        return -1;
      }
      const k = a[o + KEY]!;
      if (k === key) {
        const v = a[o + VALUE]!;
        if (keyOfValue(v) !== key || a[o + STATE] !== LIVE) this.errors++;
        return v;
      }
      n = rcuDereference(a, o + NEXT);
    }
    return -1;
  }

  /** Adds or replaces `key` (updater only). Returns false when the node pool is empty. */
  insert(key: number, value: number): boolean {
    const a = this.a;
    const n = this.freeList.pop();
    if (n === undefined) return false;
    const o = this.node(n);
    a[o + KEY] = key;
    a[o + VALUE] = value;
    a[o + STATE] = LIVE;
    const b = this.bucketOf(key);
    // Replace in place if present: the new node takes the old one's position.
    for (let prev = -1, m = a[b]!; m !== 0;) {
      const mo = this.node(m);
      if (a[mo + KEY] === key) {
        a[o + NEXT] = a[mo + NEXT]!;
        rcuAssignPointer(a, prev < 0 ? b : prev + NEXT, n);
        this.reclaim(m);
        return true;
      }
      prev = mo;
      m = a[mo + NEXT]!;
    }
    a[o + NEXT] = a[b]!;
    rcuAssignPointer(a, b, n); // hlist_add_head_rcu
    return true;
  }

  /** Removes `key` (updater only). Returns whether it was there. */
  delete(key: number): boolean {
    const a = this.a;
    const b = this.bucketOf(key);
    for (let prev = -1, m = a[b]!; m !== 0;) {
      const mo = this.node(m);
      if (a[mo + KEY] === key) {
        // hlist_del_rcu: readers already on m still find its NEXT intact.
        rcuAssignPointer(a, prev < 0 ? b : prev + NEXT, a[mo + NEXT]!);
        this.reclaim(m);
        return true;
      }
      prev = mo;
      m = a[mo + NEXT]!;
    }
    return false;
  }

  /** Nodes free for insertion (updater only). */
  get freeNodes(): number {
    return this.freeList.length;
  }

  private reclaim(n: number): void {
    const free = (): void => {
      const o = this.node(n);
      this.a[o + STATE] = FREE;
      this.a[o + KEY] = FREE;
      this.a[o + VALUE] = FREE;
      this.freeList.unshift(n); // FIFO: a freed node stays poisoned as long as possible
    };
    if (this.brokenReclaim) free();
    else this.domain.callRcu(free);
  }
}

/** What a reader worker is given. */
export interface HashtableReaderJob {
  domain: RcuDomainHandle;
  table: RcuHashTableHandle;
  /**
   * ctl[0] !== 0: stop; ctl[1] counts readers that have started; ctl[2], when the buffer
   * has it, counts lookups done by all readers (so an updater can wait for readers).
   */
  ctl: SharedArrayBuffer;
  keys: number;
  seed: number;
}

/** A reader worker's loop: random lookups until told to stop; returns its counts. */
export function hashtableReaderLoop(job: HashtableReaderJob): {
  lookups: number;
  found: number;
  errors: number;
} {
  const domain = attachRcuDomain(job.domain);
  const table = RcuHashTable.attach(domain, job.table);
  const ctl = new Int32Array(job.ctl);
  const r = domain.rcuRegisterThread();
  let x = job.seed >>> 0 || 1;
  let lookups = 0;
  let found = 0;
  const progress = ctl.length > 2;
  Atomics.add(ctl, 1, 1);
  while (Atomics.load(ctl, 0) === 0) {
    for (let i = 0; i < 256; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      r.rcuReadLock();
      if (table.lookup((x >>> 0) % job.keys) >= 0) found++;
      r.rcuReadUnlock();
      lookups++;
    }
    r.rcuQuiescentState(); // between "tasks"
    if (progress) Atomics.add(ctl, 2, 256);
  }
  r.rcuUnregisterThread();
  return { lookups, found, errors: table.errors };
}

/** The demo: two reader workers look keys up for a second while this thread updates. */
export async function runHashtableDemo(seconds = 1): Promise<void> {
  const domain = createRcuDomain();
  const table = RcuHashTable.create(domain);
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const keys = 2000;
  const job = { domain: domain.handle, table: table.handle, ctl: ctl.buffer, keys };
  const workers = [1, 2].map(
    (seed) =>
      new Worker(new URL('../../../scripts/ts-worker.mjs', import.meta.url), {
        workerData: { script: import.meta.url, hashtableReader: { ...job, seed } },
        execArgv: ['--conditions=@kern/source'],
      }),
  );
  const results = workers.map(
    (w) => new Promise<ReturnType<typeof hashtableReaderLoop>>((res) => w.once('message', res)),
  );
  let ops = 0;
  let x = 12345;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const key = x % keys;
    if (x & 0x10000 || !table.insert(key, valueFor(key, ops))) table.delete(key);
    if (++ops % 64 === 0) await new Promise((r) => setImmediate(r)); // let callRcu run
  }
  Atomics.store(ctl, 0, 1);
  const counts = await Promise.all(results);
  await domain.rcuBarrier();
  console.log(`updates: ${ops}, grace periods: ${domain.stats().gpsRun}`);
  for (const [i, c] of counts.entries())
    console.log(`reader ${i}: ${c.lookups} lookups, ${c.found} hits, ${c.errors} errors`);
  domain.close();
}

if (!isMainThread && (workerData as { hashtableReader?: HashtableReaderJob })?.hashtableReader) {
  const job = (workerData as { hashtableReader: HashtableReaderJob }).hashtableReader;
  parentPort!.postMessage(hashtableReaderLoop(job));
} else if (
  isMainThread &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  await runHashtableDemo();
}
