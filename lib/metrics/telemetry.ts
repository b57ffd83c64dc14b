/**
 * Metrics from client telemetry (gateway/telemetry.ts): what the clients say they received, by source, and what
 * state they are in. Two kinds:
 *
 * - counters of what changed: every accepted status is compared with the one it replaces (same peer, same
 *   session: `startedAt`), and the growth is added. A peer's first status adds all it reports; a new session
 *   starts from zero again. They keep counting after a client is forgotten, so `rate()` works on them. A client
 *   that was forgotten (30 s silent, or pushed out of the bounded table) and speaks again is counted again.
 * - gauges of the clients the aggregator holds now (not stale): by mode, live viewers by state, links, bans.
 *
 * Telemetry is what clients claim: it is for watching the system, never for billing or enforcement (the
 * gateway's own `switchyard_gateway_chunk_bytes_total` is the origin egress it measured itself).
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { StatusListener, TelemetryAggregator } from '../../gateway/telemetry.js';
import {
  isLiveViewerStatus, LivePlayheadStates, PeerModes, type LiveViewerStatus, type PeerStatus, type TelemetryStatus,
} from '../../protocol/mod.js';
import { gaugeFrom } from './registry.js';

/** Set-up time buckets (seconds): a link on loopback opens in ~50 ms, across the Internet in 0.2–3 s. */
export const SETUP_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15];

export interface TelemetryMetrics {
  /** stops listening to the aggregator */
  stop(): void;
}

/** Where a byte count of a VOD status came from: `origin`, `urgent`, `peer:<id>` → origin/urgent/peer. */
function sourceOf(key: string): string {
  if (key === 'origin' || key === 'urgent') return key;
  return key.startsWith('peer:') ? 'peer' : 'other';
}

function bytesOf(s: TelemetryStatus): Record<string, number> {
  if (isLiveViewerStatus(s)) return { ...s.bytesBySource };
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(s.bytesBySource)) out[sourceOf(k)] = (out[sourceOf(k)] ?? 0) + n;
  return out;
}

/**
 * Registers the telemetry metrics on `registry`. Without `onStatus` (an aggregator of an older shape) only the
 * gauges are registered.
 */
export function telemetryMetrics(
  telemetry: Pick<TelemetryAggregator, 'peers'> & Partial<Pick<TelemetryAggregator, 'liveViewers' | 'onStatus'>>,
  registry: Registry,
): TelemetryMetrics {
  const received = new Counter({ name: 'switchyard_gateway_client_received_bytes_total', labelNames: ['source'],
    help: 'Bytes clients report they received, by source: origin (slot), urgent (urgent share), peer (other peers).',
    registers: [registry] });
  const uploaded = new Counter({ name: 'switchyard_gateway_client_uploaded_bytes_total', registers: [registry],
    help: 'Bytes clients report they uploaded to other peers.' });
  const liveCorrupt = new Counter({ name: 'switchyard_gateway_live_corrupt_segments_total', registers: [registry],
    help: 'Live segments or parts viewers report failed their hash (the sender was banned).' });
  const liveStalls = new Counter({ name: 'switchyard_gateway_live_stalls_total', registers: [registry],
    help: 'Playback stalls live viewers report.' });
  const setup = new Histogram({ name: 'switchyard_gateway_peer_setup_seconds', buckets: SETUP_BUCKETS,
    registers: [registry],
    help: 'Peer link set-up time (signalling to open data channel) as clients report it (linkReport).' });
  for (const source of ['origin', 'urgent', 'peer']) received.inc({ source }, 0);

  const onStatus: StatusListener = (s, prev) => {
    // a previous status of another session (the client restarted under the same id) counts as nothing
    const before = prev && prev.startedAt === s.startedAt ? prev : undefined;
    const was = before ? bytesOf(before) : {};
    for (const [source, n] of Object.entries(bytesOf(s))) {
      const d = n - (was[source] ?? 0);
      if (d > 0) received.inc({ source }, d);
    }
    const up = s.uploadedBytes - (before?.uploadedBytes ?? 0);
    if (up > 0) uploaded.inc(up);
    if (isLiveViewerStatus(s)) {
      const b = before as LiveViewerStatus | undefined;
      if (s.corrupt > (b?.corrupt ?? 0)) liveCorrupt.inc(s.corrupt - (b?.corrupt ?? 0));
      if (s.stalls > (b?.stalls ?? 0)) liveStalls.inc(s.stalls - (b?.stalls ?? 0));
      return;
    }
    const r = s.linkReport;
    if (!r) return;
    const seen = (before as PeerStatus | undefined)?.linkReport?.opened ?? 0;
    const fresh = Math.min(r.opened >= seen ? r.opened - seen : r.opened, r.recentMs.length);
    for (const ms of r.recentMs.slice(r.recentMs.length - fresh)) setup.observe(ms / 1000);
  };
  const unsubscribe = telemetry.onStatus?.(onStatus) ?? (() => {});

  const vod = () => telemetry.peers().filter((p) => !p.stale);
  const live = () => telemetry.liveViewers?.().filter((v) => !v.stale) ?? [];
  gaugeFrom({ registry, name: 'switchyard_gateway_clients', labelNames: ['mode'],
    help: 'Downloading or seeding clients reporting telemetry now, by download machine mode.' },
  () => {
    const counts: Record<string, number> = Object.fromEntries(Object.values(PeerModes).map((m) => [m, 0]));
    for (const p of vod()) counts[p.mode] = (counts[p.mode] ?? 0) + 1;
    return Object.entries(counts).map(([mode, n]) => [{ mode }, n] as const);
  });
  gaugeFrom({ registry, name: 'switchyard_gateway_live_viewers', labelNames: ['state'],
    help: 'Live viewers reporting telemetry now, by playhead state.' },
  () => {
    const counts: Record<string, number> = Object.fromEntries(Object.values(LivePlayheadStates).map((m) => [m, 0]));
    for (const v of live()) counts[v.state] = (counts[v.state] ?? 0) + 1;
    return Object.entries(counts).map(([state, n]) => [{ state }, n] as const);
  });
  gaugeFrom({ registry, name: 'switchyard_gateway_client_links',
    help: 'Open peer links clients and live viewers report now (each link counted by both ends).' },
  () => vod().reduce((n, p) => n + p.links, 0) + live().reduce((n, v) => n + v.links, 0));
  gaugeFrom({ registry, name: 'switchyard_gateway_client_banned_peers',
    help: 'Peers banned by the clients reporting now (linkReport; each ban counted by the client that banned).' },
  () => vod().reduce((n, p) => n + (p.linkReport?.banned ?? 0), 0));

  return { stop: unsubscribe };
}
