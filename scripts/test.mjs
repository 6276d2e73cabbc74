// The whole suite: static checks (types, lint, dependency rules) then every vitest test. It ends with
// the plain line "N passed, N failed" that CI reads, so a run that executes no test cannot pass unnoticed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const bin = (name) => path.join('node_modules', '.bin', name);

// Browser tests drive Debian's Chromium through playwright-core (no browser download from elsewhere).
// On a fresh machine the project installs it, with a CJK font so Chinese pages render as a payer sees them.
function ensureBrowser() {
  const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  const hasFont = () => spawnSync('sh', ['-c', 'fc-list :lang=zh | grep -q .'], { stdio: 'ignore' }).status === 0;
  if (process.env.CHROMIUM_PATH || (has('chromium') && hasFont())) return;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0 || !has('apt-get')) {
    console.error('Chromium (Debian package "chromium") and a CJK font (fonts-wqy-zenhei) are needed for browser tests; install them or set CHROMIUM_PATH.');
    return;
  }
  console.log('installing Debian chromium and fonts-wqy-zenhei for the browser tests…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-wqy-zenhei', 'fontconfig'], { stdio: 'inherit', env });
}
ensureBrowser();
let passed = 0;
let failed = 0;
let skipped = 0;

const onlyTests = process.argv.length > 2; // `npm test -- some/file` runs just vitest on that file
if (!onlyTests) {
  for (const [label, command, args] of [
    ['typecheck', bin('tsc'), ['--noEmit', '-p', '.']],
    ['lint', bin('eslint'), ['.']],
    ['dependency rules', bin('depcruise'), ['src', '--config', '.dependency-cruiser.cjs']],
  ]) {
    const started = Date.now();
    const run = spawnSync(command, args, { stdio: 'inherit', env: process.env });
    const ok = run.status === 0;
    console.log(`${ok ? '✓' : '✗'} ${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    if (ok) passed += 1;
    else failed += 1;
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'fenpay-vitest-'));
const report = path.join(dir, 'report.json');
const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync(bin('vitest'), args, { stdio: 'inherit', env: process.env });

try {
  const result = JSON.parse(readFileSync(report, 'utf8'));
  const vitestPassed = result.numPassedTests ?? 0;
  passed += vitestPassed;
  failed += (result.numFailedTests ?? 0) + (result.numFailedTestSuites ?? 0);
  skipped += (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0);
  if (vitestPassed === 0) failed += 1;
} catch {
  failed += 1;
  console.error('no test report was written: counting the run as failed');
}
rmSync(dir, { recursive: true, force: true });
if (run.status !== 0 && failed === 0) failed += 1;
// Skipped tests (cases declared not applicable, with the reason in their titles) are reported on their own
// line, so the last line stays exactly "N passed, N failed".
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
