/**
 * `switchyard get <videoId>`: download and verify a video, resuming from `<output>.part/` when present. The
 * directory is locked for the whole run (client/partlock.ts), so two runs can never share it.
 */
import { basename } from 'node:path';
import { createOriginClient } from '../../actors/origin/client.js';
import { createLogger } from '../../lib/logger.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import { isValidId, BadRequestError } from '../../protocol/mod.js';
import { checkManifest } from '../../lib/hash.js';
import { resolveConfig } from '../config.js';
import { connectAsPeer } from '../credentials.js';
import { runDownload } from '../download.js';
import { openPartial, partialDirFor } from '../partial.js';
import { acquirePartLock, type PartLock } from '../partlock.js';
import { createProgressBar } from '../progress.js';
import { createPeerNode } from '../p2p/peer.js';
import { partialSource } from '../p2p/sources.js';
import { bindAddressFor, waitForStop } from './common.js';
import { startTelemetry } from '../telemetry.js';

export interface GetFlags {
  output?: string;
  nats?: string;
  gateway?: string;
  parallel?: string;
  rate?: string;
  /** readable prefix of the peer id the gateway assigns */
  label?: string;
  json?: boolean;
  'keep-partial'?: boolean;
  /** stay in the swarm after completion, serving chunks, until Ctrl-C (or --seed-seconds) */
  seed?: boolean;
  'seed-seconds'?: string;
  /** consume-only: never serve chunks to others */
  'no-upload'?: boolean;
  /** upload cap, bytes/s */
  'up-rate'?: string;
  /** ICE bind address (`any` for every interface) */
  bind?: string;
}

/** A file name from a manifest is untrusted: keep only its base name and safe characters. */
function safeName(name: string, fallback: string): string {
  const b = basename(name).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '');
  return b.length > 0 ? b : fallback;
}

export async function getCommand(videoId: string | undefined, flags: GetFlags): Promise<number> {
  if (!videoId || !isValidId(videoId)) throw new BadRequestError('usage: switchyard get <videoId> [-o file]');
  const cfg = resolveConfig(flags);
  const logger = createLogger('get');
  const json = flags.json === true;
  const emit = (o: Record<string, unknown>) => json && process.stdout.write(JSON.stringify(o) + '\n');
  const peer = await connectAsPeer({ gateway: cfg.gateway, logger, ...(cfg.natsExplicit ? { nats: cfg.nats } : {}),
    ...(flags.label ? { label: flags.label } : {}), ...(cfg.apiKey ? { apiKey: cfg.apiKey } : {}) });
  const { nc } = peer;
  const peerId = peer.identity.peerId;
  let lock: PartLock | undefined;
  try {
    const origin = createOriginClient(nc);
    const manifest = checkManifest(await origin.manifest(videoId), videoId, 'catalog manifest');
    const outPath = flags.output ?? safeName(manifest.name, videoId);
    lock = await acquirePartLock(partialDirFor(outPath));
    const partial = await openPartial(partialDirFor(outPath), manifest);
    const parallel = flags.parallel ? Number(flags.parallel) : 4;
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new BadRequestError('--parallel must be 1..64');
    const rate = flags.rate ? Number(flags.rate) : 0;
    if (!Number.isFinite(rate) || rate < 0) throw new BadRequestError('--rate must be bytes per second');
    const resumed = partial.have().length;
    emit({ event: 'start', videoId, peerId, outPath, chunkCount: manifest.chunks.length, resumedChunks: resumed });
    if (resumed > 0 && !json) {
      process.stderr.write(`resuming: ${resumed} of ${manifest.chunks.length} chunks already verified\n`);
    }
    const seed = flags.seed === true;
    const upRate = flags['up-rate'] ? Number(flags['up-rate']) : 0;
    if (!Number.isFinite(upRate) || upRate < 0) throw new BadRequestError('--up-rate must be bytes per second');
    const bindAddress = bindAddressFor(flags.bind, nc.getServer());
    const node = createPeerNode({ peerId, manifest, uploads: flags['no-upload'] !== true,
      ...(bindAddress ? { bindAddress } : {}), ...(upRate > 0 ? { uploadRate: upRate } : {}) },
    { nc, source: partialSource(partial), logger });
    await node.swarm.start();
    const openLinks = () => node.swarm.stats().links.filter((l) => l.state.includes('open')).length;
    const telemetry = startTelemetry(nc, { peerId, manifest }, {
      mode: 'opening', state: 'opening', have: () => partialSource(partial).have(), bytesBySource: {},
      uploadedBytes: () => node.swarm.stats().uploadedBytes, position: null, links: openLinks, doneAt: null,
    });
    const bar = json ? null : createProgressBar(manifest.size);
    let lastPosition: number | null = null;
    const run = runDownload({ videoId, peerId, gateway: cfg.gateway, outPath, parallel,
      keepPartial: flags['keep-partial'] === true || seed }, {
      origin, partial, logger, swarm: node.swarm, ...(rate > 0 ? { limiter: createTokenBucket(rate) } : {}),
      onState: (state, at, mode) => {
        emit({ event: 'state', state, mode, at });
        const done = mode === 'complete';
        telemetry.update({ state, mode: done && seed ? 'seeding' : mode, ...(done ? { doneAt: at } : {}) });
      },
      onProgress: (p) => {
        bar?.update(p);
        telemetry.update({ bytesBySource: p.bytesBySource, position: p.position });
        if (p.position !== lastPosition) {
          lastPosition = p.position;
          if (p.position !== null) emit({ event: 'position', position: p.position, at: Date.now() });
        }
      },
    });
    const onSignal = () => run.cancel();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const result = await run.done;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    bar?.done();
    emit({ event: 'done', ...result, uploadedBytes: node.swarm.stats().uploadedBytes,
      setupMs: node.swarm.stats().setupMs });
    if (result.status === 'complete' && seed) {
      if (!json) process.stderr.write(`seeding ${outPath} to the swarm (Ctrl-C stops)\n`);
      emit({ event: 'seeding', at: Date.now() });
      await waitForStop(flags['seed-seconds'] ? Number(flags['seed-seconds']) * 1000 : undefined);
      emit({ event: 'seeded', uploadedBytes: node.swarm.stats().uploadedBytes, uploadedByPeer: node.swarm.stats().uploadedByPeer });
      if (flags['keep-partial'] !== true) await partial.remove();
    }
    telemetry.stop();
    await node.stop();
    if (result.status === 'complete') {
      if (!json) {
        const src = Object.entries(result.bytesBySource).map(([k, v]) => `${k}: ${v} bytes`).join(', ') || 'nothing new';
        process.stderr.write(`${outPath}: ${manifest.size} bytes, every chunk verified (${src}; ` +
          `${result.chunksFetched} fetched, ${resumed} resumed)\n`);
      }
      return 0;
    }
    if (result.status === 'cancelled') {
      process.stderr.write(`cancelled: ${partial.have().length} verified chunks kept in ${partial.dir} for resuming\n`);
      return 130;
    }
    process.stderr.write(`switchyard get: download failed: ${result.error?.message ?? 'unknown error'}\n`);
    return 1;
  } finally {
    await lock?.release();
    await peer.close();
  }
}
