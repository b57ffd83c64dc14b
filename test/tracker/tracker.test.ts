import { Kvm, type KV } from '@nats-io/kv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createTracker, createTrackerClient, type Tracker, type TrackerClient, type TrackerInit,
} from '../../actors/tracker/mod.js';
import { systemClock } from '../../lib/clock.js';
import {
  Buckets, decodeBitfield, encodeBitfield, ErrorCodes, Subjects, TrackerVerbs, type Announce, type AnnounceReply,
  type SwitchyardError,
} from '../../protocol/mod.js';
import type { PeerAnnounce } from '../../actors/tracker/client.js';
import { openLinkBook, type LinkBook } from '../../actors/signal/links.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const N = 8;

function ann(peerId: string, have: number[], extra: Partial<Announce> = {}, count = N): PeerAnnounce {
  const bits = new Array<boolean>(count).fill(false);
  for (const i of have) bits[i] = true;
  return { peerId, chunkCount: count, bitfield: encodeBitfield(bits), uploads: true, uploadBps: 0, ...extra };
}
const ids = (r: AnnounceReply) => r.peers.map((p) => p.peerId);
const sorted = (xs: string[]) => [...xs].sort();

async function rejects(p: Promise<unknown>, code: string): Promise<SwitchyardError> {
  try {
    await p;
  } catch (e) {
    assert.is((e as SwitchyardError).code, code, (e as Error).message);
    return e as SwitchyardError;
  }
  assert.unreachable(`expected a ${code} error`);
  throw new Error('unreachable');
}

interface Ctx { env: TestEnv; trackers: Tracker[]; client: TrackerClient; kv: KV; links: LinkBook }

async function startTracker(ctx: Ctx, init: TrackerInit = {}): Promise<Tracker> {
  const i = ctx.trackers.length;
  const t = await createTracker({ workerId: `tracker-${i}`, ...init },
    { nc: await ctx.env.connect(`tracker-${i}`), clock: systemClock, logger: ctx.env.logger.child(`tracker-${i}`) });
  await t.start();
  ctx.trackers.push(t);
  return t;
}
async function setup(ctx: Ctx) {
  ctx.env = await startEnv();
  ctx.trackers = [];
  ctx.client = createTrackerClient(ctx.env.nc);
  ctx.kv = await new Kvm(ctx.env.nc).create(Buckets.swarm, { history: 1 });
  ctx.links = await openLinkBook(ctx.env.nc);
}
async function teardown(ctx: Ctx) {
  for (const t of ctx.trackers.splice(0)) await t.stop().catch(() => {});
  await ctx.env.close();
}
const inKv = async (kv: KV, videoId: string, peerId: string) => {
  const e = await kv.get(`${videoId}.${peerId}`);
  return !!e && e.operation === 'PUT';
};

// ---------------------------------------------------------------------------------------------------------------
const t = suite<Ctx>('tracker: listings, haves, leave, reports, garbage (real nats-server)');
t.before(async (ctx) => {
  await setup(ctx);
  await startTracker(ctx);
});
t.after(teardown);

t('announce lists the others rarest-first, without itself or non-uploaders, at most `want`', async ({ client }) => {
  const v = 'v-list';
  await client.announce(v, ann('rare', [0]));
  for (const p of ['c1', 'c2', 'c3']) await client.announce(v, ann(p, [1, 2]));
  await client.announce(v, ann('leech', [3, 4, 5], { uploads: false }));
  const r = await client.announce(v, ann('me', []));
  assert.is(r.swarmSize, 6);
  assert.is(r.intervalMs, 5000);
  assert.equal(sorted(ids(r)), ['c1', 'c2', 'c3', 'rare']);
  // chunk 0 has one holder (value 1); chunks 1 and 2 have three (value 1/3 + 1/3)
  assert.is(r.peers[0]!.peerId, 'rare');
  assert.is(r.peers[0]!.score, 1);
  assert.equal(r.peers[0], { peerId: 'rare', have: 1, useful: 1, complete: false, uploadBps: 0, score: 1, offer: true });
  for (const p of r.peers.slice(1)) {
    assert.is(p.useful, 2);
    assert.ok(Math.abs(p.score - 2 / 3) < 1e-9);
  }
  const two = await client.announce(v, ann('me', [], { want: 2 }));
  assert.is(two.peers.length, 2);
  assert.is(two.peers[0]!.peerId, 'rare');
  // the non-uploader still gets listings
  const l = await client.announce(v, ann('leech', [3, 4, 5], { uploads: false }));
  assert.ok(ids(l).includes('me'));
  assert.not.ok(ids(l).includes('leech'));
});

