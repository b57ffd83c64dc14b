/**
 * What a stranger can do with a peer credential, proven by the server's own permission errors (real nats-server
 * in operator mode, credentials minted the way the gateway mints them): nothing but its own subjects.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNats, type NatsConnection } from '../../lib/nats.js';
import {
  Buckets, ErrorCodes, LiveEvents, OriginVerbs, Subjects, TrackerVerbs, inboxPrefixFor, type SwitchyardError,
} from '../../protocol/mod.js';
import { createOriginClient } from '../../actors/origin/client.js';
import { startEnv, type TestEnv } from '../helpers/env.js';
import { expectViolation, watchViolations, type Violation } from '../helpers/violations.js';

interface Ctx { env: TestEnv; mallory: NatsConnection; w: { seen: Violation[]; stop(): void }; victimHeard: string[] }

const t = suite<Ctx>('security: peer credentials allow only the peer\'s own subjects');
t.before(async (ctx) => {
  ctx.env = await startEnv();
  await ctx.env.startOrigin({ capacity: 1 });
  ctx.mallory = (await ctx.env.connectPeer('mallory')).nc;
  ctx.w = watchViolations(ctx.mallory);
  // a service listens on everything, so anything that got through would be seen here
  ctx.victimHeard = [];
  ctx.env.nc.subscribe('sy.>', { callback: (_e, m) => void (m.subject.includes('mallory') || ctx.victimHeard.push(m.subject)) });
  ctx.env.nc.subscribe('$KV.>', { callback: (_e, m) => void ctx.victimHeard.push(m.subject) });
  await ctx.env.nc.flush();
});
t.after(async (ctx) => {
  ctx.w.stop();
  await ctx.env.close();
});

t('an anonymous connection is refused by the server', async ({ env }) => {
  try {
    const nc = await connectNats(env.nats.url, 'anonymous');
    await nc.close();
    assert.unreachable('an anonymous client connected');
  } catch (e) {
    assert.is((e as SwitchyardError).code, ErrorCodes.unauthorized);
    assert.match((e as Error).message, /Authorization Violation/);
  }
});

t('a forged or foreign credential is refused too', async ({ env }) => {
  const other = await startEnv();
  try {
    // a credential minted by another deployment's signing key: same shape, wrong issuer
    const { createUser } = await import('@nats-io/nkeys');
    const kp = createUser();
    const c = await other.minter.mint(kp.getPublicKey(), { peerId: 'mallory' });
    await connectNats(env.nats.url, 'foreign', { jwt: c.jwt, seed: kp.getSeed(), inboxPrefix: c.inboxPrefix });
    assert.unreachable('a foreign credential connected');
  } catch (e) {
    assert.is((e as SwitchyardError).code, ErrorCodes.unauthorized);
  } finally {
    await other.close();
  }
});

t('cannot publish to ingest, the catalog publish verb, KV buckets or the JetStream API', async ({ mallory, w }) => {
  const targets = [
    Subjects.ingestJob,
    'sy.catalog.publish',
    `$KV.${Buckets.admission}.slot.0`,
    `$KV.${Buckets.catalog}.vforged`,
    `$KV.${Buckets.swarm}.v.someone`,
    `$JS.API.STREAM.DELETE.KV_${Buckets.admission}`,
    Subjects.gatewayActivity,
  ];
  for (const s of targets) {
    const v = await expectViolation(mallory, w, 'publish', s, () => mallory.publish(s, new TextEncoder().encode('{}')));
    assert.match(v.message, /Permissions Violation for Publish/);
  }
});

t('cannot speak as another peer: signalling, origin, tracker, telemetry', async ({ mallory, w }) => {
  const targets = [
    Subjects.signal('alice', 'bob'),
    Subjects.origin(OriginVerbs.open, 'alice'),
    Subjects.origin(OriginVerbs.heartbeat, 'alice'),
    Subjects.origin(OriginVerbs.release, 'alice'),
    Subjects.tracker('v1', TrackerVerbs.announce, 'alice'),
    Subjects.tracker('v1', TrackerVerbs.leave, 'alice'),
    Subjects.tracker('v1', TrackerVerbs.report, 'alice'),
    Subjects.telemetry('v1', 'alice'),
    Subjects.inspect('alice'),
    Subjects.peer('alice', 'signal'),
  ];
  for (const s of targets) {
    await expectViolation(mallory, w, 'publish', s, () => mallory.publish(s, new TextEncoder().encode('{}')));
  }
});

t('inspect: a peer publishes its own transitions, never another peer\'s, and cannot read anyone\'s', async ({ env, mallory, w }) => {
  const body = new TextEncoder().encode('{}');
  await expectViolation(mallory, w, 'publish', Subjects.inspect('alice'), () => mallory.publish(Subjects.inspect('alice'), body));
  await expectViolation(mallory, w, 'subscription', Subjects.inspectAll, () => mallory.subscribe(Subjects.inspectAll));
  // the gateway (a service) hears the peer's own subject
  const gw = await connectNats(env.nats.url, 'gateway', env.nats.creds('gateway'));
  const sub = gw.subscribe(Subjects.inspectAll, { max: 1 });
  await gw.flush();
  const heard = (async () => {
    for await (const m of sub) return m.subject;
    return null;
  })();
  mallory.publish(Subjects.inspect('mallory'), body);
  await mallory.flush();
  const timer = setTimeout(() => sub.unsubscribe(), 3000);
  assert.is(await heard, Subjects.inspect('mallory'), 'the gateway heard the peer\'s own inspect subject');
  clearTimeout(timer);
  await gw.close();
  assert.not.ok(w.seen.some((v) => v.subject === Subjects.inspect('mallory')), 'its own subject is allowed');
});

t('cannot subscribe to _INBOX.> or to another peer\'s subjects', async ({ mallory, w }) => {
  for (const s of ['_INBOX.>', `${inboxPrefixFor('alice')}.>`, Subjects.peerAll('alice'), 'sy.peer.*.slot-offered', 'sy.>', '>']) {
    const v = await expectViolation(mallory, w, 'subscription', s, () => mallory.subscribe(s));
    assert.match(v.message, /Permissions Violation for Subscription/);
  }
});

t('among services, only ingest (and operator tools) may feed the catalog or queue ingest jobs', async ({ env }) => {
  for (const role of ['tracker', 'signal', 'gateway', 'origin'] as const) {
    const nc = await connectNats(env.nats.url, role, env.nats.creds(role));
    const w = watchViolations(nc);
    await expectViolation(nc, w, 'publish', 'sy.catalog.publish', () => nc.publish('sy.catalog.publish', new TextEncoder().encode('{}')));
    if (role !== 'origin') {
      await expectViolation(nc, w, 'publish', `$KV.${Buckets.catalog}.vforged`, () => nc.publish(`$KV.${Buckets.catalog}.vforged`));
    }
    if (role !== 'gateway') await expectViolation(nc, w, 'publish', Subjects.ingestJob, () => nc.publish(Subjects.ingestJob));
    w.stop();
    await nc.close();
  }
});

t('nothing forbidden reached anyone, and the peer\'s own subjects still work', async ({ env, mallory, victimHeard }) => {
  await env.nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(victimHeard, [], 'no forbidden message was delivered');
  // its own requests work: the origin answers on its own inbox
  const list = await createOriginClient(mallory).list();
  assert.ok(Array.isArray(list));
  const r = await createOriginClient(mallory).open('vdoesnotexist', 'mallory').catch((e: SwitchyardError) => e.code);
  assert.is(r, ErrorCodes.unknownVideo);
});

t('a request through another peer\'s origin subject fails as unauthorized, never reaches the origin', async ({ env, mallory }) => {
  const before = env.origins[0]!.served.open ?? 0;
  const r = await createOriginClient(mallory).open('vanything', 'alice').catch((e: SwitchyardError) => e.code);
  assert.ok(r === ErrorCodes.unauthorized || r === ErrorCodes.timeout, String(r));
  assert.is(env.origins[0]!.served.open ?? 0, before);
});

t('live: a peer hears announcements and may ask for a window; only the packager (ingest) announces', async ({ env, mallory, w }) => {
  const segment = Subjects.live('live1', LiveEvents.segment);
  const end = Subjects.live('live1', LiveEvents.end);
  const body = new TextEncoder().encode('{}');
  await expectViolation(mallory, w, 'publish', segment, () => mallory.publish(segment, body));
  await expectViolation(mallory, w, 'publish', end, () => mallory.publish(end, body));
  for (const role of ['tracker', 'signal', 'gateway', 'origin'] as const) {
    const nc = await connectNats(env.nats.url, role, env.nats.creds(role));
    const vw = watchViolations(nc);
    await expectViolation(nc, vw, 'publish', segment, () => nc.publish(segment, body));
    vw.stop();
    await nc.close();
  }
  // the packager's announcement reaches the peer
  const sub = mallory.subscribe(Subjects.liveAll(LiveEvents.segment), { max: 1 });
  const heard = (async () => {
    for await (const m of sub) return m.subject;
    return null;
  })();
  await mallory.flush();
  const ingest = await connectNats(env.nats.url, 'ingest', env.nats.creds('ingest'));
  ingest.publish(segment, new TextEncoder().encode('{"seq":0}'));
  await ingest.flush();
  const timer = setTimeout(() => sub.unsubscribe(), 3000);
  assert.is(await heard, segment, 'the peer heard the announcement');
  clearTimeout(timer);
  await ingest.close();
  // and may ask for a window
  mallory.publish(Subjects.live('live1', LiveEvents.window), body);
  await mallory.flush();
  await new Promise((r) => setTimeout(r, 200));
  const live = w.seen.filter((v) => v.subject.startsWith('sy.live.') && v.operation !== 'publish');
  assert.equal(live, [], 'no subscription violation');
  assert.not.ok(w.seen.some((v) => v.subject === Subjects.live('live1', LiveEvents.window)), 'a window request is allowed');
});

t.run();
