/**
 * The uploader's policies with a fake link (pure: no network): upload slots, interest-based unchoking, rejects
 * for choked peers, whole chunks taking turns between peers so a greedy peer cannot starve another, fresh
 * chunks before copies (spread), and the peer that lacks the most first (need).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUploader } from '../../client/p2p/uploader.js';
import type { ChunkSource, LinkIO } from '../../client/p2p/types.js';
import { createLogger } from '../../lib/logger.js';
import { BLOCK_SIZE, RejectReasons } from '../../protocol/mod.js';

const CHUNK = 4 * BLOCK_SIZE;
const source: ChunkSource = { has: (i) => i < 32, have: () => new Array(32).fill(true), read: async () => new Uint8Array(CHUNK) };

function fakeLink(peerId: string, log: string[]) {
  const sent = { pieces: [] as Array<[number, number]>, rejects: [] as Array<[number, number]>, choke: 0, unchoke: 0 };
  const io: LinkIO = {
    peerId,
    sendRequest: () => true, sendCancel: () => true, sendHave: () => true,
    sendPiece: (index, offset) => { sent.pieces.push([index, offset]); log.push(peerId); return true; },
    sendReject: (index, reason) => { sent.rejects.push([index, reason]); return true; },
    sendChoke: () => { sent.choke++; return true; },
    sendUnchoke: () => { sent.unchoke++; return true; },
    bufferedAmount: () => 0,
  };
  return { io, sent };
}

const until = async (pred: () => boolean) => {
  for (let i = 0; i < 2000 && !pred(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(pred(), 'condition reached');
};

test('a greedy peer with a deep queue does not starve another: whole chunks take turns', async () => {
  const log: string[] = [];
  const up = createUploader({ enabled: true, slots: 4, rechokeMs: 60000, highWaterBytes: 1 << 20, maxQueued: 16 },
    { source, logger: createLogger('t', 'silent'), complete: () => true, wants: () => true });
  const greedy = fakeLink('greedy', log);
  const modest = fakeLink('modest', log);
  up.addPeer(greedy.io);
  up.addPeer(modest.io);
  for (let i = 0; i < 10; i++) up.onRequest('greedy', i);
  up.onRequest('modest', 20);
  await until(() => modest.sent.pieces.length === 4);
  // modest's single chunk went out right after greedy's first, whole, while greedy still had nine queued
  const greedyBefore = log.slice(0, log.lastIndexOf('modest')).filter((p) => p === 'greedy').length;
  assert.ok(greedyBefore <= 4, `greedy got ${greedyBefore} blocks before modest finished`);
  const firstModest = log.indexOf('modest');
  assert.equal(log.slice(firstModest, firstModest + 4), ['modest', 'modest', 'modest', 'modest'], 'one chunk at a time');
  await until(() => greedy.sent.pieces.length === 40);
  assert.is(up.stats().uploadedBytes, 11 * CHUNK);
  up.stop();
});

test('slots: the fifth peer stays choked and its requests are rejected as choked; not-held chunks as notHave', async () => {
  const log: string[] = [];
  const up = createUploader({ enabled: true, slots: 4, rechokeMs: 60000, highWaterBytes: 1 << 20, maxQueued: 2 },
    { source, logger: createLogger('t', 'silent'), complete: () => true, wants: () => true });
  const links = ['a', 'b', 'c', 'd', 'e'].map((id) => fakeLink(id, log));
  for (const l of links) up.addPeer(l.io);
  assert.equal(links.map((l) => l.sent.unchoke), [1, 1, 1, 1, 0]);
  up.onRequest('e', 1);
  assert.equal(links[4]!.sent.rejects, [[1, RejectReasons.choked]]);
  up.onRequest('a', 99);
  assert.equal(links[0]!.sent.rejects, [[99, RejectReasons.notHave]]);
  up.stop();
});

test('rechoke: an interested choked peer gets the optimistic slot even though it never could request', async () => {
  const log: string[] = [];
  const up = createUploader({ enabled: true, slots: 2, rechokeMs: 20, highWaterBytes: 1 << 20, maxQueued: 4 },
    { source, logger: createLogger('t', 'silent'), complete: () => true, wants: (p) => p === 'late' || p === 'a' });
  const a = fakeLink('a', log);
  const b = fakeLink('b', log);
  const late = fakeLink('late', log);
  up.addPeer(a.io);
  up.addPeer(b.io);
  up.addPeer(late.io);
  assert.is(late.sent.unchoke, 0);
  await until(() => late.sent.unchoke === 1);
  assert.ok(b.sent.choke >= 1, 'an uninterested peer gave up its slot');
  up.stop();
});

test('a chunk nobody had from us goes before another copy of one we already sent', async () => {
  const log: string[] = [];
  const up = createUploader({ enabled: true, slots: 4, rechokeMs: 60000, highWaterBytes: 1 << 20, maxQueued: 4 },
    { source, logger: createLogger('t', 'silent'), complete: () => false, wants: () => true });
  const [a, b, c] = ['a', 'b', 'c'].map((id) => fakeLink(id, log));
  for (const l of [a, b, c]) up.addPeer(l!.io);
  up.onRequest('a', 1);
  up.onRequest('b', 1); // waits longest, but for a copy
  up.onRequest('c', 2);
  await until(() => b!.sent.pieces.length === 4);
  assert.equal(log.filter((_p, i) => i % 4 === 0), ['a', 'c', 'b'], 'fresh #2 before the second copy of #1');
  up.stop();
});

test('spread: once a chunk reached one peer, the later requesters queued for it are sent elsewhere', async () => {
  const log: string[] = [];
  const lacksFresh = new Set(['c', 'd']);
  const up = createUploader({ enabled: true, slots: 8, rechokeMs: 60000, highWaterBytes: 1 << 20, maxQueued: 4 },
    { source, logger: createLogger('t', 'silent'), complete: () => false, wants: () => true,
      // c and d lack a chunk we never uploaded (any index but 1); b holds everything else
      lacksAny: (peerId, pick) => lacksFresh.has(peerId) && pick(5) });
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => fakeLink(id, log));
  for (const l of [a, b, c, d]) up.addPeer(l!.io);
  for (const id of ['a', 'b', 'c', 'd']) up.onRequest(id, 1);
  await until(() => b!.sent.pieces.length === 4);
  assert.equal(a!.sent.rejects, []);
  assert.equal(b!.sent.rejects, [], 'the oldest waiting request stays, so the upload has work at once');
  assert.equal(c!.sent.rejects, [[1, RejectReasons.overloaded]]);
  assert.equal(d!.sent.rejects, [[1, RejectReasons.overloaded]]);
  assert.is(c!.sent.pieces.length, 0);
  // asked again (no other holder in sight): served, not refused twice
  up.onRequest('c', 1);
  up.onRequest('e', 1); // unknown peer: ignored
  await until(() => c!.sent.pieces.length === 4);
  assert.equal(c!.sent.rejects, [[1, RejectReasons.overloaded]]);
  up.stop();
});

test('of the requests waiting, the peer that lacks the most goes first, whatever the arrival order', async () => {
  const log: string[] = [];
  const lacking: Record<string, number> = { a: 1, b: 30, c: 5 };
  const up = createUploader({ enabled: true, slots: 4, rechokeMs: 60000, highWaterBytes: 1 << 20, maxQueued: 4 },
    { source, logger: createLogger('t', 'silent'), complete: () => false, wants: () => true,
      lacking: (p) => lacking[p] ?? 0, remoteHas: () => true });
  const [a, b, c] = ['a', 'b', 'c'].map((id) => fakeLink(id, log));
  for (const l of [a, b, c]) up.addPeer(l!.io);
  up.onRequest('a', 1); // starts at once: nobody else waits yet
  up.onRequest('c', 2);
  up.onRequest('b', 3); // asked last, lacks the most
  await until(() => c!.sent.pieces.length === 4);
  assert.equal(log.filter((_p, i) => i % 4 === 0), ['a', 'b', 'c']);
  up.stop();
});

test('rechoke: among leechers that gave us nothing yet, the slots go to those that lack the most', async () => {
  const lacking: Record<string, number> = { a: 1, b: 2, c: 3, d: 40 };
  const up = createUploader({ enabled: true, slots: 2, rechokeMs: 20, highWaterBytes: 1 << 20, maxQueued: 4 },
    { source, logger: createLogger('t', 'silent'), complete: () => false, wants: () => true,
      lacking: (p) => lacking[p] ?? 0, remoteHas: () => true });
  const links = ['a', 'b', 'c', 'd'].map((id) => fakeLink(id, []));
  for (const l of links) up.addPeer(l.io);
  assert.equal(links.map((l) => l.sent.unchoke), [1, 1, 0, 0], 'the first two to link got the slots');
  await until(() => links[3]!.sent.unchoke === 1);
  // d keeps its slot at every rechoke (ranked first); the other slot is the optimistic one
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 25));
    assert.is(links[3]!.sent.choke, 0);
  }
  up.stop();
});

test('a consume-only peer (--no-upload) never unchokes and rejects every request', () => {
  const up = createUploader({ enabled: false, slots: 4, rechokeMs: 60000, highWaterBytes: 1 << 20, maxQueued: 4 },
    { source, logger: createLogger('t', 'silent'), complete: () => true, wants: () => true });
  const a = fakeLink('a', []);
  up.addPeer(a.io);
  up.onRequest('a', 3);
  assert.is(a.sent.unchoke, 0);
  assert.equal(a.sent.rejects, [[3, RejectReasons.choked]]);
  up.stop();
});

test.run();
