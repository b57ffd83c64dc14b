/**
 * Telemetry aggregator: the gateway's view of every client's latest status (protocol/telemetry.ts), for the
 * dashboard. It subscribes to `sy.telemetry.*.*`, checks every message (size, JSON, schema, and that the body
 * names the same video and peer as its subject) and keeps the newest status per (video, peer). The subject is
 * the authority: a peer's NATS credential lets it publish only `sy.telemetry.*.<itself>`, so a body naming
 * another peer is a forgery and is dropped, and a peer can only ever fill its own rows. A peer silent for
 * `staleMs` is shown as stale; after `dropMs` it is forgotten. The table is bounded: past `maxPeers` the peer
 * heard from least recently is dropped first, so a flood of made-up peer ids costs memory for `maxPeers` only.
 *
 * Telemetry is informational: a bad message is dropped with a debug line and never throws.
 */
import { decode, MAX_TELEMETRY_BYTES, parseTelemetrySubject, PeerStatus, Subjects } from '../protocol/mod.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { NatsConnection, Subscription } from '../lib/nats.js';

export interface PeerView extends PeerStatus {
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
  /** takes one raw message as if received on `subject`; false when it was dropped (used by `start`, and tests) */
  accept(subject: string, data: Uint8Array): boolean;
}

export const TELEMETRY_DEFAULTS = { staleMs: 10_000, dropMs: 30_000, maxPeers: 5_000 } as const;

interface Entry {
  status: PeerStatus;
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
    let status: PeerStatus;
    try {
      from = parseTelemetrySubject(subject);
      status = decode(PeerStatus, data, { maxBytes: MAX_TELEMETRY_BYTES, what: 'telemetry' });
    } catch (err) {
      logger.debug('telemetry dropped', { subject, err });
      return false;
    }
    if (from.videoId !== status.videoId || from.peerId !== status.peerId) {
      logger.debug('telemetry dropped: body does not match its subject', { subject });
      return false;
    }
    const key = `${status.videoId}/${status.peerId}`;
    table.delete(key);
    table.set(key, { status, seenAt: clock.now() });
    while (table.size > maxPeers) {
      const oldest = table.keys().next().value;
      if (oldest === undefined) break;
      table.delete(oldest);
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
        if (videoId !== undefined && e.status.videoId !== videoId) continue;
        out.push({ ...e.status, stale: now - e.seenAt > staleMs });
      }
      return out.sort((a, b) => a.startedAt - b.startedAt || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));
    },
    accept,
  };
}
