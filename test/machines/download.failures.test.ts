/**
 * Transient versus persistent origin failures in the download machine, against fakes: outages (no answer, 503)
 * are waited out without spending a chunk's attempts and fail only after the outage timer; a gateway that keeps
 * refusing grants the origin keeps issuing makes the client give its slot back, to peers or to a clear failure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTransientError, outageRetryDelayMs, toFetchFailure } from '../../machines/download/schedule.js';
import { denied, failure, granted, LEASE, makeManifest, run, until } from './harness.js';

const refused = () => Object.assign(failure('denied', 'origin answered 401 grant_invalid'), { code: 'grant_invalid' });

test('unavailable fetches (outage) do not spend attempts: 6 in a row with maxAttempts 2, then complete', async () => {
  const r = run({
    open: async () => granted(makeManifest(2)),
    input: { maxAttempts: 2, parallel: 1 },
    fetch: async ({ input }, nth) => {
      if (input.index === 0 && nth <= 6) throw failure('unavailable', 'origin answered 503 unavailable');
      return { index: input.index, source: input.source, bytes: input.length };
    },
    delays: { outageRetryDelay: 1 },
  });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(r.calls.filter((c) => c.input.index === 0).length, 7);
  assert.is(r.actor.getSnapshot().context.unreachable, false, 'a chunk ended the outage');
});

test('an outage that lasts past the outage timer fails the download clearly and releases the session', async () => {
  const r = run({
    open: async () => granted(makeManifest(2)),
    fetch: async () => { throw failure('unavailable', 'GET …: fetch failed'); },
    delays: { outageRetryDelay: 1, outageTimeout: 20 },
  });
  const out = await r.done();
  assert.is(out.status, 'failed');
  assert.is(out.error?.code, 'origin_unreachable');
  assert.match(out.error!.message, /did not answer/);
  assert.equal(r.history.slice(-2), ['releasing', 'failed']);
  assert.is(r.releases.length, 1);
});

test('heartbeats without an answer arm the outage timer; an answer disarms it', async () => {
  const r = run({ open: async () => denied(makeManifest(2)), delays: { outageTimeout: 5 } });
  await until(() => r.history.includes('active.p2p'), 'p2p');
  r.keeper({ type: 'origin.unreachable', reason: 'heartbeat timed out' });
  assert.is(r.actor.getSnapshot().context.unreachable, true);
  r.keeper({ type: 'origin.position', position: 1 });
  assert.is(r.actor.getSnapshot().context.unreachable, false);
  await new Promise((res) => setTimeout(res, 30));
  assert.equal(r.actor.getSnapshot().value, { active: 'p2p' }, 'the disarmed timer did not fire');
  r.keeper({ type: 'origin.unreachable', reason: 'heartbeat timed out' });
  const out = await r.done();
  assert.is(out.error?.code, 'origin_unreachable');
  assert.is(r.releases.length, 1);
});

// no answer (NATS restarting), or the origin's per-peer open rate: both are waited out, neither fails the download
for (const [code, message] of [['timeout', 'sy.origin.open timed out'], ['rate_limited', 'too many open requests from p: at most 2/s']]) {
  test(`open refused with ${code} → openBackoff → opening again → complete`, async () => {
    let opens = 0;
    const r = run({
      open: async () => {
        if (++opens <= 2) throw Object.assign(new Error(message), { code });
        return granted(makeManifest(2));
      },
      delays: { openRetryDelay: 1 },
    });
    const out = await r.done();
    assert.is(out.status, 'complete');
    assert.is(opens, 3);
    assert.equal(r.history.slice(0, 5), ['opening', 'openBackoff', 'opening', 'openBackoff', 'opening']);
  });
}

test('open without an answer for longer than the outage timer → failed, nothing to release', async () => {
  const r = run({
    open: async () => { throw Object.assign(new Error('no service answers sy.origin.open'), { code: 'unavailable' }); },
    delays: { openRetryDelay: 1, outageTimeout: 20 },
  });
  const out = await r.done();
  assert.is(out.error?.code, 'origin_unreachable');
  assert.is(r.releases.length, 0);
});

test('grants refused while the origin keeps granting, no peers: the slot is released and the error names the cause', async () => {
  const r = run({
    open: async () => granted(makeManifest(3)),
    fetch: async () => { throw refused(); },
    keeper: () => {},
  });
  for (let n = 1; n <= 3; n++) {
    await until(() => r.actor.getSnapshot().context.grantRejections === n && r.history.at(-1) === 'active.p2p', `refusal ${n}`);
    r.keeper({ type: 'origin.grantRenewed', grant: `g${n + 1}`, lease: LEASE });
  }
  const out = await r.done();
  assert.is(out.status, 'failed');
  assert.is(out.error?.code, 'grant_rejected');
  assert.match(out.error!.message, /grant secrets differ\? \(grant_invalid/);
  assert.equal(r.history, ['opening', 'active.server', 'active.p2p', 'active.resumeServer', 'active.p2p',
    'active.resumeServer', 'active.p2p', 'releasing', 'failed']);
  assert.is(r.releases.length, 1);
});

test('grants refused but peers have the chunks: the slot is given back at once and peers finish the download', async () => {
  const m = makeManifest(3);
  const r = run({
    open: async () => granted(m),
    input: { maxGrantRejections: 1 },
    fetch: async ({ input }) => {
      if (input.source === 'origin') throw refused();
      return { index: input.index, source: input.source, bytes: input.length };
    },
  });
  await until(() => r.history.at(-1) === 'active.p2p', 'p2p after the refusal');
  r.swarm({ type: 'peer.bitfield', peerId: 'a', have: [true, true, true] });
  r.keeper({ type: 'origin.grantRenewed', grant: 'g2', lease: LEASE });
  await until(() => r.releases.length === 1, 'slot released while still downloading');
  assert.ok(r.history.includes('active.peersOnly'));
  const originCalls = r.calls.filter((c) => c.input.source === 'origin').length;
  r.keeper({ type: 'origin.grantRenewed', grant: 'g3', lease: LEASE });
  r.swarm({ type: 'peer.unchoked', peerId: 'a' });
  const out = await r.done();
  assert.is(out.status, 'complete');
  assert.is(out.bytesBySource['peer:a'], m.size);
  assert.is(r.calls.filter((c) => c.input.source === 'origin').length, originCalls, 'the origin was not asked again');
});

test('a refusal the origin agrees with (lease lost: it says we wait) is not a grant mismatch', async () => {
  const r = run({ open: async () => granted(makeManifest(2)), fetch: async () => { throw refused(); } });
  await until(() => r.history.at(-1) === 'active.p2p', 'p2p');
  assert.is(r.actor.getSnapshot().context.grantRejections, 1);
  r.keeper({ type: 'origin.position', position: 2 });
  assert.is(r.actor.getSnapshot().context.grantRejections, 0);
  r.actor.send({ type: 'download.cancel' });
  assert.is((await r.done()).status, 'cancelled');
});

test('helpers: gateway codes survive toFetchFailure; only unavailable/timeout are transient; outage backoff ≤ 2 s', () => {
  assert.equal(toFetchFailure(refused()), { reason: 'denied', message: 'origin answered 401 grant_invalid', code: 'grant_invalid' });
  assert.is(toFetchFailure(failure('unavailable')).reason, 'unavailable');
  assert.ok(isTransientError({ code: 'timeout' }) && isTransientError({ code: 'unavailable' }));
  assert.not.ok(isTransientError({ code: 'unknown_video' }) || isTransientError(new Error('x')));
  assert.is(outageRetryDelayMs(1), 250);
  assert.is(outageRetryDelayMs(100), 2000);
});

test.run();

test('a session lost before any beat was answered is re-opened after the backoff; one lost later at once', async () => {
  const m = makeManifest(4);
  let opens = 0;
  const r = run({
    open: async () => ({ ...denied(m, 1), sessionId: `s${++opens}` }),
    keeper: () => {},
    delays: { openRetryDelay: 1 },
  });
  await until(() => r.history.at(-1) === 'active.p2p', 'first session');
  r.keeper({ type: 'origin.sessionLost', reason: 'unknown at once', answered: false });
  await until(() => opens === 2 && r.history.at(-1) === 'active.p2p', 'second session');
  assert.equal(r.history, ['opening', 'active.p2p', 'openBackoff', 'opening', 'active.p2p']);
  r.keeper({ type: 'origin.sessionLost', reason: 'expired', answered: true });
  await until(() => opens === 3 && r.history.at(-1) === 'active.p2p', 'third session');
  assert.equal(r.history.slice(5), ['opening', 'active.p2p']);
  assert.is(r.actor.getSnapshot().context.sessionId, 's3');
  r.actor.stop();
});
