/**
 * The Node library: `import { download, play, seed } from 'switchyard'`. The CLI's `get`, `play` and `seed` are
 * thin presentations over exactly these. The browser engine (an hls.js loader) is `switchyard/browser`.
 */
export { download, type Download, type DownloadEvents, type DownloadOptions } from './download.js';
export { play, type Player, type PlayOptions } from './play.js';
export { seed, type Seeder, type SeedEvents, type SeedOptions } from './seed.js';
export { watchLive, type LiveWatch, type WatchLiveOptions } from './live.js';
export type { LiveViewerEvent, LiveViewerStats } from '../client/live/viewer.js';
export type { ClientOptions } from './client.js';
export type { Listener, TypedEvents } from './events.js';
export type { DownloadProgress, DownloadResult } from '../client/download.js';
export type { StreamingOptions } from '../client/playback.js';
export type { PlayUrls } from '../client/play/server.js';
export type { DownloadMode } from '../machines/download/machine.js';
export type { Manifest, StreamInfo, StreamSegment } from '../protocol/mod.js';
export { ErrorCodes, SwitchyardError } from '../protocol/mod.js';
