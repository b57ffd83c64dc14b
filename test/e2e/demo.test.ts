/**
 * The README's first command, shortened: `switchyard demo` runs the whole system and a flash crowd by itself,
 * exits 0 only when every client's file is byte-identical, and leaves no process behind.
 */
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';

const pgrep = (pattern: string) => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
};

test('switchyard demo: a small crowd completes byte-identical and prints the summary', async () => {
  const before = pgrep('switchyard-demo-');
  const r = await runCli(['demo', '--clients', '4', '--capacity', '1', '--seconds', '10'], { timeoutMs: 180_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /dashboard http:\/\/127\.0\.0\.1:\d+\/dashboard/);
  assert.match(r.stdout, /all 4 downloads are byte-identical to the published video/);
  assert.match(r.stdout, /packaged for streaming \(\d+ HLS\/CMAF segments\)/);
  assert.match(r.stdout, /origin egress [\d.]+ MiB = [\d.]+ × the file for 4 clients/);
  const rows = r.stdout.split('\n').filter((l) => /^client \d/.test(l));
  assert.is(rows.length, 4, 'one summary row per client');
  assert.ok(rows.every((l) => l.endsWith('identical')));
  // nats-server and the clients ran from the demo's temp dir: none may survive it
  assert.is(pgrep('switchyard-demo-'), before, 'no process left behind');
});

test.run();
