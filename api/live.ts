/**
 * `watchLive(streamId, options)`: join a live stream at its edge as a headless viewer (origin slot, peers, the
 * urgent share; every segment verified) and serve it to a local player as a live HLS playlist. `switchyard play`
 * on a live stream id runs this. The viewer's events (`segment.verified`, `segment.corrupt`, `ended`) and stats
 * (bytes by source, latency, the playhead's stalls) are the library's view of it.
 */
import { createLiveServer, type LiveServer, type LiveServerUrls } from '../client/live/server.js';
import { createNodeLiveViewer, type NodeLiveViewer } from '../client/live/node.js';
import { connectAsPeer } from '../client/credentials.js';
import { resolveConfig } from '../client/config.js';
import { createLogger } from '../lib/logger.js';
import { BadRequestError, isLiveModeName, isValidId, LiveModes, type LiveModeName } from '../protocol/mod.js';
import { bindAddressFor, type ClientOptions } from './client.js';

export interface WatchLiveOptions extends ClientOptions {
  /** latency mode (default `default`): low, default or p2p (a few seconds more behind, nearly all from peers) */
  mode?: LiveModeName;
  /** serve segments to other viewers (default true) */
  uploads?: boolean;
  /** local player server address and port (default 127.0.0.1, any free port); `false`: no server */
  host?: string;
  port?: number;
  server?: boolean;
}

export interface LiveWatch {
  readonly viewer: NodeLiveViewer;
  readonly peerId: string;
  /** the local player server's URLs (null with `server: false`) */
  readonly urls: LiveServerUrls | null;
  stop(): Promise<void>;
}

export async function watchLive(streamId: string, o: WatchLiveOptions = {}): Promise<LiveWatch> {
  if (!isValidId(streamId)) throw new BadRequestError(`invalid stream id ${JSON.stringify(streamId)}`);
  const mode = o.mode ?? 'default';
  if (!isLiveModeName(mode)) throw new BadRequestError('mode must be low, default or p2p');
  const cfg = resolveConfig({ ...(o.gateway ? { gateway: o.gateway } : {}), ...(o.nats ? { nats: o.nats } : {}) });
  const logger = o.logger ?? createLogger('live');
  const apiKey = o.apiKey ?? cfg.apiKey;
  const peer = await connectAsPeer({ gateway: cfg.gateway, logger, ...(cfg.natsExplicit ? { nats: cfg.nats } : {}),
    ...(o.label ? { label: o.label } : {}), ...(apiKey ? { apiKey } : {}) });
  const bind = bindAddressFor(o.bind, peer.nc.getServer());
  const viewer = createNodeLiveViewer({ streamId, peerId: peer.identity.peerId, gatewayUrl: cfg.gateway, mode: LiveModes[mode],
    ...(o.uploads === false ? { uploads: false } : {}), ...(o.uploadRate ? { uploadRate: o.uploadRate } : {}),
    ...(bind ? { bindAddress: bind } : {}) }, { nc: peer.nc, logger });
  let server: LiveServer | null = null;
  try {
    await viewer.start();
    let urls: LiveServerUrls | null = null;
    if (o.server !== false) {
      server = createLiveServer({ ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}) },
        { viewer, logger });
      urls = await server.start();
    }
    let stopped = false;
    return {
      viewer, urls, peerId: peer.identity.peerId,
      async stop() {
        if (stopped) return;
        stopped = true;
        await server?.stop();
        await viewer.close();
        await peer.close();
      },
    };
  } catch (err) {
    await server?.stop();
    await viewer.close().catch(() => {});
    await peer.close();
    throw err;
  }
}
