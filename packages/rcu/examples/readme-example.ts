// main thread: an updater
import { createRcuDomain } from '@kern/rcu';

const domain = createRcuDomain({ flavor: 'qsbr', maxReaders: 8, pointerSlots: 1 });
const objects = new Int32Array(new SharedArrayBuffer(1024 * 4)); // a pool of "objects"
objects[1] = 42; // object 1
domain.rcuAssignPointer(0, 1); // publish it in slot 0
// hand domain.handle and objects.buffer to workers (postMessage / workerData) …
objects[2] = 43;
const old = domain.rcuDereference(0);
domain.rcuAssignPointer(0, 2); // replace object 1 by object 2
await domain.synchronizeRcu(); // every reader that could see object 1 is done
objects[old] = 0; // now it may be reused
domain.close();

// in a worker: a reader
//   const d = attachRcuDomain(handle); const r = d.rcuRegisterThread();
//   r.rcuReadLock(); const h = r.rcuDereference(0); use(objects[h]); r.rcuReadUnlock();
//   r.rcuQuiescentState();            // between tasks (or r.runTask(fn) does it)
//   r.rcuThreadOffline();             // before blocking or idling: never waited for
