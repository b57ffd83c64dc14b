/**
 * The watch page's script (`GET /watch/<videoId>`, bundled by scripts/build-web.mjs): starts the engine, plays a
 * streamable video with hls.js through the Switchyard loader, moves the playhead with the video, and shows the
 * current mode, bytes from the origin vs peers and the peer count. Everything it shows is also on
 * `window.switchyard` (and as data attributes on #status) for scripts and tests.
 *
 * Query options: `label` (peer id prefix), `play=0` (download and seed without playing), `keepBehind` (chunks
 * kept behind the playhead), `maxMB` (memory bound), `log` (debug|info|warn|error).
 *
 * A live stream's page (boot data with `live`) is web/livepage.ts, imported on demand (`?mode=low|default|p2p`).
 */
// the light build: no subtitles, alternate audio, DRM or CMCD, none of which a Switchyard stream has
import Hls from 'hls.js/light';
import { chunksOfRange, segmentAtTime, toBase64, validate, WatchBoot } from '../protocol/mod.js';
// the page is an application of the browser library (web/mod.ts), and uses nothing else of the engine; the
// engine itself is imported on demand (its own bundle chunk): the first frame needs only the player and the start
import type { PeerIdentity } from '../client/identity.js';
import { createLogger, type Logger, type LogLevel } from '../lib/logger.js';
import { checkManifest } from './hash.js';
import type {} from './early.js';
import { markOnce } from './marks.js';
import { mediaState, recent, type MediaState, type Recent } from './mediastate.js';
import type { WebEngine, WebEngineStatus } from './engine.js';
import { switchyardLoader } from './loader.js';
import { createEarlyStart, type EarlyStart, type PlayerSource } from './start.js';
import type { LiveWatchStatus } from './livepage.js';

/** `status()` of a video's page (the engine's, plus the video's time) */
export type WatchStatus = WebEngineStatus & { currentTime: number; playing: boolean; media: MediaState;
  /** the player's last non-fatal errors (hls.js details), oldest first */
  playerWarnings: string[] };

/** What the page exposes to scripts and tests. */
export interface WatchApi {
  ready: boolean;
  error: string | null;
  engine: WebEngine | null;
  /** a video's page: the engine's status; a live stream's: web/livepage.ts LiveWatchStatus (`live: true`) */
  status(): WatchStatus | LiveWatchStatus | null;
  /** ms since page start when milestones happened */
  marks: {
    /** ms from navigation start to this script running (the rest are ms since then) */
    scriptStart?: number; config?: number; engineReady?: number; manifestParsed?: number; playing?: number;
    passed5s?: number; complete?: number; currentTimeAtComplete?: number;
  };
  /** base64 of a byte range (verified bytes, as the player gets them) */
  readBase64(offset: number, length: number): Promise<string>;
  /** ms from navigation start to the first video frame rendered (bench:startup) */
  firstFrameMs: number | null;
  /** times the video ran out of data after it started playing (a seek's own wait is not one) */
  stalls: number;
  /** seeks to `timeSec` and resolves with the ms until a frame of the new position is rendered */
  seek(timeSec: number): Promise<number>;
}

type FrameVideo = HTMLVideoElement & {
  requestVideoFrameCallback?(cb: (now: number, meta: { mediaTime: number }) => void): number;
};

/** Calls `cb` on every rendered frame's media time until it returns true (rVFC; `timeupdate` where it is missing). */
function onFrames(video: FrameVideo, cb: (mediaTime: number) => boolean): void {
  if (video.requestVideoFrameCallback) {
    const step = (_now: number, meta: { mediaTime: number }) => {
      if (!cb(meta.mediaTime)) video.requestVideoFrameCallback!(step);
    };
    video.requestVideoFrameCallback(step);
    return;
  }
  const listener = () => {
    if (cb(video.currentTime)) video.removeEventListener('timeupdate', listener);
  };
  video.addEventListener('timeupdate', listener);
}

declare global {
  interface Window {
    switchyard: WatchApi;
  }
}

const t0 = performance.now();
markOnce('script');
const since = () => Math.round(performance.now() - t0);
const api: WatchApi = {
  ready: false, error: null, engine: null, marks: { scriptStart: Math.round(t0) },
  status: () => null,
  readBase64: async () => {
    throw new Error('engine not started');
  },
  firstFrameMs: null,
  stalls: 0,
  seek: async () => {
    throw new Error('nothing is playing');
  },
};
window.switchyard = api;

