/**
 * The session keeper (client/runner.ts) against a scripted origin client: its first heartbeat goes at once (pushes
 * sent before it subscribed are lost, the answer carries what they said), and an answer to a beat that crossed a
 * push for the session is dropped, since the push is newer (a turn told while the crowd queued must not be undone
 * by a `granted` answer computed before it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, createMachine, type AnyEventObject } from 'xstate';
import { beatTimeoutMs, type OriginClient } from '../../actors/origin/client.js';
import { sessionKeeperActor } from '../../client/runner.js';
import { createLogger } from '../../lib/logger.js';
import { TimeoutError, UnavailableError, UnknownSessionError, type HeartbeatReply, type LeaseInfo, type SlotOffer } from '../../protocol/mod.js';

const LEASE: LeaseInfo = { slot: 0, expiresAt: Date.now() + 30_000, ttlMs: 30_000 };
type Handlers = Parameters<OriginClient['onPush']>[1];

/** A parent that invokes the keeper and records what it reports. */
function harness(heartbeat: () => Promise<HeartbeatReply>, beatMs = 60_000) {
  let handlers: Handlers = {};
  const beats: number[] = [];
  const timeouts: Array<number | undefined> = [];
  const origin: Pick<OriginClient, 'heartbeat' | 'onPush' | 'release'> = {
    heartbeat: (_s, _p, opts) => {
      beats.push(Date.now());
      timeouts.push(opts?.timeoutMs);
      return heartbeat();
    },
    onPush: (_peerId, h) => {
      handlers = h;
      return () => {};
    },
    release: async () => ({ released: true }),
  };
  const got: AnyEventObject[] = [];
  const parent = createMachine({
    invoke: { src: sessionKeeperActor(origin, createLogger('keeper-test', 'silent'), { ms: beatMs }),
      input: { sessionId: 's1', peerId: 'p1', videoId: 'v1' } },
    on: { '*': { actions: ({ event }) => got.push(event) } },
  });
  const actor = createActor(parent).start();
  return { actor, got, beats, timeouts, push: (o: SlotOffer) => handlers.slotOffered?.(o) };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));
const until = async (pred: () => boolean) => {
  for (let i = 0; i < 200 && !pred(); i++) await tick(5);
};

test('the first heartbeat goes at once, and its answer reaches the machine', async () => {
  const h = harness(async () => ({ status: 'granted', grant: 'g1', lease: LEASE }) as HeartbeatReply);
  await tick(30);
  assert.is(h.beats.length, 1, 'one beat, not after ttl/3');
  assert.equal(h.got.map((e) => e.type), ['origin.heartbeat']);
  h.actor.stop();
});

test('a push that crosses a heartbeat wins: the older answer is dropped', async () => {
  let answer!: (r: HeartbeatReply) => void;
  const h = harness(() => new Promise<HeartbeatReply>((r) => (answer = r)));
  await tick();
  assert.is(h.beats.length, 1);
  // while the beat is out, the origin pushes the holder its turn
  h.push({ sessionId: 's1', videoId: 'v1', grant: 'g2', lease: { ...LEASE, turnBytes: 1000 } });
  // the answer was computed before the push (no turn yet)
  answer({ status: 'granted', grant: 'g1', lease: LEASE } as HeartbeatReply);
  await tick();
  assert.equal(h.got.map((e) => e.type), ['origin.slotOffered'], 'the stale granted answer is not reported');
  assert.is((h.got[0] as unknown as { lease: LeaseInfo }).lease.turnBytes, 1000);
  h.actor.stop();
});

test('a push for another session does not make an answer stale', async () => {
  let answer!: (r: HeartbeatReply) => void;
  const h = harness(() => new Promise<HeartbeatReply>((r) => (answer = r)));
  await tick();
  h.push({ sessionId: 'other', videoId: 'v1', grant: 'gx', lease: LEASE });
  answer({ status: 'waiting', position: 2 } as HeartbeatReply);
  await tick();
  assert.equal(h.got.map((e) => e.type), ['origin.heartbeat']);
  h.actor.stop();
});


test('unknown_session: reported once as sessionLost, saying whether any beat of the session was answered', async () => {
  const lostAtOnce = harness(async () => { throw new UnknownSessionError('s1'); });
  await tick(30);
  assert.equal(lostAtOnce.got, [{ type: 'origin.sessionLost', reason: 'session expired at the origin', answered: false }]);
  lostAtOnce.actor.stop();
  let n = 0;
  const lostLater = harness(async () => {
    if (++n === 1) return { status: 'waiting', position: 1 } as HeartbeatReply;
    throw new UnknownSessionError('s1');
  }, 5);
  await until(() => lostLater.got.length === 2);
  await tick(30);
  assert.equal(lostLater.got.map((e) => e.type), ['origin.heartbeat', 'origin.sessionLost']);
  assert.is(lostLater.got[1]!.answered, true);
  assert.is(lostLater.beats.length, 2, 'no beat after the loss');
  lostLater.actor.stop();
});

test('a timed-out beat (lost with a worker that died) is sent again at once; other failures wait a beat', async () => {
  let n = 0;
  const timedOut = harness(async () => {
    if (++n === 1) throw new TimeoutError('sy.origin.heartbeat.p1 timed out');
    return { status: 'granted', grant: 'g1', lease: LEASE } as HeartbeatReply;
  });
  await until(() => timedOut.beats.length === 2);
  assert.is(timedOut.beats.length, 2, 'retried without waiting the 60 s beat');
  assert.equal(timedOut.got.map((e) => e.type), ['origin.unreachable', 'origin.heartbeat']);
  // each beat is bounded by a beat (within 1–5 s), not the 5 s of other requests: a lost one is retried in time
  assert.equal(timedOut.timeouts, [beatTimeoutMs(60_000), beatTimeoutMs(60_000)]);
  timedOut.actor.stop();
  const down = harness(async () => { throw new UnavailableError('no service answers sy.origin.heartbeat.p1'); });
  await tick(50);
  assert.is(down.beats.length, 1, 'no responders: the next beat waits its period');
  assert.equal(down.got.map((e) => e.type), ['origin.unreachable']);
  down.actor.stop();
  assert.equal([beatTimeoutMs(100), beatTimeoutMs(1000), beatTimeoutMs(3333), beatTimeoutMs(60_000)], [1000, 1000, 3333, 5000]);
});

test.run();
