/**
 * A live viewer's telemetry: its status (protocol/telemetry.ts LiveViewerStatus, `kind: 'live'`) published about
 * once a second on `sy.telemetry.<streamId>.<peerId>`, the subject scheme of VOD clients, so the gateway's
 * dashboard lists live viewers per stream: the playhead's state and latency behind the edge, segments verified,
 * stalls, bytes by source. Once at start, then on a timer, and a last time on stop. Fire-and-forget: telemetry
 * must never slow or break playback. Portable: client/live/node.ts and web/live.ts both start it.
 */
import type { NatsConnection } from '../../lib/natsrequest.js';
import { unrefTimer } from '../../lib/timers.js';
import { encode, Subjects, type LiveViewerStatus } from '../../protocol/mod.js';
import type { LiveViewer } from './types.js';

export const LIVE_TELEMETRY_INTERVAL_MS = 1000;

export interface LiveTelemetryOptions {
  /** this viewer's peer id (the subject's last token: the only one its credential may publish as) */
  peerId: string;
  /** publishing period (default 1 s) */
  intervalMs?: number;
}

export interface LiveTelemetry {
  /** the status as it would be published now */
  status(): LiveViewerStatus;
  /** publishes a last status and stops */
  stop(): void;
}

/** The status of a started viewer. */
export function liveViewerStatus(viewer: Pick<LiveViewer, 'streamId' | 'stats' | 'swarm'>, peerId: string,
  startedAt: number): LiveViewerStatus {
  const s = viewer.stats();
  let uploadedBytes = 0;
  let links = 0;
  try {
    const sw = viewer.swarm.stats();
    uploadedBytes = sw.uploadedBytes;
    links = sw.links.filter((l) => l.state.includes('open')).length;
  } catch {
    /* not started yet: no swarm */
  }
  const p = s.playhead;
  return {
    kind: 'live', peerId, streamId: viewer.streamId, state: p.state, seq: p.seq,
    latencyMs: p.latencyMs === null ? null : Math.round(p.latencyMs), verified: s.verified, corrupt: s.corrupt,
    stalls: p.stalls, stalledMs: Math.max(0, Math.round(p.stalledMs)), skips: p.skips,
    bytesBySource: { origin: s.bySource.origin, urgent: s.bySource.urgent, peer: s.bySource.peer },
    uploadedBytes, links, admitted: s.admitted, startedAt, at: Date.now(),
  };
}

export function startLiveTelemetry(nc: NatsConnection, viewer: Pick<LiveViewer, 'streamId' | 'stats' | 'swarm'>,
  opts: LiveTelemetryOptions): LiveTelemetry {
  const startedAt = Date.now();
  const subject = Subjects.telemetry(viewer.streamId, opts.peerId);
  const status = () => liveViewerStatus(viewer, opts.peerId, startedAt);
  let stopped = false;
  const publish = () => {
    try {
      nc.publish(subject, encode(status()));
    } catch {
      /* connection closing: telemetry is best effort */
    }
  };
  const timer = setInterval(publish, opts.intervalMs ?? LIVE_TELEMETRY_INTERVAL_MS);
  unrefTimer(timer);
  publish();
  return {
    status,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      publish();
    },
  };
}