t('of two peers that list each other, only the later joiner is told to offer (no crossed offers)', async ({ client }) => {
  const v = 'v-offer';
  const first = await client.announce(v, ann('early', [0]));
  assert.equal(ids(first), []);
  const later = await client.announce(v, ann('late', [1]));
  assert.equal(later.peers.map((p) => [p.peerId, p.offer]), [['early', true]]);
  // the early peer's next announce lists the later one, which will offer: it must wait
  const again = await client.announce(v, ann('early', [0]));
  assert.equal(again.peers.map((p) => [p.peerId, p.offer]), [['late', false]]);
  // re-announcing keeps the join time: still the same answers, whatever the order of announces
  const lateAgain = await client.announce(v, ann('late', [1, 2]));
  assert.equal(lateAgain.peers.map((p) => [p.peerId, p.offer]), [['early', true]]);
});

t('have merges bits into later listings; unknown peers and out-of-range indexes are rejected', async ({ client }) => {
  const v = 'v-have';
  await client.announce(v, ann('h1', [0]));
  await client.have(v, 'h1', [2, 5]);
  const r = await client.announce(v, ann('asker', [0]));
  assert.equal(r.peers, [{ peerId: 'h1', have: 3, useful: 2, complete: false, uploadBps: 0, score: 2, offer: true }]);
  await rejects(client.have(v, 'nobody', [1]), ErrorCodes.unknownSession);
  await rejects(client.have(v, 'h1', [N]), ErrorCodes.badRequest);
});

t('concurrent have updates from two clients all land (compare-and-set, no lost update)', async ({ env, client, kv }) => {
  const v = 'v-conc';
  const count = 64;
  await client.announce(v, ann('busy', [], {}, count));
  const other = createTrackerClient(await env.connect('second-client'));
  const idx = Array.from({ length: count }, (_, i) => i);
  await Promise.all(idx.map((i) => (i % 2 ? client : other).have(v, 'busy', [i])));
  const e = await kv.get(`${v}.busy`);
  const stored = JSON.parse(e!.string()) as { bitfield: string; complete: boolean };
  assert.ok(decodeBitfield(stored.bitfield, count).every(Boolean));
  assert.ok(stored.complete);
  const r = await client.announce(v, ann('late', [], {}, count));
  assert.equal(r.peers.map((p) => [p.have, p.complete]), [[count, true]]);
});

t('leave removes the peer from listings and from the bucket', async ({ client, kv }) => {
  const v = 'v-leave';
  await client.announce(v, ann('stay', [0]));
  await client.announce(v, ann('go', [1]));
  assert.equal(sorted(ids(await client.announce(v, ann('me', [])))), ['go', 'stay']);
  await client.leave(v, 'go');
  const r = await client.announce(v, ann('me', []));
  assert.equal(ids(r), ['stay']);
  assert.is(r.swarmSize, 2);
  assert.not.ok(await inKv(kv, v, 'go'));
  await client.leave(v, 'go'); // idempotent
});

