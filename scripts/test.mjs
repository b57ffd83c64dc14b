// The test command: prepares a fresh clone (scripts/ensure.mjs), then runs every compiled test file in its own
// process (node-datachannel and servers keep processes alive, and isolation keeps one crash from hiding the
// rest), with a time limit per file. Ends with the line CI reads: `N passed, N failed, N skipped`.
// Usage: npm test [-- substring ...]   runs only the files whose path contains one of the substrings.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensure, root } from './ensure.mjs';

await ensure({ browser: true });

const filters = process.argv.slice(2);
const FILE_TIMEOUT_MS = Number(process.env.SWITCHYARD_TEST_TIMEOUT_MS ?? 300000);

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...find(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const files = find(join(root, 'dist', 'test')).filter(
  (f) => filters.length === 0 || filters.some((s) => f.includes(s)),
);

// eslint-disable-next-line no-control-regex
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b) => { out += b; process.stdout.write(b); });
    child.stderr.on('data', (b) => { out += b; process.stderr.write(b); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, FILE_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const num = (label) => {
        const all = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))];
        return all.length ? Number(all[all.length - 1][1]) : null;
      };
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped') ?? 0;
      const ms = Date.now() - started;
      if (total === null || passed === null) {
        // No uvu summary: the file crashed or hung; count it as one failure so it can never pass silently.
        resolve({ file, passed: 0, failed: 1, skipped: 0, ms, note: timedOut ? 'timed out' : `exit ${code ?? signal}` });
        return;
      }
      let failed = total - passed;
      if (failed === 0 && code !== 0) failed = 1; // e.g. an error after the tests ran
      resolve({ file, passed, failed, skipped, ms, note: timedOut ? 'timed out' : '' });
    });
  });
}

const results = [];
for (const f of files) {
  console.log(`\n# ${relative(root, f)}`);
  results.push(await runFile(f));
}
console.log('\n# per file');
for (const r of results) {
  console.log(`${r.failed ? 'FAIL' : 'ok  '} ${relative(root, r.file).padEnd(50)} ${r.passed} passed, ${r.failed} failed` +
    `${r.skipped ? `, ${r.skipped} skipped` : ''} (${(r.ms / 1000).toFixed(1)} s)${r.note ? ' ' + r.note : ''}`);
}
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
const passed = sum('passed');
const failed = sum('failed');
const skipped = sum('skipped');
if (files.length === 0) console.log('no test files matched');
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
