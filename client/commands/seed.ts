/** `switchyard seed <videoId> --file F`: serve a complete, verified file to the video's swarm until stopped. */
import { createOriginClient } from '../../actors/origin/client.js';
import { createLogger } from '../../lib/logger.js';
import { BadRequestError, isValidId } from '../../protocol/mod.js';
import { checkManifest } from '../../lib/hash.js';
import { resolveConfig } from '../config.js';
import { connectAsPeer } from '../credentials.js';
import { createPeerNode } from '../p2p/peer.js';
import { fileSource } from '../p2p/sources.js';
import { bindAddressFor, waitForStop } from './common.js';

export async function seedCommand(videoId: string | undefined, flags: {
  file?: string; nats?: string; gateway?: string; label?: string; seconds?: string; 'up-rate'?: string; bind?: string; json?: boolean;
}): Promise<number> {
  if (!videoId || !isValidId(videoId) || !flags.file) {
    throw new BadRequestError('usage: switchyard seed <videoId> --file FILE [--seconds S] [--up-rate BYTES_PER_S]');
  }
  const cfg = resolveConfig(flags);
  const logger = createLogger('seed');
  const peer = await connectAsPeer({ gateway: cfg.gateway, logger, ...(cfg.natsExplicit ? { nats: cfg.nats } : {}),
    ...(flags.label ? { label: flags.label } : {}), ...(cfg.apiKey ? { apiKey: cfg.apiKey } : {}) });
  const { nc } = peer;
  const peerId = peer.identity.peerId;
  try {
    const manifest = checkManifest(await createOriginClient(nc).manifest(videoId), videoId, 'catalog manifest');
    // a seeder whose file changes under it stops serving the changed chunks; its user must hear about it
    const source = await fileSource(flags.file, manifest, { onCorrupt: (index, message) => {
      logger.warn('seeded file changed on disk', { index });
      process.stderr.write(`seed: ${message}\n`);
      if (flags.json) process.stdout.write(JSON.stringify({ event: 'corrupt', index, message }) + '\n');
    } });
    const held = source.have().filter(Boolean).length;
    if (held === 0) throw new BadRequestError(`${flags.file} holds no chunk of ${videoId}`);
    const bindAddress = bindAddressFor(flags.bind, nc.getServer());
    const upRate = flags['up-rate'] ? Number(flags['up-rate']) : 0;
    const node = createPeerNode({ peerId, manifest, uploads: true, ...(bindAddress ? { bindAddress } : {}),
      ...(upRate > 0 ? { uploadRate: upRate } : {}) }, { nc, source, logger });
    await node.swarm.start();
    process.stderr.write(`seeding ${held} of ${manifest.chunks.length} chunks of ${manifest.name} as ${peerId} (Ctrl-C stops)\n`);
    if (flags.json) process.stdout.write(JSON.stringify({ event: 'seeding', peerId, chunks: held }) + '\n');
    await waitForStop(flags.seconds ? Number(flags.seconds) * 1000 : undefined);
    const stats = node.swarm.stats();
    if (flags.json) process.stdout.write(JSON.stringify({ event: 'seeded', uploadedBytes: stats.uploadedBytes, uploadedByPeer: stats.uploadedByPeer }) + '\n');
    else process.stderr.write(`uploaded ${stats.uploadedBytes} bytes to ${Object.keys(stats.uploadedByPeer).length} peers\n`);
    await node.stop();
    await source.close();
    return 0;
  } finally {
    await peer.close();
  }
}
