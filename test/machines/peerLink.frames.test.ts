/**
 * The peerLink machine's frames against a fake transport: the handshake's swarm check, strikes and the ban they
 * lead to, the remote's have-map (bitfield, haves), frames out of order, and choke/unchoke repeats.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LinkReasons } from '../../machines/peerLink/mod.js';
import type { LinkTransportEvent } from '../../machines/peerLink/mod.js';
import { handshake, open, REMOTE, run } from './peerLink.harness.js';

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

test.run();
