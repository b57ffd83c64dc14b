/**
 * The peerLink machine against a fake transport (no WebRTC): every transition of both roles, the timeouts,
 * the handshake's swarm check, strikes, the remote's have-map, what the transport is told and when it is
 * stopped, and the DOT export.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, fromCallback, toPromise } from 'xstate';
import { getStateNodes } from '@xstate/graph';
import { recordHistory, stateId } from './harness.js';
import { machineToDot, machineToMermaid } from '../../machines/mod.js';
import { canRequest, LinkReasons, PEER_LINK_STATES, peerLinkMachine } from '../../machines/peerLink/mod.js';
import type {
  LinkTransportCommand, LinkTransportEvent, LinkTransportInput, PeerLinkInput, PeerLinkOutput,
} from '../../machines/peerLink/mod.js';

const VIDEO = 'vtest';
const ROOT = 'f'.repeat(64);
const REMOTE = 'peerB';

const handshake = (over: Partial<Extract<LinkTransportEvent, { type: 'frame.handshake' }>> = {}): LinkTransportEvent =>
  ({ type: 'frame.handshake', peerId: REMOTE, videoId: VIDEO, rootHash: ROOT, uploads: true, ...over });


interface Options {
  input?: Partial<PeerLinkInput>;
  delays?: { signallingTimeout?: number; connectTimeout?: number; handshakeTimeout?: number };
  /** replaces the fake transport's body (e.g. to throw) */
  transportStart?: () => void;
  /** run the machine's own placeholder transport */
  noTransport?: boolean;
}

/** Long enough never to fire during a test unless a test shortens it. */
const NEVER = 600_000;

function run(opts: Options = {}) {
  /** commands received by the transport and its stop, in order */
  const log: Array<LinkTransportCommand | 'stopped'> = [];
  const inputs: LinkTransportInput[] = [];
  const history: string[] = [];
  let sendBack: ((e: LinkTransportEvent) => void) | null = null;
  const transport = fromCallback<LinkTransportCommand, LinkTransportInput>(({ sendBack: sb, receive, input }) => {
    inputs.push(input);
    opts.transportStart?.();
    sendBack = sb;
    receive((c) => { log.push(c); });
    return () => { log.push('stopped'); };
  });
  const delays = { signallingTimeout: NEVER, connectTimeout: NEVER, handshakeTimeout: NEVER, ...opts.delays };
  const machine = opts.noTransport
    ? peerLinkMachine.provide({ delays })
    : peerLinkMachine.provide({ actors: { transport }, delays });
  const actor = createActor(machine, {
    input: { remotePeerId: REMOTE, role: 'offerer', videoId: VIDEO, rootHash: ROOT, ...opts.input },
  });
  recordHistory(actor, history);
  actor.start();
  const t = (e: LinkTransportEvent) => {
    if (!sendBack) throw new Error('transport not running');
    sendBack(e);
  };
  return {
    actor,
    log,
    inputs,
    history,
    t,
    snap: () => actor.getSnapshot(),
    ctx: () => actor.getSnapshot().context,
    state: () => stateId(actor.getSnapshot().value),
    done: () => toPromise(actor) as Promise<PeerLinkOutput>,
    commands: () => log.filter((c): c is LinkTransportCommand => c !== 'stopped'),
    stopped: () => log.filter((c) => c === 'stopped').length,
  };
}
type Run = ReturnType<typeof run>;

/** Offerer path up to `open.choked`. */
function open(r: Run) {
  r.t({ type: 'signal.offerSent' });
  r.t({ type: 'signal.answerReceived' });
  r.t({ type: 'transport.connected', at: 100 });
  r.t({ type: 'channel.open', at: 110 });
  r.t({ ...handshake(), at: 120 } as LinkTransportEvent);
  assert.is(r.state(), 'open.choked');
}