t('reports: only over a negotiated link; hidden from the reporter, from everyone after two reporters; self-reports rejected', async ({ client, trackers, links }) => {
  const v = 'v-rep';
  for (const p of ['r1', 'r2', 'r3', 'r4']) await client.announce(v, ann(p, [0]));
  // no link between r1 and r2 was negotiated (the relay records answers): the report counts for nothing
  await rejects(client.report(v, 'r1', 'r2', 'never talked'), ErrorCodes.badRequest);
  assert.equal(trackers[0]!.snapshot(v).find((p) => p.peerId === 'r2')!.reports, undefined);
  for (const [a, b] of [['r1', 'r2'], ['r2', 'r3'], ['r1', 'bad']] as const) await links.record(v, a, b);
  await client.report(v, 'r1', 'bad', 'no such peer: a moot report is fine');
  await client.report(v, 'r1', 'r2', 'hash mismatch');
  await client.report(v, 'r1', 'r2', 'again'); // deduplicated
  assert.not.ok(ids(await client.announce(v, ann('r1', [0]))).includes('r2'));
  assert.ok(ids(await client.announce(v, ann('r3', [0]))).includes('r2'));
  assert.equal(trackers[0]!.snapshot(v).find((p) => p.peerId === 'r2')!.reports, ['r1']);
  await client.report(v, 'r3', 'r2', 'hash mismatch');
  // a re-announce does not wash the reports away
  await client.announce(v, ann('r2', [0]));
  for (const p of ['r1', 'r3', 'r4']) assert.not.ok(ids(await client.announce(v, ann(p, [0]))).includes('r2'), p);
  await rejects(client.report(v, 'r4', 'r4', 'me'), ErrorCodes.badRequest);
  await rejects(client.report(v, 'stranger', 'r4', 'not a member'), ErrorCodes.unknownSession);
});

t('garbage gets typed error replies and the tracker keeps answering', async ({ env, client, trackers }) => {
  const v = 'v-junk';
  const raw = async (subject: string, data: Uint8Array) => {
    const m = await env.nc.request(subject, data, { timeout: 5000 });
    return (JSON.parse(new TextDecoder().decode(m.data)) as { error?: { code: string } }).error?.code;
  };
  const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  const announce = Subjects.tracker(v, TrackerVerbs.announce, 'g');
  const { peerId: _g, ...body } = ann('g', [0]);
  assert.is(await raw(announce, new TextEncoder().encode('{"chunkCount": nope')), ErrorCodes.badRequest);
  assert.is(await raw(announce, new Uint8Array(65 * 1024).fill(0x20)), ErrorCodes.tooLarge);
  assert.is(await raw(announce, enc({ ...body, extra: 1 })), ErrorCodes.badRequest);
  // a peer id in the body is refused: the sender is the subject's last token
  assert.is(await raw(announce, enc({ ...body, peerId: 'someone-else' })), ErrorCodes.badRequest);
  assert.is(await raw('sy.tracker.x~y.announce.g', enc(body)), ErrorCodes.badRequest);
  assert.is(await raw(`sy.tracker.${v}.dance.g`, enc(body)), ErrorCodes.badRequest);
  assert.is(await raw(Subjects.tracker(v, TrackerVerbs.have, 'g'), enc({ indexes: [-1] })), ErrorCodes.badRequest);
  // bitfield of the wrong length, bits beyond chunkCount, non-canonical base64
  await rejects(client.announce(v, { ...ann('g', [0]), bitfield: 'AAA=' }), ErrorCodes.badRequest);
  await rejects(client.announce(v, ann('g', [0], { bitfield: encodeBitfield(new Array<boolean>(16).fill(false)) })), ErrorCodes.badRequest);
  await rejects(client.announce(v, { ...ann('g', [], {}, 5), bitfield: Buffer.from([0x01]).toString('base64') }), ErrorCodes.badRequest);
  await rejects(client.announce(v, { ...ann('g', [0]), bitfield: 'gA' }), ErrorCodes.badRequest);
  // a re-announce with another chunk count replaces the entry: only the peer itself can announce as itself,
  // so refusing it would lock the peer out of its own swarm
  await client.announce(v, ann('g', [0]));
  await client.announce(v, ann('g', [0], {}, 16));
  assert.equal(trackers[0]!.snapshot(v).find((p) => p.peerId === 'g')?.chunkCount, 16);
  await client.announce(v, ann('g', [0]));
  // the client refuses bad ids before sending
  await rejects(client.announce('x.y', ann('g', [0])), ErrorCodes.badRequest);
  const r = await client.announce(v, ann('g2', []));
  assert.equal(ids(r), ['g']);
});

