/**
 * The session keeper reports heartbeat answers raw (`origin.heartbeat`); the machine decides what they mean from
 * its own state: a renewal, an offer whose push was lost, a lease whose revocation push was lost, a position.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { denied, granted, LEASE, makeManifest, manualFetch, run, until } from './harness.js';

const ctx = (r: ReturnType<typeof run>) => r.actor.getSnapshot().context;

test('granted answer while holding the slot: a renewal (the new grant is used, the state stays)', async () => {
  const m = makeManifest(4);
  const f = manualFetch();
  const r = run({ open: async () => granted(m, 'g1'), fetch: f.impl, input: { parallel: 1 } });
  await until(() => r.calls.length === 1, 'first fetch');
  r.keeper({ type: 'origin.heartbeat', status: 'granted', grant: 'g2', lease: LEASE });
  await until(() => ctx(r).grant === 'g2', 'renewed grant');
  f.pending.get(0)!.resolve();
  await until(() => r.calls.length === 2, 'next fetch');
  assert.is(r.calls[1]!.input.grant, 'g2');
  assert.equal(r.history, ['opening', 'active.server']);
  r.send({ type: 'download.cancel' });
  await r.done();
});

test('granted answer while waiting: the offer (its push was lost) — resumeServer with that grant', async () => {
  const m = makeManifest(2);
  const r = run({ open: async () => denied(m, 1) });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.keeper({ type: 'origin.heartbeat', status: 'granted', grant: 'g9', lease: LEASE });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.ok(r.history.includes('active.resumeServer'));
  assert.ok(r.calls.every((c) => c.input.grant === 'g9' && c.input.source === 'origin'));
});

test('waiting answer while holding: the lease was lost (p2p), then the position; while waiting: the position only', async () => {
  const m = makeManifest(4);
  const f = manualFetch();
  const r = run({ open: async () => granted(m), fetch: f.impl, input: { parallel: 1 } });
  await until(() => r.calls.length === 1, 'first fetch');
  r.keeper({ type: 'origin.heartbeat', status: 'waiting', position: 2 });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  assert.is(ctx(r).grant, null);
  assert.is(ctx(r).position, 2);
  r.keeper({ type: 'origin.heartbeat', status: 'waiting', position: 1 });
  await until(() => ctx(r).position === 1, 'new position');
  assert.equal(r.history, ['opening', 'active.server', 'active.p2p'], 'still waiting, no flapping');
  r.send({ type: 'download.cancel' });
  assert.is((await r.done()).status, 'cancelled');
});

test.run();
