/**
 * `seed(videoId, { file })`: serve a complete (or partial) local copy of a video to its swarm until `stop()`.
 * Every chunk is re-hashed when it is read for an upload, so a file that changes on disk stops serving the changed
 * chunks and reports them (`corrupt` events) instead of spreading them.
 */
import { createPeerNode, type PeerNode } from '../client/p2p/peer.js';
import { fileSource } from '../client/p2p/sources.js';
import { BadRequestError, type Manifest } from '../protocol/mod.js';
import { checkRate, connectPeer, type ClientOptions } from './client.js';
import { createEmitter, type TypedEvents } from './events.js';

export interface SeedOptions extends ClientOptions {
  /** the local copy of the video (the published bytes, e.g. a finished download) */
  file: string;
}

export interface SeedEvents {
  /** a chunk of the file no longer matches the manifest: it is not served */
  corrupt: { index: number; message: string };
}

export interface Seeder extends TypedEvents<SeedEvents> {
  readonly videoId: string;
  readonly peerId: string;
  readonly manifest: Manifest;
  /** chunks of the file that matched the manifest when seeding started */
  readonly held: number;
  readonly node: PeerNode;
  /** uploaded bytes in all and by peer */
  stats(): { uploadedBytes: number; uploadedByPeer: Record<string, number> };
  /** leaves the swarm and closes the file and the connection; idempotent */
  stop(): Promise<void>;
}

export async function seed(videoId: string, o: SeedOptions): Promise<Seeder> {
  if (!o.file) throw new BadRequestError('seed needs the file to serve');
  const upRate = checkRate(o.uploadRate, 'uploadRate');
  const ctx = await connectPeer(videoId, o, 'seed');
  const { manifest, peerId, logger } = ctx;
  const events = createEmitter<SeedEvents>((err) => logger.warn('a seed listener threw', { err }));
  try {
    const source = await fileSource(o.file, manifest, { onCorrupt: (index, message) => {
      logger.warn('seeded file changed on disk', { index });
      events.emit('corrupt', { index, message });
    } });
    const held = source.have().filter(Boolean).length;
    if (held === 0) {
      await source.close();
      throw new BadRequestError(`${o.file} holds no chunk of ${videoId}`);
    }
    const node = createPeerNode({ peerId, manifest, uploads: true,
      ...(ctx.bindAddress ? { bindAddress: ctx.bindAddress } : {}), ...(upRate > 0 ? { uploadRate: upRate } : {}) },
    { nc: ctx.peer.nc, source, logger });
    await node.swarm.start();
    let stopped = false;
    return {
      videoId, peerId, manifest, held, node, on: events.on, once: events.once,
      stats: () => {
        const s = node.swarm.stats();
        return { uploadedBytes: s.uploadedBytes, uploadedByPeer: s.uploadedByPeer };
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await node.stop().catch((err) => logger.warn('stopping the swarm failed', { err }));
        await source.close();
        await ctx.peer.close();
        events.clear();
      },
    };
  } catch (err) {
    await ctx.peer.close();
    throw err;
  }
}
