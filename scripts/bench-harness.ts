/**
 * The small benchmark runner every package's `bench` uses: each case runs in the same
 * process as its baseline, repeated in interleaved rounds, and the table shows medians
 * and ratios (absolute times on shared machines are noisy; ratios much less so).
 * KERN_BENCH_QUICK=1 makes every case tiny, so CI can check that benchmarks still run.
 * KERN_BENCH_ROWS=hot runs only a package's hot-path rows (a bench ends early through
 * `endOfHotRows()`), and KERN_BENCH_JSON=<file> appends each printed table to that file
 * as one JSON line: scripts/bench-runtimes.mjs runs the hot rows on every tested runtime.
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export const quick = process.env.KERN_BENCH_QUICK === '1';
/** Only the hot-path rows (KERN_BENCH_ROWS=hot); the rows themselves are measured as ever. */
export const hotRowsOnly = process.env.KERN_BENCH_ROWS === 'hot';
const jsonFile = process.env.KERN_BENCH_JSON;

/** Appends one record to KERN_BENCH_JSON's file, if set. */
function emit(record: Record<string, unknown>): void {
  if (jsonFile) appendFileSync(jsonFile, `${JSON.stringify(record)}\n`);
}

export interface BenchCase {
  /** Row label. */
  name: string;
  /** Runs `n` operations. Returns anything (kept alive so the work is not optimised away). */
  run: (n: number) => unknown;
  /** Operations per sample. */
  ops: number;
}

export interface BenchResult {
  name: string;
  /** Median nanoseconds per operation over the rounds. */
  nsPerOp: number;
  /** Each round's ns/op, for spread. */
  samples: number[];
}

let sink: unknown;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Runs the cases in interleaved rounds (A B C, A B C, ...) after a warm-up, so drifts in
 * machine load hit every case alike. Returns the median ns/op of each.
 */
export function runCases(cases: BenchCase[], rounds = quick ? 2 : 11): BenchResult[] {
  const samples = cases.map(() => [] as number[]);
  for (const c of cases) sink = c.run(quick ? 1 : Math.max(1, c.ops >> 2)); // warm-up
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, i) => {
      const n = quick ? Math.max(1, Math.min(c.ops, 100)) : c.ops;
      const t0 = performance.now();
      sink = c.run(n);
      const dt = performance.now() - t0;
      samples[i]!.push((dt * 1e6) / n);
    });
  }
  void sink;
  return cases.map((c, i) => ({
    name: c.name,
    nsPerOp: median(samples[i]!),
    samples: samples[i]!,
  }));
}

const fmtNs = (ns: number): string =>
  ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
      ? `${(ns / 1e3).toFixed(2)} µs`
      : `${ns.toFixed(1)} ns`;

/** Prints results as a Markdown table with each row's ratio to `baseline` (a row name). */
export function printTable(title: string, results: BenchResult[], baseline: string): void {
  const base = results.find((r) => r.name === baseline);
  emit({ kind: 'table', title, baseline, rows: results });
  console.log(`\n### ${title}\n`);
  console.log('| case | median per op | ratio to baseline |');
  console.log('| --- | ---: | ---: |');
  for (const r of results) {
    const ratio = base ? `${(r.nsPerOp / base.nsPerOp).toFixed(2)}×` : '—';
    console.log(
      `| ${r.name}${r.name === baseline ? ' (baseline)' : ''} | ${fmtNs(r.nsPerOp)} | ${ratio} |`,
    );
  }
}

/** Prints a Markdown table of arbitrary rows (for figures that are not times). */
export function printRows(title: string, header: string[], rows: (string | number)[][]): void {
  emit({ kind: 'rows', title, header, rows });
  console.log(`\n### ${title}\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

/** Prints the environment line that goes under a README's bench table. */
export function printEnv(): void {
  emit({ kind: 'env', node: process.version, v8: process.versions.v8, arch: process.arch, quick });
  console.log(
    `\nnode ${process.version}, ${process.arch}, ${quick ? 'QUICK (not representative)' : 'full run'}; medians of interleaved rounds.`,
  );
}

/**
 * Ends a bench after its hot-path rows when KERN_BENCH_ROWS=hot (with the environment
 * line); otherwise does nothing and the bench goes on to its other rows.
 */
export function endOfHotRows(): void {
  if (!hotRowsOnly) return;
  printEnv();
  process.exit(0);
}
