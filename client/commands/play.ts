/**
 * `switchyard play <videoId>`: the library's `play`: download like `get`, and meanwhile serve the video to a
 * local player over HTTP (client/play/): the HLS playlist and the whole file with Range, answered from verified
 * chunks as they arrive, the player's reads steering the download. After the download completes it keeps
 * serving, and seeding, until Ctrl-C.
 */
import { play, type Player } from '../../api/play.js';
import { watchLive } from '../../api/live.js';
import { BadRequestError, ErrorCodes, isLiveModeName, isValidId, SwitchyardError } from '../../protocol/mod.js';
import { waitForStop } from './common.js';
import { downloadOptions, emitterFor, presentDownload, reportDownload, type SessionFlags } from './session.js';

export interface PlayFlags extends SessionFlags {
  /** output file (same as --output / -o) */
  out?: string;
  /** player server port (default 0: any free port) */
  port?: string;
  /** player server address (default 127.0.0.1) */
  host?: string;
  /** live streams: latency mode */
  mode?: string;
}

const USAGE = 'usage: switchyard play <videoId> [--port N] [--host ADDR] [--out FILE]';

export async function playCommand(videoId: string | undefined, flags: PlayFlags): Promise<number> {
  if (!videoId || !isValidId(videoId)) throw new BadRequestError(USAGE);
  const port = flags.port ? Number(flags.port) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BadRequestError('--port must be 0..65535');
  const json = flags.json === true;
  const emit = emitterFor(json);
  let p: Player;
  try {
    p = await play(videoId, { ...downloadOptions('play', { ...flags, ...(flags.out ? { output: flags.out } : {}) }),
      seed: true, host: flags.host ?? '127.0.0.1', port });
  } catch (err) {
    // not a video: perhaps a live stream
    if (err instanceof SwitchyardError && err.code === ErrorCodes.unknownVideo) return playLive(videoId, flags, port);
    throw err;
  }
  const d = p.download;
  try {
    const { urls } = p;
    if (!d.manifest.stream) {
      process.stderr.write(`warning: ${videoId} is not packaged for streaming (no HLS playlist); ` +
        'serving the whole file with Range only\n');
    }
    emit({ event: 'listening', ...urls, streamable: d.manifest.stream !== undefined, at: Date.now() });
    if (!json) {
      if (urls.playlist) process.stdout.write(`${urls.playlist}\n`);
      process.stdout.write(`${urls.file}\n`);
      process.stderr.write(`serving ${d.manifest.name} at ${urls.base} while it downloads (ffplay/mpv/vlc: ` +
        `open the ${urls.playlist ? 'playlist' : 'file'} URL)\n`);
    }
    const result = await presentDownload(d, json, emit);
    const code = reportDownload('play', d, result, json);
    if (result.status === 'complete') {
      if (!json) process.stderr.write(`download complete: still serving at ${urls.base} and seeding (Ctrl-C stops)\n`);
      emit({ event: 'serving', at: Date.now() });
      await waitForStop();
      const stats = d.node.swarm.stats();
      emit({ event: 'stopped', uploadedBytes: stats.uploadedBytes, served: p.server.stats().served, at: Date.now() });
    }
    return code;
  } finally {
    await p.stop();
  }
}

/** `switchyard play <streamId>` on a live stream: joins at the edge, serves a live playlist until the end or Ctrl-C. */
async function playLive(streamId: string, flags: PlayFlags, port: number): Promise<number> {
  const json = flags.json === true;
  const emit = emitterFor(json);
  const mode = flags.mode ?? 'default';
  if (!isLiveModeName(mode)) throw new BadRequestError('--mode must be low, default or p2p');
  const o = downloadOptions('play', flags);
  const w = await watchLive(streamId, { ...o, mode, host: flags.host ?? '127.0.0.1', port });
  try {
    emit({ event: 'listening', live: true, playlist: w.urls!.playlist, base: w.urls!.base, port: w.urls!.port, at: Date.now() });
    if (!json) {
      process.stdout.write(`${w.urls!.playlist}\n`);
      process.stderr.write(`live: ${streamId} at ${w.urls!.playlist} (ffplay/mpv/vlc; Ctrl-C stops)\n`);
    }
    w.viewer.on((e) => {
      if (e.type === 'segment.verified') emit({ event: 'segment', seq: e.seq, source: e.source, latencyMs: e.latencyMs, at: Date.now() });
      if (e.type === 'segment.corrupt') emit({ event: 'corrupt', seq: e.seq, source: e.source, peerId: e.peerId ?? null, at: Date.now() });
    });
    const ended = new Promise<void>((resolve) => w.viewer.on((e) => e.type === 'ended' && resolve()));
    // after the end, players still read the last segments for a while
    await Promise.race([waitForStop(), ended.then(() => waitForStop(10_000))]);
    const s = w.viewer.stats();
    emit({ event: 'stopped', verified: s.verified, corrupt: s.corrupt, bySource: s.bySource, stalls: s.playhead.stalls,
      videoId: w.viewer.ended()?.videoId ?? null, at: Date.now() });
    if (!json) {
      process.stderr.write(`live: ${s.verified} segments (origin ${s.bySource.origin} B, urgent ${s.bySource.urgent} B, ` +
        `peers ${s.bySource.peer} B)${w.viewer.ended()?.videoId ? `; recording: ${w.viewer.ended()!.videoId}` : ''}\n`);
    }
    return s.corrupt > 0 && s.verified === 0 ? 1 : 0;
  } finally {
    await w.stop();
  }
}
