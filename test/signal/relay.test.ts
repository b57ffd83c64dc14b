import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalClient, createSignalRelay, type SignalClient, type SignalRelay } from '../../actors/signal/mod.js';
import { createLogger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import {
  encode, ErrorCodes, MAX_SIGNAL_MESSAGE_BYTES, PeerEvents, Subjects, SwitchyardError, type ErrorBody,
  type RelayedSignal, type SignalMessage,
} from '../../protocol/mod.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';
import { CHROME_OFFER, loud } from './samples.js';

interface Ctx {
  env: TestEnv;
  relay: SignalRelay;
  raw: NatsConnection;
  clients: Record<'A' | 'B' | 'C' | 'D', SignalClient>;
  conns: Record<'A' | 'B' | 'C' | 'D', NatsConnection>;
  inbox: Record<'A' | 'B' | 'C' | 'D', RelayedSignal[]>;
  unsubs: Array<() => void>;
  /** warning lines logged by peer C's client */
  logC: string[];
}

const t = suite<Ctx>('signal relay (real nats-server)');

const base = { connId: 'conn-1', videoId: 'video-1' };
const offer: SignalMessage = { ...base, kind: 'offer', sdp: CHROME_OFFER };
const candidate: SignalMessage = {
  ...base, kind: 'candidate', candidate: 'a=candidate:1 1 UDP 2114977791 127.0.0.1 34059 typ host', mid: '0',
};

t.before(loud(async (ctx) => {
  ctx.env = await startEnv();
  ctx.relay = createSignalRelay({}, { nc: await ctx.env.connect('relay'), logger: ctx.env.logger.child('relay') });
  await ctx.relay.start();
  ctx.raw = await ctx.env.connect('raw');
  ctx.clients = {} as Ctx['clients'];
  ctx.conns = {} as Ctx['conns'];
  ctx.inbox = {} as Ctx['inbox'];
  ctx.unsubs = [];
  ctx.logC = [];
  for (const id of ['A', 'B', 'C', 'D'] as const) {
    const { nc } = await ctx.env.connectPeer(id);
    ctx.conns[id] = nc;
    ctx.unsubs.push(() => void nc.close());
    const logger = id === 'C' ? createLogger('C', 'warn', (line) => ctx.logC.push(line)) : ctx.env.logger.child(id);
    ctx.clients[id] = createSignalClient(nc, id, logger);
    ctx.inbox[id] = [];
    ctx.unsubs.push(ctx.clients[id].onSignal((m) => ctx.inbox[id].push(m)));
    await nc.flush();
  }
}));

t.after(async (ctx) => {
  await ctx.relay?.stop();
  for (const u of ctx.unsubs?.splice(0).reverse() ?? []) u();
  await ctx.env?.close();
});

/** raw request on any subject with any bytes; returns the parsed reply */
async function rawRequest(nc: NatsConnection, subject: string, data: Uint8Array | string): Promise<unknown> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const reply = await nc.request(subject, bytes, { timeout: 3000 });
  return JSON.parse(new TextDecoder().decode(reply.data));
}

function assertError(reply: unknown, code: string, re?: RegExp) {
  const e = (reply as ErrorBody).error;
  assert.ok(e, `expected an error body, got ${JSON.stringify(reply)}`);
  assert.is(e.code, code, `code of ${JSON.stringify(reply)}`);
  if (re) assert.ok(re.test(e.message), `message ${JSON.stringify(e.message)} !~ ${re}`);
}

async function assertStillRelays(ctx: Ctx, tag: string) {
  const before = ctx.inbox.B.length;
  await ctx.clients.A.send('B', { ...base, connId: tag, kind: 'bye', reason: tag });
  const got = await waitFor(() => ctx.inbox.B.slice(before).find((m) => m.connId === tag), `relayed ${tag}`);
  assert.is(got.from, 'A');
}

t('A sends an offer and a candidate to B: B receives them with from = A; C sees none of it', async (ctx) => {
  await ctx.clients.A.send('B', offer);
  await ctx.clients.A.send('B', candidate);
  await waitFor(() => ctx.inbox.B.length >= 2, 'B to receive two messages');
  assert.equal(ctx.inbox.B[0], { ...offer, from: 'A' });
  assert.equal(ctx.inbox.B[1], { ...candidate, from: 'A' });
  // B answers A the same way
  await ctx.clients.B.send('A', { ...base, kind: 'bye', reason: 'done' });
  await waitFor(() => ctx.inbox.A.length >= 1, 'A to receive the bye');
  assert.equal(ctx.inbox.A[0], { ...base, kind: 'bye', reason: 'done', from: 'B' });
  await Promise.all([ctx.conns.C.flush(), ctx.conns.D.flush()]); // anything misrouted would have arrived by now
  assert.is(ctx.inbox.C.length, 0, 'C saw traffic between A and B');
  assert.is(ctx.inbox.D.length, 0);
  const s = ctx.relay.stats();
  assert.is(s.relayed, 3);
  assert.is(s.rejected, 0);
  ctx.inbox.A.length = 0;
  ctx.inbox.B.length = 0;
});

