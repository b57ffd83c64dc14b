/**
 * The watch page of a live stream (`/watch/<streamId>`, boot data with `live`: web/watch.ts imports this module
 * for it): the live viewer (web/live.ts, the shared engine on the browser's edges) and hls.js playing its verified
 * segments through the live loader (web/liveloader.ts), tuned by the latency mode (`?mode=low|default|p2p`, else
 * the stream's, else `default`): hls.js aims `targetLatencySec` behind the edge, plays up to 15% faster to get back
 * there, and jumps to it when more than `maxLatencySec` behind. The figures (latency behind the live edge, stalls,
 * bytes by source, segments verified or corrupt) are on `window.switchyard.status()` and on #status.
 */
import Hls from 'hls.js/light';
import type { PeerIdentity } from '../client/identity.js';
import type { Logger } from '../lib/logger.js';
import { isLiveModeName, LiveModes, type LiveBoot, type LiveModeName } from '../protocol/mod.js';
import type {} from './early.js';
import { startWebLiveViewer, type WebLiveViewer } from './live.js';
import { liveLoader, liveStreamUrls, type LiveLoaderSource } from './liveloader.js';
import { createVideoPlayhead, type FragmentAt } from './liveplayhead.js';
import { markOnce } from './marks.js';
import { mediaState, recent, type MediaState } from './mediastate.js';

/** `window.switchyard.status()` on a live page. */
export interface LiveWatchStatus {
  live: true;
  streamId: string;
  peerId: string;
  mode: LiveModeName;
  currentTime: number;
  paused: boolean;
  playing: boolean;
  playbackRate: number;
  /** `waiting` after playback started (not a seek's) */
  stalls: number;
  stalledMs: number;
  /** jumps forward to the live sync point */
  skips: number;
  /** now − capture time of the frame on screen (web/liveplayhead.ts); null before the first frame */
  latencyMs: number | null;
  /** hls.js's own estimate (its playlist's edge − currentTime), ms */
  hlsLatencyMs: number | null;
  targetLatencyMs: number;
  joinSeq: number | null;
  /** the segment on screen */
  seq: number | null;
  /** the newest segment announced */
  edgeSeq: number | null;
  heldSegments: number;
  segmentsVerified: number;
  corrupt: number;
  bytesFromOrigin: number;
  bytesFromUrgent: number;
  bytesFromPeers: number;
  /** holds an origin slot */
  admitted: boolean;
  /** open links */
  peers: number;
  linked: string[];
  uploadedBytes: number;
  banned: string[];
  ended: boolean;
  error: string | null;
  /** the video element's own state */
  media: MediaState;
  /** hls.js's last non-fatal errors */
  playerWarnings: string[];
}

/** The part of the page's API (web/watch.ts WatchApi) a live page fills in. */
export interface LivePageApi {
  error: string | null;
  stalls: number;
  firstFrameMs: number | null;
  marks: { config?: number; engineReady?: number; manifestParsed?: number; playing?: number };
  status(): unknown;
}

export interface LivePageInit {
  api: LivePageApi;
  boot: LiveBoot;
  streamId: string;
  video: HTMLVideoElement;
  params: URLSearchParams;
  logger: Logger;
  label: string;
  wsUrl: Promise<string>;
  identity: Promise<PeerIdentity>;
  since(): number;
}