test('offerer: signalling → connecting → handshaking → open.choked → open.unchoked → open.choked', () => {
  const r = run();
  assert.equal(r.inputs, [{ remotePeerId: REMOTE, role: 'offerer', videoId: VIDEO }]);
  assert.is(r.state(), 'signalling');
  r.t({ type: 'signal.offerSent' });
  assert.is(r.state(), 'signalling', 'offer sent: still waiting for the answer');
  r.t({ type: 'signal.answerReceived' });
  assert.is(r.state(), 'connecting');
  r.t({ type: 'transport.connected', at: 100 });
  assert.is(r.state(), 'connecting', 'ICE/DTLS done: waiting for the channel');
  assert.is(r.ctx().connectedAt, 100);
  assert.equal(r.commands(), []);
  r.t({ type: 'channel.open' });
  assert.is(r.state(), 'handshaking');
  assert.equal(r.commands(), [{ type: 'link.sendHandshake' }], 'our handshake is sent on entry');
  assert.not.ok(canRequest(r.snap()));
  r.t({ ...handshake({ uploads: false }), at: 120 } as LinkTransportEvent);
  assert.is(r.state(), 'open.choked');
  assert.equal(r.ctx().remote, { peerId: REMOTE, uploads: false });
  assert.is(r.ctx().openedAt, 120);
  assert.not.ok(canRequest(r.snap()), 'choked: no requests');
  r.t({ type: 'frame.unchoke' });
  assert.is(r.state(), 'open.unchoked');
  assert.ok(canRequest(r.snap()));
  assert.ok(r.snap().matches({ open: 'unchoked' }));
  r.t({ type: 'frame.choke' });
  assert.is(r.state(), 'open.choked');
  assert.not.ok(canRequest(r.snap()));
  assert.equal(r.history, ['signalling', 'connecting', 'handshaking', 'open.choked', 'open.unchoked', 'open.choked']);
  assert.is(r.ctx().strikes, 0);
  assert.is(r.stopped(), 0);
  r.actor.stop();
  assert.is(r.stopped(), 1, 'stopping the machine stops the transport');
});

test('answerer: offerReceived, answerSent → connecting → handshaking → open', () => {
  const r = run({ input: { role: 'answerer' } });
  assert.equal(r.inputs, [{ remotePeerId: REMOTE, role: 'answerer', videoId: VIDEO }]);
  r.t({ type: 'signal.offerReceived' });
  assert.is(r.state(), 'signalling');
  r.t({ type: 'signal.answerReceived' });
  assert.is(r.state(), 'signalling', 'an answerer does not receive answers: ignored');
  r.t({ type: 'signal.answerSent' });
  assert.is(r.state(), 'connecting');
  r.t({ type: 'transport.connected' });
  assert.is(r.ctx().connectedAt, null, 'no `at`: no time recorded');
  r.t({ type: 'channel.open' });
  r.t(handshake());
  r.t({ type: 'frame.unchoke' });
  assert.equal(r.history, ['signalling', 'connecting', 'handshaking', 'open.choked', 'open.unchoked']);
  assert.is(r.ctx().openedAt, null);
  r.actor.stop();
});

test('offerer ignores answerSent; early connection events skip ahead', () => {
  const a = run();
  a.t({ type: 'signal.answerSent' });
  assert.is(a.state(), 'signalling');
  a.t({ type: 'transport.connected', at: 7 });
  assert.is(a.state(), 'connecting');
  assert.is(a.ctx().connectedAt, 7);
  a.actor.stop();

  const b = run({ input: { role: 'answerer' } });
  b.t({ type: 'channel.open' });
  assert.is(b.state(), 'handshaking');
  assert.equal(b.commands(), [{ type: 'link.sendHandshake' }]);
  b.t({ type: 'channel.open' });
  b.t({ type: 'transport.connected' });
  assert.is(b.state(), 'handshaking', 'repeated progress events are ignored');
  assert.equal(b.commands(), [{ type: 'link.sendHandshake' }], 'handshake sent once');
  b.actor.stop();
});