t('a body carrying "from" is rejected (identity comes from the subject only)', async (ctx) => {
  const reply = await rawRequest(ctx.raw, Subjects.signal('C', 'B'), JSON.stringify({ ...offer, from: 'A' }));
  assertError(reply, ErrorCodes.badRequest, /from/);
  // and the client refuses to send it at all
  try {
    await ctx.clients.C.send('B', { ...offer, from: 'A' } as SignalMessage);
    assert.unreachable('sent');
  } catch (e) {
    assert.instance(e, SwitchyardError);
    assert.is((e as SwitchyardError).code, ErrorCodes.badRequest);
  }
  await ctx.conns.B.flush();
  assert.is(ctx.inbox.B.length, 0);
});

t('hostile input gets typed error replies and the relay keeps relaying', async (ctx) => {
  const subj = Subjects.signal('A', 'B');
  const cases: Array<[string, Uint8Array | string, string, RegExp?]> = [
    ['malformed JSON', '{"kind": "offer", ', ErrorCodes.badRequest, /not valid UTF-8 JSON/],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), ErrorCodes.badRequest, /UTF-8/],
    ['empty body', '', ErrorCodes.badRequest],
    ['JSON null', 'null', ErrorCodes.badRequest],
    ['JSON array', '[1,2,3]', ErrorCodes.badRequest],
    ['oversized', JSON.stringify({ ...base, kind: 'bye', reason: 'x'.repeat(MAX_SIGNAL_MESSAGE_BYTES) }), ErrorCodes.tooLarge],
    ['oversized by one byte', 'x'.repeat(MAX_SIGNAL_MESSAGE_BYTES + 1), ErrorCodes.tooLarge],
    ['bad kind', JSON.stringify({ ...base, kind: 'hello' }), ErrorCodes.badRequest, /kind/],
    ['garbage SDP', JSON.stringify({ ...base, kind: 'offer', sdp: 'v=0\r\nhello world\r\n' }), ErrorCodes.badRequest, /sdp/],
    ['SDP with audio', JSON.stringify({ ...base, kind: 'offer', sdp: CHROME_OFFER + 'm=audio 9 RTP/AVP 0\r\n' }), ErrorCodes.badRequest, /m=application/],
    ['candidate with control chars', JSON.stringify({ ...candidate, candidate: candidate.candidate + '\r\na=setup:active' }),
      ErrorCodes.badRequest, /control character/],
    ['sdp on a candidate', JSON.stringify({ ...candidate, sdp: CHROME_OFFER }), ErrorCodes.badRequest, /not allowed/],
    ['bad connId', JSON.stringify({ ...offer, connId: 'a.b' }), ErrorCodes.badRequest, /connId/],
    ['unknown field', JSON.stringify({ ...offer, extra: 1 }), ErrorCodes.badRequest],
  ];
  for (const [label, data, code, re] of cases) {
    const reply = await rawRequest(ctx.raw, subj, data);
    try {
      assertError(reply, code, re);
    } catch (e) {
      throw new Error(`${label}: ${(e as Error).message}`);
    }
  }
  // the client runs the same checks before sending and refuses with the same typed error
  try {
    await ctx.clients.A.send('B', { ...base, kind: 'offer', sdp: 'v=0' });
    assert.unreachable('sent');
  } catch (e) {
    assert.is((e as SwitchyardError).code, ErrorCodes.badRequest);
  }
  await ctx.conns.B.flush();
  assert.is(ctx.inbox.B.length, 0, 'nothing invalid reached B');
  await assertStillRelays(ctx, 'after-hostile');
  assert.ok(ctx.relay.stats().rejected >= cases.length);
});

t('subjects with invalid tokens or to = from are refused', async (ctx) => {
  assertError(await rawRequest(ctx.raw, 'sy.signal.a~b.c', JSON.stringify(offer)), ErrorCodes.badRequest, /sender/);
  assertError(await rawRequest(ctx.raw, 'sy.signal.A.b~c', JSON.stringify(offer)), ErrorCodes.badRequest, /recipient/);
  assertError(await rawRequest(ctx.raw, `sy.signal.${'x'.repeat(65)}.B`, JSON.stringify(offer)), ErrorCodes.badRequest, /sender/);
  assertError(await rawRequest(ctx.raw, 'sy.signal.A.A', JSON.stringify(offer)), ErrorCodes.badRequest, /itself/);
  try {
    await ctx.clients.A.send('a.b', offer);
    assert.unreachable('sent');
  } catch (e) {
    assert.is((e as SwitchyardError).code, ErrorCodes.badRequest);
  }
  await assertStillRelays(ctx, 'after-subjects');
});

