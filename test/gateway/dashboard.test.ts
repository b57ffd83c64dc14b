/**
 * The dashboard over real parts: a whole stack (nats-server, origin of capacity 1 with a throttled egress, tracker,
 * relay, gateway with the telemetry aggregator) and three real `switchyard get --seed` CLI processes, which
 * publish their telemetry like any client. Checks `/dashboard/state` (slot holder, wait list in order, modes,
 * totals against what the clients report), the SSE stream, and the page itself in a real headless Chromium
 * (Debian's, through playwright-core): rows, modes, chunk maps, totals, origin panel, no outside request, and a
 * screenshot. Set SWITCHYARD_SCREENSHOT_DIR to keep the screenshots.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createOriginClient } from '../../actors/origin/client.js';
import { startStack, type Stack } from '../../client/stack.js';
import type { DashboardState } from '../../gateway/dashboard/state.js';
import { createTelemetryAggregator } from '../../gateway/telemetry.js';
import { createLogger, silentLogger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import { encode, encodeBitfield, PeerModes, Subjects, type Manifest, type PeerStatus } from '../../protocol/mod.js';
import { launchBrowser, type BrowserHandle } from '../helpers/browser.js';
import { startCli, type CliRun } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const logger = createLogger('dashboard-test');
const MODES: string[] = Object.values(PeerModes);
const PEERS = ['dashA', 'dashB', 'dashC'] as const;

// ---------------------------------------------------------------------------------------------------------------
// The aggregator alone, with a hand-driven clock: validation, staleness, expiry, bound.

const agg = suite('telemetry aggregator');

function status(peerId: string, videoId: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return { peerId, videoId, mode: 'p2p', state: 'active.p2p', chunkCount: 4, haveCount: 1, bitfield: encodeBitfield([true, false, false, false]),
    bytesBySource: { 'peer:x': 100 }, uploadedBytes: 0, position: 1, links: 1, startedAt: 1, doneAt: null, at: 1, ...over };
}
const VIDEO = `v${'a'.repeat(24)}`;

agg('keeps the latest valid status per (video, peer); drops invalid, oversized and mismatched messages', () => {
  const a = createTelemetryAggregator({ nc: {} as NatsConnection, logger: silentLogger, clock: { now: () => 1000 } });
  const subj = (peer: string) => Subjects.telemetry(VIDEO, peer);
  assert.ok(a.accept(subj('p1'), encode(status('p1', VIDEO))));
  assert.ok(a.accept(subj('p1'), encode(status('p1', VIDEO, { haveCount: 2 }))));
  assert.not.ok(a.accept(subj('p2'), new TextEncoder().encode('{not json')));
  assert.not.ok(a.accept(subj('p2'), encode({ ...status('p2', VIDEO), mode: 'warp' })));
  assert.not.ok(a.accept(subj('p2'), encode({ ...status('p2', VIDEO), extra: 1 })));
  assert.not.ok(a.accept(subj('p2'), encode({ ...status('p2', VIDEO), state: 'x'.repeat(40 * KiB) })), 'oversized');
  assert.not.ok(a.accept(subj('p2'), encode(status('p3', VIDEO))), 'a peer cannot report as another');
  assert.not.ok(a.accept('sy.telemetry.only', encode(status('p2', VIDEO))));
  const peers = a.peers();
  assert.is(peers.length, 1);
  assert.is(peers[0]!.haveCount, 2);
  assert.is(peers[0]!.stale, false);
  assert.equal(a.peers('vother'), []);
});

agg('silent peers become stale after 10 s and are dropped after 30 s; at most maxPeers are kept', () => {
  let now = 0;
  const a = createTelemetryAggregator({ nc: {} as NatsConnection, logger: silentLogger, clock: { now: () => now } }, { maxPeers: 3 });
  a.accept(Subjects.telemetry(VIDEO, 'old'), encode(status('old', VIDEO)));
  now = 9_000;
  a.accept(Subjects.telemetry(VIDEO, 'new'), encode(status('new', VIDEO, { startedAt: 2 })));
  now = 10_500;
  assert.equal(a.peers().map((p) => [p.peerId, p.stale]), [['old', true], ['new', false]]);
  now = 30_500;
  assert.equal(a.peers().map((p) => p.peerId), ['new']);
  for (const id of ['b1', 'b2', 'b3']) a.accept(Subjects.telemetry(VIDEO, id), encode(status(id, VIDEO)));
  assert.equal(a.peers().map((p) => p.peerId).sort(), ['b1', 'b2', 'b3'], 'the least recently heard peer went first');
});

agg.run();

// ---------------------------------------------------------------------------------------------------------------
// The whole thing.

interface Ctx {
  dir: string;
  shots: string;
  stack: Stack;
  manifest: Manifest;
  clis: Map<string, CliRun>;
  browser: BrowserHandle | null;
}

const t = suite<Ctx>('dashboard: capacity-1 origin, three CLI clients, real Chromium');

function startGet(ctx: Ctx, peerId: string) {
  const run = startCli(['get', ctx.manifest.videoId, '-o', join(ctx.dir, `${peerId}.out`), '--json', '--seed',
    '--label', peerId, '--nats', ctx.stack.natsUrl, '--gateway', ctx.stack.gatewayUrl, '--bind', '127.0.0.1'],
  { timeoutMs: 180_000 });
  ctx.clis.set(peerId, run);
  return run;
}

async function stopCli(run: CliRun) {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 5000);
  await run.exited;
  clearTimeout(timer);
}

async function state(ctx: Ctx): Promise<DashboardState> {
  const res = await ctx.stack.gateway.app.inject({ method: 'GET', url: '/dashboard/state' });
  assert.is(res.statusCode, 200, res.body);
  return res.json() as DashboardState;
}
/** The gateway assigns `<label>-<random>` ids; this test names clients by their labels. */
const label = (id: string) => (id.includes('-') ? id.slice(0, id.indexOf('-')) : id);
const peer = (s: DashboardState, id: string) => s.peers.find((p) => label(p.peerId) === id);

