/**
 * The download machine against fakes (no NATS, no disk): every transition of the server path, the fetch
 * children's lifetime (their AbortSignal fires when the machine stops needing them), and the output.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from 'xstate';
import { getStateNodes } from '@xstate/graph';
import { downloadMachine, modeOfSnapshot, toFetchFailure } from '../../machines/download/mod.js';
import { pickMissing } from '../../machines/download/schedule.js';
import { fetchedIndex } from '../../machines/download/events.js';
import {
  denied, failure, granted, LEASE, makeManifest, manualFetch, okFetch, run, totalBytes, until,
} from './harness.js';
import type { OpenSessionOutput } from '../../machines/download/types.js';


test('granted: fetches every chunk with at most `parallel` in flight, lowest first, then completes', async () => {
  const m = makeManifest(10);
  const r = run({ open: async () => granted(m), input: { parallel: 3 } });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'active.server', 'assembling', 'releasing', 'complete']);
  assert.equal(out, {
    status: 'complete',
    outputPath: '/out/vtest.mp4',
    bytesBySource: { origin: m.size },
    chunksFetched: 10,
  });
  assert.is(r.conc.max, 3);
  assert.equal(r.indexes(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const c9 = r.calls[9]!.input;
  assert.equal(c9, {
    index: 9, hash: m.chunks[9], length: 1000, videoId: 'vtest', sessionId: 's1', grant: 'g1', source: 'origin',
  });
  assert.equal(r.keeperInputs, [{ sessionId: 's1', peerId: 'p1', videoId: 'vtest' }]);
  assert.is(r.keeperStopped(), 1);
  assert.equal(r.releases, [{ sessionId: 's1', peerId: 'p1' }], 'released on complete');
});

test('default parallel is 4', async () => {
  const r = run({ open: async () => granted(makeManifest(12)) });
  await r.done();
  assert.is(r.conc.max, 4);
});

test('finished fetch children do not pile up in the snapshot, and the context is plain JSON', async () => {
  const m = makeManifest(6);
  const f = manualFetch();
  const r = run({ open: async () => granted(m), fetch: f.impl, input: { parallel: 2 } });
  await until(() => f.pending.size === 2, 'two fetches');
  f.pending.get(0)!.resolve();
  await until(() => f.pending.has(2), 'chunk 2 requested');
  const snap = r.actor.getSnapshot();
  assert.equal(Object.keys(snap.children).sort(), ['fetch.1', 'fetch.2', 'sessionKeeper', 'swarm']);
  assert.equal(snap.context.inFlight, [1, 2]);
  assert.equal(JSON.parse(JSON.stringify(snap.context)).have, [true, false, false, false, false, false]);
  r.actor.stop();
});

test('denied at open: waits in active.p2p and keeps the wait-list position', async () => {
  const r = run({ open: async () => denied(makeManifest(3), 5) });
  await waitFor(r.actor, (s) => s.matches({ active: 'p2p' }));
  assert.is(r.actor.getSnapshot().context.position, 5);
  assert.is(r.actor.getSnapshot().context.grant, null);
  r.keeper({ type: 'origin.position', position: 2 });
  assert.is(r.actor.getSnapshot().context.position, 2);
  assert.is(r.calls.length, 0);
  r.actor.stop();
});

test('p2p + slotOffered → resumeServer → complete', async () => {
  const m = makeManifest(5);
  const r = run({ open: async () => denied(m) });
  await waitFor(r.actor, (s) => s.matches({ active: 'p2p' }));
  r.keeper({ type: 'origin.slotOffered', grant: 'g-offer', lease: LEASE });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'active.p2p', 'active.resumeServer', 'assembling', 'releasing', 'complete']);
  assert.is(out.status, 'complete');
  assert.is(out.chunksFetched, 5);
  assert.ok(r.calls.every((c) => c.input.grant === 'g-offer'));
  assert.equal(r.releases, [{ sessionId: 's1', peerId: 'p1' }]);
});

test('open rejects → failed, nothing to release', async () => {
  const r = run({ open: async () => { throw Object.assign(new Error('no such video'), { code: 'unknown_video' }); } });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'failed']);
  assert.equal(out.error, { code: 'unknown_video', message: 'no such video' });
  assert.is(out.status, 'failed');
  assert.is(r.releases.length, 0);
});

test('every chunk already in `have` → straight to assembling', async () => {
  const r = run({ open: async () => granted(makeManifest(4)), input: { have: [3, 2, 1, 0] } });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'assembling', 'releasing', 'complete']);
  assert.is(r.calls.length, 0);
  assert.is(out.chunksFetched, 0);
  assert.equal(out.bytesBySource, {});
  assert.is(r.keeperInputs.length, 0);
});

test('resume with a partial `have` fetches only the missing chunks', async () => {
  const m = makeManifest(6);
  const r = run({ open: async () => granted(m), input: { have: [0, 2, 5, 99] } });
  const out = await r.done();
  assert.equal(r.indexes(), [1, 3, 4]);
  assert.is(out.chunksFetched, 3);
  assert.equal(out.bytesBySource, { origin: totalBytes(m, [1, 3, 4]) });
});

test('a corrupt chunk is retried and then succeeds', async () => {
  const m = makeManifest(4);
  const r = run({
    open: async () => granted(m),
    fetch: async (call, nth) => {
      if (call.input.index === 2 && nth === 1) throw failure('corrupt', 'hash mismatch');
      return okFetch(call, nth);
    },
  });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.equal(r.indexes().filter((i) => i === 2).length, 2);
  assert.is(out.chunksFetched, 4);
  assert.equal(out.bytesBySource, { origin: m.size });
});

test('network failures (and unknown errors) are retried after the retry delay', async () => {
  const m = makeManifest(3);
  const r = run({
    open: async () => granted(m),
    fetch: async (call, nth) => {
      if (call.input.index === 0 && nth === 1) throw failure('network', 'reset');
      if (call.input.index === 1 && nth < 3) throw new TypeError('fetch failed'); // no reason: network
      return okFetch(call, nth);
    },
  });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.equal(r.indexes().filter((i) => i === 1).length, 3);
});

test('a chunk that stays corrupt fails the download after maxAttempts, naming the chunk', async () => {
  const m = makeManifest(4);
  const r = run({
    open: async () => granted(m),
    input: { maxAttempts: 3, parallel: 1 },
    fetch: async (call, nth) => {
      if (call.input.index === 1) throw failure('corrupt', 'hash mismatch');
      return okFetch(call, nth);
    },
  });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'active.server', 'releasing', 'failed']);
  assert.is(out.status, 'failed');
  assert.is(out.error?.code, 'chunk_failed');
  assert.is(out.error?.chunk, 1);
  assert.match(out.error!.message, /chunk 1 /);
  assert.equal(r.indexes().filter((i) => i === 1).length, 3);
  assert.is(out.chunksFetched, 1);
  assert.equal(r.releases, [{ sessionId: 's1', peerId: 'p1' }]);
});

test('fetch denied → p2p, other in-flight fetches aborted, verified chunks kept', async () => {
  const m = makeManifest(8);
  const f = manualFetch();
  const r = run({ open: async () => granted(m), fetch: f.impl });
  await until(() => f.pending.size === 4, 'four fetches');
  f.pending.get(0)!.resolve();
  await until(() => f.pending.has(4), 'chunk 4 requested');
  const others = [2, 3, 4].map((i) => f.pending.get(i)!.call.signal);
  f.pending.get(1)!.reject(failure('denied', '403'));
  await waitFor(r.actor, (s) => s.matches({ active: 'p2p' }));
  assert.ok(others.every((s) => s.aborted), 'in-flight fetches aborted');
  const ctx = r.actor.getSnapshot().context;
  assert.equal(ctx.inFlight, []);
  assert.is(ctx.grant, null);
  assert.is(ctx.have[0], true);
  assert.is(ctx.chunksFetched, 1);
  assert.equal(ctx.attempts, {}, 'a denial is not a failed attempt');
  assert.equal(Object.keys(r.actor.getSnapshot().children).sort(), ['sessionKeeper', 'swarm']);
  // and back: the slot returns, only the missing chunks are fetched again
  r.keeper({ type: 'origin.slotOffered', grant: 'g2', lease: LEASE });
  await until(() => f.pending.size === 4, 'refetch');
  assert.equal([...f.pending.keys()].sort(), [1, 2, 3, 4]);
  r.actor.stop();
});

test('server + leaseLost → p2p: requests already running finish and are kept, nothing new goes to the origin', async () => {
  const f = manualFetch();
  const r = run({ open: async () => granted(makeManifest(5)), fetch: f.impl, input: { parallel: 2 } });
  await until(() => f.pending.size === 2, 'two fetches');
  const signals = [...f.pending.values()].map((p) => p.call.signal);
  r.keeper({ type: 'origin.leaseLost', reason: 'turn over' });
  assert.ok(r.actor.getSnapshot().matches({ active: 'p2p' }));
  assert.not.ok(signals.some((s) => s.aborted), 'admitted requests are not cut off');
  assert.is(r.actor.getSnapshot().context.lease, null);
  f.pending.get(0)!.resolve();
  await until(() => r.actor.getSnapshot().context.have[0] === true, 'chunk 0 kept in p2p');
  f.pending.get(1)!.reject(failure('denied', '403 lease_lost'));
  await until(() => r.actor.getSnapshot().context.inFlight.length === 0, 'failed request dropped');
  assert.is(f.pending.size, 0, 'no new origin request without a grant');
  assert.equal(r.history, ['opening', 'active.server', 'active.p2p']);
  assert.equal(r.actor.getSnapshot().context.attempts, {}, 'not counted as an attempt');
  // a late error from a fetch child the machine no longer tracks is swallowed, not fatal
  r.actor.send({ type: 'xstate.error.actor.fetch.7', error: failure('network') });
  assert.is(r.actor.getSnapshot().status, 'active');
  r.actor.stop();
});

test('sessionLost (origin forgot the session) → opening again, a new session, verified chunks kept', async () => {
  const m = makeManifest(4);
  const f = manualFetch();
  let opens = 0;
  const r = run({
    open: async () => (++opens === 1 ? granted(m) : { ...denied(m, 1), sessionId: 's2' }),
    fetch: f.impl, input: { parallel: 1 },
  });
  await until(() => f.pending.has(0), 'first fetch');
  f.pending.get(0)!.resolve();
  await until(() => f.pending.has(1), 'second fetch');
  r.keeper({ type: 'origin.sessionLost', reason: 'expired' });
  await waitFor(r.actor, (s) => s.matches({ active: 'p2p' }));
  const ctx = r.actor.getSnapshot().context;
  assert.is(opens, 2);
  assert.is(ctx.sessionId, 's2');
  assert.is(ctx.have[0], true, 'chunk verified under the old session is kept');
  assert.is(ctx.haveCount, 1);
  assert.equal(r.history, ['opening', 'active.server', 'opening', 'active.p2p']);
  r.keeper({ type: 'origin.slotOffered', grant: 'g3', lease: LEASE });
  await until(() => f.pending.has(1), 'refetch of chunk 1 under the new grant');
  assert.is(f.pending.get(1)!.call.input.grant, 'g3');
  assert.is(f.pending.get(1)!.call.input.sessionId, 's2');
  r.actor.stop();
});

test('grantRenewed: later fetches use the new grant; slotOffered while fetching just updates it', async () => {
  const f = manualFetch();
  const r = run({ open: async () => granted(makeManifest(3)), fetch: f.impl, input: { parallel: 1 } });
  await until(() => f.pending.has(0), 'chunk 0');
  r.keeper({ type: 'origin.grantRenewed', grant: 'g2', lease: { ...LEASE, expiresAt: 1 } });
  assert.equal(r.actor.getSnapshot().context.lease, { ...LEASE, expiresAt: 1 });
  f.pending.get(0)!.resolve();
  await until(() => f.pending.has(1), 'chunk 1');
  r.actor.send({ type: 'origin.slotOffered', grant: 'g3', lease: LEASE });
  assert.ok(r.actor.getSnapshot().matches({ active: 'server' }));
  f.pending.get(1)!.resolve();
  await until(() => f.pending.has(2), 'chunk 2');
  f.pending.get(2)!.resolve();
  await r.done();
  assert.equal(r.calls.map((c) => c.input.grant), ['g1', 'g2', 'g3']);
});

test('assemble error → failed (session released)', async () => {
  const r = run({
    open: async () => granted(makeManifest(2)),
    assemble: async () => { throw new Error('disk full'); },
  });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'active.server', 'assembling', 'releasing', 'failed']);
  assert.equal(out.error, { code: 'assemble_failed', message: 'disk full' });
  assert.is(out.chunksFetched, 2);
  assert.is(r.releases.length, 1);
});

test('cancel while fetching → cancelled, fetches aborted, session released', async () => {
  const f = manualFetch();
  const r = run({ open: async () => granted(makeManifest(5)), fetch: f.impl });
  await until(() => f.pending.size === 4, 'four fetches');
  const signals = [...f.pending.values()].map((p) => p.call.signal);
  r.actor.send({ type: 'download.cancel' });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'active.server', 'releasing', 'cancelled']);
  assert.is(out.status, 'cancelled');
  assert.ok(signals.every((s) => s.aborted));
  assert.equal(r.releases, [{ sessionId: 's1', peerId: 'p1' }]);
});

test('cancel while opening → cancelled (open aborted), nothing to release', async () => {
  let openSignal: AbortSignal | null = null;
  const r = run({ open: (_, signal) => { openSignal = signal; return new Promise<OpenSessionOutput>(() => {}); } });
  await until(() => openSignal !== null, 'open called');
  r.actor.send({ type: 'download.cancel' });
  const out = await r.done();
  assert.equal(r.history, ['opening', 'cancelled']);
  assert.is(out.status, 'cancelled');
  assert.is(r.releases.length, 0);
  assert.ok((openSignal as AbortSignal | null)?.aborted);
});

test('cancel while waiting in p2p and while assembling', async () => {
  const a = run({ open: async () => denied(makeManifest(2)) });
  await waitFor(a.actor, (s) => s.matches({ active: 'p2p' }));
  a.keeper({ type: 'download.cancel' });
  assert.is((await a.done()).status, 'cancelled');
  assert.is(a.releases.length, 1);

  const b = run({ open: async () => granted(makeManifest(2)), assemble: () => new Promise(() => {}) });
  await waitFor(b.actor, (s) => s.matches('assembling'));
  b.actor.send({ type: 'download.cancel' });
  const out = await b.done();
  assert.is(out.status, 'cancelled');
  assert.is(out.chunksFetched, 2);
  assert.is(b.releases.length, 1);
});

test('a failing or hanging release does not change the outcome', async () => {
  const a = run({ open: async () => granted(makeManifest(2)), release: async () => { throw new Error('nats down'); } });
  assert.is((await a.done()).status, 'complete');
  const b = run({
    open: async () => granted(makeManifest(2)),
    release: () => new Promise(() => {}),
    delays: { releaseTimeout: 5 },
  });
  assert.is((await b.done()).status, 'complete');
});

test('sessionKeeper error → failed (session released)', async () => {
  const r = run({
    open: async () => denied(makeManifest(2)),
    keeper: () => { throw Object.assign(new Error('unknown session'), { code: 'unknown_session' }); },
  });
  const out = await r.done();
  assert.equal(out.error, { code: 'unknown_session', message: 'unknown session' });
  assert.equal(r.history, ['opening', 'active.p2p', 'releasing', 'failed']);
  assert.is(r.releases.length, 1);
});

test('helpers: lowest missing first, unknown rejections are network failures', () => {
  assert.equal(pickMissing([true, false, false, true, false, false], [2], 3), [1, 4, 5]);
  assert.equal(pickMissing([true, false], [], 0), []);
  assert.equal(toFetchFailure(failure('denied', '403')), { reason: 'denied', message: '403' });
  assert.equal(toFetchFailure({ reason: 'corrupt', message: 'bad' }), { reason: 'corrupt', message: 'bad' });
  assert.equal(toFetchFailure(new Error('boom')), { reason: 'network', message: 'boom' });
  assert.equal(toFetchFailure({ reason: 'weird', message: 'x' }), { reason: 'network', message: 'x' });
  // the chunk comes from the fetch child's result, not from its id
  const done = { type: 'xstate.done.actor.fetch.3', output: { ok: true, index: 12, source: 'origin', bytes: 1 } };
  assert.is(fetchedIndex(done), 12);
  assert.is(fetchedIndex({ type: 'xstate.error.actor.sessionKeeper' }), -1);
});

test('every state carries the one mode a watcher is shown, as a tag', () => {
  const modes = Object.fromEntries(getStateNodes(downloadMachine.root).filter((n) => n.type !== 'compound')
    .map((n) => [n.id.replace(/^download\./, ''), [...n.tags]]));
  assert.equal(modes, {
    opening: ['opening'], openBackoff: ['opening'], 'active.server': ['server'], 'active.p2p': ['p2p'],
    'active.peersOnly': ['p2p'], 'active.resumeServer': ['resumeServer'], assembling: ['assembling'],
    releasing: ['assembling'], complete: ['complete'], failed: ['failed'], cancelled: ['cancelled'],
  });
  const tagged = (...tags: string[]) => ({ hasTag: (t: string) => tags.includes(t) });
  assert.is(modeOfSnapshot(tagged('resumeServer')), 'resumeServer');
  assert.is(modeOfSnapshot(tagged()), 'opening');
});

test.run();
