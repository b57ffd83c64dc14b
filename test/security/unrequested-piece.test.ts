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
import { startPeerLink, type PeerLinkHandle } from '../../client/p2p/link.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { createRtcHost, type RtcHost } from '../../client/p2p/rtc.js';
import type { Manifest } from '../../protocol/mod.js';
import { buildManifest, sha256Hex } from '../../lib/hash.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

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
  // A loopback node-datachannel connection occasionally fails its ICE/DTLS start (seen about once in ten runs on a
  // loaded 2-core machine, before and after this suite existed); that is not what this test is about, so a failed
  // set-up is retried with a new connection (the victim frees the failed one about a second after it closed).
  const connect = async (connId: string): Promise<PeerLinkHandle | null> => {
    const mine: string[] = [];
    const l = startPeerLink({ remotePeerId: 'victim', connId, role: 'offerer',
      self: { peerId: 'pusher', videoId: manifest.videoId, rootHash: manifest.rootHash, chunkCount: COUNT, uploads: true } }, {
      rtc: ctx.rtc, logger: ctx.env.logger.child('pusher'), sendSignal: (to, m) => signal.send(to, m),
      source: { has: () => true, have: () => new Array<boolean>(COUNT).fill(true), read: async () => data },
      handlers: { onRequest() {}, onCancel() {}, onPiece() {}, onReject() {}, onSnapshot() {}, onHave() {}, onDrain() {}, onReleased() {},
        onEnd: (_l, status, reason) => mine.push(`${status}: ${reason}`) },
    });
    const unsub = signal.onSignal((m) => l.handleSignal(m));
    await waitFor(() => l.snapshot().matches('open') || mine.length > 0, 'the pusher link to open or fail', 15000);
    if (l.snapshot().matches('open')) {
      ctx.unsub.push(unsub);
      ended = mine;
      return l;
    }
    unsub();
    l.close('set-up failed: retrying');
    await new Promise((r) => setTimeout(r, 1500));
    return null;
  };
  let link: PeerLinkHandle | null = null;
  for (let attempt = 1; attempt <= 3 && link === null; attempt++) link = await connect(`push${attempt}`);
  assert.ok(link, 'the pusher link opened within three attempts');
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
