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
import { createRtcHost, type RtcLink } from '../../client/p2p/rtc.js';
import { createLogger } from '../../lib/logger.js';
import { waitFor } from '../helpers/env.js';

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

test('the host refuses links beyond maxAllocated until closed ones are freed; counts per remote', async () => {
  const host = createRtcHost({ bindAddress: '127.0.0.1', logger: createLogger('cap', 'error'), maxAllocated: 3, releaseGraceMs: 50 });
  try {
    const open = (i: number): RtcLink => host.create({ role: 'offerer', remotePeerId: i < 2 ? 'r1' : 'r2', connId: `cap${i}`,
      videoId: 'v', sendSignal: async () => {},
      events: { onConnected() {}, onOpen() {}, onMessage() {}, onDrain() {}, onClosed() {} } });
    const links = [0, 1, 2].map(open);
    assert.is(host.allocated, 3);
    assert.is(host.allocatedFor('r1'), 2);
    assert.throws(() => open(3), /capacity/);
    for (const l of links) l.close('done');
    assert.is(host.live, 0);
    assert.ok(host.allocated > 0, 'closed links stay referenced until their native close callbacks came');
    await waitFor(() => host.allocated === 0, 'closed links freed', 10000);
    assert.is(host.allocatedFor('r1'), 0);
    open(4).close('done');
  } finally {
    host.shutdown();
  }
});

test.run();
