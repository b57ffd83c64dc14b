/**
 * `play(videoId, options)`: a streaming download plus a local HTTP server that any player opens while the video
 * arrives (the HLS playlist, and the whole file with Range; client/play/). Each request tells the download where
 * the player reads, so those chunks come first. The server keeps serving after completion until `stop()`.
 */
import { createPlayServer, type PlayServer, type PlayUrls } from '../client/play/server.js';
import { createLogger } from '../lib/logger.js';
import { download, type Download, type DownloadOptions } from './download.js';

export interface PlayOptions extends Omit<DownloadOptions, 'streaming'> {
  /** server address (default 127.0.0.1: a player on this machine) */
  host?: string;
  /** server port (default 0: any free port) */
  port?: number;
  /** the player's windows (default: urgent and buffer windows from the stream's bitrate) */
  streaming?: DownloadOptions['streaming'];
}

export interface Player {
  /** where to point a player: `playlist` (HLS; null for a video not packaged for streaming) and `file` (Range) */
  readonly urls: PlayUrls;
  /** the download behind it (events, progress, mode, result) */
  readonly download: Download;
  readonly server: PlayServer;
  /** stops the server, then closes the download (cancelled when unfinished) */
  stop(): Promise<void>;
}

export async function play(videoId: string, o: PlayOptions = {}): Promise<Player> {
  const d = await download(videoId, { ...o, streaming: o.streaming ?? true });
  const server = createPlayServer({ ...(o.host ? { host: o.host } : {}), ...(o.port !== undefined ? { port: o.port } : {}) },
    { partial: d.partial, logger: o.logger ?? createLogger('play'), onPlayhead: (i) => d.setPlayhead(i) });
  let urls: PlayUrls;
  try {
    urls = await server.start();
  } catch (err) {
    await d.close();
    throw err;
  }
  let stopped = false;
  return {
    urls, download: d, server,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await d.close();
    },
  };
}
