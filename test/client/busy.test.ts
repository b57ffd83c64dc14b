/**
 * A peer whose links are full answers an offer `busy` (client/p2p/refusals.ts), all real: a private nats-server,
 * the tracker and relay, three swarms with node-datachannel on 127.0.0.1. The full peer holds one link (maxLinks
 * 1); a third peer offering to it has its attempt closed as busy at once (not after the 10 s signalling timeout),
 * keeps its link to the other peer, and does not offer to the busy one again at its next announces.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import type { ChunkSource } from '../../client/p2p/types.js';
import { buildManifest } from '../../lib/hash.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const manifest = buildManifest({ name: 'busy.bin', mime: 'application/octet-stream', size: 4 * 16384, chunkSize: 16384,
  chunks: ['a', 'b', 'c', 'd'].map((c) => c.repeat(64)) });
const empty: ChunkSource = { has: () => false, have: () => new Array<boolean>(4).fill(false),
  read: () => Promise.reject(new Error('none')) };

let env: TestEnv;
let rtc: RtcHost;
const nodes: PeerNode[] = [];

test.before(async () => {
  env = await startEnv();
  await env.startSwarmServices();
  rtc = createRtcHost({ bindAddress: '127.0.0.1', logger: env.logger.child('rtc') });
});
test.after(async () => {
  for (const n of nodes.splice(0)) await n.stop().catch(() => {});
  rtc?.shutdown();
  await env?.close();
});

async function node(peerId: string, opts: { maxPeers?: number; maxLinks?: number } = {}) {
  const { nc } = await env.connectPeer(peerId);
  const n = createPeerNode({ peerId, manifest, uploads: true, ...opts }, { nc, rtc, source: empty, logger: env.logger.child(peerId) });
  nodes.push(n);
  await n.swarm.start();
  return n;
}
const linkTo = (n: PeerNode, peerId: string) => n.swarm.stats().links.find((l) => l.peerId === peerId);

test('a full peer answers busy: the offerer closes its attempt at once and does not offer again', async () => {
  const full = await node('busyfull', { maxPeers: 1, maxLinks: 1 });
  await node('busyfirst', { maxPeers: 1 });
  await waitFor(() => linkTo(full, 'busyfirst')?.state.includes('open') === true, 'the one link of the full peer', 15000, 50);
  const late = await node('busylate');
  const offeredAt = Date.now();
  await waitFor(() => linkTo(late, 'busyfirst')?.state.includes('open') === true, 'the late peer links the other one', 15000, 50);
  // its attempt at the full peer (offered at its first announce) is gone long before a signalling timeout
  await waitFor(() => linkTo(late, 'busyfull') === undefined, 'the busy attempt closed', 4000, 50);
  assert.ok(Date.now() - offeredAt < 5000, 'closed as busy, not timed out');
  // the next announces (every second while it has fewer links than it wants) do not offer to it again
  for (let i = 0; i < 25; i++) {
    assert.is(linkTo(late, 'busyfull'), undefined, 'not offered again while remembered as busy');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(linkTo(full, 'busylate'), undefined);
  assert.ok(linkTo(full, 'busyfirst')?.state.includes('open'), 'the full peer kept its link');
});

test.run();
