/**
 * The KV layer (lib/kv/) against a real nats-server: typed compare-and-set conflicts, the mirror's watch
 * restart (consumer deleted, server restarted, bucket recreated), bad entries skipped and counted, sweeping,
 * and bucket options (replicas) reaching the stream.
 */
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Type, type Static } from '@sinclair/typebox';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startNats, type NatsServerHandle } from '../../infra/nats.js';
import {
  createKvMirror, createKvStore, isCasConflict, KvConflictError, KvContentionError, KvEntryError, kvOptionsOf,
  KvValueError,
  openBucket, schemaCodec, sweepExpired, BucketSpecs, type BucketSpec, type KvMirror,
} from '../../lib/kv/mod.js';
import { createLogger } from '../../lib/logger.js';
import { admissionCodec } from '../../actors/origin/records.js';
import { connectNats, type NatsConnection } from '../../lib/nats.js';
import { ServiceRoles } from '../../protocol/mod.js';
import { waitFor } from '../helpers/env.js';

const Item = Type.Object({ n: Type.Integer({ minimum: 0 }), exp: Type.Number() }, { additionalProperties: false });
type Item = Static<typeof Item>;

const t = suite<{ nats: NatsServerHandle; nc: NatsConnection; admin: NatsConnection }>('lib/kv (real nats-server)');
const logger = createLogger('kv-test', 'silent');
let serial = 0;
const spec = (): BucketSpec => ({ name: `sy_kvtest_${process.pid}_${serial++}`, options: { history: 1 } });
const codecOf = (s: BucketSpec) => schemaCodec(s.name, Item, { maxBytes: 256 });
const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

t.before(async (ctx) => {
  ctx.nats = await startNats();
  ctx.nc = await connectNats(ctx.nats.url, 'kv-test', ctx.nats.creds(ServiceRoles.admin));
  ctx.admin = await connectNats(ctx.nats.url, 'kv-admin', ctx.nats.creds(ServiceRoles.admin));
});
t.after(async ({ nats, nc, admin }) => {
  await nc.close();
  await admin.close();
  await nats.stop();
});

async function mirrorOf(nc: NatsConnection, s: BucketSpec): Promise<{ kv: KV; mirror: KvMirror<Item> }> {
  const kv = await openBucket(nc, s);
  const mirror = createKvMirror({ kv, codec: codecOf(s), checkIntervalMs: 150, graceMs: 200 }, { logger });
  await mirror.start();
  return { kv, mirror };
}

t('a lost compare-and-set is a KvConflictError (JetStream API code 10071), not a message to match', async ({ nc }) => {
  const s = spec();
  const kv = await openBucket(nc, s);
  const a = createKvStore({ kv, codec: codecOf(s) }, { logger });
  const b = createKvStore({ kv: await openBucket(nc, s), codec: codecOf(s) }, { logger });
  await a.start();
  await b.start();
  try {
    const rev = await a.write('k', { n: 1, exp: 0 }, null);
    const created = await b.write('k', { n: 2, exp: 0 }, null).catch((e: unknown) => e);
    assert.instance(created, KvConflictError, 'create of an existing key');
    assert.ok(created instanceof KvConflictError && created.code === 'kv_conflict' && created.key === 'k');
    assert.ok(created instanceof KvConflictError && created.cause instanceof JetStreamApiError);
    await a.write('k', { n: 3, exp: 0 }, rev);
    const stale = await b.write('k', { n: 4, exp: 0 }, rev).catch((e: unknown) => e);
    assert.instance(stale, KvConflictError, 'stale update');
    assert.instance(await b.remove('k', rev).catch((e: unknown) => e), KvConflictError, 'stale delete');
    // the raw error, as @nats-io/kv throws it, is recognised by class and code
    const raw = await kv.update('k', bytes({ n: 5, exp: 0 }), rev).catch((e: unknown) => e);
    assert.ok(raw instanceof JetStreamApiError && raw.code === JetStreamApiCodes.StreamWrongLastSequence);
    assert.ok(isCasConflict(raw));
    // a value off the bucket's schema is refused before it is written
    const refused = await a.write('k2', { n: -1, exp: 0 }, null).catch((e: unknown) => e);
    assert.instance(refused, KvValueError);
    assert.is(await a.read('k2'), null, 'nothing was written');
  } finally {
    await a.stop();
    await b.stop();
  }
});

