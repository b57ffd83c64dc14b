/**
 * The browser library (`switchyard/browser`, bundled to dist/web/switchyard.js): the Switchyard engine and its
 * hls.js loader, the shape p2p-media-loader users know. The watch page (web/watch.ts) is built on exactly these:
 *
 *   const engine = await startWebEngine({ gateway, wsUrl, videoId, logger, player: true });
 *   const Loader = switchyardLoader(engine, { playlist: `${base}/stream.m3u8`, file: `${base}/stream.mp4` });
 *   const hls = new Hls({ loader: Loader, pLoader: Loader, fLoader: Loader });
 *   hls.loadSource(`${base}/stream.m3u8`); hls.attachMedia(video);
 *
 * The engine runs the same download machine, wire format and swarm logic as the Node client; it verifies every
 * chunk with WebCrypto, keeps a bounded window of chunks in memory and seeds what it holds.
 */
export { startWebEngine, type WebEngine, type WebEngineOptions, type WebEngineStatus } from './engine.js';
export { switchyardLoader, type StreamUrls } from './loader.js';
export { createEarlyStart, type EarlyStart, type EarlyStartInit, type PlayerSource } from './start.js';
export { checkManifest } from './hash.js';
export { createLogger, type Logger, type LogLevel } from '../lib/logger.js';