test('signalling timeout → closed (timeout:signalling), transport told then stopped', async () => {
  const r = run({ delays: { signallingTimeout: 2 } });
  r.t({ type: 'signal.offerSent' });
  const out = await r.done();
  assert.equal(out, { status: 'closed', reason: 'timeout:signalling' });
  assert.equal(r.history, ['signalling', 'closed']);
  assert.equal(r.log, [{ type: 'link.close', reason: 'timeout:signalling' }, 'stopped']);
});

test('connect timeout → closed (timeout:connecting)', async () => {
  const r = run({ delays: { connectTimeout: 2 } });
  r.t({ type: 'signal.answerReceived' });
  r.t({ type: 'transport.connected' }); // connected, but the channel never opens
  const out = await r.done();
  assert.equal(out, { status: 'closed', reason: LinkReasons.connectTimeout });
  assert.equal(r.history, ['signalling', 'connecting', 'closed']);
  assert.equal(r.log, [{ type: 'link.close', reason: 'timeout:connecting' }, 'stopped']);
});

test('handshake timeout → closed (timeout:handshaking)', async () => {
  const r = run({ delays: { handshakeTimeout: 2 } });
  r.t({ type: 'signal.answerReceived' });
  r.t({ type: 'channel.open' });
  const out = await r.done();
  assert.equal(out, { status: 'closed', reason: 'timeout:handshaking' });
  assert.equal(r.history, ['signalling', 'connecting', 'handshaking', 'closed']);
  assert.equal(r.log, [{ type: 'link.sendHandshake' }, { type: 'link.close', reason: 'timeout:handshaking' }, 'stopped']);
});

test('timeouts can also come from the input; a state left in time does not time out', async () => {
  // no `delays` provided here: they would win over the input
  const machine = peerLinkMachine.provide({
    actors: { transport: fromCallback(() => () => {}) },
  });
  const actor = createActor(machine, {
    input: { remotePeerId: REMOTE, role: 'offerer', videoId: VIDEO, rootHash: ROOT, timeouts: { signallingMs: 50, handshakeMs: 3 } },
  });
  actor.start();
  assert.equal(actor.getSnapshot().context.timeouts, { signallingMs: 50, connectMs: 10_000, handshakeMs: 3 });
  actor.send({ type: 'channel.open' } as LinkTransportEvent); // left signalling well before 50 ms
  const out = await toPromise(actor);
  assert.equal(out, { status: 'closed', reason: 'timeout:handshaking' });
});

test('handshake for another rootHash or videoId → banned (wrong swarm); wrong peerId → banned (wrong peer)', async () => {
  for (const over of [{ rootHash: 'e'.repeat(64) }, { videoId: 'other' }]) {
    const r = run();
    r.t({ type: 'channel.open' });
    r.t(handshake(over));
    const out = await r.done();
    assert.equal(out, { status: 'banned', reason: 'wrong swarm' });
    assert.equal(r.history, ['signalling', 'handshaking', 'banned']);
    assert.equal(r.log, [{ type: 'link.sendHandshake' }, { type: 'link.close', reason: 'wrong swarm' }, 'stopped']);
    assert.equal(r.ctx().remote, { peerId: REMOTE, uploads: true }, 'kept for diagnostics');
    assert.is(r.ctx().openedAt, null);
  }
  const r = run();
  r.t({ type: 'channel.open' });
  r.t(handshake({ peerId: 'impostor' }));
  assert.equal(await r.done(), { status: 'banned', reason: LinkReasons.wrongPeer });
});

test('2 invalid frames: still open; the 3rd → banned (protocol violations)', async () => {
  const r = run();
  open(r);
  r.t({ type: 'frame.unchoke' });
  r.t({ type: 'frame.invalid', reason: 'unknown frame type 9' });
  r.t({ type: 'frame.invalid', reason: 'truncated' });
  assert.is(r.state(), 'open.unchoked', 'two strikes change nothing else');
  assert.is(r.ctx().strikes, 2);
  assert.is(r.ctx().lastViolation, 'invalid frame: truncated');
  r.t({ type: 'frame.invalid', reason: 'oversized' });
  const out = await r.done();
  assert.equal(out, { status: 'banned', reason: 'protocol violations' });
  assert.is(r.ctx().strikes, 3);
  assert.equal(r.log.slice(-2), [{ type: 'link.close', reason: 'protocol violations' }, 'stopped']);
});