const $ = (id: string) => document.getElementById(id);

function render(engine: WebEngine, video: HTMLVideoElement) {
  const s = engine.status();
  const el = $('status');
  if (!el) return;
  el.dataset.mode = s.mode;
  el.dataset.state = s.state;
  el.dataset.origin = String(s.bytesFromOrigin);
  el.dataset.peers = String(s.bytesFromPeers);
  el.dataset.links = String(s.peers);
  const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
  const set = (id: string, text: string) => {
    const e = $(id);
    if (e) e.textContent = text;
  };
  set('mode', `${s.mode} (${s.state})${s.position !== null ? `, waiting #${s.position}` : ''}`);
  set('progress', `${s.haveCount} / ${s.chunkCount} chunks`);
  set('origin', mib(s.bytesFromOrigin));
  set('peers-bytes', mib(s.bytesFromPeers));
  set('links', String(s.peers));
  set('uploaded', mib(s.uploadedBytes));
  set('held', `${mib(s.heldBytes)} (${s.evictedChunks} evicted)`);
  set('time', video.currentTime.toFixed(1));
  if (s.error) set('error', s.error);
}

let onFirstFrame: () => void = () => {};

/** The page's boot data (protocol/watch.ts), inert JSON in its HTML; absent or unreadable means "ask". */
function readBoot(): WatchBoot {
  const text = $('sy-boot')?.textContent;
  if (!text) return {};
  try {
    return validate(WatchBoot, JSON.parse(text), 'watch page boot data');
  } catch (err) {
    console.warn(`switchyard: ignoring the page's boot data: ${(err as Error).message}`);
    return {};
  }
}

/**
 * Starts the engine when it is due. With a start grant (`deferred`) the first frame needs nothing of the engine,
 * and the page's one thread is the bottleneck: the engine starts once the first frame is up (or after a second,
 * or `now()`: the start window failed), a few seconds before the player needs more than the window holds.
 * Otherwise at once: its code (a bundle chunk of its own, imported here) and this peer's credential (the one
 * web/early.ts asked for, if any) side by side.
 */
function engineWhenDue(deferred: boolean, frame: Promise<void>, start: (identity: Promise<PeerIdentity>) => Promise<WebEngine>,
  o: { logger: Logger; label: string }): { engine: Promise<WebEngine>; now(): void } {
  let now: () => void = () => {};
  const go = deferred
    ? Promise.race([frame, new Promise<void>((resolve) => {
      now = resolve;
      setTimeout(resolve, 1000);
    })])
    : Promise.resolve();
  if (!deferred) void import('./rtc.js').then(({ warmUpRtc }) => warmUpRtc());
  const identity = pageIdentity(go, o);
  const engine = go.then(() => start(identity));
  return { engine, now: () => now() };
}

/**
 * This peer's identity once `go` settles: the key pair and credential request web/early.ts already made, if it
 * did, else made here. (Dynamic imports: the first frame needs none of this code, and tweetnacl is not small.)
 */
function pageIdentity(go: Promise<void>, o: { logger: Logger; label: string }): Promise<PeerIdentity> {
  const identity = go.then(() => Promise.all([import('../client/identity.js'), import('../lib/signer.js'),
    window.switchyardEarly?.keys ?? null]))
    .then(([{ obtainPeerIdentity }, { signerFromKeys }, keys]) => obtainPeerIdentity({ gateway: location.origin,
      logger: o.logger, label: o.label,
      ...(keys ? { early: { signer: signerFromKeys(keys.rawSeed, keys.rawPublic), reply: keys.reply, url: keys.url } } : {}) }));
  identity.catch(() => {}); // its failure is the engine's (or the live viewer's), reported there
  return identity;
}

/** The WebSocket URL from the boot data, else from `/watch/config` (a page served by an older gateway). */
async function natsWsUrl(boot: WatchBoot): Promise<string> {
  if (boot.natsWsUrl) return boot.natsWsUrl;
  const res = await fetch('/watch/config', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`gateway answered ${res.status} for /watch/config`);
  const cfg = (await res.json()) as { natsWsUrl?: string };
  if (!cfg.natsWsUrl) throw new Error('this gateway offers no NATS WebSocket URL (start it with one)');
  return cfg.natsWsUrl;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const play = params.get('play') !== '0';
  const video = $('video') as HTMLVideoElement;
  // early.js is an async script: on a busy machine it can arrive after this module has run. Claiming its slot
  // makes a late early.js do nothing, instead of pointing the video at a second MediaSource (hls.js then
  // detaches and nothing plays) or asking for a second credential.
  window.switchyardEarly ??= {};
  const boot = readBoot();
  if (boot.live) return watchLiveStream(boot, params, video);
  // the player is attached first of all (its MediaSource takes ~100 ms to open): it reads from `source`, the
  // start window or the engine, once there is one and it is a stream
  let setSource: (s: PlayerSource | null) => void = () => {};
  const source = new Promise<PlayerSource | null>((resolve) => {
    setSource = resolve;
  });
  // the player's recent non-fatal errors, for status()
  const warnings = recent(20);
  if (play) startPlayer(source, video, warnings);
  const videoId = pageId();
  const { logger, label } = pageLogging(params);
  const num = (k: string) => (params.has(k) && Number.isFinite(Number(params.get(k))) ? Number(params.get(k)) : undefined);
  const keepBehind = num('keepBehind');
  const maxMB = num('maxMB');
  const checked = boot.manifest !== undefined ? checkManifest(boot.manifest, videoId) : null;
  const deferEngine = Boolean(boot.start && play);
  const frame = new Promise<void>((resolve) => {
    onFirstFrame = resolve;
  });
  const due = engineWhenDue(deferEngine, frame, (identity) => natsWsUrl(boot).then(async (wsUrl) => {
    api.marks.config = since();
    markOnce('config');
    const { startWebEngine } = await import('./engine.js');
    return startWebEngine({
      gateway: location.origin, wsUrl, videoId, logger, label, player: play, identity, holdUntilPlaying: true,
      ...(boot.manifest !== undefined ? { manifest: boot.manifest } : {}),
      ...(keepBehind !== undefined ? { keepBehindChunks: keepBehind } : {}),
      ...(maxMB !== undefined ? { maxBytes: maxMB * 1048576 } : {}),
    });
  }), { logger, label });
  const enginePromise = due.engine;
  // background fetching waits for the first frame (holdUntilPlaying)
  void Promise.all([enginePromise, frame]).then(([e]) => e.playing(), () => {});
  let early: EarlyStart | null = null;
  if (checked) {
    const manifest = await checked.catch((err: unknown) => {
      setSource(null);
      throw err;
    });
    early = createEarlyStart({ gateway: location.origin, manifest, engine: enginePromise, logger,
      ...(deferEngine && manifest.stream ? { start: boot.start! } : {}), onStartFailed: () => due.now() });
    setSource(manifest.stream ? early : null);
  }
  enginePromise.catch(() => setSource(null));
  const engine = await enginePromise;
  // a closed tab says goodbye: its links close at once (the seeders' upload slots free up now, not at a timeout)
  addEventListener('pagehide', () => void engine.stop());
  api.engine = engine;
  api.marks.engineReady = since();
  markOnce('engine');
  api.status = () => ({ ...engine.status(), currentTime: video.currentTime, playing: !video.paused,
    media: mediaState(video), playerWarnings: warnings.list() });
  api.readBase64 = async (offset, length) => toBase64(await (early ?? engine).readRange(offset, length));
  const peerEl = $('peer');
  if (peerEl) peerEl.textContent = engine.peerId;
  let queued = false;
  engine.onChange(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      render(engine, video);
    });
  });
  void engine.done.then((out) => {
    if (out.status === 'complete') {
      api.marks.complete = since();
      api.marks.currentTimeAtComplete = video.currentTime;
    }
    render(engine, video);
  });
  if (!early) setSource(engine.manifest.stream ? engine : null);
  if (!engine.manifest.stream) {
    const e = $('error');
    if (e) e.textContent = 'this video is not packaged for streaming: it is downloaded and seeded, not played';
  }
  api.ready = true;
}

