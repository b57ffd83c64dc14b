/**
 * Assembles the P2P side of one client process: the RTC host (one per process: it owns node-datachannel's
 * native lifetime), the signalling and tracker clients, and the swarm for one video.
 */
import type { InspectPublisher } from '../inspect.js';
import { createSignalClient } from '../../actors/signal/client.js';
import { createTrackerClient } from '../../actors/tracker/client.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import type { Manifest } from '../../protocol/mod.js';
import { createRtcHost, type RtcHost } from './rtc.js';
import { createSwarm, type Swarm, type SwarmInit } from './swarm.js';
import { manifestContent, type ChunkSource, type SwarmContent } from './types.js';

export interface PeerOptions extends Partial<Omit<SwarmInit, 'videoId' | 'peerId' | 'content'>> {
  peerId: string;
  /** the video shared (or, with `content`, only its id matters) */
  manifest: Pick<Manifest, 'videoId'> & Partial<Manifest>;
  /** what is shared when it is not the manifest's chunks (a live stream's segments) */
  content?: SwarmContent;
  /** restrict ICE to one local address (127.0.0.1 in tests and benchmarks) */
  bindAddress?: string;
  iceServers?: string[];
  /** upload cap, bytes/s (bandwidth emulation) */
  uploadRate?: number;
}

export interface PeerNode {
  swarm: Swarm;
  rtc: RtcHost;
  /** leaves the swarm and releases node-datachannel (the process can exit afterwards) */
  stop(): Promise<void>;
}

export function createPeerNode(
  opts: PeerOptions,
  components: { nc: NatsConnection; source: ChunkSource; logger: Logger; /** share one host between peers of one process */ rtc?: RtcHost;
    /** publishes the links' transitions for the gateway's inspector */
    inspect?: Pick<InspectPublisher, 'record'> },
): PeerNode {
  const ownRtc = !components.rtc;
  const rtc = components.rtc ?? createRtcHost({ logger: components.logger.child('rtc'),
    ...(opts.bindAddress ? { bindAddress: opts.bindAddress } : {}),
    ...(opts.iceServers ? { iceServers: opts.iceServers } : {}) });
  const swarm = createSwarm({
    videoId: opts.manifest.videoId, peerId: opts.peerId, content: opts.content ?? manifestContent(opts.manifest as Manifest),
    uploads: opts.uploads ?? true,
    ...(opts.maxPeers ? { maxPeers: opts.maxPeers } : {}),
    ...(opts.maxLinks ? { maxLinks: opts.maxLinks } : {}),
    ...(opts.uploadSlots ? { uploadSlots: opts.uploadSlots } : {}),
    ...(opts.rechokeMs ? { rechokeMs: opts.rechokeMs } : {}),
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.linkTimeouts ? { linkTimeouts: opts.linkTimeouts } : {}),
  }, {
    tracker: createTrackerClient(components.nc),
    signal: createSignalClient(components.nc, opts.peerId, components.logger.child('signal')),
    rtc, source: components.source, logger: components.logger.child('swarm'),
    ...(opts.uploadRate ? { uploadLimiter: createTokenBucket(opts.uploadRate) } : {}),
    ...(components.inspect ? { inspect: components.inspect } : {}),
  });
  let stopped = false;
  return {
    swarm, rtc,
    async stop() {
      if (stopped) return;
      stopped = true;
      await swarm.stop();
      if (!ownRtc) return;
      // give byes a moment to leave before the native side goes away
      await new Promise((r) => setTimeout(r, 50));
      rtc.shutdown();
    },
  };
}