test('maxStrikes from the input', async () => {
  const r = run({ input: { maxStrikes: 1 } });
  r.t({ type: 'frame.invalid', reason: 'x' });
  assert.equal(await r.done(), { status: 'banned', reason: 'protocol violations' });
  assert.equal(r.history, ['signalling', 'banned']);
});

test('link.ban from open → banned: the transport gets link.close with the reason, then its cleanup runs', async () => {
  const r = run();
  open(r);
  r.t({ type: 'frame.unchoke' });
  r.actor.send({ type: 'link.ban', reason: 'corrupt chunk 17' });
  const out = await r.done();
  assert.equal(out, { status: 'banned', reason: 'corrupt chunk 17' });
  assert.equal(r.history.slice(-2), ['open.unchoked', 'banned']);
  assert.equal(r.log, [{ type: 'link.sendHandshake' }, { type: 'link.close', reason: 'corrupt chunk 17' }, 'stopped']);
  assert.is(r.snap().status, 'done');
  assert.not.ok(canRequest(r.snap()));
});

test('link.close from any live state → closed', async () => {
  const r = run();
  r.t({ type: 'signal.answerReceived' });
  r.actor.send({ type: 'link.close', reason: 'enough peers' });
  assert.equal(await r.done(), { status: 'closed', reason: 'enough peers' });
  assert.equal(r.log, [{ type: 'link.close', reason: 'enough peers' }, 'stopped']);
  const s = run();
  open(s);
  s.actor.send({ type: 'link.ban', reason: 'x' });
  assert.is((await s.done()).status, 'banned');
});

test('transport.failed during connecting → closed; transport.closed while open → closed', async () => {
  const r = run();
  r.t({ type: 'signal.answerReceived' });
  r.t({ type: 'transport.failed', reason: 'ice failed' });
  assert.equal(await r.done(), { status: 'closed', reason: 'ice failed' });
  assert.equal(r.history, ['signalling', 'connecting', 'closed']);
  assert.equal(r.log, [{ type: 'link.close', reason: 'ice failed' }, 'stopped'], 'link.close is sent anyway (idempotent)');

  const s = run();
  open(s);
  s.t({ type: 'transport.closed', reason: 'bye' });
  assert.equal(await s.done(), { status: 'closed', reason: 'bye' });
  assert.is(s.stopped(), 1);
});

test('bitfield then have frames update remoteHave and haveCount', () => {
  const r = run({ input: { chunkCount: 4 } });
  open(r);
  assert.is(r.ctx().remoteHave, null);
  r.t({ type: 'frame.bitfield', have: [true, false, false, true] });
  assert.equal(r.ctx().remoteHave, [true, false, false, true]);
  assert.is(r.ctx().haveCount, 2);
  r.t({ type: 'frame.have', index: 2 });
  assert.equal(r.ctx().remoteHave, [true, false, true, true]);
  assert.is(r.ctx().haveCount, 3);
  r.t({ type: 'frame.have', index: 2 });
  assert.is(r.ctx().haveCount, 3, 'a have for a known chunk changes nothing');
  r.t({ type: 'frame.unchoke' });
  r.t({ type: 'frame.have', index: 1 });
  assert.is(r.ctx().haveCount, 4, 'haves are taken in both open children');
  assert.is(r.ctx().strikes, 0);
  assert.equal(JSON.parse(JSON.stringify(r.ctx())), r.ctx(), 'context is plain JSON');
  r.actor.stop();
});