/**
 * The little of the DOM the in-page functions below use: the project compiles without lib.dom, and these
 * functions run in Chromium (page.evaluate serialises them), so each one reaches the document through globalThis.
 */
interface DomEl {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelector(selector: string): DomEl | null;
  querySelectorAll(selector: string): Iterable<DomEl> & { length: number };
}
interface DomDoc extends DomEl {
  getElementById(id: string): DomEl | null;
}

t.before(async (ctx) => {
  ctx.clis = new Map();
  ctx.browser = null;
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-dashboard-'));
  ctx.shots = process.env.SWITCHYARD_SCREENSHOT_DIR ?? join(ctx.dir, 'shots');
  mkdirSync(ctx.shots, { recursive: true });
  // 128 KiB/s of origin egress: the slot holder needs ~16 s for 2 MiB, long enough to watch the wait list.
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 1, leaseTtlMs: 3000, trackerIntervalMs: 1000,
    originRate: 128 * KiB }, logger);
  const file = join(ctx.dir, 'video.bin');
  writeFileSync(file, randomBytes(2 * MiB));
  const origin = createOriginClient(ctx.stack.nc);
  ctx.manifest = (await ingestFile({ path: file, name: 'dashboard-demo.bin', chunkSize: 64 * KiB },
    { store: ctx.stack.store, publish: (m) => origin.publish(m), logger })).manifest;
});

