/**
 * Live streams in the operator dashboard (issue 9): live viewers publish their status (client/live/telemetry.ts,
 * `kind: 'live'`) on the telemetry subjects, the gateway's aggregator keeps it next to the VOD clients', and
 * `/dashboard/state` lists each stream of the live directory with its viewers. First the aggregator alone (schema,
 * size, subject authority), then a real stack (origin capacity 1), the real packager on a `testsrc` generator, two
 * Node viewers (one holds the slot, the other gets the edge from it), the state over HTTP, a forging peer over a
 * real peer credential, a browser viewer (the watch page) reporting too, and the page rendering the section in
 * headless Chromium (SWITCHYARD_SCREENSHOT_DIR keeps a screenshot).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLivePackager, type LivePackager } from '../../actors/live/packager.js';
import { createOriginClient } from '../../actors/origin/client.js';
import { createNodeLiveViewer, type NodeLiveViewer } from '../../client/live/node.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import { startStack, type Stack } from '../../client/stack.js';
import type { DashboardState } from '../../gateway/dashboard/state.js';
import { createTelemetryAggregator } from '../../gateway/telemetry.js';
import { systemClock } from '../../lib/clock.js';
import { createLogger, silentLogger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import {
  encode, encodeBitfield, LiveModes, MAX_LIVE_TELEMETRY_BYTES, ServiceRoles, Subjects, type LiveViewerStatus, type PeerStatus,
} from '../../protocol/mod.js';
import { launchBrowser } from '../helpers/browser.js';
import { WATCH_ARGS } from '../watch/helpers.js';
import { waitFor } from '../helpers/env.js';

const logger = createLogger('live-dashboard-test', 'error');
const STREAM = 'livedash';

function liveStatus(peerId: string, streamId: string, over: Partial<LiveViewerStatus> = {}): LiveViewerStatus {
  return { kind: 'live', peerId, streamId, state: 'playing', seq: 7, latencyMs: 4200, verified: 8, corrupt: 0, stalls: 1,
    stalledMs: 120, skips: 0, bytesBySource: { origin: 0, urgent: 10, peer: 900 }, uploadedBytes: 300, links: 1,
    admitted: false, startedAt: 1, at: 1, ...over };
}

// ---------------------------------------------------------------------------------------------------------------
const agg = suite('live telemetry: the aggregator');

agg('a live status is kept apart from VOD ones; forged, oversized and malformed ones are dropped', () => {
  const a = createTelemetryAggregator({ nc: {} as NatsConnection, logger: silentLogger, clock: { now: () => 1000 } });
  const subj = (peer: string) => Subjects.telemetry(STREAM, peer);
  assert.ok(a.accept(subj('p1'), encode(liveStatus('p1', STREAM))));
  assert.ok(a.accept(subj('p1'), encode(liveStatus('p1', STREAM, { seq: 8 }))), 'newer status of the same viewer');
  // a VOD client of a video with the same id is another row
  const vod: PeerStatus = { peerId: 'p1', videoId: STREAM, mode: 'p2p', state: 'active.p2p', chunkCount: 4, haveCount: 1,
    bitfield: encodeBitfield([true, false, false, false]), bytesBySource: {}, uploadedBytes: 0, position: null, links: 0,
    startedAt: 1, doneAt: null, at: 1 };
  assert.ok(a.accept(subj('p1'), encode(vod)));
  // the subject names the sender: a body naming another peer or stream is a forgery
  assert.not.ok(a.accept(subj('p2'), encode(liveStatus('p1', STREAM, { latencyMs: 1 }))), 'another peer id in the body');
  assert.not.ok(a.accept(subj('p2'), encode(liveStatus('p2', 'otherstream'))), 'another stream in the body');
  // size: a live status has its own small limit, even when it is otherwise valid JSON of the right shape
  const padded = new TextEncoder().encode(`${JSON.stringify(liveStatus('p2', STREAM))}${' '.repeat(MAX_LIVE_TELEMETRY_BYTES)}`);
  assert.not.ok(a.accept(subj('p2'), padded), 'oversized');
  assert.not.ok(a.accept(subj('p2'), encode({ ...liveStatus('p2', STREAM), extra: 'x' })), 'unknown field');
  assert.not.ok(a.accept(subj('p2'), encode({ ...liveStatus('p2', STREAM), kind: 'vod' })), 'unknown kind');
  assert.not.ok(a.accept(subj('p2'), encode({ ...liveStatus('p2', STREAM), state: 'warp' })), 'unknown state');
  assert.not.ok(a.accept(subj('p2'), encode(liveStatus('p2', STREAM, { bytesBySource: { origin: -1, urgent: 0, peer: 0 } }))));
  assert.not.ok(a.accept(subj('p2'), encode({ ...liveStatus('p2', STREAM), bytesBySource: { origin: 0, urgent: 0, peer: 0, x: 1 } })));
  const live = a.liveViewers();
  assert.equal(live.map((v) => [v.peerId, v.streamId, v.seq, v.latencyMs, v.stale]), [['p1', STREAM, 8, 4200, false]]);
  assert.equal(a.liveViewers('otherstream'), []);
  assert.equal(a.peers().map((p) => [p.peerId, p.videoId]), [['p1', STREAM]], 'VOD rows do not list live viewers');
});

agg.run();

// ---------------------------------------------------------------------------------------------------------------
interface Ctx {
  dir: string;
  stack: Stack;
  packager: LivePackager;
  rtc: RtcHost;
  viewers: NodeLiveViewer[];
}
const t = suite<Ctx>('live dashboard: capacity-1 origin, packager, two Node viewers');

t.before(async (ctx) => {
  ctx.viewers = [];
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-live-dashboard-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 1, trackerIntervalMs: 1000 }, logger);
  const nc = await ctx.stack.connectService(ServiceRoles.ingest, 'live-ingest');
  const origin = createOriginClient(nc);
  ctx.packager = createLivePackager({ streamId: STREAM, input: { kind: 'testsrc' }, workDir: ctx.dir, dvrSec: 20, record: false,
    // longer than the tests need: the after hook ends it
    encoding: { durationSec: 40, videoBitrate: 300_000, audioBitrate: 32_000, width: 320, height: 180 } },
  { nc, store: ctx.stack.store, publish: (m) => origin.publish(m), clock: systemClock, logger });
  await ctx.packager.start();
  ctx.rtc = createRtcHost({ logger, bindAddress: '127.0.0.1' });
  await waitFor(() => (ctx.packager.window()?.segments.length ?? 0) >= 1 || undefined, 'first segment', 20_000);
});
t.after(async (ctx) => {
  for (const v of ctx.viewers ?? []) await v.close().catch(() => {});
  await ctx.packager?.stop().catch(() => {});
  ctx.rtc?.shutdown();
  await ctx.stack?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

async function liveState(ctx: Ctx): Promise<DashboardState> {
  const res = await fetch(`${ctx.stack.gatewayUrl}/dashboard/state`);
  assert.is(res.status, 200);
  return (await res.json()) as DashboardState;
}
const sum = (b: { origin: number; urgent: number; peer: number }) => b.origin + b.urgent + b.peer;

t('the stream with its two viewers: latency, state and bytes by source per viewer; totals', async (ctx) => {
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const peer = await ctx.stack.connectPeer({ label: `liveview${i}` });
    const v = createNodeLiveViewer({ streamId: STREAM, peerId: peer.peerId, gatewayUrl: ctx.stack.gatewayUrl,
      mode: LiveModes.default, bindAddress: '127.0.0.1', telemetry: { intervalMs: 500 } }, { nc: peer.nc, logger, rtc: ctx.rtc });
    await v.start();
    ctx.viewers.push(v);
    ids.push(peer.peerId);
  }
  const s = await waitFor(async () => {
    const st = await liveState(ctx);
    const stream = st.live.find((x) => x.streamId === STREAM);
    if (stream?.viewers.length !== 2) return null;
    const vs = stream.viewers;
    const ok = vs.every((v) => typeof v.latencyMs === 'number' && sum(v.bytesBySource) > 0) &&
      vs.some((v) => v.bytesBySource.origin > 0) && vs.some((v) => v.bytesBySource.peer > 0) &&
      // statuses arrive every 500 ms per viewer: the receiver's peer bytes can be reported before the sender's
      // upload count, so wait for a snapshot where both have arrived
      vs.some((v) => v.bytesBySource.origin > 0 && v.uploadedBytes > 0);
    return ok ? st : null;
  }, 'two playing viewers, one fed by the origin and one by peers', 25_000, 250);
  const stream = s.live.find((x) => x.streamId === STREAM)!;
  console.log(JSON.stringify({ totals: stream.totals, viewers: stream.viewers.map((v) => ({ state: v.state,
    latencyMs: v.latencyMs, bytes: v.bytesBySource, admitted: v.admitted, links: v.links })) }));
  assert.ok(stream.known, 'the live directory knows it');
  assert.is(stream.ended, false);
  assert.is(stream.videoId, null);
  assert.type(stream.edgeSeq, 'number');
  assert.ok(stream.segments >= 1 && stream.producedBytes > 0 && stream.windowSec > 0);
  assert.equal(stream.viewers.map((v) => v.peerId).sort(), [...ids].sort());
  const slot = stream.viewers.find((v) => v.bytesBySource.origin > 0)!;
  const fromPeers = stream.viewers.find((v) => v.bytesBySource.peer > 0 && v !== slot);
  assert.ok(fromPeers, `a viewer other than the slot holder got peer bytes: ${JSON.stringify(stream.viewers.map((v) => v.bytesBySource))}`);
  assert.is(slot.admitted, true, 'the origin-fed viewer holds the slot');
  assert.ok(slot.uploadedBytes > 0, 'the slot holder relayed');
  for (const v of stream.viewers) {
    assert.is(v.kind, 'live');
    assert.is(v.stale, false);
    assert.ok(['playing', 'stalled'].includes(v.state), v.state);
    assert.ok(v.latencyMs! > 0 && v.latencyMs! < 30_000, `latency ${v.latencyMs}`);
    assert.ok(v.verified >= 1);
    assert.is(v.corrupt, 0);
  }
  assert.is(stream.totals.viewers, 2);
  for (const k of ['origin', 'urgent', 'peer'] as const) {
    assert.is(stream.totals.bytesBySource[k], stream.viewers.reduce((n, v) => n + v.bytesBySource[k], 0), k);
  }
  assert.type(stream.totals.latencyP50Ms, 'number');
  assert.ok(s.peers.every((p) => p.videoId !== STREAM), 'live viewers are not listed as VOD clients');
});

t('a forged status (another viewer\'s id in the body, or oversized) over a real peer credential is ignored', async (ctx) => {
  const victim = ctx.viewers[0]!;
  const victimId = (await liveState(ctx)).live.find((x) => x.streamId === STREAM)!.viewers
    .find((v) => v.admitted)?.peerId ?? '';
  const mallory = await ctx.stack.connectPeer({ label: 'mallory' });
  const own = Subjects.telemetry(STREAM, mallory.peerId);
  const forged = liveStatus(victimId, STREAM, { latencyMs: 999_999, state: 'stalled', stalls: 99 });
  const oversized = new TextEncoder().encode(`${JSON.stringify(liveStatus(mallory.peerId, STREAM))}${' '.repeat(MAX_LIVE_TELEMETRY_BYTES)}`);
  for (let i = 0; i < 4; i++) {
    mallory.nc.publish(own, encode(forged));
    mallory.nc.publish(own, oversized);
    await new Promise((r) => setTimeout(r, 250));
  }
  await mallory.nc.flush();
  await new Promise((r) => setTimeout(r, 1200)); // past a dashboard snapshot period
  const stream = (await liveState(ctx)).live.find((x) => x.streamId === STREAM)!;
  assert.is(stream.viewers.length, 2);
  assert.not.ok(stream.viewers.some((v) => v.peerId === mallory.peerId), 'mallory has no row');
  assert.ok(stream.viewers.every((v) => v.latencyMs !== 999_999 && v.stalls !== 99), 'no row took the forged figures');
  assert.ok(victim.stats().verified >= 1);
  await mallory.nc.close();
});

t('a browser viewer reports too; the page renders a table per stream, a row per viewer (headless Chromium)', async (ctx) => {
  const browser = await launchBrowser({ viewport: { width: 1400, height: 1000 }, args: WATCH_ARGS });
  try {
    // the watch page's live viewer (web/live.ts) publishes the same status over its WebSocket connection
    const watch = await browser.newPage();
    await watch.goto(`${ctx.stack.gatewayUrl}/watch/${STREAM}?label=webviewer`);
    const web = await waitFor(async () => (await liveState(ctx)).live.find((x) => x.streamId === STREAM)?.viewers
      .find((v) => v.peerId.startsWith('webviewer-') && v.state === 'playing' && v.latencyMs !== null && sum(v.bytesBySource) > 0),
    'the browser viewer playing, on the dashboard', 30_000, 250);
    console.log(JSON.stringify({ web: { state: web.state, latencyMs: web.latencyMs, bytes: web.bytesBySource, links: web.links } }));
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.goto(`${ctx.stack.gatewayUrl}/dashboard`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 15_000 });
    await page.waitForSelector(`[data-testid=live-stream][data-stream-id="${STREAM}"][data-viewers="3"]`, { timeout: 10_000 });
    const rows = await page.evaluate((id) => {
      const d = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ dataset: Record<string, string> }> } }).document;
      return [...d.querySelectorAll(`[data-stream-id="${id}"] [data-testid=live-viewer-row]`)].map((r) => ({ ...r.dataset }));
    }, STREAM);
    assert.is(rows.length, 3);
    assert.ok(rows.every((r) => Number(r.latencyMs) > 0), JSON.stringify(rows));
    assert.equal(problems, [], 'no console errors');
    // SWITCHYARD_SCREENSHOT_DIR keeps a picture of the page
    const shots = process.env.SWITCHYARD_SCREENSHOT_DIR;
    if (shots) await page.screenshot({ path: join(shots, 'dashboard-live.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});

t.run();
