/**
 * The inspector's data path: the gateway-side aggregator (subject-derived ids, bounds, malformed batches dropped)
 * fed by hand, then the portable publisher on a real peer credential over a real nats-server, with a real XState
 * actor's `inspect` option, into an aggregator on a gateway service connection.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, createMachine } from 'xstate';
import { createInspectPublisher, statePath } from '../../client/inspect.js';
import { createInspectAggregator, type InspectAggregator } from '../../gateway/inspector/aggregator.js';
import { createLogger } from '../../lib/logger.js';
import { connectNats, type NatsConnection } from '../../lib/nats.js';
import {
  encode, MAX_INSPECT_BYTES, MAX_INSPECT_RECORDS, ServiceRoles, Subjects, type InspectBatch, type InspectRecord,
} from '../../protocol/mod.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const logger = createLogger('inspector-test');
const noSubscribe = { subscribe: () => { throw new Error('not started in this test'); } } as unknown as NatsConnection;

const rec = (state: string, event = 'e', over: Partial<InspectRecord> = {}): InspectRecord =>
  ({ actor: 'download', actorId: 'd1', videoId: 'v1', state, event, t: 1000, ...over });
const batch = (records: InspectRecord[], dropped = 0) => encode({ records, dropped } satisfies InspectBatch);

function fakeClock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const unit = suite('inspector aggregator');

unit('the client is the subject\'s peer; its machines and timeline follow its records', () => {
  const agg = createInspectAggregator({}, { nc: noSubscribe, logger, clock: fakeClock() });
  assert.ok(agg.accept(Subjects.inspect('alice'), batch([rec('opening', 'xstate.init'), rec('active.p2p', 'xstate.done.actor.open')])));
  assert.ok(agg.accept(Subjects.inspect('alice'), batch([rec('open.choked', 'channel.open', { actor: 'peerLink', actorId: 'bob' }),
    rec('active.resumeServer', 'origin.slotOffered')])));
  const [alice, ...others] = agg.state().clients;
  assert.is(others.length, 0);
  assert.is(alice!.peerId, 'alice');
  assert.equal(alice!.downloads.map((d) => [d.actorId, d.state, d.event]), [['d1', 'active.resumeServer', 'origin.slotOffered']]);
  assert.equal(alice!.links.map((l) => [l.actorId, l.state]), [['bob', 'open.choked']]);
  assert.equal(alice!.timeline.map((x) => `${x.actor}:${x.from ?? '-'}>${x.to}`), [
    'download:->opening', 'download:opening>active.p2p', 'peerLink:->open.choked', 'download:active.p2p>active.resumeServer',
  ]);
});

unit('malformed batches and subjects are dropped without a trace', () => {
  const agg = createInspectAggregator({}, { nc: noSubscribe, logger, clock: fakeClock() });
  const s = Subjects.inspect('mallory');
  const bad: Array<[string, Uint8Array]> = [
    [s, new TextEncoder().encode('not json')],
    [s, batch([])],
    [s, batch(Array.from({ length: MAX_INSPECT_RECORDS + 1 }, () => rec('opening')))],
    [s, batch([rec('x'.repeat(200))])],
    [s, batch([rec('opening', 'e', { actor: 'nope' as 'download' })])],
    [s, batch([rec('opening', 'e', { actorId: 'bad.id' })])],
    // the body may not name a sender: the subject does
    [s, encode({ records: [rec('opening')], dropped: 0, peerId: 'alice' })],
    [s, encode({ records: [{ ...rec('opening'), grant: 'secret' }], dropped: 0 })],
    [s, new Uint8Array(MAX_INSPECT_BYTES + 1).fill(0x20)],
    ['sy.inspect.a.b', batch([rec('opening')])],
    ['sy.inspect.*', batch([rec('opening')])],
    ['sy.telemetry.v1.mallory', batch([rec('opening')])],
  ];
  for (const [subject, data] of bad) assert.not.ok(agg.accept(subject, data), `accepted ${subject} ${data.byteLength} B`);
  assert.equal(agg.state().clients, []);
  assert.ok(agg.accept(s, batch([rec('opening')])), 'a good batch still goes through');
});

unit('bounded: clients, machines per client, timeline, and silent clients are forgotten', () => {
  const clock = fakeClock();
  const agg = createInspectAggregator({ maxClients: 3, maxActors: 2, maxTimeline: 4, forgetMs: 10_000 },
    { nc: noSubscribe, logger, clock });
  for (let i = 0; i < 5; i++) {
    clock.t += 1;
    agg.accept(Subjects.inspect(`p${i}`), batch([rec('opening')]));
  }
  assert.equal(agg.state().clients.map((c) => c.peerId), ['p2', 'p3', 'p4'], 'the least recently heard went first');
  const links = ['l1', 'l2', 'l3'].map((id) => rec('signalling', 'xstate.init', { actor: 'peerLink', actorId: id }));
  agg.accept(Subjects.inspect('p4'), batch([...links, rec('active.p2p'), rec('active.resumeServer', 'origin.slotOffered', { t: 2 })], 7));
  const p4 = agg.state().clients.find((c) => c.peerId === 'p4')!;
  assert.is(p4.downloads.length + p4.links.length, 2, 'at most 2 machines per client');
  assert.equal(p4.downloads.map((d) => d.state), ['active.resumeServer'], 'the most recently changed machines are kept');
  assert.equal(p4.timeline.map((x) => x.to), ['signalling', 'signalling', 'active.p2p', 'active.resumeServer'], 'last 4 only');
  assert.is(p4.dropped, 7, 'drops reported by the client are shown');
  clock.t += 9_000;
  agg.accept(Subjects.inspect('p3'), batch([rec('active.server')]));
  clock.t += 2_000;
  assert.equal(agg.state().clients.map((c) => c.peerId), ['p3'], 'silent for 10 s: forgotten');
});

unit('statePath: nested and parallel state values', () => {
  assert.is(statePath('opening'), 'opening');
  assert.is(statePath({ active: 'p2p' }), 'active.p2p');
  assert.is(statePath({ open: { a: 'x', b: { c: 'y' } } }), 'open.a.x,open.b.c.y');
});

unit.run();

const live = suite<{ env: TestEnv; gw: NatsConnection; agg: InspectAggregator }>('inspector: publisher → NATS → aggregator');
live.before(async (ctx) => {
  ctx.env = await startEnv();
  ctx.gw = await connectNats(ctx.env.nats.url, 'gateway', ctx.env.nats.creds(ServiceRoles.gateway));
  ctx.agg = createInspectAggregator({}, { nc: ctx.gw, logger, clock: { now: () => Date.now() } });
  ctx.agg.start();
  await ctx.gw.flush();
});
live.after(async (ctx) => {
  await ctx.agg.stop();
  await ctx.gw.close();
  await ctx.env.close();
});

live('a real actor\'s transitions, batched on the peer\'s own subject, reach the gateway with their causing events', async (ctx) => {
  const { nc } = await ctx.env.connectPeer('alice');
  const pub = createInspectPublisher({ peerId: 'alice', intervalMs: 50 }, { nc, logger });
  const m = createMachine({
    id: 'm', initial: 'opening',
    states: { opening: { on: { go: 'active' } }, active: { initial: 'p2p', states: { p2p: { on: { slot: 'resumeServer', noise: {} } },
      resumeServer: {} } } },
  });
  const actor = createActor(m, { inspect: pub.tap({ machine: 'download', id: 'dalice', videoId: 'v1' }) });
  actor.start();
  actor.send({ type: 'go' });
  actor.send({ type: 'noise' }); // no state change: not a transition
  actor.send({ type: 'slot' });
  const alice = await waitFor(() => ctx.agg.state().clients.find((c) => c.peerId === 'alice' && c.timeline.length === 3),
    'alice\'s three transitions at the gateway', 10_000, 50);
  assert.equal(alice.timeline.map((x) => [x.from, x.to, x.event]), [
    [null, 'opening', 'xstate.init'], ['opening', 'active.p2p', 'go'], ['active.p2p', 'active.resumeServer', 'slot'],
  ]);
  assert.equal(pub.stats(), { sent: 3, dropped: 0, batches: 1 }, 'one batch for the three');
  actor.stop();
  pub.stop();
});

live('the queue is bounded: the oldest records are dropped, counted, and batches stay within the protocol limit', async (ctx) => {
  const seen: Uint8Array[] = [];
  const pub = createInspectPublisher({ peerId: 'bob', maxQueue: 70, intervalMs: 60_000 },
    { nc: { publish: (_s: string, d?: Uint8Array) => void seen.push(d!) } });
  for (let i = 0; i < 100; i++) pub.record(rec(`s${i}`, 'x'.repeat(500)));
  pub.flush();
  assert.equal(pub.stats(), { sent: 70, dropped: 30, batches: Math.ceil(70 / MAX_INSPECT_RECORDS) });
  const first = JSON.parse(new TextDecoder().decode(seen[0])) as InspectBatch;
  assert.is(first.records[0]!.state, 's30', 'the oldest 30 went');
  assert.is(first.dropped, 30);
  assert.ok(first.records[0]!.event.length <= 64, 'event types are cut to the protocol limit');
  // what the publisher sends is what the gateway accepts
  const agg = createInspectAggregator({}, { nc: noSubscribe, logger, clock: fakeClock() });
  for (const d of seen) {
    assert.ok(d.byteLength <= MAX_INSPECT_BYTES);
    assert.ok(agg.accept(Subjects.inspect('bob'), d));
  }
  pub.stop();
  pub.record(rec('late'));
  pub.flush();
  assert.is(pub.stats().sent, 70, 'nothing after stop');
  void ctx;
});

live.run();
