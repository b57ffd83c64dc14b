/**
 * The peerLink machine against a fake transport (no WebRTC): every transition of both roles, the timeouts,
 * closing and banning from any state, what the transport is told and when it is stopped, and the DOT export.
 * Frames (handshake check, strikes, the have-map) are in peerLink.frames.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor, fromCallback, toPromise } from 'xstate';
import { getStateNodes } from '@xstate/graph';
import { machineToDot, machineToMermaid } from '../../machines/mod.js';
import { canRequest, LinkReasons, PEER_LINK_STATES, peerLinkMachine } from '../../machines/peerLink/mod.js';
import type { LinkTransportEvent } from '../../machines/peerLink/mod.js';
import { handshake, open, REMOTE, ROOT, run, VIDEO } from './peerLink.harness.js';

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
