/**
 * Turns at the origin (swarm-aware, more sessions than slots), on a real nats-server: each holder is told its
 * share of the video, a holder that yields (release with `park`) keeps its session parked on the wait list, the
 * slot goes to the next waiter that had no turn yet, and a parked session is offered a slot again only once it
 * says it needs one. Under server-first nothing of this applies.
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient, type OriginClient } from '../../actors/origin/mod.js';
import type { Manifest, SlotOffer } from '../../protocol/mod.js';
import { granted, startEnv, waitFor, type TestEnv } from '../helpers/env.js';

type Ctx = { env: TestEnv; client: OriginClient; video: Manifest };

/** A suite on its own nats-server with one swarm-aware origin of `capacity` slots and a 1 MiB video. */
function turnsSuite(name: string, capacity: number) {
  const s = suite<Ctx>(name);
  s.before(async (ctx) => {
    ctx.env = await startEnv();
    ctx.client = createOriginClient(ctx.env.nc);
    await ctx.env.startOrigin({ capacity, leaseTtlMs: 3000, policy: 'swarm-aware' });
    ctx.video = await ctx.env.publishVideo(randomBytes(1024 * 1024), { chunkSize: 64 * 1024 });
  });
  s.after(async ({ env }) => env.close());
  return s;
}

const t = turnsSuite('origin turns (real nats-server)', 1);

t('a round of turns: shares that add up to the video, parked holders, the slot to whoever had no turn', async ({ env, client, video }) => {
  const offers = new Map<string, SlotOffer[]>();
  const unsubs = ['ta', 'tb', 'tc'].map((p) => client.onPush(p, { slotOffered: (o) => offers.set(p, [...(offers.get(p) ?? []), o]) }));
  await env.nc.flush();
  const a = granted(await client.open(video.videoId, 'ta'));
  assert.is(a.lease.turnBytes, undefined, 'nobody waits: no turn');
  const b = await client.open(video.videoId, 'tb');
  const c = await client.open(video.videoId, 'tc');
  assert.equal([b.status, c.status], ['denied', 'denied']);

  // the holder admitted before anyone waited is told its turn by push, and by its heartbeats
  const told = await waitFor(() => offers.get('ta')?.at(-1)?.lease.turnBytes, 'turn pushed to the first holder');
  const beat = await client.heartbeat(a.sessionId, 'ta');
  assert.is(beat.status, 'granted');
  const first = beat.status === 'granted' ? beat.lease.turnBytes ?? 0 : 0;
  assert.ok(first > 0 && first <= told, `first turn ${first} B (pushed ${told} B)`);

  // yield: a parked waiter now, and b (no turn yet) gets the slot
  assert.equal(await client.release(a.sessionId, 'ta', { park: true }), { released: true });
  const parked = await client.heartbeat(a.sessionId, 'ta');
  assert.equal(parked.status, 'waiting');
  assert.is(parked.status === 'waiting' && parked.parked, true);
  const offerB = await waitFor(() => offers.get('tb')?.[0], 'slot offered to b');
  assert.is(offerB.sessionId, b.sessionId);
  const second = offerB.lease.turnBytes ?? 0;
  assert.ok(second > first, `graded: the second turn (${second} B) is longer than the first (${first} B)`);

  // b yields; c, the last one without a turn, gets it: the rest, until the gateway says nothing is left unsent
  await client.release(b.sessionId, 'tb', { park: true });
  const offerC = await waitFor(() => offers.get('tc')?.[0], 'slot offered to c');
  const third = offerC.lease.turnBytes ?? 0;
  assert.is(third, video.size, 'the last turn of the round is the rest of the video');
  // the graded shares before it: k² of 1 + 4 + 9, 1/14 and 4/14 of the video (k = 1, 2 of n = 3), 9/14 left over
  assert.ok(Math.abs(first - video.size / 14) <= 1, `the first turn is 1/14: ${first} of ${video.size}`);
  assert.ok(Math.abs(second - (4 * video.size) / 14) <= 1, `the second turn is 4/14: ${second} of ${video.size}`);

  // c yields too: the slot stays free; parked sessions that need nothing are not offered it
  await client.release(c.sessionId, 'tc', { park: true });
  await new Promise((r) => setTimeout(r, 500));
  assert.is(env.origins[0]!.admission.snapshot().slots.filter(Boolean).length, 0, 'no parked session was offered the slot');

  // a says it needs the origin (its peers lack chunks): offered the slot again
  const before = offers.get('ta')?.length ?? 0;
  await client.heartbeat(a.sessionId, 'ta', { need: true });
  await waitFor(() => (offers.get('ta')?.length ?? 0) > before, 'slot offered to the needy parked session');
  assert.is((await client.heartbeat(a.sessionId, 'ta')).status, 'granted');

  for (const u of unsubs) u();
  for (const [r, p] of [[a, 'ta'], [b, 'tb'], [c, 'tc']] as const) await client.release(r.sessionId, p);
});

t('a park by someone who holds no slot changes nothing; a parked session can still leave for good', async ({ env, client, video }) => {
  const a = granted(await client.open(video.videoId, 'ua'));
  const b = await client.open(video.videoId, 'ub');
  assert.equal(await client.release(b.sessionId, 'ub', { park: true }), { released: false }, 'a waiter has no slot to yield');
  assert.equal(await client.release(a.sessionId, 'someone-else', { park: true }), { released: false }, 'not its session');
  assert.is((await client.heartbeat(a.sessionId, 'ua')).status, 'granted');
  await client.release(a.sessionId, 'ua', { park: true });
  await client.release(a.sessionId, 'ua');
  await waitFor(() => env.origins[0]!.admission.snapshot().waiting.every((w) => w.sessionId !== a.sessionId), 'parked entry gone');
  await client.release(b.sessionId, 'ub');
});

t.run();

const t2 = turnsSuite('origin turns with two slots (real nats-server)', 2);

t2('the last turns run side by side: once nobody waits for a first turn, each holder is told the rest', async ({ client, video }) => {
  const offers = new Map<string, SlotOffer[]>();
  const unsubs = ['va', 'vb', 'vc', 'vd'].map((p) => client.onPush(p, { slotOffered: (o) => offers.set(p, [...(offers.get(p) ?? []), o]) }));
  const a = granted(await client.open(video.videoId, 'va'));
  const b = granted(await client.open(video.videoId, 'vb'));
  const c = await client.open(video.videoId, 'vc');
  const d = await client.open(video.videoId, 'vd');
  assert.equal([c.status, d.status], ['denied', 'denied']);
  await client.release(a.sessionId, 'va', { park: true });
  const offerC = await waitFor(() => offers.get('vc')?.[0], 'slot offered to c');
  assert.ok((offerC.lease.turnBytes ?? 0) < video.size, 'd still waits for a first turn: c gets a share, not the rest');
  await client.release(b.sessionId, 'vb', { park: true });
  const offerD = await waitFor(() => offers.get('vd')?.[0], 'slot offered to d');
  assert.is(offerD.lease.turnBytes, video.size, 'nobody waits for a first turn after d: the rest of the video');
  // c, still holding, hears it at its next beat: its turn is one of the last too
  const beat = await client.heartbeat(offerC.sessionId, 'vc');
  assert.is(beat.status === 'granted' ? beat.lease.turnBytes : undefined, video.size, 'c is told the rest as well');
  for (const u of unsubs) u();
  for (const [r, p] of [[a, 'va'], [b, 'vb'], [c, 'vc'], [d, 'vd']] as const) await client.release(r.sessionId, p);
});

t2.run();
