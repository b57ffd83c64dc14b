/**
 * Strangers against the tracker: fresh ids that never talked to the only seed report it, a third stranger tries
 * to make it leave and to re-announce it with a conflicting chunk count. None of it hides the seed from a fourth
 * peer. Real nats-server in operator mode, real tracker and relay, peers with minted credentials.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalClient, type SignalRelay } from '../../actors/signal/mod.js';
import { createTrackerClient, type PeerAnnounce, type Tracker } from '../../actors/tracker/mod.js';
import { encodeBitfield, ErrorCodes, Subjects, TrackerVerbs, encode, type SwitchyardError } from '../../protocol/mod.js';
import { startEnv, type TestEnv } from '../helpers/env.js';
import { expectViolation, watchViolations } from '../helpers/violations.js';
import { realSdp, type RealSdp } from '../signal/samples.js';

const V = 'vsecure';
const N = 16;
const ann = (peerId: string, have: number[], count = N): PeerAnnounce => {
  const bits = new Array<boolean>(count).fill(false);
  for (const i of have) bits[i] = true;
  return { peerId, chunkCount: count, bitfield: encodeBitfield(bits), uploads: true, uploadBps: 0 };
};
const all = Array.from({ length: N }, (_, i) => i);

interface Ctx { env: TestEnv; tracker: Tracker; relay: SignalRelay; sdp: RealSdp }
const t = suite<Ctx>('security: strangers cannot hide the only seed');
t.before(async (ctx) => {
  ctx.env = await startEnv();
  ctx.sdp = await realSdp();
  ({ tracker: ctx.tracker, relay: ctx.relay } = await ctx.env.startSwarmServices());
});
t.after(async (ctx) => {
  await ctx.env.close();
  ctx.sdp.close();
});

t('two reporters without a link, a forged leave and a conflicting announce leave the seed listed', async ({ env }) => {
  const seed = await env.connectPeer('seed');
  await createTrackerClient(seed.nc).announce(V, ann('seed', all));

  // two fresh ids join and report the seed: they never negotiated a link with it, so neither report counts
  for (const id of ['sybil1', 'sybil2']) {
    const p = await env.connectPeer(id);
    const c = createTrackerClient(p.nc);
    await c.announce(V, ann(id, []));
    const e = await c.report(V, id, 'seed', 'corrupt chunk (a lie)').catch((err: SwitchyardError) => err);
    assert.is((e as SwitchyardError).code, ErrorCodes.badRequest, 'a report without a link is refused');
  }

  // a third one tries to speak as the seed: leave, and an announce with another chunk count
  const third = await env.connectPeer('third');
  const w = watchViolations(third.nc);
  const tc = createTrackerClient(third.nc);
  const leaveAs = Subjects.tracker(V, TrackerVerbs.leave, 'seed');
  await expectViolation(third.nc, w, 'publish', leaveAs, () => tc.leave(V, 'seed'));
  const announceAs = Subjects.tracker(V, TrackerVerbs.announce, 'seed');
  await expectViolation(third.nc, w, 'publish', announceAs, () => tc.announce(V, ann('seed', [], 4)));
  // and through its own subject with the seed's id in the body: refused by the schema, changes only nothing
  const raw = await third.nc.request(Subjects.tracker(V, TrackerVerbs.leave, 'third'), encode({ peerId: 'seed' }))
    .then((m) => JSON.parse(new TextDecoder().decode(m.data)) as { error?: { code: string } });
  assert.is(raw.error?.code, ErrorCodes.badRequest);
  w.stop();

  // a fourth peer still finds the seed, complete, ranked first
  const fourth = await env.connectPeer('fourth');
  const r = await createTrackerClient(fourth.nc).announce(V, ann('fourth', []));
  const listed = r.peers.find((p) => p.peerId === 'seed');
  assert.ok(listed, `the seed is listed: ${JSON.stringify(r.peers.map((p) => p.peerId))}`);
  assert.is(listed!.complete, true);
  assert.is(listed!.have, N);
  assert.is(r.peers[0]!.peerId, 'seed');
});

t('reports from peers the relay saw negotiate with the offender do count', async ({ env, sdp }) => {
  const v = 'vlinked';
  const bad = await env.connectPeer('liar');
  await createTrackerClient(bad.nc).announce(v, ann('liar', all));
  for (const id of ['victim1', 'victim2']) {
    const p = await env.connectPeer(id);
    const c = createTrackerClient(p.nc);
    await c.announce(v, ann(id, []));
    // the relay records a link when it forwards an answer between the two (the offender answered our offer)
    const liarSignals = createSignalClient(bad.nc, 'liar', env.logger);
    await liarSignals.send(id, { connId: `c${id}`, videoId: v, kind: 'answer', sdp: sdp.answer });
    await new Promise((r) => setTimeout(r, 100));
    await c.report(v, id, 'liar', 'hash mismatch');
  }
  const viewer = await env.connectPeer('viewer');
  const r = await createTrackerClient(viewer.nc).announce(v, ann('viewer', []));
  assert.not.ok(r.peers.some((p) => p.peerId === 'liar'), 'two linked reporters ban the offender for everyone');
});

t.run();
