/**
 * The client stack shared by `switchyard get` and `switchyard play`: peer credentials, the catalog manifest,
 * the locked `<output>.part/` directory, the swarm, telemetry, and one download run with its progress, JSON
 * events and Ctrl-C handling. Each command adds only what it does around the download (seeding, the player's
 * HTTP server).
 */
import { basename } from 'node:path';
import { createOriginClient } from '../../actors/origin/client.js';
import { checkManifest } from '../../lib/hash.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import { BadRequestError, type Manifest } from '../../protocol/mod.js';
import { resolveConfig } from '../config.js';
import { connectAsPeer } from '../credentials.js';
import { runDownload, type DownloadOptions, type DownloadResult } from '../download.js';
import { openPartial, partialDirFor, type PartialDownload } from '../partial.js';
import { acquirePartLock, type PartLock } from '../partlock.js';
import { createProgressBar } from '../progress.js';
import { createPeerNode, type PeerNode } from '../p2p/peer.js';
import { partialSource } from '../p2p/sources.js';
import { startTelemetry, type Telemetry } from '../telemetry.js';
import { bindAddressFor } from './common.js';

/** The flags every downloading command takes. */
export interface SessionFlags {
  output?: string;
  nats?: string;
  gateway?: string;
  parallel?: string;
  /** download cap, bytes/s */
  rate?: string;
  /** readable prefix of the peer id the gateway assigns */
  label?: string;
  json?: boolean;
  'keep-partial'?: boolean;
  /** consume-only: never serve chunks to others */
  'no-upload'?: boolean;
  /** upload cap, bytes/s */
  'up-rate'?: string;
  /** ICE bind address (`any` for every interface) */
  bind?: string;
}

/** What `runDownload` hands back, as the commands use it. */
export type DownloadHandle = ReturnType<typeof runDownload>;

export interface ClientSession {
  readonly videoId: string;
  readonly peerId: string;
  readonly manifest: Manifest;
  readonly partial: PartialDownload;
  readonly outPath: string;
  /** chunks already verified on disk when the session opened */
  readonly resumed: number;
  readonly node: PeerNode;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  readonly json: boolean;
  /** one JSON line on stdout, with --json only */
  emit(o: Record<string, unknown>): void;
  /**
   * Starts the download (once). Ctrl-C cancels it while it runs; `done` settles after the `done` event.
   * `staying` = the client stays in the swarm after completion (telemetry reports `seeding`), which keeps `.part`;
   * `options` adds download options of the command's own (a player's streaming mode).
   */
  download(o: { staying: boolean; options?: Partial<DownloadOptions> }): { handle: DownloadHandle; done: Promise<DownloadResult> };
  /** the final line on stderr and the exit code for a finished download */
  report(result: DownloadResult): number;
  /** stops telemetry and the swarm, releases the lock and the NATS connection; idempotent */
  close(): Promise<void>;
}

/** A file name from a manifest is untrusted: keep only its base name and safe characters. */
export function safeName(name: string, fallback: string): string {
  const b = basename(name).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '');
  return b.length > 0 ? b : fallback;
}

function parseRate(value: string | undefined, flag: string): number {
  const n = value ? Number(value) : 0;
  if (!Number.isFinite(n) || n < 0) throw new BadRequestError(`${flag} must be bytes per second`);
  return n;
}

export async function openSession(command: string, videoId: string, flags: SessionFlags): Promise<ClientSession> {
  const parallel = flags.parallel ? Number(flags.parallel) : 4;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new BadRequestError('--parallel must be 1..64');
  const rate = parseRate(flags.rate, '--rate');
  const upRate = parseRate(flags['up-rate'], '--up-rate');
  const cfg = resolveConfig(flags);
  const logger = createLogger(command);
  const json = flags.json === true;
  const emit = (o: Record<string, unknown>) => {
    if (json) process.stdout.write(JSON.stringify(o) + '\n');
  };
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
    const resumed = partial.have().length;
    emit({ event: 'start', videoId, peerId, outPath, chunkCount: manifest.chunks.length, resumedChunks: resumed });
    if (resumed > 0 && !json) {
      process.stderr.write(`resuming: ${resumed} of ${manifest.chunks.length} chunks already verified\n`);
    }
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
    let closed = false;
    const heldLock = lock;
    const session: ClientSession = {
      videoId, peerId, manifest, partial, outPath, resumed, node, telemetry, logger, json, emit,
      download({ staying, options }) {
        const bar = json ? null : createProgressBar(manifest.size);
        let lastPosition: number | null = null;
        const handle = runDownload({ ...options, videoId, peerId, gateway: cfg.gateway, outPath, parallel,
          keepPartial: flags['keep-partial'] === true || staying }, {
          origin, partial, logger, swarm: node.swarm, ...(rate > 0 ? { limiter: createTokenBucket(rate) } : {}),
          onState: (state, at, mode) => {
            emit({ event: 'state', state, mode, at });
            const complete = mode === 'complete';
            telemetry.update({ state, mode: complete && staying ? 'seeding' : mode, ...(complete ? { doneAt: at } : {}) });
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
        const onSignal = () => handle.cancel();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const done = handle.done.then((result) => {
          bar?.done();
          emit({ event: 'done', ...result, uploadedBytes: node.swarm.stats().uploadedBytes,
            setupMs: node.swarm.stats().setupMs });
          return result;
        }).finally(() => {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
        });
        return { handle, done };
      },
      report(result) {
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
        process.stderr.write(`switchyard ${command}: download failed: ${result.error?.message ?? 'unknown error'}\n`);
        return 1;
      },
      async close() {
        if (closed) return;
        closed = true;
        telemetry.stop();
        await node.stop().catch((err) => logger.warn('stopping the swarm failed', { err }));
        await heldLock.release();
        await peer.close();
      },
    };
    return session;
  } catch (err) {
    await lock?.release();
    await peer.close();
    throw err;
  }
}
