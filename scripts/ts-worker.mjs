// Runs a TypeScript worker script (workerData.script, a file URL) through tsx, with
// @kern/* packages resolved to source (start the Worker with --conditions=@kern/source),
// so tests and benchmarks need no build.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.script);
