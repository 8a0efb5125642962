import { NOTIFY_OK, NotifierChain, VirtualClock, createPrintk, createScheduler } from '@kern/core';

const clock = new VirtualClock(); // time moves only when the scheduler moves it
const log = createPrintk({ buffer: new Uint8Array(64 * 1024), clock }); // the log is these bytes
const chain = new NotifierChain<string>('demo_chain');
chain.register({
  call(_action, who) {
    log.info(`demo_chain: ${who} finished`);
    return NOTIFY_OK;
  },
});
const sched = createScheduler({ nrCpus: 2, seed: 1, clock }); // the seed picks the order
['ping', 'pong'].forEach((name, cpu) =>
  sched.spawn({ name, cpu }, function* (ctx) {
    log.info(`${name}: running on CPU ${ctx.cpu}`);
    yield ctx.sleep(1_500_000); // 1.5 ms of virtual time
    chain.callChain(0, name);
  }),
);
sched.run();
console.log(log.dmesg().join('\n'));
