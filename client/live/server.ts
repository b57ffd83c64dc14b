/**
 * The local player server of `switchyard play` on a live stream: a live HLS playlist over the viewer's verified
 * segments (it slides as they arrive; ENDLIST once the stream ended), the init segment, and each segment by
 * `seq`. Fixed routes only, loopback Host check as the VOD player server (client/play/server.ts), so any player
 * (ffplay, mpv, VLC, a browser with hls.js) plays the stream from this process and never from a stranger.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../../lib/logger.js';
import { liveHlsPlaylist, type LiveSegment } from '../../protocol/mod.js';
import { listenLocal } from '../play/server.js';
import type { LiveViewer } from './viewer.js';

export interface LiveServerUrls {
  port: number;
  base: string;
  playlist: string;
}

export interface LiveServer {
  start(): Promise<LiveServerUrls>;
  stop(): Promise<void>;
}

/** Segments listed at most: a live playlist is a window near the edge, not the recording. */
const PLAYLIST_SEGMENTS = 12;
const SEGMENT = /^\/seg\/(0|[1-9][0-9]{0,8})\.m4s$/;

/** The newest run of consecutive held segments, at most `max` long (players want no holes in a live playlist). */
export function playableRun(held: number[], info: (seq: number) => LiveSegment | undefined, max: number): LiveSegment[] {
  const out: LiveSegment[] = [];
  for (let i = held.length - 1; i >= 0 && out.length < max; i--) {
    const s = info(held[i]!);
    if (!s || (out.length > 0 && s.seq !== out[0]!.seq - 1)) break;
    out.unshift(s);
  }
  return out;
}

export function createLiveServer(init: { host?: string; port?: number },
  c: { viewer: Pick<LiveViewer, 'held' | 'info' | 'init' | 'segment' | 'ended' | 'window' | 'streamId'>; logger: Logger }): LiveServer {
  const host = init.host ?? '127.0.0.1';
  const playlistPath = `/${c.viewer.streamId}.m3u8`;
  let allowedHosts: Set<string> | null = null;
  const send = (res: ServerResponse, status: number, body: Uint8Array | string, type: string, head: boolean,
    extra: Record<string, string> = {}) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(bytes.byteLength), ...extra });
    res.end(head ? undefined : bytes);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const head = req.method === 'HEAD';
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) return send(res, 403, 'unexpected Host header\n', 'text/plain', head);
    if (req.method !== 'GET' && !head) return send(res, 405, 'method not allowed\n', 'text/plain', false, { Allow: 'GET, HEAD' });
    const path = (req.url ?? '').split('?')[0]!;
    if (path === playlistPath) {
      const w = c.viewer.window();
      const text = liveHlsPlaylist(playableRun(c.viewer.held(), (s) => c.viewer.info(s), PLAYLIST_SEGMENTS), {
        initUri: 'init.mp4', segmentUri: (seq) => `seg/${seq}.m4s`, targetDurationSec: w.segmentSec,
        ended: c.viewer.ended() !== null });
      return send(res, 200, text, 'application/vnd.apple.mpegurl', head, { 'Cache-Control': 'no-cache' });
    }
    if (path === '/init.mp4') return send(res, 200, c.viewer.init(), 'video/mp4', head, { 'Cache-Control': 'max-age=3600' });
    const m = SEGMENT.exec(path);
    if (m) {
      const data = c.viewer.segment(Number(m[1]));
      if (!data) return send(res, 404, 'not held (yet, or any more)\n', 'text/plain', head);
      return send(res, 200, data, 'video/iso.segment', head, { 'Cache-Control': 'max-age=3600, immutable' });
    }
    if (path === '/') return send(res, 200, `switchyard live: ${c.viewer.streamId}\nplaylist: ${playlistPath}\n`, 'text/plain', head);
    return send(res, 404, 'not found\n', 'text/plain', head);
  };
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 5000 }, (req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      c.logger.warn('live play: request failed', { err });
      if (!res.headersSent) send(res, 500, 'internal error\n', 'text/plain', false);
      else res.destroy();
    }
  });
  server.maxConnections = 32;
  return {
    async start() {
      const l = await listenLocal(server, host, init.port ?? 0);
      allowedHosts = l.allowedHosts;
      return { port: l.port, base: `${l.base}/`, playlist: `${l.base}${playlistPath}` };
    },
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
