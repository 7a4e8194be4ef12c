// Fails when any test in the vitest JSON reports was skipped, todo or pending: in CI every suite must run
// (a Redis suite that skips is a failure). Reports are written by the vitest configs when CI is set.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.ci/reports';
let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json'));
} catch {
  console.error(`check-no-skipped-tests: no reports in ${dir}`);
  process.exit(1);
}
if (files.length === 0) {
  console.error(`check-no-skipped-tests: no reports in ${dir}`);
  process.exit(1);
}
let total = 0;
let passed = 0;
let failed = 0;
const skipped = [];
for (const f of files) {
  const report = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  for (const file of report.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      total++;
      if (t.status === 'passed') passed++;
      if (t.status === 'failed') failed++;
      if (t.status !== 'passed' && t.status !== 'failed')
        skipped.push(`${file.name}: ${t.fullName} (${t.status})`);
    }
  }
}
if (skipped.length > 0) {
  console.error(`check-no-skipped-tests: ${skipped.length} test(s) did not run:\n  ${skipped.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-no-skipped-tests: all ${total} tests ran`);
// The plain closing line CI tooling reads.
console.log(`tests: ${passed} passed, ${failed} failed`);
