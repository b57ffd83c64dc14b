/**
 * `switchyard live <input> --name NAME`: packages a live input (a file played in real time, `testsrc`, an
 * RTMP/SRT/UDP listener, a capture device) with Debian's ffmpeg into ~1 s CMAF segments, announces each as it is
 * complete, and on the end (input over, `--duration`, or Ctrl-C) turns the recording into a video. Announcing live
 * segments is a service's right: like `ingest`, this operator tool uses the deployment's keys.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOriginClient } from '../../actors/origin/client.js';
import { createLivePackager } from '../../actors/live/packager.js';
import { LIVE_ENCODING_DEFAULTS, parseLiveInput } from '../../actors/live/ffmpeg.js';
import { loadAuth, serviceCredentials } from '../../infra/auth.js';
import { systemClock } from '../../lib/clock.js';
import { createLogger } from '../../lib/logger.js';
import { connectNats } from '../../lib/nats.js';
import { BadRequestError, isValidId, ServiceRoles, UnauthorizedError } from '../../protocol/mod.js';
import { openChunkStore } from '../../store/mod.js';
import { resolveConfig } from '../config.js';
import { emitterFor } from './session.js';

export interface LiveFlags {
  name?: string;
  dvr?: string;
  segment?: string;
  bitrate?: string;
  size?: string;
  duration?: string;
  'no-record'?: boolean;
  json?: boolean;
  nats?: string;
  gateway?: string;
  store?: string;
  'auth-dir'?: string;
}

const USAGE = 'usage: switchyard live <file|loop:FILE|testsrc|rtmp://…|srt://…|udp://…|/dev/videoN> --name NAME ' +
  '[--dvr SEC] [--segment SEC] [--bitrate KBIT_S] [--size WxH] [--duration SEC] [--no-record]';

const positive = (v: string | undefined, what: string, max: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new BadRequestError(`${what} must be a number in (0, ${max}]`);
  return n;
};

export async function liveCommand(input: string | undefined, flags: LiveFlags): Promise<number> {
  if (!input || !flags.name) throw new BadRequestError(USAGE);
  if (!isValidId(flags.name)) throw new BadRequestError('--name is the stream id: letters, digits, _ and - (at most 64)');
  const dvrSec = positive(flags.dvr, '--dvr', 7200);
  const segmentSec = positive(flags.segment, '--segment', 10);
  const kbps = positive(flags.bitrate, '--bitrate', 32_000);
  const durationSec = positive(flags.duration, '--duration', 7 * 24 * 3600);
  const size = flags.size ? /^(\d{2,4})x(\d{2,4})$/.exec(flags.size) : null;
  if (flags.size && !size) throw new BadRequestError('--size must be WIDTHxHEIGHT, e.g. 640x360');
  const cfg = resolveConfig(flags);
  const auth = cfg.authDir ? loadAuth(cfg.authDir) : null;
  if (!auth) {
    throw new UnauthorizedError('live announces segments as a service and needs the operator keys: run it where ' +
      '`switchyard serve` runs, or set SWITCHYARD_AUTH_DIR');
  }
  const json = flags.json === true;
  const emit = emitterFor(json);
  const logger = createLogger('live');
  const store = await openChunkStore(cfg.store);
  const nc = await connectNats(cfg.nats, 'switchyard-live', serviceCredentials(auth, ServiceRoles.ingest));
  try {
    const origin = createOriginClient(nc);
    const audio = LIVE_ENCODING_DEFAULTS.audioBitrate;
    const packager = createLivePackager({
      streamId: flags.name, input: parseLiveInput(input), workDir: join(tmpdir(), 'switchyard-live'), name: `${flags.name}.mp4`,
      ...(dvrSec ? { dvrSec } : {}), ...(flags['no-record'] ? { record: false } : {}),
      encoding: { ...(segmentSec ? { segmentSec } : {}), ...(durationSec ? { durationSec } : {}),
        ...(kbps ? { videoBitrate: Math.max(50_000, kbps * 1000 - audio) } : {}),
        ...(size ? { width: Number(size[1]), height: Number(size[2]) } : {}) },
    }, { nc, store, publish: (m) => origin.publish(m), clock: systemClock, logger });
    await packager.start();
    const watch = `${cfg.gateway.replace(/\/$/, '')}/watch/${flags.name}`;
    emit({ event: 'live', streamId: flags.name, watch, at: Date.now() });
    if (!json) {
      process.stdout.write(`${flags.name}\n`);
      process.stderr.write(`live: ${flags.name} — watch at ${watch}, or: switchyard play ${flags.name} (Ctrl-C ends it)\n`);
    }
    let segments = 0;
    packager.onSegment((s) => {
      segments++;
      emit({ event: 'segment', seq: s.seq, bytes: s.length, durationSec: s.durationSec, at: s.producedAt });
    });
    const stop = () => void packager.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const end = await packager.ended;
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    emit({ event: 'ended', streamId: end.streamId, lastSeq: end.lastSeq, videoId: end.videoId ?? null, at: Date.now() });
    if (!json) {
      process.stderr.write(`live: ${flags.name} ended after ${segments} segments` +
        `${end.videoId ? `; the recording is video ${end.videoId}` : ''}\n`);
      if (end.videoId) process.stdout.write(`${end.videoId}\n`);
    }
    return segments > 0 ? 0 : 1;
  } finally {
    await nc.close().catch(() => {});
    await store.close();
  }
}
