/**
 * `switchyard play <videoId>`: download like `get`, and meanwhile serve the video to a local player over HTTP
 * (client/play/): the HLS playlist and the whole file with Range, answered from verified chunks as they arrive.
 * After the download completes it keeps serving, and seeding, until Ctrl-C.
 */
import { BadRequestError, isValidId } from '../../protocol/mod.js';
import type { DownloadOptions } from '../download.js';
import { createPlayServer } from '../play/server.js';
import { waitForStop } from './common.js';
import { openSession, type DownloadHandle, type SessionFlags } from './session.js';

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
  const host = flags.host ?? '127.0.0.1';
  const session = await openSession('play', videoId, { ...flags, ...(flags.out ? { output: flags.out } : {}) });
  const { manifest, partial, emit, json } = session;
  let handle: DownloadHandle | null = null;
  // The one place that tells the download where the player reads. `setPlayhead` and the `streaming` option arrive
  // with playback-ordered fetching (branch wt-urgent); until then the download keeps its own order, the option is
  // ignored and this does nothing.
  const setPlayhead = (index: number) => (handle as { setPlayhead?(i: number): void } | null)?.setPlayhead?.(index);
  const streaming = { streaming: {} } as Partial<DownloadOptions>;
  const server = createPlayServer({ host, port }, { partial, logger: session.logger, onPlayhead: setPlayhead });
  let stopped = false;
  const stopServer = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  try {
    const urls = await server.start();
    if (!manifest.stream) {
      process.stderr.write(`warning: ${videoId} is not packaged for streaming (no HLS playlist); ` +
        'serving the whole file with Range only\n');
    }
    emit({ event: 'listening', ...urls, streamable: manifest.stream !== undefined, at: Date.now() });
    if (!json) {
      if (urls.playlist) process.stdout.write(`${urls.playlist}\n`);
      process.stdout.write(`${urls.file}\n`);
      process.stderr.write(`serving ${manifest.name} at ${urls.base} while it downloads (ffplay/mpv/vlc: ` +
        `open the ${urls.playlist ? 'playlist' : 'file'} URL)\n`);
    }
    const dl = session.download({ staying: true, options: manifest.stream ? streaming : {} });
    handle = dl.handle;
    const result = await dl.done;
    const code = session.report(result);
    if (result.status === 'complete') {
      if (!json) process.stderr.write(`download complete: still serving at ${urls.base} and seeding (Ctrl-C stops)\n`);
      emit({ event: 'serving', at: Date.now() });
      await waitForStop();
      const stats = session.node.swarm.stats();
      emit({ event: 'stopped', uploadedBytes: stats.uploadedBytes, served: server.stats().served, at: Date.now() });
      await stopServer();
      if (flags['keep-partial'] !== true) await partial.remove();
    }
    return code;
  } finally {
    await stopServer();
    await session.close();
  }
}