// ---------------------------------------------------------------------------------------------------------------
const ex = suite<Ctx>('tracker: stale peers expire');
ex.before(async (ctx) => {
  await setup(ctx);
  await startTracker(ctx, { intervalMs: 200, sweepIntervalMs: 100 });
});
ex.after(teardown);

ex('a peer that stops announcing leaves listings and the bucket; one that keeps announcing stays', async ({ client, kv }) => {
  const v = 'v-stale';
  await client.announce(v, ann('silent', [0]));
  await client.announce(v, ann('alive', [1]));
  const r = await client.announce(v, ann('me', []));
  assert.is(r.intervalMs, 200);
  assert.equal(sorted(ids(r)), ['alive', 'silent']);
  const keep = setInterval(() => {
    void client.announce(v, ann('alive', [1])).catch(() => {});
  }, 100);
  try {
    await waitFor(async () => !ids(await client.announce(v, ann('me', []))).includes('silent'), 'silent peer unlisted', 5000, 50);
    await waitFor(async () => !(await inKv(kv, v, 'silent')), 'silent peer swept from KV', 5000, 50);
    const after = await client.announce(v, ann('me', []));
    assert.equal(ids(after), ['alive']);
    assert.is(after.swarmSize, 2);
    assert.ok(await inKv(kv, v, 'alive'));
  } finally {
    clearInterval(keep);
  }
});

// ---------------------------------------------------------------------------------------------------------------
const wk = suite<Ctx>('tracker: two workers share state; state survives a restart');
wk.before(async (ctx) => {
  await setup(ctx);
  await startTracker(ctx);
  await startTracker(ctx);
});
wk.after(teardown);

const SWARM = Array.from({ length: 8 }, (_, i) => `w${i}`);

wk('announces through either worker are listed by both', async ({ client, trackers }) => {
  const v = 'v-workers';
  for (const [i, p] of SWARM.entries()) await client.announce(v, ann(p, [i]));
  // which worker answers is NATS's choice; after the watch delivers, every answer must be the full swarm
  await waitFor(async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => client.announce(v, ann('me', []))));
    return rs.every((r) => r.peers.length === SWARM.length && r.swarmSize === SWARM.length + 1);
  }, 'consistent listings', 5000, 50);
  const rs = await Promise.all(Array.from({ length: 30 }, () => client.announce(v, ann('me', []))));
  for (const r of rs) assert.equal(sorted(ids(r)), SWARM);
  // 49+ announces spread over the queue group: both workers answered some (chance of not: ~2^-48)
  for (const tr of trackers) assert.ok((tr.served.announce ?? 0) > 0, `${tr.workerId} answered nothing`);
  await waitFor(() => trackers.every((tr) => tr.snapshot(v).length === SWARM.length + 1), 'both mirrors complete');
});

wk('concurrent haves through both workers all land', async ({ env, client, kv }) => {
  const v = 'v-workers-have';
  const count = 48;
  await client.announce(v, ann('busy', [], {}, count));
  const other = createTrackerClient(await env.connect('second-client'));
  await Promise.all(Array.from({ length: count }, (_, i) => (i % 2 ? client : other).have(v, 'busy', [i])));
  const e = await kv.get(`${v}.busy`);
  assert.ok(decodeBitfield((JSON.parse(e!.string()) as { bitfield: string }).bitfield, count).every(Boolean));
});

wk('a restarted tracker still lists the previously announced peers', async (ctx) => {
  const v = 'v-workers';
  for (const tr of ctx.trackers.splice(0)) await tr.stop();
  await rejects(ctx.client.announce(v, ann('me', [])), ErrorCodes.unavailable);
  const fresh = await startTracker(ctx);
  assert.is(fresh.snapshot(v).length, SWARM.length + 1);
  const r = await ctx.client.announce(v, ann('me', []));
  assert.equal(sorted(ids(r)), SWARM);
  assert.is(r.peers.find((p) => p.peerId === 'w3')!.have, 1);
});

t.run();
ex.run();
wk.run();
