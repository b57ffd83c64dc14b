/**
 * Refused offers (client/p2p/refusals.ts), pure with a fake clock and signal sender: a refusal is answered with
 * `bye busy` for the attempt, at most `perSecond` a second (a flood is not amplified), and a peer that said busy
 * is not offered to again until `busyForMs` passed; the memory of busy peers is bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUSY_REASON, createRefusals } from '../../client/p2p/refusals.js';
import type { SignalMessage } from '../../protocol/mod.js';

function fixture(init: { perSecond?: number; busyForMs?: number; maxBusy?: number } = {}) {
  let now = 1000;
  const sent: Array<{ to: string; msg: SignalMessage }> = [];
  const r = createRefusals({ videoId: 'v1', ...init }, {
    send: async (to, msg) => void sent.push({ to, msg }),
    now: () => now,
  });
  return { r, sent, advance: (ms: number) => (now += ms) };
}

test('a refused offer is answered bye busy, for that attempt', () => {
  const { r, sent } = fixture();
  r.refuse('p1', 'c-1');
  assert.equal(sent, [{ to: 'p1', msg: { connId: 'c-1', videoId: 'v1', kind: 'bye', reason: BUSY_REASON } }]);
});

test('at most perSecond answers a second; silent past it, answering again as the rate allows', () => {
  const { r, sent, advance } = fixture({ perSecond: 3 });
  for (let i = 0; i < 10; i++) r.refuse(`p${i}`, `c-${i}`);
  assert.is(sent.length, 3);
  advance(300);
  r.refuse('q', 'c-q');
  assert.is(sent.length, 3, 'not yet a third of a second');
  advance(34);
  r.refuse('q', 'c-q2');
  assert.is(sent.length, 4);
});

test('a peer that said busy is skipped for busyForMs, then offered again', () => {
  const { r, advance } = fixture({ busyForMs: 5000 });
  assert.not.ok(r.isBusy('p'));
  r.noteBusy('p');
  assert.ok(r.isBusy('p'));
  advance(4999);
  assert.ok(r.isBusy('p'));
  advance(1);
  assert.not.ok(r.isBusy('p'));
});

test('the busy memory is bounded: the oldest are forgotten first', () => {
  const { r } = fixture({ maxBusy: 3 });
  for (const p of ['a', 'b', 'c', 'd']) r.noteBusy(p);
  assert.equal(['a', 'b', 'c', 'd'].map((p) => r.isBusy(p)), [false, true, true, true]);
  r.noteBusy('b'); // said busy again: now the newest
  r.noteBusy('e');
  assert.equal(['b', 'c', 'd', 'e'].map((p) => r.isBusy(p)), [true, false, true, true]);
});

test.run();
