// Runs the whole suite with vitest and ends with the plain line "N passed, N failed" that CI reads,
// so a run that executes no test cannot pass unnoticed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fenpay-vitest-'));
const report = path.join(dir, 'report.json');
const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync(path.join('node_modules', '.bin', 'vitest'), args, { stdio: 'inherit', env: process.env });

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed = result.numPassedTests ?? 0;
  failed = (result.numFailedTests ?? 0) + (result.numFailedTestSuites ?? 0);
  skipped = (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0);
} catch {
  failed += 1;
  console.error('no test report was written: counting the run as failed');
}
rmSync(dir, { recursive: true, force: true });
if (passed === 0) failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
