/**
 * What `switchyard get` and `switchyard play` add to the library's download (api/download.ts): flags parsed into
 * typed options, a progress bar or JSON event lines, Ctrl-C to cancel, and the closing line and exit code. The
 * download itself (credentials, `.part` lock, swarm, telemetry, the machine) is exactly the library's.
 */
import type { Download, DownloadOptions } from '../../api/download.js';
import { createLogger } from '../../lib/logger.js';
import { BadRequestError } from '../../protocol/mod.js';
import type { DownloadResult } from '../download.js';
import { createProgressBar } from '../progress.js';

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
  /** wall-clock time (epoch ms) to start fetching at, after every preparation (a crowd starting together) */
  'start-at'?: string;
}

function parseNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new BadRequestError(`${flag} must be a non-negative number`);
  return n;
}

/** The library options a command's flags stand for. */
export function downloadOptions(command: string, flags: SessionFlags): DownloadOptions {
  const parallel = parseNumber(flags.parallel, '--parallel');
  const rate = parseNumber(flags.rate, '--rate');
  const upRate = parseNumber(flags['up-rate'], '--up-rate');
  const startAt = parseNumber(flags['start-at'], '--start-at');
  return {
    logger: createLogger(command),
    ...(flags.output ? { output: flags.output } : {}),
    ...(flags.gateway ? { gateway: flags.gateway } : {}),
    ...(flags.nats ? { nats: flags.nats } : {}),
    ...(flags.label ? { label: flags.label } : {}),
    ...(flags.bind ? { bind: flags.bind } : {}),
    ...(parallel !== undefined ? { parallel } : {}),
    ...(rate ? { downloadRate: rate } : {}),
    ...(upRate ? { uploadRate: upRate } : {}),
    ...(flags['keep-partial'] ? { keepPartial: true } : {}),
    ...(flags['no-upload'] ? { uploads: false } : {}),
    ...(startAt !== undefined ? { startAt } : {}),
  };
}

/** One JSON line on stdout, with --json only. */
export type Emit = (o: Record<string, unknown>) => void;

export function emitterFor(json: boolean): Emit {
  return (o) => {
    if (json) process.stdout.write(JSON.stringify(o) + '\n');
  };
}

/**
 * Shows a running download (bar or JSON lines) and cancels it on Ctrl-C; resolves with its result after the
 * `done` line.
 */
export async function presentDownload(d: Download, json: boolean, emit: Emit): Promise<DownloadResult> {
  emit({ event: 'start', videoId: d.videoId, peerId: d.peerId, outPath: d.outPath,
    chunkCount: d.manifest.chunks.length, resumedChunks: d.resumed });
  if (d.resumed > 0 && !json) {
    process.stderr.write(`resuming: ${d.resumed} of ${d.manifest.chunks.length} chunks already verified\n`);
  }
  const bar = json ? null : createProgressBar(d.manifest.size);
  let lastPosition: number | null = null;
  d.on('state', (s) => emit({ event: 'state', ...s }));
  d.on('progress', (p) => {
    bar?.update(p);
    if (p.position !== lastPosition) {
      lastPosition = p.position;
      if (p.position !== null) emit({ event: 'position', position: p.position, at: Date.now() });
    }
  });
  const onSignal = () => d.cancel();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await d.done;
    bar?.done();
    const stats = d.node.swarm.stats();
    emit({ event: 'done', ...result, uploadedBytes: stats.uploadedBytes, setupMs: stats.setupMs });
    return result;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** The closing line on stderr and the exit code for a finished download. */
export function reportDownload(command: string, d: Download, result: DownloadResult, json: boolean): number {
  if (result.status === 'complete') {
    if (!json) {
      const src = Object.entries(result.bytesBySource).map(([k, v]) => `${k}: ${v} bytes`).join(', ') || 'nothing new';
      process.stderr.write(`${d.outPath}: ${d.manifest.size} bytes, every chunk verified (${src}; ` +
        `${result.chunksFetched} fetched, ${d.resumed} resumed)\n`);
    }
    return 0;
  }
  if (result.status === 'cancelled') {
    process.stderr.write(`cancelled: ${d.partial.have().length} verified chunks kept in ${d.partial.dir} for resuming\n`);
    return 130;
  }
  process.stderr.write(`switchyard ${command}: download failed: ${result.error?.message ?? 'unknown error'}\n`);
  return 1;
}
