import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient, type OriginClient } from '../../actors/origin/mod.js';
import {
  encode, ErrorCodes, PeerEvents, SlotOffer, Subjects, OriginVerbs, CatalogVerbs, decode, type Manifest,
  type OpenReply, type SwitchyardError,
} from '../../protocol/mod.js';
import { startOriginRole } from '../../infra/roles.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const t = suite<{ env: TestEnv; client: OriginClient; video: Manifest }>('origin admission (real nats-server)');

t.before(async (ctx) => {
  ctx.env = await startEnv();
  ctx.client = createOriginClient(ctx.env.nc);
  await ctx.env.startOrigin({ capacity: 2, leaseTtlMs: 1500 });
  ctx.video = await ctx.env.publishVideo(randomBytes(600 * 1024));
});
t.after(async ({ env }) => env.close());

async function drain(client: OriginClient, replies: OpenReply[], peers: string[]) {
  await Promise.all(replies.map((r, i) => client.release(r.sessionId, peers[i]!)));
}

t('capacity 2: five opens give two grants and three denials with the manifest and positions 1..3', async ({ env, client, video }) => {
  const peers = ['p1', 'p2', 'p3', 'p4', 'p5'];
  const replies: OpenReply[] = [];
  for (const p of peers) replies.push(await client.open(video.videoId, p));
  assert.equal(replies.map((r) => r.status), ['granted', 'granted', 'denied', 'denied', 'denied']);
  for (const r of replies) {
    assert.is(r.rootHash, video.rootHash);
    assert.not.ok('manifest' in r, 'open replies do not carry the manifest again');
  }
  assert.equal(replies.slice(2).map((r) => (r.status === 'denied' ? r.position : -1)), [1, 2, 3]);
  const snap = env.origins[0]!.admission.snapshot();
  assert.is(snap.slots.filter(Boolean).length, 2);
  assert.is(snap.waiting.length, 3);
  await drain(client, replies, peers);
});

t('release hands the slot to the longest-waiting client by push, and its heartbeat then reports granted', async ({ env, client, video }) => {
  const a = await client.open(video.videoId, 'qa');
  const b = await client.open(video.videoId, 'qb');
  const offers: SlotOffer[] = [];
  const unsubC = client.onPush('qc', { slotOffered: (o) => offers.push(o) });
  const unsubD = client.onPush('qd', { slotOffered: () => assert.unreachable('qd is second in line') });
  await env.nc.flush();
  const c = await client.open(video.videoId, 'qc');
  const d = await client.open(video.videoId, 'qd');
  assert.is(c.status, 'denied');
  assert.is(d.status, 'denied');
  const hbWaiting = await client.heartbeat(c.sessionId, 'qc');
  assert.equal(hbWaiting, { status: 'waiting', position: 1 });
  await client.release(a.sessionId, 'qa');
  const offer = await waitFor(() => offers[0], 'slot offer push');
  assert.is(offer.sessionId, c.sessionId);
  assert.is(offer.videoId, video.videoId);
  const hb = await client.heartbeat(c.sessionId, 'qc');
  assert.is(hb.status, 'granted');
  const hbD = await client.heartbeat(d.sessionId, 'qd');
  assert.equal(hbD, { status: 'waiting', position: 1 });
  unsubC();
  unsubD();
  await drain(client, [b, c, d], ['qb', 'qc', 'qd']);
});

t('a holder that stops heartbeating loses its slot within the lease expiry, to the next waiter', async ({ client, video }) => {
  const a = await client.open(video.videoId, 'ra');
  const b = await client.open(video.videoId, 'rb');
  const c = await client.open(video.videoId, 'rc');
  assert.is(c.status, 'denied');
  const started = Date.now();
  // keep b and c alive; a goes silent
  const keep = setInterval(() => {
    void client.heartbeat(b.sessionId, 'rb').catch(() => {});
    void client.heartbeat(c.sessionId, 'rc').catch(() => {});
  }, 300);
  try {
    await waitFor(async () => (await client.heartbeat(c.sessionId, 'rc')).status === 'granted', 'waiter granted', 5000, 100);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1500 + 1000, `slot came back after ${elapsed} ms`);
    try {
      await client.heartbeat(a.sessionId, 'ra');
      assert.unreachable('expired session must be unknown');
    } catch (err) {
      assert.is((err as SwitchyardError).code, ErrorCodes.unknownSession);
    }
  } finally {
    clearInterval(keep);
  }
  await drain(client, [b, c], ['rb', 'rc']);
});

t('a session cannot be renewed or released by another peer id', async ({ client, video }) => {
  const a = await client.open(video.videoId, 'sa');
  try {
    await client.heartbeat(a.sessionId, 'intruder');
    assert.unreachable('must reject');
  } catch (err) {
    assert.is((err as SwitchyardError).code, ErrorCodes.unknownSession);
  }
  assert.equal(await client.release(a.sessionId, 'intruder'), { released: false });
  assert.equal(await client.release(a.sessionId, 'sa'), { released: true });
});

