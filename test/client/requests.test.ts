/**
 * The request table's verdicts on piece blocks (pure: a fake link, no network): requested blocks are accepted
 * and complete the chunk; a block nobody asked for, a second copy, or one that does not fit the request is a
 * violation; blocks still on the wire when a request was cancelled are tolerated up to one chunk's size.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequestTable } from '../../client/p2p/requests.js';
import type { LinkIO } from '../../client/p2p/types.js';
import { FetchFailure } from '../../client/http.js';

const BLOCK = 1024;
const CHUNK = 4 * BLOCK;
const block = (n = BLOCK) => new Uint8Array(n).fill(7);

function fakeLink(peerId: string) {
  const sent = { requests: [] as number[], cancels: [] as number[] };
  const io: LinkIO = {
    peerId,
    sendRequest: (i) => { sent.requests.push(i); return true; },
    sendCancel: (i) => { sent.cancels.push(i); return true; },
    sendPiece: () => true, sendReject: () => true, sendChoke: () => true, sendUnchoke: () => true, sendHave: () => true,
    bufferedAmount: () => 0,
  };
  return { io, sent };
}

test('requested blocks are accepted and the last one completes the chunk', async () => {
  const table = createRequestTable({ timeoutMs: 60_000 });
  const { io } = fakeLink('p');
  const got = table.request(io, 3, CHUNK);
  const verdicts = [0, 1, 2, 3].map((k) => table.onPiece('p', 3, k * BLOCK, CHUNK, block()));
  assert.equal(verdicts, ['accepted', 'accepted', 'accepted', 'complete']);
  assert.is((await got).byteLength, CHUNK);
});

test('a piece for a chunk never requested from that peer is unrequested, also when another peer was asked', () => {
  const table = createRequestTable({ timeoutMs: 60_000 });
  const { io } = fakeLink('asked');
  void table.request(io, 5, CHUNK).catch(() => {});
  assert.is(table.onPiece('stranger', 5, 0, CHUNK, block()), 'unrequested');
  assert.is(table.onPiece('asked', 6, 0, CHUNK, block()), 'unrequested');
  assert.is(table.pendingFor('asked'), 1, 'the real request is untouched');
  table.peerGone('asked', 'test over');
});

test('a block beyond the request or a duplicate is inconsistent and fails the request as corrupt', async () => {
  const table = createRequestTable({ timeoutMs: 60_000 });
  const { io } = fakeLink('p');
  const beyond = table.request(io, 1, CHUNK);
  assert.is(table.onPiece('p', 1, CHUNK - 10, CHUNK, block()), 'inconsistent');
  const e1 = await beyond.then(() => null, (e: unknown) => e);
  assert.instance(e1, FetchFailure);
  assert.is((e1 as FetchFailure).reason, 'corrupt');

  const dup = table.request(io, 2, CHUNK);
  assert.is(table.onPiece('p', 2, 0, CHUNK, block()), 'accepted');
  assert.is(table.onPiece('p', 2, 0, CHUNK, block()), 'inconsistent');
  assert.is(((await dup.then(() => null, (e: unknown) => e)) as FetchFailure).reason, 'corrupt');

  // and once completed, more blocks of that chunk were not asked for
  const done = table.request(io, 4, CHUNK, undefined);
  for (let k = 0; k < 4; k++) table.onPiece('p', 4, k * BLOCK, CHUNK, block());
  await done;
  assert.is(table.onPiece('p', 4, 0, CHUNK, block()), 'unrequested');
});

test('after a cancel, blocks already on the wire are late (up to the chunk size), then unrequested', async () => {
  const table = createRequestTable({ timeoutMs: 60_000 });
  const { io, sent } = fakeLink('p');
  const ac = new AbortController();
  const r = table.request(io, 9, CHUNK, ac.signal);
  assert.is(table.onPiece('p', 9, 0, CHUNK, block()), 'accepted');
  ac.abort();
  await r.catch(() => {});
  assert.equal(sent.cancels, [9]);
  assert.equal([1, 2, 3].map((k) => table.onPiece('p', 9, k * BLOCK, CHUNK, block())), ['late', 'late', 'late']);
  assert.is(table.onPiece('p', 9, 0, CHUNK, block()), 'unrequested', 'more than the chunk after a cancel');
  // the link ending forgets the peer entirely
  table.peerGone('p', 'closed');
  assert.is(table.onPiece('p', 9, 0, CHUNK, block()), 'unrequested');
});

test.run();
