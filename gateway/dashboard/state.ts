/**
 * What the dashboard shows, as one JSON document: the origin's slots and wait list (lease checker mirror), origin
 * egress over time (sampled from the gateway's counters), the catalog, every client's latest telemetry, and live
 * streams with their viewers (livestate.ts).
 * The same document is served by `GET /dashboard/state` and pushed by `GET /dashboard/events`.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { LiveDirectory } from '../../actors/live/registry.js';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import type { OriginClient } from '../../actors/origin/client.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { CATALOG_PAGE_DEFAULT, PeerStatus, VideoSummary, type VideoSummary as VideoSummaryT } from '../../protocol/mod.js';
import type { PeerView, TelemetryAggregator } from '../telemetry.js';
import { buildLiveSection, LiveSection } from './livestate.js';

const Id = Type.String({ maxLength: 64 });

export const DashboardState = Type.Object({
  at: Type.Number({ description: 'when this state was built (ms since epoch)' }),
  origin: Type.Object({
    capacity: Type.Union([Type.Integer(), Type.Null()], { description: 'origin slots (null before a worker published its config)' }),
    policy: Type.Union([Type.String(), Type.Null()]),
    leaseTtlMs: Type.Union([Type.Integer(), Type.Null()]),
    slots: Type.Array(Type.Object({ slot: Type.Integer(), peerId: Id, videoId: Id, expiresAt: Type.Number() })),
    waiting: Type.Array(Type.Object({ peerId: Id, videoId: Id, since: Type.Number() }), { description: 'longest waiting first' }),
    egress: Type.Array(Type.Object({ t: Type.Number(), bytesPerSec: Type.Number() }),
      { description: 'origin egress of this gateway, one sample a second, oldest first' }),
    egressTotal: Type.Number({ description: 'chunk bytes this gateway has served' }),
    urgent: Type.Object({
      bytes: Type.Number({ description: 'of egressTotal, bytes served under urgent grants (reserved share, no slot)' }),
      chunks: Type.Number(),
      refused: Type.Number({ description: 'urgent requests refused: share spent or grant budget used' }),
    }),
  }),
  videos: Type.Array(Type.Object({ ...VideoSummary.properties, peers: Type.Integer({ description: 'clients reporting telemetry' }) })),
  peers: Type.Array(Type.Object({ ...PeerStatus.properties, stale: Type.Boolean() })),
  totals: Type.Object({
    origin: Type.Number({ description: 'bytes clients received from the origin' }),
    peers: Type.Number({ description: 'bytes clients received from other peers' }),
    uploaded: Type.Number({ description: 'bytes clients uploaded to other peers' }),
  }),
  live: LiveSection,
});
export type DashboardState = Static<typeof DashboardState>;

/** Ring buffer of per-second origin egress samples, fed from a monotonically increasing byte counter. */
export interface EgressSampler {
  samples(): Array<{ t: number; bytesPerSec: number }>;
  /** takes one sample now (the timer does this every `intervalMs`) */
  sample(): void;
  stop(): void;
}

export function createEgressSampler(
  read: () => number,
  clock: Clock,
  opts: { intervalMs?: number; size?: number } = {},
): EgressSampler {
  const intervalMs = opts.intervalMs ?? 1000;
  const size = opts.size ?? 600;
  const ring: Array<{ t: number; bytesPerSec: number }> = [];
  let head = 0;
  let lastT = clock.now();
  let lastBytes = read();
  const sample = () => {
    const t = clock.now();
    const bytes = read();
    const dt = Math.max(1, t - lastT);
    const s = { t, bytesPerSec: Math.max(0, Math.round(((bytes - lastBytes) * 1000) / dt)) };
    lastT = t;
    lastBytes = bytes;
    if (ring.length < size) ring.push(s);
    else {
      ring[head] = s;
      head = (head + 1) % size;
    }
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    samples: () => (head === 0 ? ring.slice() : [...ring.slice(head), ...ring.slice(0, head)]),
    sample,
    stop: () => clearInterval(timer),
  };
}

export interface StateSources {
  leases: Pick<LeaseChecker, 'live'> & Partial<Pick<LeaseChecker, 'waiting' | 'config'>>;
  origin: Pick<OriginClient, 'listPage'>;
  telemetry?: Pick<TelemetryAggregator, 'peers'> & Partial<Pick<TelemetryAggregator, 'liveViewers'>>;
  /** live streams' windows; without it the live section lists what viewers report */
  live?: Pick<LiveDirectory, 'all'>;
  egress: EgressSampler;
  egressTotal: () => number;
  /** urgent-share counters of this gateway */
  urgent?: () => { bytes: number; chunks: number; refused: number };
  clock: Clock;
  logger: Logger;
}

/** How long the catalog list is reused: it is a NATS request, and SSE viewers ask for state every second. */
const CATALOG_TTL_MS = 5000;

export function createStateBuilder(src: StateSources): () => Promise<DashboardState> {
  let catalog: { at: number; videos: VideoSummaryT[] } | null = null;
  let pending: Promise<VideoSummaryT[]> | null = null;
  const videos = async (): Promise<VideoSummaryT[]> => {
    const now = src.clock.now();
    if (catalog && now - catalog.at < CATALOG_TTL_MS) return catalog.videos;
    // the first page only: a page of summaries is plenty for a live view, the whole catalog would bloat every push
    pending ??= src.origin.listPage({ limit: CATALOG_PAGE_DEFAULT })
      .then(({ videos: v }) => {
        catalog = { at: src.clock.now(), videos: v };
        return v;
      })
      .catch((err) => {
        // The dashboard must keep working while the catalog is unreachable: show the last list we had.
        src.logger.debug('dashboard: catalog list failed', { err });
        return catalog?.videos ?? [];
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };

  return async () => {
    const list = await videos();
    const peers: PeerView[] = src.telemetry?.peers() ?? [];
    const config = src.leases.config?.() ?? null;
    const totals = { origin: 0, peers: 0, uploaded: 0 };
    const perVideo = new Map<string, number>();
    for (const p of peers) {
      for (const [source, bytes] of Object.entries(p.bytesBySource)) {
        if (source === 'origin') totals.origin += bytes;
        else if (source.startsWith('peer:')) totals.peers += bytes;
      }
      totals.uploaded += p.uploadedBytes;
      perVideo.set(p.videoId, (perVideo.get(p.videoId) ?? 0) + 1);
    }
    return {
      at: src.clock.now(),
      origin: {
        capacity: config?.capacity ?? null,
        policy: config?.policy ?? null,
        leaseTtlMs: config?.leaseTtlMs ?? null,
        slots: src.leases.live().map((l) => ({ slot: l.slot, peerId: l.peerId, videoId: l.videoId, expiresAt: l.expiresAt })),
        waiting: (src.leases.waiting?.() ?? []).map((w) => ({ peerId: w.peerId, videoId: w.videoId, since: w.since })),
        egress: src.egress.samples(),
        egressTotal: src.egressTotal(),
        urgent: src.urgent?.() ?? { bytes: 0, chunks: 0, refused: 0 },
      },
      videos: list.map((v) => ({ ...v, peers: perVideo.get(v.videoId) ?? 0 })),
      peers,
      totals,
      live: buildLiveSection(src),
    };
  };
}