test('have out of range, have before bitfield, second bitfield, bitfield of the wrong length: strikes', () => {
  const r = run({ input: { maxStrikes: 10 } });
  open(r);
  r.t({ type: 'frame.have', index: 0 });
  assert.is(r.ctx().strikes, 1);
  assert.is(r.ctx().lastViolation, 'have before bitfield');
  r.t({ type: 'frame.bitfield', have: [false, true] });
  r.t({ type: 'frame.have', index: 2 });
  assert.is(r.ctx().lastViolation, 'have out of range');
  r.t({ type: 'frame.have', index: -1 });
  r.t({ type: 'frame.have', index: 0.5 });
  assert.is(r.ctx().strikes, 4);
  assert.equal(r.ctx().remoteHave, [false, true], 'rejected haves change nothing');
  assert.is(r.ctx().haveCount, 1);
  r.t({ type: 'frame.bitfield', have: [true, true] });
  assert.is(r.ctx().strikes, 5);
  assert.is(r.ctx().lastViolation, 'second bitfield');
  assert.equal(r.ctx().remoteHave, [false, true]);
  assert.is(r.state(), 'open.choked');
  r.actor.stop();

  const s = run({ input: { chunkCount: 3 } });
  open(s);
  s.t({ type: 'frame.bitfield', have: [true, true] });
  assert.is(s.ctx().lastViolation, 'bitfield length');
  assert.is(s.ctx().remoteHave, null);
  s.t({ type: 'frame.bitfield', have: [true, true, false] });
  assert.is(s.ctx().haveCount, 2, 'a correct bitfield after a rejected one is taken');
  s.actor.stop();
});

test('the strike that bans can be any violation (have out of range)', async () => {
  const r = run();
  open(r);
  r.t({ type: 'frame.bitfield', have: [false] });
  r.t({ type: 'frame.invalid', reason: 'x' });
  r.t({ type: 'frame.invalid', reason: 'y' });
  r.t({ type: 'frame.have', index: 5 });
  assert.equal(await r.done(), { status: 'banned', reason: 'protocol violations' });
  assert.is(r.ctx().lastViolation, 'have out of range');
});

test('frames out of order are strikes: handshake before channel.open, frames before the handshake, a 2nd handshake', async () => {
  const r = run({ input: { maxStrikes: 10 } });
  r.t({ type: 'signal.answerReceived' });
  r.t(handshake());
  assert.is(r.state(), 'connecting');
  assert.is(r.ctx().lastViolation, 'handshake before channel open');
  assert.is(r.ctx().remote, null);
  r.t({ type: 'channel.open' });
  for (const e of [
    { type: 'frame.bitfield', have: [true] },
    { type: 'frame.have', index: 0 },
    { type: 'frame.choke' },
    { type: 'frame.unchoke' },
  ] as LinkTransportEvent[]) {
    r.t(e);
    assert.is(r.ctx().lastViolation, `${e.type.slice('frame.'.length)} before handshake`);
  }
  assert.is(r.state(), 'handshaking');
  assert.is(r.ctx().remoteHave, null);
  assert.is(r.ctx().strikes, 5);
  r.t(handshake());
  r.t(handshake());
  assert.is(r.state(), 'open.choked');
  assert.is(r.ctx().strikes, 6);
  assert.is(r.ctx().lastViolation, 'second handshake');
  r.actor.stop();

  // strikes accumulate across states
  const s = run();
  s.t({ type: 'frame.choke' });
  s.t({ type: 'channel.open' });
  s.t({ type: 'frame.unchoke' });
  s.t({ type: 'frame.invalid', reason: 'z' });
  assert.equal(await s.done(), { status: 'banned', reason: 'protocol violations' });
  assert.equal(s.history, ['signalling', 'handshaking', 'banned']);
});

test('repeated choke/unchoke are not violations', () => {
  const r = run();
  open(r);
  r.t({ type: 'frame.choke' });
  assert.is(r.state(), 'open.choked');
  r.t({ type: 'frame.unchoke' });
  r.t({ type: 'frame.unchoke' });
  assert.is(r.state(), 'open.unchoked');
  assert.is(r.ctx().strikes, 0);
  r.actor.stop();
});