const pageId = () => decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() ?? '');

function pageLogging(params: URLSearchParams): { logger: Logger; label: string } {
  const level = (params.get('log') ?? 'warn') as LogLevel;
  return { logger: createLogger('switchyard', level, (line) => console.log(line)), label: params.get('label') ?? 'web' };
}

/** A live stream: its page module (its own bundle chunk) runs the live viewer and hls.js. */
async function watchLiveStream(boot: WatchBoot, params: URLSearchParams, video: HTMLVideoElement): Promise<void> {
  const { logger, label } = pageLogging(params);
  const wsUrl = natsWsUrl(boot);
  wsUrl.catch(() => {}); // reported by the viewer's start
  // the credential (early.js's key, if it made one) and the page's module side by side
  const identity = pageIdentity(Promise.resolve(), { logger, label });
  const { startLivePage } = await import('./livepage.js');
  await startLivePage({ api, boot: boot.live!, streamId: pageId(), video, params, logger, label, wsUrl, identity, since });
  api.ready = true;
}

/**
 * hls.js with the Switchyard loader on `sourceP` (null: nothing to play, the player goes away); wires the page's
 * playback figures (first frame, stalls, seek).
 */
function startPlayer(sourceP: Promise<PlayerSource | null>, video: HTMLVideoElement, warnings: Recent) {
  if (!Hls.isSupported()) throw new Error('this browser has no Media Source Extensions: hls.js cannot play here');
  // the URLs only name the playlist and the file to the loader: nothing is fetched from them
  const base = `${location.origin}${location.pathname}`;
  const urls = { playlist: `${base}/stream.m3u8`, file: `${base}/stream.mp4` };
  const playable = sourceP.then((s) => {
    if (!s?.manifest.stream) throw new Error('nothing to play');
    return s;
  });
  const Loader = switchyardLoader(playable, urls);
  // the page's memory is bounded: a short back buffer in MSE, chunks evicted behind the playhead (store.ts)
  const hls = new Hls({ loader: Loader, pLoader: Loader, fLoader: Loader, enableWorker: false,
    maxBufferLength: 30, backBufferLength: 30 } as unknown as Partial<typeof Hls.DefaultConfig>);
  let gone = false;
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (data.fatal && !gone) api.error = `hls.js: ${data.type} ${data.details}`;
    else if (!data.fatal) warnings.add(`${since()} ms ${data.details}`);
  });
  // the MediaSource web/early.ts opened while this bundle loaded, when there is one
  const mediaSource = window.switchyardEarly?.mediaSource;
  hls.attachMedia(mediaSource ? { media: video, mediaSource } : video);
  hls.loadSource(urls.playlist);
  void sourceP.then((s) => {
    if (s?.manifest.stream) return;
    gone = true;
    hls.destroy();
  });
  onFrames(video, () => {
    api.firstFrameMs ??= Math.round(performance.now());
    markOnce('frame');
    onFirstFrame();
    return true;
  });
  video.addEventListener('waiting', () => {
    if (api.marks.playing !== undefined && !video.seeking) api.stalls++;
  });
  api.seek = (timeSec) => new Promise<number>((resolve) => {
    const started = performance.now();
    video.currentTime = timeSec;
    onFrames(video, (mediaTime) => {
      if (video.seeking || Math.abs(mediaTime - timeSec) > 2.5) return false;
      resolve(Math.round(performance.now() - started));
      return true;
    });
  });
  video.addEventListener('playing', () => {
    api.marks.playing ??= since();
  });
  void playable.then((source) => {
    const stream = source.manifest.stream!;
    video.addEventListener('timeupdate', () => {
      if (video.currentTime >= 5) api.marks.passed5s ??= since();
      const seg = stream.segments[segmentAtTime(stream, video.currentTime)];
      if (seg) source.setPlayhead(chunksOfRange(source.manifest.chunkSize, seg.offset, seg.length).first);
    });
  }, () => {});
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    api.marks.manifestParsed = since();
    markOnce('hls.playlist');
    video.play().catch((err: unknown) => {
      // autoplay with sound needs a gesture in some browsers: muted playback is allowed everywhere
      video.muted = true;
      video.play().catch(() => {
        api.error = `cannot start playback: ${(err as Error).message}`;
      });
    });
  });
}

main().catch((err: unknown) => {
  api.error = (err as Error)?.message ?? String(err);
  const e = $('error');
  if (e) e.textContent = api.error;
});
