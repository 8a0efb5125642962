// The main job for now: boot a small simulated machine from a command line with
// @kern/core alone, run a few tasks on 4 simulated CPUs, WARN once, panic, and let
// the "crash kernel" read the log back from raw bytes. Same seed, same output.
//   pnpm start  (or: node packages/core/examples/demo.mjs after pnpm build)
import {
  KernelPanic,
  NOTIFY_OK,
  VirtualClock,
  createPanic,
  createPrintk,
  createScheduler,
  createTopology,
  createWaitQueue,
  formatDmesgLine,
  formatMemSize,
  parseCmdline,
  readLogBuffer,
} from '@kern/core';

const cmdline = 'mem=1G crashkernel=128M nr_cpus=4 numa=fake=2 loglevel=8 root=/dev/vda1';
const boot = parseCmdline(cmdline);
const clock = new VirtualClock();
// The log lives in bytes that could be physical memory (here a SharedArrayBuffer).
const logBuf = new Uint8Array(new SharedArrayBuffer(64 * 1024));
const printk = createPrintk({
  buffer: logBuf,
  clock,
  consoleLoglevel: boot.loglevel ?? 7,
  console: (line) => console.log(line),
});
const topo = createTopology({
  nrCpus: boot.nrCpus ?? 1,
  nrNodes: boot.numa?.mode === 'fake' ? boot.numa.nodes : 1,
});
const panic = createPanic({ printk });

printk.notice(`Command line: ${cmdline}`);
printk.info(
  `Memory: ${formatMemSize(boot.mem ?? 0)} available, crashkernel ${JSON.stringify(boot.crashkernel)}`,
);
printk.info(`smp: Bringing up secondary CPUs ... ${topo.nrCpuIds} CPUs on ${topo.nrNodes} nodes`);
for (let n = 0; n < topo.nrNodes; n++)
  printk.info(
    `node ${n}: cpus ${topo.cpumaskOfNode(n).toList()} distance ${topo.nodeDistance(n, 0)}`,
  );
printk.info(
  `Unknown kernel command line parameters "${boot.unknown.map((p) => p.name).join(' ')}", will be passed to user space.`,
);

const sched = createScheduler({ nrCpus: topo.nrCpuIds, seed: 2026, clock });
const done = createWaitQueue('work_done');
let finished = 0;
for (let cpu = 0; cpu < topo.nrCpuIds; cpu++)
  sched.spawn({ name: `kworker/${cpu}:0`, cpu }, function* (ctx) {
    for (let i = 0; i < 3; i++) {
      yield ctx.sleep(1_000_000 + ctx.rng.below(500_000));
      printk.debug(`kworker/${cpu}:0: work item ${i} done`);
    }
    finished++;
    done.wakeUpAll();
  });
sched.spawn({ name: 'init', cpu: 0 }, function* (ctx) {
  yield ctx.waitFor(() => finished === topo.nrCpuIds, done);
  panic.warn(true, 'init: all workers finished; this WARN shows the taint', 'demo.mjs:init');
  printk.info(`init: ${panic.tainted()}`);
});
sched.run();

panic.panicNotifierList.register({
  call(_action, msg) {
    printk.emerg(`panic notifier: flushing before the crash kernel runs (${msg})`);
    return NOTIFY_OK;
  },
});
panic.setCrashHook(() => {
  // What a capture kernel does: read the log from raw bytes, with no object of the primary.
  const copy = new Uint8Array(logBuf.length);
  copy.set(logBuf);
  const records = readLogBuffer(copy);
  console.log(
    `\n--- crash kernel: ${records.length} records read back from ${copy.length} raw bytes; last three:`,
  );
  for (const r of records.slice(-3)) console.log(formatDmesgLine(r));
});
try {
  panic.panic('demo: end of the run');
} catch (e) {
  if (!(e instanceof KernelPanic)) throw e;
}
