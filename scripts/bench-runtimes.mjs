// Runs each package's hot-path benchmark rows (KERN_BENCH_ROWS=hot) on every tested Node
// runtime (scripts/runtimes.mjs) and prints one Markdown table per package with a column
// per runtime: the median over rounds, and each row's ratio to its baseline measured in
// the same process (the reference loop, the unsynchronized read loop, ...), so a design
// choice tuned to one V8 is seen on the others.
//
//   pnpm bench:runtimes [--rounds N] [--packages core,mm,rcu] [--samples]
//   KERN_BENCH_QUICK=1 pnpm bench:runtimes      (a smoke run: CI checks the rows still run)
//
// Each round runs every runtime once per package, in a rotated order, so drifts of the
// shared machine's speed hit every runtime alike. Benches run from source through tsx
// (`--conditions=@kern/source --import tsx bench/index.ts`), as `pnpm bench` runs them;
// mm's order-0 pair runs in child processes of the same runtime against dist/.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RUNTIMES, runtimePath } from './runtimes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: process.env.KERN_BENCH_QUICK === '1' ? '1' : '3' },
    packages: { type: 'string', default: 'core,mm,rcu' },
    samples: { type: 'boolean', default: false },
  },
});
const rounds = Number(opts.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got '${opts.rounds}'`);
const packages = opts.packages.split(',');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtNs = (ns) =>
  ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
      ? `${(ns / 1e3).toFixed(2)} µs`
      : `${ns.toFixed(1)} ns`;
const fmtCount = (x) => Math.round(x).toLocaleString('en-US');
const num = (cell) => Number(String(cell).replace(/,/g, ''));

/**
 * Per package: turns one run's JSON records (bench-harness.ts, KERN_BENCH_JSON) into rows
 * { key, label, ratioTo?, samples: [{ value, ratio? }] } (several samples when a run
 * measures a row in several processes). `unit` is 'ns' or 'count'.
 */
const EXTRACT = {
  // Every table of core's bench: each row with its ratio to the table's baseline.
  core: (records) =>
    records.filter((r) => r.kind === 'table').flatMap((t) => timedRows(t, t.title)),
  // The order-0 pair in each configuration, each process's median with its ratio to the
  // reference loop of the same process; the reference loop over all processes.
  mm: (records) => {
    const t = find(records, 'rows', /each process's median/);
    const out = [];
    const ref = { key: 'ref', label: '', unit: 'ns', ratioTo: '', samples: [] };
    for (let i = 0; i + 1 < t.rows.length; i += 2) {
      const [name, ...kern] = t.rows[i];
      const [, ...refs] = t.rows[i + 1];
      out.push({
        key: name,
        label: name,
        unit: 'ns',
        ratioTo: 'the reference loop',
        samples: kern.map((v, k) => ({ value: num(v), ratio: num(v) / num(refs[k]) })),
      });
      ref.samples.push(...refs.map((v) => ({ value: num(v) })));
    }
    const pair = find(records, 'table', /order-0 alloc\+free pair/);
    ref.label = pair.rows.find((r) => /^reference/.test(r.name))?.name ?? 'reference loop';
    return [ref, ...out];
  },
  // The read side with one reader worker against the unsynchronized loop, and grace
  // periods per second in every configuration the bench prints.
  rcu: (records) => {
    const reads = timedRows(
      find(records, 'table', /read side, one reader worker/),
      'read side, one reader worker',
    );
    const g = find(records, 'rows', /grace periods per second/);
    const gps = g.rows.flatMap((row) =>
      row.slice(1).map((cell, c) => ({
        key: `gp\0${row[0]}\0${c}`,
        label: `grace periods/s, ${row[0]}, ${g.header[c + 1].replace(/ \(.*$/, '')}`,
        unit: 'count',
        ratioTo: '',
        samples: [{ value: num(cell) }],
      })),
    );
    return [...reads, ...gps];
  },
};

/** The rows of a runCases table (printTable), each with its ratio to the table's baseline. */
function timedRows(t, prefix) {
  const base = t.rows.find((r) => r.name === t.baseline);
  return t.rows.map((r) => ({
    key: `${t.title}\0${r.name}`,
    label: `${prefix}: ${r.name}${r.name === t.baseline ? ' (baseline)' : ''}`,
    unit: 'ns',
    ratioTo: r.name === t.baseline ? '' : t.baseline,
    samples: [{ value: r.nsPerOp, ratio: r.nsPerOp / base.nsPerOp }],
  }));
}

function find(records, kind, title) {
  const r = records.find((x) => x.kind === kind && title.test(x.title));
  if (!r) throw new Error(`no ${kind} titled ${title} in the bench's output`);
  return r;
}

let runs = 0;
/** Runs one package's hot rows on one runtime; returns the JSON records it printed. */
function runOnce(pkg, bin, tmp) {
  const json = path.join(tmp, `${pkg}-${++runs}.jsonl`);
  const r = spawnSync(bin, ['--conditions=@kern/source', '--import', 'tsx', 'bench/index.ts'], {
    cwd: path.join(root, 'packages', pkg),
    env: {
      ...process.env,
      KERN_BENCH_ROWS: 'hot',
      KERN_BENCH_JSON: json,
      // As `pnpm bench` would: node_modules/.bin, and this runtime as `node`.
      PATH: [path.dirname(bin), path.join(root, 'node_modules', '.bin'), process.env.PATH].join(
        path.delimiter,
      ),
    },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}\n${r.stderr}`);
    throw new Error(`${pkg} bench failed on ${bin} (exit ${r.status ?? r.signal})`);
  }
  return readFileSync(json, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

// A runtime that cannot be fetched fails the run in CI and is left out elsewhere.
const bins = RUNTIMES.flatMap((rt) => {
  let bin;
  try {
    bin = runtimePath(rt.major);
  } catch (e) {
    if (process.env.CI === 'true') throw e;
    process.stderr.write(`bench:runtimes: Node ${rt.major} left out: ${e.message}\n`);
    return [];
  }
  const version = spawnSync(bin, ['-p', 'process.versions.node'], {
    encoding: 'utf8',
  }).stdout.trim();
  return [{ major: rt.major, bin, version }];
});
const started = new Date();
const load0 = loadavg()[0];
const tmp = mkdtempSync(path.join(tmpdir(), 'kern-bench-'));
const tables = [];
try {
  for (const pkg of packages) {
    const extract = EXTRACT[pkg];
    if (!extract) throw new Error(`--packages: no hot rows defined for '${pkg}'`);
    // rows[key] = { label, unit, ratioTo, per: Map<major, samples[]> }
    const rows = new Map();
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < bins.length; k++) {
        const rt = bins[(r + k) % bins.length];
        process.stderr.write(
          `bench:runtimes: ${pkg}, round ${r + 1}/${rounds}, Node ${rt.version}\n`,
        );
        const records = runOnce(pkg, rt.bin, tmp);
        const env = records.find((x) => x.kind === 'env');
        if (env?.node !== `v${rt.version}`)
          throw new Error(`${pkg} ran on ${env?.node ?? 'an unknown node'}, not v${rt.version}`);
        for (const row of extract(records)) {
          if (!rows.has(row.key)) rows.set(row.key, { ...row, per: new Map() });
          const per = rows.get(row.key).per;
          per.set(rt.major, [...(per.get(rt.major) ?? []), ...row.samples]);
        }
      }
    }
    tables.push({ pkg, rows: [...rows.values()] });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const quick = process.env.KERN_BENCH_QUICK === '1';
const day = started.toISOString().slice(0, 10);
for (const { pkg, rows } of tables) {
  console.log(`\n### @kern/${pkg}: hot paths per runtime\n`);
  console.log(`| row | ratio to | ${bins.map((b) => `Node ${b.version}`).join(' | ')} |`);
  console.log(`| --- | --- | ${bins.map(() => '---:').join(' | ')} |`);
  for (const row of rows) {
    const cells = bins.map((b) => {
      const s = row.per.get(b.major) ?? [];
      if (s.length === 0) return '—';
      const v = median(s.map((x) => x.value));
      if (row.unit === 'count') {
        // A rate has no baseline in its process to steady it: show its range as well.
        const vs = s.map((x) => x.value);
        const k = (x) =>
          x.toLocaleString('en-US', { notation: 'compact', maximumSignificantDigits: 3 });
        return s.length > 1
          ? `${fmtCount(v)} (${k(Math.min(...vs))}–${k(Math.max(...vs))})`
          : fmtCount(v);
      }
      return row.ratioTo ? `${fmtNs(v)} (${median(s.map((x) => x.ratio)).toFixed(2)}×)` : fmtNs(v);
    });
    console.log(`| ${row.label} | ${row.ratioTo || '—'} | ${cells.join(' | ')} |`);
  }
  if (opts.samples) {
    // --samples: every sample behind each median, in the order measured.
    console.log(`\n@kern/${pkg} samples:`);
    for (const row of rows)
      for (const b of bins)
        console.log(
          `  ${row.label} | Node ${b.version}: ${(row.per.get(b.major) ?? [])
            .map((x) => (row.unit === 'ns' ? x.value.toFixed(1) : fmtCount(x.value)))
            .join(', ')}`,
        );
  }
}
const roundsText = `${rounds} round${rounds > 1 ? 's' : ''}${quick ? ', QUICK: not representative' : ''}`;
const load = `load average ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`;
const footer =
  `${day}, \`pnpm bench:runtimes\` (${roundsText}), ${process.arch}, ${cpus().length} CPUs shared ` +
  `with other jobs (${load}): medians; a ratio is to its baseline in the same process; ` +
  "a rate's range in brackets.";
// Wrapped at 88 columns, as the READMEs are.
console.log(`\n${footer.replace(/(.{1,88})(?: |$)/g, '$1\n').trimEnd()}`);
