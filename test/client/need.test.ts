/**
 * Who needs our upload most (client/p2p/need.ts), pure with a fake clock: the remote's own count of what it lacks,
 * until a receipt shows its bitfield lies (a chunk we sent it whole still not announced `receiptMs` later).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNeed } from '../../client/p2p/need.js';
import { createLogger } from '../../lib/logger.js';

function setup() {
  let t = 0;
  const announced = { honest: new Set<number>(), liar: new Set<number>() };
  const lacking: Record<string, number> = { honest: 10, liar: 100 };
  const need = createNeed({ receiptMs: 3000, maxReceipts: 4 }, {
    lacking: (p) => lacking[p] ?? 0,
    remoteHas: (p, i) => (p === 'honest' || p === 'liar') && announced[p].has(i),
    logger: createLogger('t', 'silent'),
    now: () => t,
  });
  return { need, announced, advance: (ms: number) => (t += ms) };
}

test('a peer counts what its bitfield lacks, and one hiding a chunk we sent it whole counts 0 from then on', () => {
  const { need, announced, advance } = setup();
  assert.is(need.of('liar'), 100);
  need.sent('honest', 3);
  need.sent('liar', 3);
  advance(1000);
  announced.honest.add(3); // verified and announced, as an honest peer does
  assert.is(need.of('liar'), 100, 'not due yet');
  advance(2000);
  assert.is(need.of('honest'), 10);
  assert.is(need.of('liar'), 0);
  // caught once, caught for good: announcing late, or coming back on a new link, does not restore the favour
  announced.liar.add(3);
  need.forget('liar');
  assert.is(need.of('liar'), 0);
});

test('receipts are bounded per peer: the oldest go first, and announced ones free their room at once', () => {
  const { need, announced, advance } = setup();
  for (let i = 0; i < 6; i++) need.sent('liar', i); // 0 and 1 dropped: only 2..5 are held to account
  announced.liar.add(2).add(3).add(4).add(5);
  advance(5000);
  assert.is(need.of('liar'), 100, 'every receipt still held was announced');
  need.sent('liar', 9);
  advance(3000);
  assert.is(need.of('liar'), 0, 'a later chunk never announced convicts it');
});

test('a chunk behind a full send buffer is given time to drain at a slow uplink before it counts as due', () => {
  const { need, advance } = setup();
  need.sent('liar', 1, 1024 * 1024); // 1 MiB ahead of it: 16 s at the 64 KiB/s floor
  advance(3000);
  assert.is(need.of('liar'), 100, 'maybe still in the send buffer');
  advance(16_000);
  assert.is(need.of('liar'), 0);
});

test('a link that goes takes its receipts along: a chunk sent on it does not convict the peer later', () => {
  const { need, advance } = setup();
  need.sent('honest', 7);
  need.forget('honest');
  advance(5000);
  assert.is(need.of('honest'), 10);
});

test.run();
