/**
 * Urgent origin share end to end (issue 8 item 2), on real parts: nats-server in operator mode, an origin
 * worker, the gateway, minted peer credentials. The origin is full (capacity 1, held by another client); a
 * streaming client with a playhead gets its urgent window from the origin under urgent grants while it only
 * waits, the bytes appear in the gateway's metrics, and the gateway keeps the two kinds of grant apart and
 * refuses urgent traffic beyond its reserved share.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient, type OriginClient } from '../../actors/origin/client.js';
import { runDownload } from '../../client/download.js';
import { openPartial, partialDirFor } from '../../client/partial.js';
import { startStack, type Stack } from '../../client/stack.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { createLogger } from '../../lib/logger.js';
import { chunkLength, type Manifest, type OpenGranted, type OpenReply } from '../../protocol/mod.js';
import { waitFor } from '../helpers/env.js';

const CHUNK = 16 * 1024;
const COUNT = 24;
/** the reserved share: 8 chunks a second (and 8 chunks of burst) */
const URGENT_BPS = 8 * CHUNK;

interface Ctx {
  dir: string;
  stack: Stack;
  manifest: Manifest;
  bytes: Uint8Array;
  holder: { peerId: string; origin: OriginClient; open: OpenGranted; beat: NodeJS.Timeout };
  viewer: { peerId: string; origin: OriginClient; open: OpenReply; beat: NodeJS.Timeout };
}
const t = suite<Ctx>('watch: urgent share while the origin is full');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-urgent-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 1, leaseTtlMs: 3000, idleMs: 0,
    urgentBps: URGENT_BPS }, createLogger('urgent', 'warn'));
  ctx.bytes = new Uint8Array(randomBytes(COUNT * CHUNK - 1000));
  const chunks: string[] = [];
  for (let off = 0; off < ctx.bytes.byteLength; off += CHUNK) {
    const c = ctx.bytes.subarray(off, Math.min(off + CHUNK, ctx.bytes.byteLength));
    chunks.push(sha256Hex(c));
    await ctx.stack.store.put(sha256Hex(c), c);
  }
  ctx.manifest = buildManifest({ name: 'urgent.bin', mime: 'application/octet-stream', size: ctx.bytes.byteLength,
    chunkSize: CHUNK, chunks });
  await createOriginClient(ctx.stack.nc).publish(ctx.manifest);
  // the holder takes the only slot and keeps it (heartbeats, no chunk traffic needed: idle reclaim is off)
  const h = await ctx.stack.connectPeer({ label: 'holder' });
  const hOrigin = createOriginClient(h.nc);
  const open = await hOrigin.open(ctx.manifest.videoId, h.peerId);
  assert.is(open.status, 'granted');
  const beat = setInterval(() => void hOrigin.heartbeat(open.sessionId, h.peerId).catch(() => {}), 800);
  ctx.holder = { peerId: h.peerId, origin: hOrigin, open: open as OpenGranted, beat };
  const v = await ctx.stack.connectPeer({ label: 'viewer' });
  const vOrigin = createOriginClient(v.nc);
  const vOpen = await vOrigin.open(ctx.manifest.videoId, v.peerId);
  assert.is(vOpen.status, 'denied', 'the origin is full');
  // the viewer stays on the wait list (its urgent grants need a live session)
  ctx.viewer = { peerId: v.peerId, origin: vOrigin, open: vOpen,
    beat: setInterval(() => void vOrigin.heartbeat(vOpen.sessionId, v.peerId).catch(() => {}), 800) };
});

