/**
 * The uploader's policies with a fake link (pure: no network): upload slots, interest-based unchoking, rejects
 * for choked peers, and whole chunks taking turns between peers so a greedy peer cannot starve another.
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