t.after(async (ctx) => {
  await ctx.browser?.close();
  await Promise.all([...ctx.clis.values()].map(stopCli));
  await ctx.stack?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

t('state while the origin is full: the slot holder, the wait list in order, modes and positions', async (ctx) => {
  const { manifest } = ctx;
  startGet(ctx, 'dashA');
  let s = await waitFor(async () => {
    const st = await state(ctx);
    return peer(st, 'dashA')?.mode === 'server' && st.origin.slots.length === 1 ? st : null;
  }, 'dashA downloading from the origin', 20_000, 100);
  assert.is(s.origin.capacity, 1);
  assert.type(s.origin.policy, 'string');
  assert.equal(s.origin.slots.map((l) => [l.slot, label(l.peerId), l.videoId]), [[0, 'dashA', manifest.videoId]]);
  assert.ok(s.origin.slots[0]!.expiresAt > s.at);
  const v = s.videos.find((x) => x.videoId === manifest.videoId);
  assert.ok(v, 'the video is in the catalog list');
  assert.is(v.chunkCount, manifest.chunks.length);
  assert.is(v.name, 'dashboard-demo.bin');

  // garbage on the telemetry subjects is ignored (and does not break the aggregator)
  ctx.stack.nc.publish(Subjects.telemetry(manifest.videoId, 'mallory'), new TextEncoder().encode('{"peerId":'));
  ctx.stack.nc.publish(Subjects.telemetry(manifest.videoId, 'mallory'), encode({ peerId: 'dashA', videoId: manifest.videoId }));

  startGet(ctx, 'dashB');
  await waitFor(async () => (await state(ctx)).origin.waiting.some((w) => label(w.peerId) === 'dashB'), 'dashB on the wait list', 20_000, 100);
  startGet(ctx, 'dashC');
  s = await waitFor(async () => {
    const st = await state(ctx);
    const b = peer(st, 'dashB');
    const c = peer(st, 'dashC');
    return st.origin.waiting.length === 2 && b?.position === 1 && c?.position === 2 ? st : null;
  }, 'dashB and dashC waiting, positions 1 and 2', 20_000, 100);
  assert.equal(s.origin.waiting.map((w) => label(w.peerId)), ['dashB', 'dashC'], 'longest waiting first');
  assert.ok(s.origin.waiting.every((w) => w.videoId === manifest.videoId && w.since <= s.at));
  assert.equal(s.origin.slots.map((l) => label(l.peerId)), ['dashA'], 'still one slot, still dashA');
  assert.is(peer(s, 'dashA')!.mode, 'server');
  for (const id of ['dashB', 'dashC']) assert.ok(['opening', 'p2p'].includes(peer(s, id)!.mode), `${id}: ${peer(s, id)!.mode}`);
  assert.not.ok(s.peers.some((p) => p.peerId === 'mallory'), 'invalid telemetry was dropped');
  for (const p of s.peers) {
    assert.ok(MODES.includes(p.mode));
    assert.is(p.chunkCount, manifest.chunks.length);
    assert.is(p.videoId, manifest.videoId);
    assert.is(p.stale, false);
  }
  await waitFor(async () => peer(await state(ctx), 'dashB')?.mode === 'p2p', 'dashB in p2p', 10_000, 100);
});

t('GET /dashboard/events pushes the state as Server-Sent Events', async (ctx) => {
  const ac = new AbortController();
  const res = await fetch(`${ctx.stack.gatewayUrl}/dashboard/events`, { signal: ac.signal });
  try {
    assert.is(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    const events: DashboardState[] = [];
    const t0 = Date.now();
    while (events.length < 2 && Date.now() - t0 < 5000) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data) events.push(JSON.parse(data) as DashboardState);
      }
    }
    assert.ok(events.length >= 2, `got ${events.length} events in 5 s`);
    assert.ok(events[1]!.at > events[0]!.at, 'a fresh state each time');
    assert.is(events[0]!.origin.capacity, 1);
    assert.ok(events[0]!.peers.length >= 1);
  } finally {
    ac.abort();
  }
  // the page and the state are served as documented
  const page = await ctx.stack.gateway.app.inject({ method: 'GET', url: '/dashboard' });
  assert.is(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  assert.not.match(page.body, /(src|href)=["']?(https?:)?\/\//, 'no external asset');
});

t('the page in Chromium: one row per client, modes, chunk maps, totals, origin panel', async (ctx) => {
  const { manifest } = ctx;
  ctx.browser = await launchBrowser({ viewport: { width: 1400, height: 860 } });
  const page = await ctx.browser.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  const url = `${ctx.stack.gatewayUrl}/dashboard`;
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15_000 });
  await page.waitForFunction(() => (globalThis as unknown as { document: DomDoc }).document
    .querySelectorAll('[data-testid=peer-row]').length === 3, undefined, { timeout: 15_000 });
  await page.waitForFunction(() => ['total-origin', 'total-peers'].every((id) =>
    Number((globalThis as unknown as { document: DomDoc }).document.getElementById(id)?.dataset.bytes ?? 0) > 0),
  undefined, { timeout: 20_000 });

  const read = () => page.evaluate(() => {
    const document = (globalThis as unknown as { document: DomDoc }).document;
    const q = (sel: string) => document.querySelector(sel);
    return {
      rows: [...document.querySelectorAll('[data-testid=peer-row]')].map((tr) => ({
        peerId: tr.dataset.peerId ?? '',
        idText: tr.querySelector('[data-testid=peer-id]')?.textContent ?? '',
        mode: tr.querySelector('[data-testid=mode]')?.textContent ?? '',
        cells: tr.querySelectorAll('[data-testid=chunk-cell]').length,
        held: tr.querySelectorAll('[data-testid=chunk-cell].held').length,
        have: Number(tr.querySelector('[data-testid=chunk-map]')?.dataset.have ?? -1),
        wait: tr.querySelector('[data-testid=wait]')?.textContent ?? '',
      })),
      totals: Object.fromEntries(['total-origin', 'total-peers', 'total-uploaded', 'egress-total']
        .map((id) => [id, { bytes: Number(document.getElementById(id)?.dataset.bytes), text: document.getElementById(id)?.textContent ?? '' }])),
      capacity: q('[data-testid=capacity]')?.textContent,
      slotsCapacity: q('[data-testid=slots-capacity]')?.textContent,
      slotsUsed: q('[data-testid=slots-used]')?.textContent,
      conn: q('[data-testid=conn]')?.dataset.kind,
      egressLine: !!q('[data-testid=egress-line]'),
    };
  });

  const shot = async (name: string) => {
    const path = join(ctx.shots, name);
    await page.screenshot({ path, fullPage: true });
    const png = readFileSync(path);
    assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${path} is a PNG`);
    assert.ok(statSync(path).size > 10 * KiB, `${path}: ${statSync(path).size} bytes`);
    console.log(`  screenshot: ${path}`);
  };

  const check = (d: Awaited<ReturnType<typeof read>>) => {
    assert.equal(d.rows.map((r) => label(r.peerId)).sort(), [...PEERS]);
    for (const r of d.rows) {
      assert.is(r.idText, r.peerId);
      assert.ok(MODES.includes(r.mode), `${r.peerId}: mode ${r.mode}`);
      assert.is(r.cells, manifest.chunks.length, `${r.peerId}: one cell per chunk`);
      assert.is(r.held, r.have, `${r.peerId}: filled cells = chunks held`);
    }
    assert.is(d.capacity, '1');
    assert.is(d.slotsCapacity, '1');
    for (const id of ['total-origin', 'total-peers']) {
      assert.ok(d.totals[id]!.bytes > 0, `${id} > 0`);
      assert.match(d.totals[id]!.text, /\d/);
    }
    assert.is(d.conn, 'live', 'updates arrive over SSE');
  };

  const during = await read();
  check(during);
  await shot('dashboard-during.png');

  // the page follows the swarm live: every client ends up seeding every chunk
  await page.waitForFunction((n) => {
    const document = (globalThis as unknown as { document: DomDoc }).document;
    const rows = [...document.querySelectorAll('[data-testid=peer-row]')];
    return rows.length === 3 && rows.every((r) => r.dataset.mode === 'seeding' &&
      r.querySelectorAll('[data-testid=chunk-cell].held').length === n);
  }, manifest.chunks.length, { timeout: 60_000 });
  await page.waitForSelector('[data-testid=egress-line]', { timeout: 5000 });
  const after = await read();
  check(after);
  assert.ok(after.rows.every((r) => r.mode === 'seeding' && r.held === manifest.chunks.length));
  assert.ok(after.rows.every((r) => r.wait === '\u2014'), 'nobody is shown as waiting any more');
  // a slot handed to a client in the moment it finished is released by it, or expires with its lease (3 s here)
  await page.waitForFunction(() => (globalThis as unknown as { document: DomDoc }).document
    .querySelector('[data-testid=slots-used]')?.textContent === '0', undefined, { timeout: 8000 });
  await shot('dashboard-seeding.png');

  assert.ok(requests.length > 0);
  for (const r of requests) assert.ok(r.startsWith(ctx.stack.gatewayUrl + '/'), `request outside the gateway: ${r}`);
  assert.equal(problems, [], 'no console errors (CSP violations show up here)');
});

t('totals add up to what the clients report', async (ctx) => {
  const { manifest } = ctx;
  const done = await Promise.all(PEERS.map((id) => waitFor(() => ctx.clis.get(id)!.events.find((e) => e.event === 'done'),
    `${id} done`, 60_000, 100)));
  const reported = { origin: 0, peers: 0 };
  for (const d of done as unknown as Array<{ status: string; bytesBySource: Record<string, number> }>) {
    assert.is(d.status, 'complete');
    for (const [k, v] of Object.entries(d.bytesBySource)) {
      if (k === 'origin') reported.origin += v;
      else if (k.startsWith('peer:')) reported.peers += v;
    }
  }
  assert.is(reported.origin + reported.peers, PEERS.length * manifest.size, 'every client fetched the whole file once');
  // each client reports on its own clock: a receiver's report can name a block its sender's latest report does not
  // count yet, so the totals are compared once every report has caught up
  const s = await waitFor(async () => {
    const st = await state(ctx);
    return st.totals.origin === reported.origin && st.totals.peers === reported.peers &&
      st.totals.uploaded >= st.totals.peers ? st : null;
  }, 'dashboard totals equal to the clients\' own', 10_000, 200);
  const sumUploaded = s.peers.reduce((a, p) => a + p.uploadedBytes, 0);
  assert.is(s.totals.uploaded, sumUploaded);
  assert.ok(s.totals.uploaded >= s.totals.peers, `uploaded ${s.totals.uploaded} >= received from peers ${s.totals.peers}`);
  assert.ok(reported.peers > 0, 'the waiting clients got chunks from peers');
  assert.is(s.origin.egressTotal, ctx.stack.gateway.stats().chunkBytesTotal);
  assert.ok(s.origin.egressTotal >= s.totals.origin, 'the gateway sent at least what the clients kept from it');
  assert.ok(s.origin.egress.length >= 5 && s.origin.egress.some((e) => e.bytesPerSec > 0), 'egress samples every second');
  assert.ok(s.origin.egress.every((e, i, a) => i === 0 || e.t > a[i - 1]!.t), 'samples in time order');
  assert.is(s.videos.find((v) => v.videoId === manifest.videoId)?.peers, 3);
  await waitFor(async () => (await state(ctx)).origin.slots.length === 0, 'every slot released', 8000, 200);
  assert.equal(s.origin.waiting, []);
});

t.run();
