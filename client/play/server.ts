/**
 * The local player server of `switchyard play`: fixed routes only (`/`, `/<videoId>.m3u8`, `/<videoId>.<ext>`),
 * so no request path ever reaches the file system. The file route answers HTTP Range from the download's
 * verified chunks while they arrive (client/play/body.ts); the playlist is derived from the manifest's stream
 * table. Bounded: connections, concurrent file requests, time to send request headers, and every wait inside a
 * response. Bound to loopback it also insists on a loopback Host header, so a web page cannot reach it through
 * DNS rebinding.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import { hlsPlaylist, type Manifest } from '../../protocol/mod.js';
import type { PartialDownload } from '../partial.js';
import { firstPiece, writeRange } from './body.js';
import { createPlayheadArbiter } from './playhead.js';
import { parseRange } from './range.js';

export interface PlayServerInit {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port */
  port?: number;
  /** open connections at most (default 32); more are refused by the kernel backlog / closed at once */
  maxConnections?: number;
  /** file responses in progress at most (default 16); more get 503 with Retry-After */
  maxRequests?: number;
  /** longest wait for one chunk, or for the player to read, before a response gives up (default 30 s) */
  stallMs?: number;
  /** time a client has to send its request headers (default 10 s) */
  headersTimeoutMs?: number;
}

export interface PlayServerComponents {
  partial: PartialDownload;
  logger: Logger;
  /** the chunk a player reads (or waits for) now: the download fetches from there first */
  onPlayhead?(index: number): void;
}

/** Where the server can be reached. */
export interface PlayUrls {
  port: number;
  /** the index page */
  base: string;
  /** the HLS playlist, when the manifest is streamable */
  playlist: string | null;
  /** the whole file (Range) */
  file: string;
}

export interface PlayServer {
  /** listens and returns the URLs */
  start(): Promise<PlayUrls>;
  /** aborts every response, closes every connection */
  stop(): Promise<void>;
  stats(): { active: number; served: number };
}

const EXT_BY_MIME: Record<string, string> = {
  'video/mp4': 'mp4', 'video/webm': 'webm', 'video/x-matroska': 'mkv', 'video/mp2t': 'ts', 'video/ogg': 'ogv',
  'video/x-msvideo': 'avi', 'video/x-flv': 'flv', 'audio/mp4': 'm4a', 'audio/mpeg': 'mp3',
};

/** File extension of the file route: players guess the container from it. */
export function fileExtension(m: Manifest): string {
  return m.stream ? 'mp4' : (EXT_BY_MIME[m.mime] ?? 'bin');
}

/** A manifest's mime is untrusted text: only a plain `type/subtype` becomes a header. */
function contentType(mime: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$/.test(mime)
    ? mime : 'application/octet-stream';
}

const isLoopback = (h: string) => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
const hostForUrl = (h: string) => (h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '[::1]' : h.includes(':') ? `[${h}]` : h);

/**
 * Listens on `host:port` (0: any free port) and resolves with the port, the base URL, and, on a loopback address,
 * the Host headers to accept: a local player server answers only those, so a web page cannot reach it through
 * DNS rebinding. Shared by the video and the live player servers.
 */
export function listenLocal(server: Server, host: string, port: number):
  Promise<{ port: number; base: string; allowedHosts: Set<string> | null }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      const p = (server.address() as AddressInfo).port;
      const allowedHosts = isLoopback(host)
        ? new Set([`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`, `${hostForUrl(host)}:${p}`]) : null;
      resolve({ port: p, base: `http://${hostForUrl(host)}:${p}`, allowedHosts });
    });
  });
}

