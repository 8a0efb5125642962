import { createRcuDomain } from '../src/real/domain.js';
import { nextMessage, spawn } from '../test/fixtures/real-spawn.js';
const qsbr = createRcuDomain({ flavor: 'qsbr', pointerSlots: 1 });
const mb = createRcuDomain({ flavor: 'mb', pointerSlots: 1 });
const pool = new Int32Array(new SharedArrayBuffer(64 * 4));
for (let i = 0; i < pool.length; i++) pool[i] = i;
qsbr.rcuAssignPointer(0, 16);
mb.rcuAssignPointer(0, 16);
const ctl = new Int32Array(new SharedArrayBuffer(64));
const w = spawn('real-bench-worker.ts', {
  qsbr: qsbr.handle,
  mb: mb.handle,
  pool: pool.buffer,
  rwlock: new SharedArrayBuffer(64),
  ctl: ctl.buffer,
});
await nextMessage(w, 'ready', 60_000);
const res: Record<string, number[]> = {};
for (let r = 0; r < 9; r++)
  for (const kase of ['plain', 'qsbr', 'mb']) {
    Atomics.store(ctl, 1, 0);
    Atomics.store(ctl, 2, 1);
    const p = nextMessage<{ ns: number }>(w, 'result', 120_000);
    w.postMessage({ cmd: 'run', kase, n: kase === 'mb' ? 4e6 : 40e6 });
    (res[kase] ??= []).push((await p).ns);
  }
for (const k in res) {
  const s = res[k]!.sort((a, b) => a - b);
  console.log(k, s[4]!.toFixed(2), s.map((x) => x.toFixed(2)).join(' '));
}
await w.terminate();
qsbr.close();
mb.close();
