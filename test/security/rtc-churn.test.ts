/**
 * node-datachannel lifetime under churn: hundreds of links opened and closed (both sides closing, plus offers
 * answered and cancelled by a bye before connecting) are all freed by the RTC host while it runs, and
 * `cleanup()` afterwards, with the freed objects garbage-collected, does not crash. Each run is a child process
 * (test/security/churn.ts) because the failure being guarded against is a native crash.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const script = fileURLToPath(new URL('./churn.js', import.meta.url));
const RUNS = 3;

test(`${RUNS} runs of 200 connected pairs + 300 offer/bye: everything freed, cleanup() exits cleanly`, () => {
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--expose-gc', script, '200', '300'], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.signal, null, `run ${i} killed by ${r.signal}: ${r.stderr}`);
    assert.is(r.status, 0, `run ${i} exit ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { allocated: number; live: number; opened: number };
    assert.is(out.live, 0);
    assert.is(out.allocated, 0, `run ${i}: native connections still referenced`);
    assert.ok(out.opened >= 190, `run ${i}: only ${out.opened} of 200 pairs opened`);
  }
});

test.run();