t('mutate: two stores incrementing one counter lose no update; exhausted: KvContentionError', async ({ nc, admin }) => {
  const s = spec();
  const a = createKvStore({ kv: await openBucket(nc, s), codec: codecOf(s) }, { logger });
  const b = createKvStore({ kv: await openBucket(admin, s), codec: codecOf(s) }, { logger });
  await a.start();
  await b.start();
  try {
    const inc = (cur: Item | null): Item => ({ n: (cur?.n ?? 0) + 1, exp: 0 });
    const each = (s: typeof a) => Array.from({ length: 15 }, () => s.mutate('c', inc));
    await Promise.all([...each(a), ...each(b)]);
    assert.is((await a.read('c'))?.value.n, 30);
    // a writer whose view is always stale, with one attempt: the contention is typed
    const stale = createKvStore({ kv: await openBucket(admin, s), codec: codecOf(s) }, { logger });
    stale.mirror.note('c', 1, { n: 0, exp: 0 });
    const err = await stale.mutate('c', inc, { attempts: 1 }).catch((e: unknown) => e);
    assert.instance(err, KvContentionError);
  } finally {
    await a.stop();
    await b.stop();
  }
});

/**
 * A KV whose write acknowledgements run `by` ahead of the revisions stored, as nats-server 2.9 (before 2.9.21)
 * answers after a stream leader change; reads and the watch stay true. Only the acknowledgement is altered.
 */