t('malformed, oversized and unknown requests get typed errors and the service keeps answering', async ({ env, client, video }) => {
  const raw = async (subject: string, data: Uint8Array) => {
    const m = await env.nc.request(subject, data, { timeout: 2000 });
    return JSON.parse(new TextDecoder().decode(m.data)) as { error?: { code: string } };
  };
  const open = Subjects.origin(OriginVerbs.open, 'x');
  assert.is((await raw(open, new TextEncoder().encode('not json{'))).error?.code, ErrorCodes.badRequest);
  assert.is((await raw(open, new Uint8Array([0xff, 0xfe, 0x00]))).error?.code, ErrorCodes.badRequest);
  assert.is((await raw(open, encode({}))).error?.code, ErrorCodes.badRequest);
  assert.is((await raw(open, encode({ videoId: '../../etc' }))).error?.code, ErrorCodes.badRequest);
  // a peer id in the body is refused: identity comes from the subject only
  assert.is((await raw(open, encode({ videoId: video.videoId, peerId: 'x' }))).error?.code, ErrorCodes.badRequest);
  assert.is((await raw(open, encode({ videoId: video.videoId, extra: 1 }))).error?.code, ErrorCodes.badRequest);
  assert.is((await raw(open, encode({ videoId: 'vdoesnotexist' }))).error?.code, ErrorCodes.unknownVideo);
  assert.is((await raw(open, randomBytes(100 * 1024))).error?.code, ErrorCodes.tooLarge);
  assert.is((await raw(Subjects.catalog(CatalogVerbs.publish), encode({ manifest: { ...video, size: 1 } }))).error?.code,
    ErrorCodes.badRequest);
  // still serving
  const ok = await client.open(video.videoId, 'after-garbage');
  assert.is(ok.status, 'granted');
  await client.release(ok.sessionId, 'after-garbage');
  const list = await client.list();
  assert.ok(list.some((v) => v.videoId === video.videoId));
});

t('two origin workers in one queue group share one global capacity', async ({ env, client, video }) => {
  const second = await env.startOrigin({ capacity: 2, leaseTtlMs: 1500 });
  const first = env.origins[0]!;
  const before = [first.served.open ?? 0, second.served.open ?? 0];
  const peers = Array.from({ length: 20 }, (_, i) => `w${i}`);
  const replies = await Promise.all(peers.map((p) => client.open(video.videoId, p)));
  assert.is(replies.filter((r) => r.status === 'granted').length, 2);
  assert.is(replies.filter((r) => r.status === 'denied').length, 18);
  const positions = replies.flatMap((r) => (r.status === 'denied' ? [r.position] : [])).sort((x, y) => x - y);
  assert.ok(positions[0] === 1, 'someone is first in line');
  assert.ok((first.served.open ?? 0) > before[0]!, 'first worker served opens');
  assert.ok((second.served.open ?? 0) > before[1]!, 'second worker served opens');
  // a slot freed through one worker goes to the head of the shared wait list
  const granted = replies.findIndex((r) => r.status === 'granted');
  const head = replies.findIndex((r) => r.status === 'denied' && r.position === 1);
  const offers: SlotOffer[] = [];
  const sub = env.nc.subscribe(Subjects.peer(peers[head]!, PeerEvents.slotOffered), {
    callback: (_e, m) => void offers.push(decode(SlotOffer, m.data)),
  });
  await env.nc.flush();
  await client.release(replies[granted]!.sessionId, peers[granted]!);
  await waitFor(() => offers.length > 0, 'offer to head of line');
  sub.unsubscribe();
  await drain(client, replies, peers);
  await second.stop();
  env.origins.pop();
});

t('a worker that leaves answers every request the queue group routed to it before it goes', async ({ env, video }) => {
  const leaving = await startOriginRole({ natsUrl: env.nats.url, auth: env.nats.auth, logger: env.logger.child('leaving') },
    { workerId: 'leaving', capacity: 2, leaseTtlMs: 1500, sweepIntervalMs: 100, grantSecret: env.grantSecret });
  // short enough that a request dropped by the leaving worker shows as a failure, long enough for a loaded machine
  const quick = createOriginClient(env.nc, { timeoutMs: 2000 });
  const peers = Array.from({ length: 24 }, (_, i) => `leave${i}`);
  const sessions = await Promise.all(peers.map(async (p) => (await quick.open(video.videoId, p)).sessionId));
  const failures: string[] = [];
  let running = true;
  // every peer beats four times a second (within the per-peer limit) from before the leave to after it
  const loops = peers.map(async (p, i) => {
    while (running) {
      await quick.heartbeat(sessions[i]!, p).catch((err: SwitchyardError) => failures.push(`${p}: ${err.code} ${err.message}`));
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  await waitFor(() => (leaving.service.served.heartbeat ?? 0) >= 20, 'the leaving worker answers heartbeats');
  // and a burst the server has routed (flushed) but the leaving worker has not answered yet when it leaves
  const burst = peers.map((p, i) => quick.heartbeat(sessions[i]!, p)
    .catch((err: SwitchyardError) => failures.push(`${p} (burst): ${err.code} ${err.message}`)));
  await env.nc.flush();
  await leaving.stop();
  await Promise.all(burst);
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await Promise.all(loops);
  assert.equal(failures, [], 'no request lost or answered wrongly while a worker left');
  await Promise.all(sessions.map((s, i) => quick.release(s, peers[i]!)));
});

t.run();
