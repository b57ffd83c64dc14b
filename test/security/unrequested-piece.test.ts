/**
 * A peer pushing chunk bytes nobody asked for, over real links (nats-server, relay, tracker, node-datachannel on
 * 127.0.0.1): each unrequested piece is a protocol strike, the third bans it, and none of its bytes count as
 * received (so they cannot buy an upload slot). The pusher is a bare peerLink runner (link.ts) rather than a
 * swarm, because a swarm never sends unrequested pieces.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalClient, type SignalRelay } from '../../actors/signal/mod.js';
import type { Tracker } from '../../actors/tracker/mod.js';
import { startPeerLink } from '../../client/p2p/link.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import type { Manifest } from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';
import { openWithRetry } from '../helpers/setup.js';

const CHUNK = 64 * 1024;
const COUNT = 4;

interface Ctx { env: TestEnv; tracker: Tracker; relay: SignalRelay; rtc: RtcHost; target: PeerNode | null; unsub: Array<() => void> }
const t = suite<Ctx>('security: unrequested pieces');

t.before(async (ctx) => {
  ctx.env = await startEnv();
  ({ tracker: ctx.tracker, relay: ctx.relay } = await ctx.env.startSwarmServices());
  ctx.rtc = createRtcHost({ bindAddress: '127.0.0.1', logger: ctx.env.logger.child('rtc') });
  ctx.target = null;
  ctx.unsub = [];
});

t.after(async (ctx) => {
  for (const u of ctx.unsub) u();
  await ctx.target?.stop().catch(() => {});
  ctx.rtc?.shutdown();
  await ctx.env?.close();
});

t('three unrequested pieces ban the sender; none of its bytes are credited', async (ctx) => {
  const data = new Uint8Array(CHUNK).fill(1);
  const manifest: Manifest = buildManifest({ name: 'u.bin', mime: 'application/octet-stream', size: COUNT * CHUNK,
    chunkSize: CHUNK, chunks: new Array(COUNT).fill(sha256Hex(data)) });
  const none = () => new Array<boolean>(COUNT).fill(false);
  ctx.target = createPeerNode({ peerId: 'victim', manifest, uploads: true }, { nc: (await ctx.env.connectPeer('victim')).nc,
    rtc: ctx.rtc, logger: ctx.env.logger.child('victim'),
    source: { has: () => false, have: none, read: () => Promise.reject(new Error('none')) } });
  await ctx.target.swarm.start();

  const signal = createSignalClient((await ctx.env.connectPeer('pusher')).nc, 'pusher', ctx.env.logger.child('pusher'));
  let ended: string[] = [];
  // a failed set-up is retried (test/helpers/setup.ts); the victim frees a failed connection about a second after
  // it closed, hence the pause
  const connect = (n: number) => {
    const mine: string[] = [];
    const l = startPeerLink({ remotePeerId: 'victim', connId: `push${n}`, role: 'offerer',
      self: { peerId: 'pusher', videoId: manifest.videoId, rootHash: manifest.rootHash, chunkCount: COUNT, uploads: true } }, {
      rtc: ctx.rtc, logger: ctx.env.logger.child('pusher'), sendSignal: (to, m) => signal.send(to, m),
      source: { has: () => true, have: () => new Array<boolean>(COUNT).fill(true), read: async () => data },
      handlers: { onRequest() {}, onCancel() {}, onPiece() {}, onReject() {}, onSnapshot() {}, onHave() {}, onDrain() {}, onReleased() {},
        onEnd: (_l, status, reason) => mine.push(`${status}: ${reason}`) },
    });
    const unsub = signal.onSignal((m) => l.handleSignal(m));
    ended = mine;
    return { link: l, opened: () => l.snapshot().matches('open'), failed: () => mine.length > 0,
      close: () => { unsub(); l.close('set-up failed: retrying'); }, unsub };
  };
  const attempt = await openWithRetry(connect, 'the pusher link', { timeoutMs: 15_000, pauseMs: 1500 });
  ctx.unsub.push(attempt.unsub);
  const link = attempt.link;
  await waitFor(() => ctx.target!.swarm.stats().links.some((l) => l.peerId === 'pusher' && l.state.includes('open')),
    'the victim to see the link open', 5000);

  for (let i = 0; i < 3; i++) link.sendPiece(i, 0, CHUNK, data.subarray(0, 16 * 1024));
  await waitFor(() => ctx.target!.swarm.stats().banned.includes('pusher'), 'the victim to ban the pusher', 5000);
  const s = ctx.target.swarm.stats();
  assert.is(s.downloadedByPeer.pusher, undefined, 'unrequested bytes were credited');
  await waitFor(() => ended.length > 0, 'the pusher link to end', 5000);
  assert.match(ended[0]!, /closed/, 'the pusher saw its link closed');
});

t.run();