function drifting(kv: KV, by: number): KV {
  return new Proxy(kv, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if ((prop === 'create' || prop === 'update' || prop === 'put') && typeof v === 'function') {
        return async (...args: unknown[]) => ((await (v as (...a: unknown[]) => Promise<number>).apply(target, args)) + by);
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

t('acknowledged revisions ahead of the stored ones (nats-server 2.9 after a leader change): reads and the watch correct the mirror, compare-and-set works again', async ({ nc }) => {
  const s = spec();
  const kv = await openBucket(nc, s);
  const store = createKvStore({ kv: drifting(kv, 5), codec: codecOf(s), checkIntervalMs: 150 }, { logger });
  await store.start();
  try {
    const acked = await store.write('w', { n: 1, exp: 0 }, null);
    const real = (await kv.get('w'))!.revision;
    assert.is(acked, real + 5, 'the injected drift');
    // a read is the stream's answer: it replaces the written entry although its revision is lower
    assert.is((await store.read('w'))?.revision, real);
    assert.is(store.peek('w')?.revision, real);
    const acked2 = await store.write('w', { n: 2, exp: 0 }, store.peek('w')!.revision);
    const real2 = (await kv.get('w'))!.revision;
    assert.is(acked2, real2 + 5);
    // the watch delivers the stored revision of our own write: the mirror takes it without a read
    await waitFor(() => store.peek('w')?.revision === real2, 'the watch corrects the mirror');
    assert.is(store.peek('w')?.value.n, 2);
    await store.write('w', { n: 3, exp: 0 }, store.peek('w')!.revision);
    // an entry whose revision runs ahead of the leader's (a replica numbering the messages otherwise, as the watch
    // did after the leader change): the compare-and-set at it fails, and the read after it sets the leader's
    // revision, lower or not, so the retry from the mirror succeeds (what the origin's heartbeat does)
    const leaderRev = (await kv.get('w'))!.revision;
    store.mirror.noteWrite('w', leaderRev + 4, { n: 3, exp: 0 }, leaderRev + 3);
    const lost = await store.write('w', { n: 4, exp: 0 }, store.peek('w')!.revision).catch((e: unknown) => e);
    assert.instance(lost, KvConflictError);
    await store.read('w');
    assert.is(store.peek('w')?.revision, leaderRev);
    await store.write('w', { n: 4, exp: 0 }, store.peek('w')!.revision);
    assert.is((await store.read('w'))?.value.n, 4);
  } finally {
    await store.stop();
  }
});

t('a mirror whose watch consumer was deleted notices, re-creates the watch and catches up', async ({ nc, admin }) => {
  const s = spec();
  const { mirror } = await mirrorOf(nc, s);
  const writer = await openBucket(admin, s);
  try {
    await writer.put('a', bytes({ n: 1, exp: 0 }));
    await waitFor(() => mirror.entries.get('a')?.value.n === 1, 'first write mirrored');
    const jsm = await jetstreamManager(admin);
    for await (const ci of jsm.consumers.list(`KV_${s.name}`)) await jsm.consumers.delete(`KV_${s.name}`, ci.name);
    await writer.put('b', bytes({ n: 2, exp: 0 }));
    await writer.put('a', bytes({ n: 3, exp: 0 }));
    await waitFor(() => mirror.entries.get('b')?.value.n === 2 && mirror.entries.get('a')?.value.n === 3,
      'writes made while the watch was dead', 5000);
    assert.ok(mirror.health().restarts >= 1, 'the restart is counted');
    assert.is(mirror.health().resyncs, 0, 'same bucket: resumed, not reloaded');
    await waitFor(() => !mirror.health().stale, 'not stale once caught up');
  } finally {
    await mirror.stop();
  }
});

t('a mirror survives its nats-server restarting: stale while down, then caught up', async ({ nats, nc, admin }) => {
  const s = spec();
  const { mirror } = await mirrorOf(nc, s);
  const writer = await openBucket(admin, s);
  try {
    await writer.put('x', bytes({ n: 1, exp: 0 }));
    await waitFor(() => mirror.entries.get('x')?.value.n === 1, 'first write mirrored');
    await nats.pause();
    try {
      await waitFor(() => mirror.health().stale, 'stale while the server is down', 5000);
    } finally {
      await nats.resume();
    }
    await waitFor(async () => {
      try {
        await writer.put('y', bytes({ n: 2, exp: 0 }));
        return true;
      } catch {
        return false; // the writer is still reconnecting
      }
    }, 'writer reconnected', 10000, 200);
    await writer.put('x', bytes({ n: 3, exp: 0 }));
    await waitFor(() => mirror.entries.get('y')?.value.n === 2 && mirror.entries.get('x')?.value.n === 3,
      'writes made after the restart', 10000);
    // the watch either survived the restart (the server kept its consumer) or was re-created: caught up either way
    await waitFor(() => !mirror.health().stale, 'fresh again');
  } finally {
    await mirror.stop();
  }
});

t('a bucket deleted and recreated: the mirror reloads it (old entries gone, new ones in)', async ({ nc, admin }) => {
  const s = spec();
  const { mirror } = await mirrorOf(nc, s);
  try {
    const first = await openBucket(admin, s);
    await first.put('old', bytes({ n: 1, exp: 0 }));
    await first.put('old2', bytes({ n: 1, exp: 0 }));
    await waitFor(() => mirror.entries.has('old2'), 'old entries mirrored');
    await first.destroy();
    const again = await openBucket(admin, s);
    await again.put('new', bytes({ n: 7, exp: 0 }));
    await waitFor(() => mirror.entries.get('new')?.value.n === 7 && !mirror.entries.has('old'), 'reloaded', 5000);
    assert.ok(mirror.health().resyncs >= 1);
  } finally {
    await mirror.stop();
  }
});

t('bad entries written by an admin are skipped and counted; the mirror keeps going', async ({ nc, admin }) => {
  const s = spec();
  const { mirror } = await mirrorOf(nc, s);
  const store = createKvStore({ kv: await openBucket(nc, s), codec: codecOf(s) }, { logger });
  const writer = await openBucket(admin, s);
  try {
    await writer.put('good', bytes({ n: 1, exp: 0 }));
    await writer.put('junk', bytes('not json{'));
    await writer.put('off', bytes({ n: 'one', exp: 0 }));
    await writer.put('big', bytes({ n: 1, exp: 0, pad: 'x'.repeat(300) }));
    await writer.put('bin', new Uint8Array([0xff, 0xfe]));
    await writer.put('after', bytes({ n: 2, exp: 0 }));
    await waitFor(() => mirror.entries.get('after')?.value.n === 2, 'entries after the bad ones');
    assert.is(mirror.health().skipped, 4);
    assert.equal([...mirror.entries.keys()].sort(), ['after', 'good']);
    // a direct read treats a bad entry as absent too
    assert.is(await store.read('junk'), null);
    // a good value over a bad key brings it back
    await writer.put('junk', bytes({ n: 9, exp: 0 }));
    await waitFor(() => mirror.entries.get('junk')?.value.n === 9, 'repaired entry');
  } finally {
    await mirror.stop();
  }
});

t('sweepExpired deletes expired entries by CAS; one renewed meanwhile survives', async ({ nc, admin }) => {
  const s = spec();
  const store = createKvStore({ kv: await openBucket(nc, s), codec: codecOf(s) }, { logger });
  const other = await openBucket(admin, s);
  await store.start();
  try {
    await store.write('dead', { n: 1, exp: 10 }, null);
    const rev = await store.write('renewed', { n: 1, exp: 10 }, null);
    await store.write('alive', { n: 1, exp: 1e15 }, null);
    // another worker renews `renewed`; this store's mirror may not know yet, so pretend it does not
    await other.update('renewed', bytes({ n: 2, exp: 1e15 }), rev);
    store.mirror.note('renewed', rev, { n: 1, exp: 10 });
    const removed = await sweepExpired(store, { expired: (v) => v.exp <= 1000, logger });
    assert.equal(removed.map((e) => e.key), ['dead']);
    assert.is((await store.read('renewed'))?.value.n, 2);
    assert.is(await store.read('dead'), null);
    assert.ok(await store.read('alive'));
  } finally {
    await store.stop();
  }
});

t('the admission codec: one schema per key family, a tagged value, bad entries refused', () => {
  const lease = { sessionId: 'sA', peerId: 'p1', videoId: 'v1', grantedAt: 1, expiresAt: 2 };
  assert.equal(admissionCodec.read('slot.0', lease), { kind: 'lease', lease });
  assert.equal(admissionCodec.read('ticket', 7), { kind: 'ticket', ticket: 7 });
  assert.is(admissionCodec.read('something.else', { any: 1 }), null, 'not admission state');
  const waiter = { sessionId: 'sB', peerId: 'p2', videoId: 'v1', ticket: 3, since: 1, expiresAt: 2 };
  assert.equal(admissionCodec.read('wait.sB', waiter), { kind: 'waiter', waiter });
  assert.throws(() => admissionCodec.read('wait.sOTHER', waiter), (e: unknown) => e instanceof KvEntryError);
  assert.throws(() => admissionCodec.read('slot.1', { ...lease, peerId: 'a.b' }), (e: unknown) => e instanceof KvEntryError);
  assert.throws(() => admissionCodec.write('slot.0', { kind: 'waiter', waiter }), (e: unknown) => e instanceof KvValueError);
});

t('bucket options: replicas reach the stream config; an existing bucket is opened as it is', async ({ nc }) => {
  assert.is(kvOptionsOf(BucketSpecs.admission, { replicas: 3 }).replicas, 3);
  assert.is(kvOptionsOf(BucketSpecs.links).ttl, BucketSpecs.links.options.ttlMs);
  assert.throws(() => kvOptionsOf(BucketSpecs.swarm, { replicas: 0 }), /replicas/);
  const one = spec();
  assert.is((await (await openBucket(nc, one, { replicas: 1 })).status()).replicas, 1);
  // a single server refuses 3 replicas: proof that the option went into the stream config it was asked to create
  const three = spec();
  const err = await openBucket(nc, three, { replicas: 3 }).catch((e: unknown) => e);
  assert.instance(err, JetStreamApiError, String(err));
  assert.match(String(err), /replica|cluster/i);
  // pre-created by an operator's tool with other options: opened unchanged
  const pre = spec();
  await new Kvm(nc).create(pre.name, { history: 5 });
  assert.is((await (await openBucket(nc, pre)).status()).history, 5);
});

t.run();
