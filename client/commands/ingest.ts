/** `switchyard ingest <file>`: chunk, hash and store a file, then publish its manifest to the catalog. */
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createLogger } from '../../lib/logger.js';
import { loadAuth, serviceCredentials } from '../../infra/auth.js';
import { connectNats } from '../../lib/nats.js';
import { BadRequestError, ServiceRoles, UnauthorizedError } from '../../protocol/mod.js';
import { openChunkStore } from '../../store/mod.js';
import { resolveConfig } from '../config.js';

export async function ingestCommand(file: string | undefined, flags: {
  name?: string; 'chunk-size'?: string; store?: string; nats?: string; json?: boolean; 'auth-dir'?: string;
  'no-stream'?: boolean; segment?: string;
}): Promise<number> {
  if (!file) {
    throw new BadRequestError('usage: switchyard ingest <file> [--name N] [--chunk-size BYTES] [--segment SEC] [--no-stream]');
  }
  const segmentSec = flags.segment ? Number(flags.segment) : undefined;
  if (segmentSec !== undefined && !(segmentSec >= 1 && segmentSec <= 30)) {
    throw new BadRequestError('--segment must be between 1 and 30 seconds');
  }
  const cfg = resolveConfig(flags);
  const chunkSize = flags['chunk-size'] ? Number(flags['chunk-size']) : undefined;
  const logger = createLogger('ingest');
  // publishing to the catalog is a service's right: this operator tool uses the deployment's own keys
  const auth = cfg.authDir ? loadAuth(cfg.authDir) : null;
  if (!auth) {
    throw new UnauthorizedError('ingest publishes to the catalog and needs the operator keys: run it where `switchyard ' +
      'serve` runs, or set SWITCHYARD_AUTH_DIR (or upload with POST /videos and the admin token)');
  }
  const store = await openChunkStore(cfg.store);
  const nc = await connectNats(cfg.nats, 'switchyard-ingest', serviceCredentials(auth, ServiceRoles.admin));
  try {
    const origin = createOriginClient(nc);
    const r = await ingestFile({ path: file, ...(flags.name ? { name: flags.name } : {}),
      ...(chunkSize !== undefined ? { chunkSize } : {}),
      ...(segmentSec !== undefined ? { segmentSec } : {}), ...(flags['no-stream'] ? { stream: false } : {}) }, { store, publish: (m) => origin.publish(m), logger });
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    const m = r.manifest;
    if (flags.json) {
      process.stdout.write(JSON.stringify({ videoId: m.videoId, name: m.name, mime: m.mime, size: m.size,
        chunks: m.chunks.length, rootHash: m.rootHash,
        segments: m.stream?.segments.length ?? 0, warnings: r.warnings }) + '\n');
    } else {
      process.stdout.write(`${m.videoId}\n`);
      process.stderr.write(`ingested ${m.name}: ${m.size} bytes, ${m.chunks.length} chunks of ${m.chunkSize}, ${m.mime}` +
        `${m.media?.durationSec ? `, ${m.media.durationSec.toFixed(1)} s` : ''}` +
        `${m.stream ? `, streamable (${m.stream.segments.length} segments)` : ''}\n`);
    }
    return 0;
  } finally {
    await nc.close().catch(() => {});
    await store.close();
  }
}