t('invalid messages published straight into a peer inbox are dropped, not delivered or thrown', async (ctx) => {
  const inbox = Subjects.peer('C', PeerEvents.signal);
  ctx.raw.publish(inbox, new TextEncoder().encode('not json'));
  ctx.raw.publish(inbox, encode({ ...offer })); // no from
  ctx.raw.publish(inbox, encode({ ...offer, from: 'a.b' }));
  ctx.raw.publish(inbox, encode({ ...offer, sdp: 'v=0\r\n', from: 'A' }));
  ctx.raw.publish(inbox, encode({ ...offer, from: 'C' }));
  ctx.raw.publish(inbox, encode({ ...candidate, from: 'A' })); // valid
  await waitFor(() => ctx.inbox.C.length >= 1, 'C to receive the valid message');
  await ctx.raw.flush();
  assert.equal(ctx.inbox.C, [{ ...candidate, from: 'A' }]);
  assert.is(ctx.logC.filter((l) => l.includes('invalid signal dropped')).length, 5);
  ctx.inbox.C.length = 0;
  // a throwing handler does not break the subscription
  let calls = 0;
  const off = ctx.clients.C.onSignal(() => {
    calls++;
    throw new Error('handler bug');
  });
  await ctx.conns.C.flush(); // the new subscription is registered before anything is sent
  await ctx.clients.A.send('C', { ...base, kind: 'bye' });
  await ctx.clients.A.send('C', { ...base, kind: 'bye' });
  await waitFor(() => calls === 2 && ctx.inbox.C.length === 2, 'both handlers to run twice');
  off();
  assert.is(ctx.logC.filter((l) => l.includes('signal handler failed')).length, 2);
  ctx.inbox.C.length = 0;
});

t('rate limit: a flooding sender is refused, other senders are unaffected, and buckets stay bounded', async (ctx) => {
  await ctx.relay.stop();
  const limited = createSignalRelay({ maxPerSecondPerPeer: 20, burstPerPeer: 40, maxTrackedPeers: 8 },
    { nc: await ctx.env.connect('relay-limited'), logger: ctx.env.logger.child('relay-limited') });
  await limited.start();
  try {
    const flood = 300;
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: flood }, (_, i) =>
      ctx.clients.A.send('B', { ...base, connId: `flood-${i}`, kind: 'bye' })));
    // D keeps talking (10 messages, well under its own burst) while A floods
    const calm = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
      ctx.clients.D.send('B', { ...base, connId: `calm-${i}`, kind: 'bye' })));
    const elapsedS = (performance.now() - started) / 1000;
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    for (const r of refused) {
      const e = (r as PromiseRejectedResult).reason as SwitchyardError;
      assert.is(e.code, ErrorCodes.badRequest);
      assert.match(e.message, /rate limit/);
    }
    assert.ok(ok >= 40, `burst of 40 should pass, ${ok} did`);
    assert.ok(ok <= 40 + Math.ceil(20 * elapsedS) + 2, `${ok} passed in ${elapsedS.toFixed(2)} s`);
    assert.ok(refused.length >= flood - ok && refused.length > 100);
    assert.ok(calm.every((r) => r.status === 'fulfilled'), 'D was limited by A\'s flood');
    assert.is(limited.stats().rateLimited, refused.length);
    await waitFor(() => ctx.inbox.B.filter((m) => m.connId.startsWith('calm-')).length === 10, 'D\'s messages');
    // many distinct senders: the bucket map stays at maxTrackedPeers
    for (let i = 0; i < 30; i++) {
      assert.equal(await rawRequest(ctx.raw, Subjects.signal(`s${i}`, 'B'), JSON.stringify({ ...base, kind: 'bye' })),
        { delivered: true });
    }
    assert.ok(limited.stats().trackedPeers <= 8, `tracked ${limited.stats().trackedPeers}`);
    // the refill works: after a pause A may send again
    await new Promise((r) => setTimeout(r, 200));
    await ctx.clients.A.send('B', { ...base, connId: 'after-pause', kind: 'bye' });
  } finally {
    await limited.stop();
    await ctx.relay.start();
  }
  ctx.inbox.B.length = 0;
  await assertStillRelays(ctx, 'after-flood');
});

t('with no relay running, send fails with a typed unavailable error', async (ctx) => {
  await ctx.relay.stop();
  try {
    await ctx.clients.A.send('B', offer);
    assert.unreachable('sent');
  } catch (e) {
    assert.is((e as SwitchyardError).code, ErrorCodes.unavailable);
  } finally {
    await ctx.relay.start();
  }
  await assertStillRelays(ctx, 'after-restart');
});

t.run();