export function createPlayServer(init: PlayServerInit, c: PlayServerComponents): PlayServer {
  const { partial, logger } = c;
  const manifest = partial.manifest;
  const playhead = createPlayheadArbiter((i) => c.onPlayhead?.(i));
  const host = init.host ?? '127.0.0.1';
  const maxRequests = init.maxRequests ?? 16;
  const stallMs = init.stallMs ?? 30_000;
  const playlistPath = `/${manifest.videoId}.m3u8`;
  const fileName = `${manifest.videoId}.${fileExtension(manifest)}`;
  const filePath = `/${fileName}`;
  const playlist = manifest.stream ? hlsPlaylist(manifest.stream, fileName) : null;
  const inFlight = new Set<AbortController>();
  let served = 0;
  let allowedHosts: Set<string> | null = null;
  let urls: PlayUrls | null = null;

  const send = (res: ServerResponse, status: number, body: string, type: string, head: boolean,
    extra: Record<string, string> = {}) => {
    const bytes = Buffer.from(body);
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(bytes.byteLength), ...extra });
    res.end(head ? undefined : bytes);
  };
  const plain = (res: ServerResponse, status: number, text: string, head: boolean, extra?: Record<string, string>) =>
    send(res, status, text + '\n', 'text/plain; charset=utf-8', head, extra);

  const index = () => [
    `switchyard play: ${manifest.videoId} (${manifest.size} bytes, ${manifest.mime})`,
    ...(urls?.playlist ? [`playlist: ${urls.playlist}`] : ['no HLS playlist: this video is not packaged for streaming']),
    `file:     ${urls?.file ?? filePath}`,
  ].join('\n');

  const serveFile = async (req: IncomingMessage, res: ServerResponse, head: boolean) => {
    const size = manifest.size;
    const range = parseRange(req.headers.range, size);
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', 'Content-Type': contentType(manifest.mime),
      ETag: `"${manifest.rootHash}"`, 'Cache-Control': 'no-cache' };
    if (range.kind === 'unsatisfiable') {
      return plain(res, 416, 'range not satisfiable', head, { ...headers, 'Content-Range': `bytes */${size}` });
    }
    const start = range.kind === 'range' ? range.start : 0;
    const end = range.kind === 'range' ? range.end : size - 1;
    const status = range.kind === 'range' ? 206 : 200;
    headers['Content-Length'] = String(Math.max(0, end - start + 1));
    if (range.kind === 'range') headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    if (head || size === 0) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    if (inFlight.size >= maxRequests) return plain(res, 503, 'too many requests in progress', false, { 'Retry-After': '1' });
    const ac = new AbortController();
    inFlight.add(ac);
    res.once('close', () => ac.abort(new Error('the player closed the connection')));
    try {
      const body = { partial, signal: ac.signal, onWait: (i: number) => playhead.wait(i) };
      const bodyInit = { start, end, stallMs };
      let first: Uint8Array;
      try {
        first = await firstPiece(bodyInit, body);
      } catch (err) {
        if (ac.signal.aborted) return;
        logger.warn('play: no data for a request', { err, start, end });
        return plain(res, 503, `not available yet: ${(err as Error).message}`, false, { 'Retry-After': '2' });
      }
      res.writeHead(status, headers);
      try {
        await writeRange(res, first, bodyInit, body);
        res.end();
        served++;
      } catch (err) {
        if (!ac.signal.aborted) logger.warn('play: response cut short', { err, start, end });
        res.destroy();
      }
    } finally {
      inFlight.delete(ac);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      return plain(res, 403, 'unexpected Host header', req.method === 'HEAD');
    }
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return plain(res, 405, 'method not allowed', false, { Allow: 'GET, HEAD' });
    const path = (req.url ?? '').split('?')[0];
    if (path === '/') return plain(res, 200, index(), head);
    if (playlist !== null && path === playlistPath) {
      return send(res, 200, playlist, 'application/vnd.apple.mpegurl', head, { 'Cache-Control': 'no-cache' });
    }
    if (path === filePath) return serveFile(req, res, head);
    return plain(res, 404, 'not found', head);
  };

  const server = createServer({ headersTimeout: init.headersTimeoutMs ?? 10_000,
    requestTimeout: (init.headersTimeoutMs ?? 10_000) + 5000, keepAliveTimeout: 5000 }, (req, res) => {
    handle(req, res).catch((err) => {
      logger.warn('play: request failed', { err });
      if (!res.headersSent) plain(res, 500, 'internal error', false);
      else res.destroy();
    });
  });
  server.maxConnections = init.maxConnections ?? 32;

  return {
    async start() {
      const l = await listenLocal(server, host, init.port ?? 0);
      allowedHosts = l.allowedHosts;
      urls = { port: l.port, base: `${l.base}/`, playlist: playlist !== null ? `${l.base}${playlistPath}` : null,
        file: `${l.base}${filePath}` };
      return urls;
    },
    stop: () => new Promise<void>((resolve) => {
      for (const ac of inFlight) ac.abort(new Error('the player server is stopping'));
      server.close(() => resolve());
      server.closeAllConnections();
    }),
    stats: () => ({ active: inFlight.size, served }),
  };
}
