/**
 * Telemetry aggregator: the gateway's view of every client's latest status (protocol/telemetry.ts), for the
 * dashboard. It subscribes to `sy.telemetry.*.*`, checks every message (size, JSON, schema, and that the body
 * names the same video and peer as its subject) and keeps the newest status per (video, peer); a live viewer's
 * status (`kind: 'live'`, its stream in place of the video) is kept per (stream, peer) in the same bounded table.
 * The subject is the authority: a peer's NATS credential lets it publish only `sy.telemetry.*.<itself>`, so a
 * body naming another peer is a forgery and is dropped, and a peer can only ever fill its own rows. A peer silent
 * for `staleMs` is shown as stale; after `dropMs` it is forgotten. The table is bounded: past `maxPeers` the peer
 * heard from least recently is dropped first, so a flood of made-up peer ids costs memory for `maxPeers` only.
 *
 * Telemetry is informational: a bad message is dropped with a debug line and never throws.
 */
import {
  decodeTelemetry, isLiveViewerStatus, parseTelemetrySubject, Subjects, type LiveViewerStatus, type PeerStatus,
  type TelemetryStatus,
} from '../protocol/mod.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { NatsConnection, Subscription } from '../lib/nats.js';

export interface PeerView extends PeerStatus {
  /** no message for more than `staleMs` */
  stale: boolean;
}

export interface LiveViewerView extends LiveViewerStatus {
  /** no message for more than `staleMs` */
  stale: boolean;
}

export interface TelemetryAggregatorOptions {
  /** a peer silent for longer is marked stale (default 10 s) */
  staleMs?: number;
  /** a peer silent for longer is forgotten (default 30 s) */
  dropMs?: number;
  /** most peers kept at once (default 5,000) */
  maxPeers?: number;
}

export interface TelemetryAggregator {
  start(): void;
  stop(): Promise<void>;
  /** latest status of every known peer (of one video when given), oldest session first */
  peers(videoId?: string): PeerView[];
  /** latest status of every known live viewer (of one stream when given), oldest session first */
  liveViewers(streamId?: string): LiveViewerView[];
  /** takes one raw message as if received on `subject`; false when it was dropped (used by `start`, and tests) */
  accept(subject: string, data: Uint8Array): boolean;
  /**
   * calls `listener` with every accepted status and the one it replaces (undefined for a peer not in the table),
   * so counters can add what changed (the gateway's metrics); returns the unsubscribe function. A listener that
   * throws is ignored.
   */
  onStatus(listener: StatusListener): () => void;
}

/** See `TelemetryAggregator.onStatus`. */
export type StatusListener = (status: TelemetryStatus, previous: TelemetryStatus | undefined) => void;

export const TELEMETRY_DEFAULTS = { staleMs: 10_000, dropMs: 30_000, maxPeers: 5_000 } as const;

interface Entry {
  status: TelemetryStatus;
  /** when we received it, on our clock (a client's own `at` may be skewed) */
  seenAt: number;
}

export function createTelemetryAggregator(
  components: { nc: NatsConnection; logger: Logger; clock: Clock },
  opts: TelemetryAggregatorOptions = {},
): TelemetryAggregator {
  const staleMs = opts.staleMs ?? TELEMETRY_DEFAULTS.staleMs;
  const dropMs = opts.dropMs ?? TELEMETRY_DEFAULTS.dropMs;
  const maxPeers = opts.maxPeers ?? TELEMETRY_DEFAULTS.maxPeers;
  const { logger, clock } = components;
  // Insertion order = receipt order (entries are deleted and re-inserted on every message), so the first key is
  // always the peer heard from least recently: both expiry and the size bound only ever look at the front.
  const table = new Map<string, Entry>();
  const listeners = new Set<StatusListener>();
  let sub: Subscription | null = null;
  let sweeper: NodeJS.Timeout | null = null;

  const sweep = () => {
    const cutoff = clock.now() - dropMs;
    for (const [key, e] of table) {
      if (e.seenAt > cutoff) break;
      table.delete(key);
    }
  };

  const accept = (subject: string, data: Uint8Array): boolean => {
    let from: { videoId: string; peerId: string };
    let status: TelemetryStatus;
    try {
      from = parseTelemetrySubject(subject);
      status = decodeTelemetry(data);
    } catch (err) {
      logger.debug('telemetry dropped', { subject, err });
      return false;
    }
    const live = isLiveViewerStatus(status);
    if (from.videoId !== (isLiveViewerStatus(status) ? status.streamId : status.videoId) || from.peerId !== status.peerId) {
      logger.debug('telemetry dropped: body does not match its subject', { subject });
      return false;
    }
    // a stream and a video may share an id: the kinds are kept apart
    const key = `${live ? 'live:' : ''}${from.videoId}/${status.peerId}`;
    const previous = table.get(key)?.status;
    table.delete(key);
    table.set(key, { status, seenAt: clock.now() });
    while (table.size > maxPeers) {
      const oldest = table.keys().next().value;
      if (oldest === undefined) break;
      table.delete(oldest);
    }
    for (const l of listeners) {
      try {
        l(status, previous);
      } catch (err) {
        logger.debug('telemetry listener failed', { err });
      }
    }
    return true;
  };

  return {
    start() {
      if (sub) return;
      sub = components.nc.subscribe(Subjects.telemetryAll, {
        callback: (err, msg) => {
          if (err) {
            logger.warn('telemetry subscription error', { err });
            return;
          }
          accept(msg.subject, msg.data);
        },
      });
      sweeper = setInterval(sweep, Math.max(1000, Math.min(staleMs, 5000)));
      sweeper.unref();
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      const s = sub;
      sub = null;
      if (s && !s.isClosed()) s.unsubscribe();
      table.clear();
    },
    peers(videoId) {
      sweep();
      const now = clock.now();
      const out: PeerView[] = [];
      for (const e of table.values()) {
        const s = e.status;
        if (isLiveViewerStatus(s) || (videoId !== undefined && s.videoId !== videoId)) continue;
        out.push({ ...s, stale: now - e.seenAt > staleMs });
      }
      return out.sort(bySession);
    },
    liveViewers(streamId) {
      sweep();
      const now = clock.now();
      const out: LiveViewerView[] = [];
      for (const e of table.values()) {
        const s = e.status;
        if (!isLiveViewerStatus(s) || (streamId !== undefined && s.streamId !== streamId)) continue;
        out.push({ ...s, stale: now - e.seenAt > staleMs });
      }
      return out.sort(bySession);
    },
    accept,
    onStatus(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

/** oldest session first, then by peer id */
function bySession(a: { startedAt: number; peerId: string }, b: { startedAt: number; peerId: string }): number {
  return a.startedAt - b.startedAt || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0);
}
