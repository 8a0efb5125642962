// Prints the closing lines from vitest's JSON reports, one per runtime, then the total:
//   node-24.21.0: N passed, N failed, N skipped
//   tests: N passed, N failed, N skipped
// Arguments are reports, each `label=file` (one run per runtime) or a bare file. An
// empty file (`label=`) is a runtime that could not be fetched: a failure in CI, a
// skip elsewhere. In CI a skipped test is a failure too: a test that needs an outside
// tool must fail, not skip. Exits 1 if any run failed, any report is missing or no test ran.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error('usage: test-summary.mjs [label=]<vitest-json-report>...');
  process.exit(2);
}
const ci = process.env.CI === 'true';
const badLabels = [];
const total = { passed: 0, failed: 0, skipped: 0 };
const lines = [];
for (const arg of args) {
  const eq = arg.indexOf('=');
  const label = eq >= 0 ? arg.slice(0, eq) : 'tests';
  const file = eq >= 0 ? arg.slice(eq + 1) : arg;
  if (!file) {
    lines.push(`${label}: not run (the runtime could not be fetched)`);
    if (ci) badLabels.push(label);
    continue;
  }
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`test-summary: cannot read vitest report ${file}: ${e.message}`);
    lines.push(`${label}: no report (vitest did not finish)`);
    badLabels.push(label);
    continue;
  }
  const passed = report.numPassedTests ?? 0;
  const failed = report.numFailedTests ?? 0;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if (ci && skipped > 0) {
    for (const f of report.testResults ?? [])
      for (const t of f.assertionResults ?? [])
        if (t.status === 'pending' || t.status === 'todo' || t.status === 'skipped')
          console.error(`skipped in CI (${label}): ${f.name}: ${t.fullName}`);
  }
  if (passed === 0) console.error(`test-summary: no test ran (${label})`);
  if (failed > 0 || passed === 0 || (ci && skipped > 0)) badLabels.push(label);
  total.passed += passed;
  total.failed += failed;
  total.skipped += skipped;
  lines.push(`${label}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
}
const closing = `tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`;
for (const l of lines) if (l !== closing) console.log(l);
if (badLabels.length > 0) console.error(`test-summary: failing: ${badLabels.join(', ')}`);
console.log(closing);
process.exit(badLabels.length > 0 ? 1 : 0);
