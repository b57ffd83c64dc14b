/**
 * The live viewer in a browser: the shared engine (client/live/viewer.ts: window, announcements, origin slot,
 * peers, urgent share, every segment checked against its announced SHA-256) wired to the browser's edges, exactly
 * as client/live/node.ts wires it to Node's: NATS over WebSocket with a credential minted at `POST /auth/peer`
 * (web/nats.ts), RTCPeerConnection links (web/rtc.ts), WebCrypto hashing (web/hash.ts) and the page's fetch.
 * Nothing of the viewer's logic lives here.
 */
import { createOriginClient } from '../actors/origin/client.js';
import { createSignalClient } from '../actors/signal/client.js';
import { createTrackerClient } from '../actors/tracker/client.js';
import type { PeerIdentity } from '../client/identity.js';
import { createLiveFeed } from '../client/live/feed.js';
import type { LivePlayhead } from '../client/live/playhead.js';
import { createLiveSession } from '../client/live/session.js';
import { liveSwarmInit } from '../client/live/swarm.js';
import { startLiveTelemetry } from '../client/live/telemetry.js';
import { createLiveViewer, type LiveViewer } from '../client/live/viewer.js';
import { createSwarm } from '../client/p2p/swarm.js';
import { systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { LiveMode, LiveWindow } from '../protocol/mod.js';
import { sha256Hex } from './hash.js';
import { connectWebPeer, type WebPeerConnection } from './nats.js';
import { createBrowserRtcHost } from './rtc.js';

export interface WebLiveViewerOptions {
  /** the gateway's base URL (segments by grant, peer credentials) */
  gateway: string;
  /** nats-server's WebSocket URL */
  wsUrl: string;
  streamId: string;
  mode: LiveMode;
  logger: Logger;
  /** readable prefix of the peer id */
  label?: string;
  /** this peer's identity, already being obtained (the watch page's early key); else obtained here */
  identity?: Promise<PeerIdentity>;
  /** the player's view of playback (join point, stats); default the viewer's headless model */
  playhead?: LivePlayhead;
  /** serve verified segments to peers (default true) */
  uploads?: boolean;
  /** use the origin (slot, urgent share); default true */
  origin?: boolean;
  maxPeers?: number;
  iceServers?: string[];
  /** publish the viewer's status for the dashboard (client/live/telemetry.ts); default true */
  telemetry?: boolean;
}

export interface WebLiveViewer extends LiveViewer {
  readonly peerId: string;
  /** the window it joined */
  readonly joined: LiveWindow;
  /** stops the viewer, its links and its NATS connection */
  close(): Promise<void>;
}

/** Connects, joins the stream and starts fetching, verifying and relaying its segments. */
export async function startWebLiveViewer(opts: WebLiveViewerOptions): Promise<WebLiveViewer> {
  const log = opts.logger;
  const conn: WebPeerConnection = await connectWebPeer({ gateway: opts.gateway, wsUrl: opts.wsUrl, logger: log,
    ...(opts.label ? { label: opts.label } : {}), ...(opts.identity ? { identity: opts.identity } : {}) });
  const { nc } = conn;
  const peerId = conn.identity.peerId;
  const rtc = createBrowserRtcHost({ logger: log.child('rtc'), ...(opts.iceServers ? { iceServers: opts.iceServers } : {}) });
  const origin = createOriginClient(nc);
  const viewer = createLiveViewer({ streamId: opts.streamId, peerId, gatewayUrl: opts.gateway, mode: opts.mode,
    ...(opts.origin === false ? { origin: false } : {}) }, {
    feed: createLiveFeed(nc, opts.streamId, log),
    session: createLiveSession({ streamId: opts.streamId, peerId }, { origin, logger: log.child('session') }),
    origin,
    swarm: (content, source) => createSwarm(liveSwarmInit({ streamId: opts.streamId, peerId, content,
      ...(opts.uploads === false ? { uploads: false } : {}), ...(opts.maxPeers ? { maxPeers: opts.maxPeers } : {}) }), {
      tracker: createTrackerClient(nc), signal: createSignalClient(nc, peerId, log.child('signal')), rtc, source,
      logger: log.child('swarm'),
    }),
    sha256: sha256Hex,
    // called as a method of the components object: the browser's fetch must keep `window` as its receiver
    fetch: globalThis.fetch.bind(globalThis),
    clock: systemClock,
    logger: log,
    ...(opts.playhead ? { playhead: opts.playhead } : {}),
  });
  let joined: LiveWindow;
  try {
    joined = await viewer.start();
  } catch (err) {
    await viewer.stop().catch(() => {});
    rtc.shutdown();
    await conn.close();
    throw err;
  }
  const telemetry = opts.telemetry === false ? null : startLiveTelemetry(nc, viewer, { peerId });
  let closed = false;
  return Object.assign(viewer, {
    peerId,
    joined,
    async close() {
      if (closed) return;
      closed = true;
      telemetry?.stop();
      await viewer.stop().catch((err: unknown) => log.warn('live viewer stop failed', { err }));
      rtc.shutdown();
      await conn.close();
    },
  });
}
