// Prints one closing line from vitest's JSON report: "tests: N passed, N failed, N skipped".
// In CI a skipped test is a failure: a test that needs an outside tool must fail, not skip.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: test-summary.mjs <vitest-json-report>');
  process.exit(2);
}
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`test-summary: cannot read vitest report ${file}: ${e.message}`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
if (process.env.CI === 'true' && skipped > 0) {
  for (const f of report.testResults ?? [])
    for (const t of f.assertionResults ?? [])
      if (t.status === 'pending' || t.status === 'todo' || t.status === 'skipped')
        console.error(`skipped in CI: ${f.name}: ${t.fullName}`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed === 0) console.error('test-summary: no test ran');
process.exit(failed > 0 || passed === 0 || (process.env.CI === 'true' && skipped > 0) ? 1 : 0);
