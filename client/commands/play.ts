/**
 * `switchyard play <videoId>`: the library's `play`: download like `get`, and meanwhile serve the video to a
 * local player over HTTP (client/play/): the HLS playlist and the whole file with Range, answered from verified
 * chunks as they arrive, the player's reads steering the download. After the download completes it keeps
 * serving, and seeding, until Ctrl-C.
 */
import { play } from '../../api/play.js';
import { BadRequestError, isValidId } from '../../protocol/mod.js';
import { waitForStop } from './common.js';
import { downloadOptions, emitterFor, presentDownload, reportDownload, type SessionFlags } from './session.js';

export interface PlayFlags extends SessionFlags {
  /** output file (same as --output / -o) */
  out?: string;
  /** player server port (default 0: any free port) */
  port?: string;
  /** player server address (default 127.0.0.1) */
  host?: string;
}

const USAGE = 'usage: switchyard play <videoId> [--port N] [--host ADDR] [--out FILE]';

export async function playCommand(videoId: string | undefined, flags: PlayFlags): Promise<number> {
  if (!videoId || !isValidId(videoId)) throw new BadRequestError(USAGE);
  const port = flags.port ? Number(flags.port) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BadRequestError('--port must be 0..65535');
  const json = flags.json === true;
  const emit = emitterFor(json);
  const p = await play(videoId, { ...downloadOptions('play', { ...flags, ...(flags.out ? { output: flags.out } : {}) }),
    seed: true, host: flags.host ?? '127.0.0.1', port });
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
