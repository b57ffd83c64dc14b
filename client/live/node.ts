/**
 * The live viewer in Node: the shared engine (viewer.ts) with node-datachannel links, node:crypto hashing and
 * the global fetch. Used by `switchyard play` on a live stream, the library, tests and `bench:live`.
 */
import { createOriginClient } from '../../actors/origin/client.js';
import { createSignalClient } from '../../actors/signal/client.js';
import { createTrackerClient } from '../../actors/tracker/client.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { sha256Hex } from '../../lib/hash.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import { LiveModes, type LiveMode } from '../../protocol/mod.js';
import { createRtcHost, type RtcHost } from '../p2p/rtc.js';
import { createSwarm, type Swarm } from '../p2p/swarm.js';
import type { ChunkSource, SwarmContent } from '../p2p/types.js';
import { createLiveFeed, type LiveFeed } from './feed.js';
import { createLiveSession } from './session.js';
import { liveSwarmInit } from './swarm.js';
import { startLiveTelemetry, type LiveTelemetry } from './telemetry.js';
import { createLiveViewer, type LiveViewer } from './viewer.js';

export interface NodeLiveViewerOptions {
  streamId: string;
  peerId: string;
  gatewayUrl: string;
  mode?: LiveMode;
  /** use the origin (slot, urgent share); default true */
  origin?: boolean;
  /** serve segments to peers (default true) */
  uploads?: boolean;
  /** upload cap, bytes/s (bandwidth emulation) */
  uploadRate?: number;
  maxPeers?: number;
  /** restrict ICE to one address (127.0.0.1 in tests) */
  bindAddress?: string;
  /** publish the viewer's status for the dashboard (client/live/telemetry.ts) once started; default true */
  telemetry?: boolean | { intervalMs?: number };
}

export interface NodeLiveViewer extends LiveViewer {
  /** stops the viewer and, when it made its own, the RTC host */
  close(): Promise<void>;
}

/** The swarm factory of a Node live viewer: node-datachannel links, the live upload queue, the upload cap. */
export function nodeLiveSwarm(opts: Pick<NodeLiveViewerOptions, 'streamId' | 'peerId' | 'uploads' | 'maxPeers' | 'uploadRate'>,
  c: { nc: NatsConnection; logger: Logger; rtc: RtcHost }): (content: SwarmContent, source: ChunkSource) => Swarm {
  return (content, source) => createSwarm(liveSwarmInit({ streamId: opts.streamId, peerId: opts.peerId, content,
    ...(opts.uploads === false ? { uploads: false } : {}), ...(opts.maxPeers ? { maxPeers: opts.maxPeers } : {}) }), {
    tracker: createTrackerClient(c.nc), signal: createSignalClient(c.nc, opts.peerId, c.logger.child('signal')),
    rtc: c.rtc, source, logger: c.logger.child('swarm'),
    ...(opts.uploadRate ? { uploadLimiter: createTokenBucket(opts.uploadRate) } : {}),
  });
}

export function createNodeLiveViewer(opts: NodeLiveViewerOptions,
  c: { nc: NatsConnection; logger: Logger; rtc?: RtcHost; clock?: Clock; feed?: LiveFeed }): NodeLiveViewer {
  const ownRtc = !c.rtc;
  const rtc = c.rtc ?? createRtcHost({ logger: c.logger.child('rtc'), ...(opts.bindAddress ? { bindAddress: opts.bindAddress } : {}) });
  const origin = createOriginClient(c.nc);
  const viewer = createLiveViewer({ streamId: opts.streamId, peerId: opts.peerId, gatewayUrl: opts.gatewayUrl,
    mode: opts.mode ?? LiveModes.default, ...(opts.origin === false ? { origin: false } : {}) }, {
    feed: c.feed ?? createLiveFeed(c.nc, opts.streamId, c.logger),
    session: createLiveSession({ streamId: opts.streamId, peerId: opts.peerId }, { origin, logger: c.logger.child('session') }),
    origin,
    swarm: nodeLiveSwarm(opts, { ...c, rtc }),
    sha256: async (d) => sha256Hex(d),
    fetch: globalThis.fetch,
    clock: c.clock ?? systemClock,
    logger: c.logger,
  });
  const { start, stop } = viewer;
  let telemetry: LiveTelemetry | null = null;
  let stopped = false;
  return Object.assign(viewer, {
    async start() {
      const w = await start();
      if (opts.telemetry !== false && !stopped) {
        telemetry ??= startLiveTelemetry(c.nc, viewer, { peerId: opts.peerId,
          ...(typeof opts.telemetry === 'object' && opts.telemetry.intervalMs ? { intervalMs: opts.telemetry.intervalMs } : {}) });
      }
      return w;
    },
    async stop() {
      stopped = true;
      telemetry?.stop();
      await stop();
    },
    async close() {
      await viewer.stop();
      if (ownRtc) {
        await new Promise((r) => setTimeout(r, 50));
        rtc.shutdown();
      }
    },
  });
}