export async function startLivePage(p: LivePageInit): Promise<WebLiveViewer> {
  const { api, video } = p;
  const asked = p.params.get('mode') ?? '';
  const modeName: LiveModeName = isLiveModeName(asked) ? asked : p.boot.mode ?? 'default';
  const mode = LiveModes[modeName];
  const urls = liveStreamUrls(`${location.origin}${location.pathname}`);
  let resolveSource: (s: LiveLoaderSource) => void = () => {};
  let rejectSource: (e: unknown) => void = () => {};
  const source = new Promise<LiveLoaderSource>((resolve, reject) => {
    resolveSource = resolve;
    rejectSource = reject;
  });
  const Loader = liveLoader(source, urls, { segmentWaitMs: (mode.maxLatencySec + 10) * 1000 });
  if (!Hls.isSupported()) throw new Error('this browser has no Media Source Extensions: hls.js cannot play here');
  const hls = new Hls({ loader: Loader, pLoader: Loader, fLoader: Loader, enableWorker: false,
    // the mode's latency: aim this far behind the edge, catch up by playing slightly faster, jump when too far
    lowLatencyMode: true, liveSyncDuration: mode.targetLatencySec, liveMaxLatencyDuration: mode.maxLatencySec,
    maxLiveSyncPlaybackRate: 1.15, liveDurationInfinity: true, backBufferLength: 30, maxBufferLength: 30,
  } as unknown as Partial<typeof Hls.DefaultConfig>);
  const warnings = recent(20);
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (data.fatal) api.error = `hls.js: ${data.type} ${data.details}`;
    else {
      warnings.add(`${p.since()} ms ${data.details}`);
      p.logger.debug('hls.js', { details: data.details });
    }
  });
  const mediaSource = window.switchyardEarly?.mediaSource;
  hls.attachMedia(mediaSource ? { media: video, mediaSource } : video);
  hls.loadSource(urls.playlist);
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    api.marks.manifestParsed = p.since();
    markOnce('hls.playlist');
    video.play().catch(() => {
      // autoplay with sound needs a gesture in some browsers: muted playback is allowed everywhere
      video.muted = true;
      video.play().catch((err: unknown) => {
        api.error = `cannot start playback: ${(err as Error).message}`;
      });
    });
  });
  video.addEventListener('playing', () => {
    api.marks.playing ??= p.since();
    api.firstFrameMs ??= Math.round(performance.now());
    markOnce('frame');
  });
  video.addEventListener('waiting', () => {
    if (api.marks.playing !== undefined && !video.seeking) api.stalls++;
  });

  const fragmentAt: FragmentAt = (t) => {
    // the fragment under `t` (or ending exactly at it: a playhead stalled at the end of the buffer)
    const f = hls.latestLevelDetails?.fragments.find((x) => t >= x.start && t <= x.start + x.duration);
    return f && typeof f.sn === 'number' ? { seq: f.sn, startSec: f.start } : null;
  };
  let viewer: WebLiveViewer | null = null;
  const playhead = createVideoPlayhead(mode, video, fragmentAt, (seq) => viewer?.info(seq));
  try {
    const wsUrl = await p.wsUrl;
    api.marks.config = p.since();
    viewer = await startWebLiveViewer({ gateway: location.origin, wsUrl, streamId: p.streamId, mode, logger: p.logger,
      label: p.label, identity: p.identity, playhead });
  } catch (err) {
    rejectSource(err);
    hls.destroy();
    throw err;
  }
  const v = viewer;
  api.marks.engineReady = p.since();
  markOnce('engine');
  addEventListener('pagehide', () => void v.close());
  resolveSource({ viewer: v, joinSeq: playhead.joinSeq() ?? v.held()[0] ?? 0 });

  api.status = (): LiveWatchStatus => {
    const s = v.stats();
    const sw = v.swarm.stats();
    const ph = playhead.stats();
    return {
      live: true, streamId: p.streamId, peerId: v.peerId, mode: modeName,
      currentTime: video.currentTime, paused: video.paused, playing: !video.paused && ph.state === 'playing',
      playbackRate: video.playbackRate, stalls: ph.stalls, stalledMs: ph.stalledMs, skips: ph.skips,
      latencyMs: playhead.latencyMs(Date.now()), hlsLatencyMs: ph.state === 'joining' ? null : Math.round(hls.latency * 1000),
      targetLatencyMs: mode.targetLatencySec * 1000, joinSeq: playhead.joinSeq(), seq: ph.seq,
      edgeSeq: v.window().segments.at(-1)?.seq ?? null, heldSegments: s.held, segmentsVerified: s.verified,
      corrupt: s.corrupt, bytesFromOrigin: s.bySource.origin, bytesFromUrgent: s.bySource.urgent,
      bytesFromPeers: s.bySource.peer, admitted: s.admitted,
      peers: sw.links.filter((l) => l.state.includes('open')).length, linked: sw.links.map((l) => l.peerId),
      uploadedBytes: sw.uploadedBytes, banned: sw.banned, ended: v.ended() !== null, error: api.error,
      media: mediaState(video), playerWarnings: warnings.list(),
    };
  };
  const peerEl = document.getElementById('peer');
  if (peerEl) peerEl.textContent = v.peerId;
  const timer = setInterval(() => render(api.status() as LiveWatchStatus), 500);
  addEventListener('pagehide', () => clearInterval(timer));
  return v;
}

function render(s: LiveWatchStatus): void {
  const el = document.getElementById('status');
  if (!el) return;
  el.dataset.mode = s.mode;
  el.dataset.latency = String(s.latencyMs ?? '');
  el.dataset.origin = String(s.bytesFromOrigin);
  el.dataset.urgent = String(s.bytesFromUrgent);
  el.dataset.peers = String(s.bytesFromPeers);
  el.dataset.links = String(s.peers);
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const set = (id: string, text: string) => {
    const e = document.getElementById(id);
    if (e) e.textContent = text;
  };
  set('mode', `live, ${s.mode}${s.admitted ? ' (origin slot)' : ''}${s.ended ? ', ended' : ''}`);
  set('latency', s.latencyMs === null ? '–' : `${(s.latencyMs / 1000).toFixed(1)} s (target ${s.targetLatencyMs / 1000} s)`);
  set('segments', `${s.segmentsVerified} verified, ${s.corrupt} corrupt, ${s.stalls} stalls`);
  set('origin', kib(s.bytesFromOrigin));
  set('urgent', kib(s.bytesFromUrgent));
  set('peers-bytes', kib(s.bytesFromPeers));
  set('links', String(s.peers));
  set('uploaded', kib(s.uploadedBytes));
  set('time', s.currentTime.toFixed(1));
  if (s.error) set('error', s.error);
}
