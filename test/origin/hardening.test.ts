/**
 * Admission against misuse and loss, on a real nats-server with real peer credentials: a slot held without chunk
 * traffic is reclaimed (and one in use is not), opens are rate-limited per peer, open replies do not carry the
 * manifest, and a lost admission bucket is recreated while clients are told to open again.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient, type OriginClient } from '../../actors/origin/client.js';
import {
  Buckets, encode, ErrorCodes, Subjects, type Manifest, type SlotRevoked, type SwitchyardError,
} from '../../protocol/mod.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

interface Ctx { env: TestEnv; video: Manifest }
const t = suite<Ctx>('origin hardening: idle slots, rate limits, lean open replies, a lost bucket');
t.before(async (ctx) => {
  ctx.env = await startEnv();
  await ctx.env.startOrigin({ capacity: 1, idleMs: 1500, leaseTtlMs: 30_000 });
  ctx.video = await ctx.env.publishVideo(randomBytes(600 * 1024));
});
t.after(async (ctx) => ctx.env.close());

async function peer(env: TestEnv, id: string): Promise<{ client: OriginClient; revoked: SlotRevoked[] }> {
  const { nc } = await env.connectPeer(id);
  const client = createOriginClient(nc);
  const revoked: SlotRevoked[] = [];
  client.onPush(id, { slotRevoked: (r) => revoked.push(r) });
  await nc.flush();
  return { client, revoked };
}
const held = (env: TestEnv) => env.origins[0]!.admission.snapshot().slots.filter(Boolean).map((l) => l!.sessionId);

t('an open reply names the root hash and carries no manifest', async ({ env, video }) => {
  const a = await peer(env, 'lean');
  const r = await a.client.open(video.videoId, 'lean');
  assert.is(r.rootHash, video.rootHash);
  assert.is(r.videoId, video.videoId);
  assert.not.ok('manifest' in r);
  assert.ok(new TextEncoder().encode(JSON.stringify(r)).byteLength < 1024, 'a few hundred bytes, not a manifest');
  await a.client.release(r.sessionId, 'lean');
});

t('a slot with chunk traffic is kept; one without is reclaimed and its holder told', async ({ env, video }) => {
  const busy = await peer(env, 'busy');
  const r = await busy.client.open(video.videoId, 'busy');
  assert.is(r.status, 'granted');
  // a gateway reports this session as served every 300 ms, for three idle periods
  for (let i = 0; i < 15; i++) {
    env.nc.publish(Subjects.gatewayActivity, encode({ sessions: [r.sessionId] }));
    await new Promise((res) => setTimeout(res, 300));
  }
  assert.equal(held(env), [r.sessionId], 'an active holder keeps its slot');
  assert.equal(busy.revoked, []);
  // the gateway goes quiet: within about one idle period the slot is taken back
  await waitFor(() => held(env).length === 0, 'idle slot reclaimed', 5000, 50);
  await waitFor(() => busy.revoked.length > 0, 'revocation pushed', 2000, 20);
  assert.match(busy.revoked[0]!.reason, /idle/);
  // and the session is gone: a heartbeat says so
  const e = await busy.client.heartbeat(r.sessionId, 'busy').catch((err: SwitchyardError) => err);
  assert.is((e as SwitchyardError).code, ErrorCodes.unknownSession);
});

t('opens are rate-limited per peer; other peers are still served', async ({ env, video }) => {
  const flood = await peer(env, 'flooder');
  const codes: string[] = [];
  const sessions: string[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await flood.client.open(video.videoId, 'flooder').then((x) => {
      sessions.push(x.sessionId);
      return x.status as string;
    }, (err: SwitchyardError) => err.code);
    codes.push(r);
  }
  assert.ok(codes.includes(ErrorCodes.rateLimited), codes.join(','));
  assert.ok(codes.filter((c) => c !== ErrorCodes.rateLimited).length <= 12, 'about the burst got through');
  const other = await peer(env, 'polite');
  const r = await other.client.open(video.videoId, 'polite');
  assert.ok(r.status === 'granted' || r.status === 'denied');
  await other.client.release(r.sessionId, 'polite');
  for (const s of sessions) await flood.client.release(s, 'flooder');
});

t('a lost admission bucket is recreated; its sessions are unknown and a new open works', async ({ env, video }) => {
  // the earlier tests' sessions are gone: no slot held and nobody waiting (a waiter would be served first)
  await waitFor(() => held(env).length === 0 && env.origins[0]!.admission.snapshot().waiting.length === 0,
    'no slot held, nobody waiting', 20_000, 50);
  const a = await peer(env, 'survivor');
  // a sweep finishing the earlier tests' hand-overs can hold the slot for a moment: then this open queues and
  // the slot comes with the next heartbeat
  const before = await a.client.open(video.videoId, 'survivor');
  if (before.status === 'denied') {
    await waitFor(async () => (await a.client.heartbeat(before.sessionId, 'survivor')).status === 'granted',
      'the queued open granted', 10_000, 200);
  }
  assert.equal(held(env), [before.sessionId]);
  const jsm = await jetstreamManager(env.nc);
  await jsm.streams.delete(`KV_${Buckets.admission}`);
  await waitFor(async () => {
    try {
      await jsm.streams.info(`KV_${Buckets.admission}`);
      return true;
    } catch {
      return false;
    }
  }, 'bucket recreated', 8000, 100);
  const hb = await waitFor(async () => {
    const r = await a.client.heartbeat(before.sessionId, 'survivor').then(() => 'alive', (err: SwitchyardError) => err.code);
    return r === ErrorCodes.unknownSession ? r : null;
  }, 'the lost session reported unknown', 8000, 200);
  assert.is(hb, ErrorCodes.unknownSession);
  // poll with opens, releasing any that queued, so the poll itself does not fill the wait list
  const after = await waitFor(async () => {
    const r = await a.client.open(video.videoId, 'survivor').catch(() => null);
    if (r?.status === 'denied') await a.client.release(r.sessionId, 'survivor').catch(() => {});
    return r?.status === 'granted' ? r : null;
  }, 'a new open is granted', 10_000, 400);
  assert.is(after.status, 'granted');
  assert.equal(held(env), [after.sessionId]);
});

t.run();
