/**
 * The watch page's script (`GET /watch/<videoId>`, bundled by scripts/build-web.mjs): starts the engine, plays a
 * streamable video with hls.js through the Switchyard loader, moves the playhead with the video, and shows the
 * current mode, bytes from the origin vs peers and the peer count. Everything it shows is also on
 * `window.switchyard` (and as data attributes on #status) for scripts and tests.
 *
 * Query options: `label` (peer id prefix), `play=0` (download and seed without playing), `keepBehind` (chunks
 * kept behind the playhead), `maxMB` (memory bound), `log` (debug|info|warn|error).
 */
import Hls from 'hls.js';
import { chunksOfRange, segmentAtTime, toBase64 } from '../protocol/mod.js';
// the page is an application of the browser library, and uses nothing else of the engine
import { createLogger, startWebEngine, switchyardLoader, type LogLevel, type WebEngine, type WebEngineStatus } from './mod.js';

/** What the page exposes to scripts and tests. */
export interface WatchApi {
  ready: boolean;
  error: string | null;
  engine: WebEngine | null;
  status(): (WebEngineStatus & { currentTime: number; playing: boolean }) | null;
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

async function main() {
  const params = new URLSearchParams(location.search);
  const videoId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() ?? '');
  const res = await fetch('/watch/config', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`gateway answered ${res.status} for /watch/config`);
  const cfg = (await res.json()) as { natsWsUrl?: string };
  if (!cfg.natsWsUrl) throw new Error('this gateway offers no NATS WebSocket URL (start it with one)');
  api.marks.config = since();
  const level = (params.get('log') ?? 'warn') as LogLevel;
  const num = (k: string) => (params.has(k) && Number.isFinite(Number(params.get(k))) ? Number(params.get(k)) : undefined);
  const keepBehind = num('keepBehind');
  const maxMB = num('maxMB');
  const engine = await startWebEngine({
    gateway: location.origin, wsUrl: cfg.natsWsUrl, videoId, logger: createLogger('switchyard', level, (line) => console.log(line)),
    label: params.get('label') ?? 'web', player: params.get('play') !== '0',
    ...(keepBehind !== undefined ? { keepBehindChunks: keepBehind } : {}),
    ...(maxMB !== undefined ? { maxBytes: maxMB * 1048576 } : {}),
  });
  const video = $('video') as HTMLVideoElement;
  api.engine = engine;
  api.marks.engineReady = since();
  api.status = () => ({ ...engine.status(), currentTime: video.currentTime, playing: !video.paused });
  api.readBase64 = async (offset, length) => toBase64(await engine.readRange(offset, length));
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

  const stream = engine.manifest.stream;
  if (stream && params.get('play') !== '0') {
    if (!Hls.isSupported()) throw new Error('this browser has no Media Source Extensions: hls.js cannot play here');
    const base = `${location.origin}/watch/${encodeURIComponent(videoId)}`;
    const urls = { playlist: `${base}/stream.m3u8`, file: `${base}/stream.mp4` };
    const Loader = switchyardLoader(engine, urls);
    // the page's memory is bounded: a short back buffer in MSE, chunks evicted behind the playhead (store.ts)
    const hls = new Hls({ loader: Loader, pLoader: Loader, fLoader: Loader, enableWorker: false,
      maxBufferLength: 30, backBufferLength: 30 } as unknown as Partial<typeof Hls.DefaultConfig>);
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.fatal) api.error = `hls.js: ${data.type} ${data.details}`;
    });
    hls.loadSource(urls.playlist);
    hls.attachMedia(video);
    onFrames(video, () => {
      api.firstFrameMs ??= Math.round(performance.now());
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
    video.addEventListener('timeupdate', () => {
      if (video.currentTime >= 5) api.marks.passed5s ??= since();
      const seg = stream.segments[segmentAtTime(stream, video.currentTime)];
      if (seg) engine.setPlayhead(chunksOfRange(engine.manifest.chunkSize, seg.offset, seg.length).first);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      api.marks.manifestParsed = since();
      video.play().catch((err: unknown) => {
        // autoplay with sound needs a gesture in some browsers: muted playback is allowed everywhere
        video.muted = true;
        video.play().catch(() => {
          api.error = `cannot start playback: ${(err as Error).message}`;
        });
      });
    });
  } else if (!stream) {
    const e = $('error');
    if (e) e.textContent = 'this video is not packaged for streaming: it is downloaded and seeded, not played';
  }
  api.ready = true;
}

main().catch((err: unknown) => {
  api.error = (err as Error)?.message ?? String(err);
  const e = $('error');
  if (e) e.textContent = api.error;
});