test('events after a final state are ignored', async () => {
  const r = run();
  open(r);
  r.actor.send({ type: 'link.ban', reason: 'first' });
  const out = await r.done();
  const logged = r.log.length;
  r.actor.send({ type: 'link.close', reason: 'second' });
  r.actor.send({ type: 'transport.failed', reason: 'late' } as LinkTransportEvent);
  r.actor.send({ type: 'frame.unchoke' } as LinkTransportEvent);
  r.t({ type: 'frame.invalid', reason: 'late' }); // from the stopped transport: dropped
  assert.is(r.state(), 'banned');
  assert.equal(out, { status: 'banned', reason: 'first' });
  assert.equal(r.snap().output, { status: 'banned', reason: 'first' });
  assert.is(r.ctx().strikes, 0);
  assert.is(r.log.length, logged, 'nothing more sent to the transport');
});

test('a transport that throws (or is not provided) → closed with the error, no link.close', async () => {
  const r = run({ transportStart: () => { throw new Error('no RTCPeerConnection'); } });
  assert.equal(await r.done(), { status: 'closed', reason: 'transport error: no RTCPeerConnection' });
  assert.equal(r.commands(), []);

  const s = run({ noTransport: true });
  assert.equal(await s.done(), { status: 'closed', reason: 'transport error: transport not provided' });
});

test('DOT export names every state, the finals doubled, and the key transitions', () => {
  const dot = machineToDot(peerLinkMachine);
  assert.ok(dot.startsWith('digraph "peerLink" {'));
  const ids = getStateNodes(peerLinkMachine.root).map((s) => s.id.replace(/^peerLink\./, ''));
  assert.equal(ids.sort(), [...PEER_LINK_STATES].sort());
  for (const s of PEER_LINK_STATES) assert.ok(dot.includes(`"peerLink.${s}"`), `missing ${s}`);
  assert.ok(dot.includes('subgraph "cluster_peerLink.open"'), 'open is a cluster');
  for (const f of ['closed', 'banned']) assert.ok(dot.includes(`"peerLink.${f}" [label="${f}", peripheries=2]`));
  const edges: Array<[string, string, string]> = [
    ['signalling', 'connecting', 'signal.answerReceived [roleIs(offerer)]'],
    ['signalling', 'connecting', 'signal.answerSent [roleIs(answerer)]'],
    ['signalling', 'closed', 'after signallingTimeout'],
    ['connecting', 'handshaking', 'channel.open'],
    ['connecting', 'closed', 'after connectTimeout'],
    ['handshaking', 'open', 'frame.handshake'],
    ['handshaking', 'banned', 'frame.handshake [isWrongSwarm]'],
    ['handshaking', 'closed', 'after handshakeTimeout'],
    ['open.choked', 'open.unchoked', 'frame.unchoke'],
    ['open.unchoked', 'open.choked', 'frame.choke'],
    ['open', 'banned', 'frame.have [isLastStrike]'],
  ];
  for (const [from, to, label] of edges) {
    assert.ok(dot.includes(`"peerLink.${from}" -> "peerLink.${to}" [label="${label}"`), `${from} -> ${to} on ${label}`);
  }
  assert.ok(dot.includes('"peerLink" -> "peerLink.signalling";'), 'initial state');
  assert.ok(dot.includes('"peerLink.open" -> "peerLink.open.choked";'), 'initial child of open');
  const mermaid = machineToMermaid(peerLinkMachine);
  assert.ok(mermaid.includes('open_choked --> open_unchoked : frame.unchoke'));
  if (!existsSync('/usr/bin/dot')) return;
  const r = spawnSync('/usr/bin/dot', ['-Tsvg'], { input: dot, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '', 'no Graphviz warnings');
});

test.run();