t.after(async (ctx) => {
  clearInterval(ctx.holder?.beat);
  clearInterval(ctx.viewer?.beat);
  await ctx.stack?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const get = (ctx: Ctx, path: string, grant: string) =>
  fetch(`${ctx.stack.gatewayUrl}${path}`, { headers: { authorization: `Bearer ${grant}` } });
const refusal = (p: Promise<unknown>) => p.then(() => 'no refusal', (e: { code?: string }) => e.code);
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

t('a streaming client without a slot gets its urgent window under urgent grants; the bytes show in the metrics', async (ctx) => {
  const { stack, manifest } = ctx;
  const c = await stack.connectPeer({ label: 'streamer' });
  const origin = createOriginClient(c.nc);
  const outPath = join(ctx.dir, 'streamed.bin');
  const partial = await openPartial(partialDirFor(outPath), manifest);
  const before = stack.gateway.stats().urgentBytesTotal;
  const run = runDownload({ videoId: manifest.videoId, peerId: c.peerId, gateway: stack.gatewayUrl, outPath,
    streaming: { urgentChunks: 2, bufferChunks: 4, playhead: 0 } }, { origin, partial, logger: createLogger('streamer', 'warn') });
  const have = () => run.snapshot().context.have;
  await waitFor(() => have()[0] && have()[1], 'the urgent window [0, 2)');
  const snap = run.snapshot();
  assert.is(snap.context.grant, null, 'no slot grant: the client is waiting');
  assert.ok(snap.hasTag('p2p'));
  const adm = stack.origins[0]!.admission.snapshot();
  assert.equal(adm.slots.map((s) => s?.peerId), [ctx.holder.peerId], 'the holder keeps the only slot');
  assert.ok(adm.waiting.some((w) => w.peerId === c.peerId), 'the streaming client is on the wait list');
  // the player moves on: each step asks for the next window at once
  for (let p = 2; p < 8; p += 2) {
    run.setPlayhead(p);
    await waitFor(() => have()[p] && have()[p + 1], `the urgent window at ${p}`, 15000);
  }
  const want = [0, 1, 2, 3, 4, 5, 6, 7].reduce((n, i) => n + chunkLength(manifest, i), 0);
  assert.is(run.snapshot().context.urgentBytes, want);
  assert.is(stack.gateway.stats().urgentBytesTotal - before, want, 'the gateway counted the urgent bytes');
  assert.ok(stack.origins[0]!.urgent.stats().grants >= 4, 'the origin counted its urgent grants');
  const metrics = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  assert.match(metrics, new RegExp(`switchyard_gateway_urgent_bytes_total ${stack.gateway.stats().urgentBytesTotal}\\b`));
  const dash = (await (await fetch(`${stack.gatewayUrl}/dashboard/state`)).json()) as { origin: { urgent: { bytes: number } } };
  assert.ok(dash.origin.urgent.bytes >= want, 'the dashboard state shows urgent bytes');
  // every chunk is verified like any other: the kept ones (written in place in `.part/data`) match the source
  const data = readFileSync(join(partialDirFor(outPath), 'data'));
  for (let i = 0; i < 8; i++) {
    const at = i * manifest.chunkSize;
    assert.is(sha256Hex(new Uint8Array(data.subarray(at, at + chunkLength(manifest, i)))), manifest.chunks[i]);
  }
  run.cancel();
  assert.is((await run.done).status, 'cancelled');
  await partial.close();
});

t('an urgent grant is no slot grant and a slot grant no urgent grant; a grant covers its chunks and bytes only', async (ctx) => {
  const { manifest, viewer, holder } = ctx;
  const id = manifest.videoId;
  const u = await viewer.origin.urgent(viewer.open.sessionId, viewer.peerId, id, [10]);
  assert.equal(u.chunks, [10]);
  assert.is(u.bytes, chunkLength(manifest, 10));
  let res = await get(ctx, `/videos/${id}/chunks/10`, u.grant);
  assert.is(res.status, 403);
  assert.is(await codeOf(res), 'grant_wrong_kind', 'urgent grant on the slot route');
  res = await get(ctx, `/videos/${id}/urgent/10`, holder.open.grant);
  assert.is(res.status, 403);
  assert.is(await codeOf(res), 'grant_wrong_kind', 'slot grant on the urgent route');
  res = await get(ctx, `/videos/${id}/urgent/11`, u.grant);
  assert.is(res.status, 403, 'a chunk the grant does not name');
  await res.body?.cancel();
  res = await get(ctx, `/videos/${id}/urgent/10`, u.grant);
  assert.is(res.status, 200);
  assert.is(sha256Hex(new Uint8Array(await res.arrayBuffer())), manifest.chunks[10]);
  res = await get(ctx, `/videos/${id}/urgent/10`, u.grant);
  assert.is(res.status, 429, 'the grant\'s byte budget is spent');
  assert.is(await codeOf(res), 'quota_exceeded');
  // the origin checks the session is the sender's, and the grant size
  assert.is(await refusal(viewer.origin.urgent(holder.open.sessionId, viewer.peerId, id, [1])), 'unknown_session');
  assert.is(await refusal(viewer.origin.urgent(viewer.open.sessionId, viewer.peerId, id, [0, 1, 2, 3, 4])), 'urgent_refused');
});

t('urgent traffic beyond the reserved share is refused with 429 urgent_share_spent', async (ctx) => {
  const { manifest, viewer, stack } = ctx;
  const refusedBefore = stack.gateway.stats().urgentRefusedTotal;
  let served = 0;
  let spent: Response | null = null;
  // far more than the share (8 chunks of burst + 8 a second) asked back to back
  for (let g = 0; g < 10 && !spent; g++) {
    const u = await viewer.origin.urgent(viewer.open.sessionId, viewer.peerId, manifest.videoId, [12, 13, 14, 15]);
    for (const i of u.chunks) {
      const res = await get(ctx, `/videos/${manifest.videoId}/urgent/${i}`, u.grant);
      if (res.status === 429) {
        spent = res;
        break;
      }
      assert.is(res.status, 200);
      await res.arrayBuffer();
      served++;
    }
  }
  assert.ok(spent, `the share refused at some point (served ${served} chunks first)`);
  assert.is(await codeOf(spent!), 'urgent_share_spent');
  assert.ok(served <= 24, `no more than the share let through (${served} chunks)`);
  assert.ok(stack.gateway.stats().urgentRefusedTotal > refusedBefore, 'refusals are counted');
});

t.run();
