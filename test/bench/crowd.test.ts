/**
 * bench/lib/crowd.ts: the figures it derives from state histories (pure), and one small real flash crowd
 * (N=3, F=2 MiB, capacity 1, u_s = u_i = 1 MiB/s; real nats-server, gateway and node-datachannel peers):
 * every client verified, and every byte accounted for by source. No timing assertions.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { countSwitches, percentile, resumeLatencies, runCrowd } from '../../bench/lib/crowd.js';
import { createRtcHost } from '../../client/p2p/rtc.js';
import type { DownloadMode } from '../../machines/download/machine.js';
import { createLogger } from '../../lib/logger.js';

const MiB = 1024 * 1024;

const pure = suite('crowd figures (pure)');

pure('switches count changes between server, p2p and resumeServer only', () => {
  const h = (...s: DownloadMode[]) => s.map((mode) => ({ mode }));
  assert.is(countSwitches(h('opening', 'server', 'assembling', 'complete')), 0);
  assert.is(countSwitches(h('opening', 'p2p', 'resumeServer', 'assembling')), 1);
  assert.is(countSwitches(h('opening', 'p2p', 'resumeServer', 'p2p', 'resumeServer')), 3);
  // a re-open between two p2p phases is not a mode switch; server → (re-open) → p2p is
  assert.is(countSwitches(h('p2p', 'opening', 'p2p')), 0);
  assert.is(countSwitches(h('server', 'opening', 'p2p')), 1);
});

pure('resume latency: from the latest release by a slot holder before the switch', () => {
  const e = (mode: DownloadMode, atMs: number) => ({ mode, atMs });
  const granted = [e('server', 5), e('assembling', 100), e('complete', 103)];
  // a waiting client that finishes from peers leaves the wait list: that frees no slot
  const peersOnly = [e('p2p', 6), e('assembling', 110)];
  const resumed = [e('p2p', 7), e('resumeServer', 112), e('assembling', 300)];
  const later = [e('p2p', 8), e('resumeServer', 305)];
  assert.equal(resumeLatencies([granted, peersOnly, resumed, later]), [12, 5]);
  assert.equal(resumeLatencies([peersOnly]), []);
  // a holder whose slot is revoked (rotated to a waiter) falls back to p2p: that frees the slot too
  const rotated = [e('server', 1), e('p2p', 50), e('resumeServer', 90)];
  const waiter = [e('p2p', 2), e('resumeServer', 53), e('p2p', 85)];
  assert.equal(resumeLatencies([rotated, waiter]), [5, 3]);
  // two states with the same mode in a row (a re-open keeps resumeServer) are one entry, not two
  assert.equal(resumeLatencies([granted, [e('p2p', 7), e('resumeServer', 112), e('resumeServer', 150)]]), [12]);
});

pure('percentiles (nearest rank)', () => {
  assert.is(percentile([5, 1, 3], 50), 3);
  assert.is(percentile([1, 2, 3, 4], 50), 2);
  assert.is(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99), 99);
  assert.ok(Number.isNaN(percentile([], 50)));
});

pure.run();

// node-datachannel's teardown is process-wide: both crowds share one RTC host, shut down once at the end
const ctxRtc = createRtcHost({ bindAddress: '127.0.0.1', logger: createLogger('crowd-test', 'error') });
const real = suite('a small real flash crowd');

real('N=3, F=2 MiB, capacity 1: all verified, bytes by source add up to F per client', async () => {
  const F = 2 * MiB;
  const r = await runCrowd({ N: 3, F, us: 1 * MiB, ui: 1 * MiB, capacity: 1, policy: 'server-first', timeoutMs: 60_000,
    rtc: ctxRtc });
  for (const c of r.clients) {
    console.log(`  ${c.peerId} ${c.status} at ${c.doneMs?.toFixed(0)} ms: ${c.history.map((h) => h.state).join(' → ')} ` +
      JSON.stringify(c.bytesBySource));
  }
  assert.is(r.timedOut, false);
  assert.is(r.clients.length, 3);
  for (const c of r.clients) {
    assert.is(c.status, 'complete', `${c.peerId}: ${c.error}`);
    assert.ok(c.verified, `${c.peerId}: output hashes like the source`);
    const sum = Object.values(c.bytesBySource).reduce((a, b) => a + b, 0);
    assert.is(sum, F, `${c.peerId}: bytes by source add up to F`);
    assert.is(c.fromOrigin + c.fromPeers, F);
    assert.ok(c.history.length > 0 && c.history[c.history.length - 1]!.state === 'complete', 'history ends complete');
  }
  assert.ok(r.allVerified);
  const total = r.clients.reduce((a, c) => a + Object.values(c.bytesBySource).reduce((x, y) => x + y, 0), 0);
  assert.is(total, 3 * F, 'Σ over clients = N × F');
  // capacity 1: exactly one client was admitted at first; the others were denied and used peers
  assert.is(r.clients.filter((c) => c.history.some((h) => h.state === 'active.server')).length, 1);
  assert.ok(r.p2pShare > 0 && r.p2pShare < 1);
  // the origin sent at least F (every chunk once) and at most what the clients got from it
  const fromOrigin = r.clients.reduce((a, c) => a + c.fromOrigin, 0);
  assert.ok(r.originEgressBytes >= F, `origin egress ${r.originEgressBytes} >= F`);
  assert.ok(r.originEgressBytes >= fromOrigin);
  assert.is(r.switches, r.clients.reduce((a, c) => a + countSwitches(c.history), 0));
  assert.ok(r.setupMs.length > 0, 'links were set up');
  assert.ok(r.cpu.busy > 0 && r.cpu.busy <= 1.5, `cpu ${r.cpu.busy}`);
  assert.is(r.D_p2p_s, 2);
  assert.is(r.D_cs_s, 6);
  assert.ok(Number.isFinite(r.D_s) && r.D_s >= r.median_s);
});

real('clients in 2 child processes: the same figures, the children\'s CPU counted, nothing left running', async () => {
  const F = 2 * MiB;
  const r = await runCrowd({ N: 3, F, us: 1 * MiB, ui: 1 * MiB, capacity: 3, policy: 'swarm-aware', timeoutMs: 60_000,
    procs: 2 });
  assert.is(r.timedOut, false);
  assert.is(r.clients.length, 3);
  for (const c of r.clients) {
    assert.is(c.status, 'complete', `${c.peerId}: ${c.error}`);
    assert.ok(c.verified, `${c.peerId}: output hashes like the source`);
    assert.is(c.fromOrigin + c.fromPeers, F);
    assert.ok(c.history.at(-1)?.state === 'complete', 'history ends complete');
    assert.ok(c.doneMs !== null && c.doneMs > 0 && c.doneMs <= r.wallMs + 1);
  }
  assert.ok(r.allVerified);
  assert.ok(r.cpu.children !== null && r.cpu.children > 0, `children's CPU ${r.cpu.children}`);
  assert.ok(r.cpu.busy >= r.cpu.children!);
  // the uploads of the children's peers reached the sampler
  assert.ok((r.timeline.at(-1)?.uploaded ?? 0) > 0 || r.p2pShare === 0);
  assert.is(r.timeline.at(-1)?.done, 3);
});

real('a crowd that cannot finish in time is stopped and says so', async () => {
  // 2 × 1 MiB at 64 KiB/s from the origin alone takes 32 s; the run is cut at 1.5 s. Small chunks: the gateway's
  // egress bucket still lets the abandoned requests' bytes drain (2 × 4 × 16 KiB) before this process can exit.
  const r = await runCrowd({ N: 2, F: 1 * MiB, chunkSize: 16 * 1024, us: 64 * 1024, ui: 64 * 1024, capacity: 2,
    policy: 'server-first', timeoutMs: 1500, rtc: ctxRtc });
  assert.is(r.timedOut, true);
  assert.equal(r.clients.map((c) => c.status), ['timeout', 'timeout']);
  assert.ok(r.clients.every((c) => c.doneMs === null && !c.verified));
  assert.ok(Number.isNaN(r.D_s));
  assert.is(r.allVerified, false);
  assert.ok(r.wallMs >= 1500);
});

real.after(() => ctxRtc.shutdown());
real.run();
