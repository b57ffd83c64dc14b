/**
 * Counters of one gateway instance and their Prometheus rendering. Per-session bytes are the origin's egress
 * attributed to each admitted session, which is what tells us whether the hybrid design keeps origin egress
 * near F; sessions come and go forever, so that map is bounded and forgets the least recently served.
 *
 * The counters are plain numbers (a chunk served costs an addition, not a prom-client call); `statsMetrics`
 * registers them on the gateway's prom-client registry, read at scrape time, under the names `prometheus()`
 * renders too (one table, `counterRows`, feeds both).
 */
import type { Registry } from 'prom-client';
import { counterFrom, gaugeFrom, type Sample } from '../lib/metrics/registry.js';

export interface GatewayStats {
  /** chunk payload bytes sent (GET only; HEAD sends none) */
  chunkBytesTotal: number;
  /** chunk payload bytes sent per grant session id */
  bytesBySession: Record<string, number>;
  /** of which: chunk bytes sent under urgent grants (the reserved share, no slot) */
  urgentBytesTotal: number;
  /** urgent chunk responses sent */
  urgentChunksTotal: number;
  /** urgent chunk requests refused for the share or a grant's budget */
  urgentRefusedTotal: number;
  /** answered requests by HTTP status code */
  requestsByStatus: Record<string, number>;
  /**
   * grant sessions this gateway served chunk bytes to (each counted when first served; a session forgotten by
   * the bounded table and served again counts again)
   */
  sessionsServedTotal: number;
}

/** The gateway's counters without the per-session map. */
export type GatewayTotals = Omit<GatewayStats, 'bytesBySession'>;

export interface StatsCollector {
  chunkServed(sessionId: string, bytes: number): void;
  /** a chunk left under an urgent grant: origin egress, counted apart as well */
  urgentServed(sessionId: string, bytes: number): void;
  urgentRefused(): void;
  responded(status: number): void;
  snapshot(): GatewayStats;
  /** the same without the per-session map: cheap enough for every scrape */
  totals(): GatewayTotals;
  /**
   * Prometheus text exposition format 0.0.4 of these counters alone, synchronously (tools, tests); the gateway's
   * `/metrics` serves its registry (`statsMetrics` + process and telemetry metrics) instead
   */
  prometheus(activeLeases: number): string;
}

export const DEFAULT_MAX_TRACKED_SESSIONS = 10_000;

export function createStatsCollector(opts: { maxSessions?: number } = {}): StatsCollector {
  const maxSessions = opts.maxSessions ?? DEFAULT_MAX_TRACKED_SESSIONS;
  let chunkBytesTotal = 0;
  let sessionsServed = 0;
  const urgent = { bytes: 0, chunks: 0, refused: 0 };
  // Map keeps insertion order: deleting and re-inserting on every update makes the first key the stalest.
  const bySession = new Map<string, number>();
  const byStatus = new Map<number, number>();

  const collector: StatsCollector = {
    urgentServed(sessionId, bytes) {
      urgent.bytes += bytes;
      urgent.chunks++;
      collector.chunkServed(sessionId, bytes);
    },
    urgentRefused() {
      urgent.refused++;
    },
    chunkServed(sessionId, bytes) {
      chunkBytesTotal += bytes;
      const prev = bySession.get(sessionId);
      if (prev === undefined) sessionsServed++;
      bySession.delete(sessionId);
      bySession.set(sessionId, (prev ?? 0) + bytes);
      if (bySession.size > maxSessions) {
        const oldest = bySession.keys().next().value;
        if (oldest !== undefined) bySession.delete(oldest);
      }
    },
    responded(status) {
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    },
    totals() {
      return {
        chunkBytesTotal,
        urgentBytesTotal: urgent.bytes,
        urgentChunksTotal: urgent.chunks,
        urgentRefusedTotal: urgent.refused,
        sessionsServedTotal: sessionsServed,
        requestsByStatus: Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
      };
    },
    snapshot() {
      return { ...collector.totals(), bytesBySession: Object.fromEntries(bySession) };
    },
    prometheus(activeLeases) {
      const lines: string[] = [];
      for (const row of [...counterRows(collector.totals()), activeLeasesRow(activeLeases)]) {
        lines.push(`# HELP ${row.name} ${row.help}`, `# TYPE ${row.name} ${row.type}`);
        for (const [labels, v] of row.samples) {
          const l = Object.entries(labels).map(([k, x]) => `${k}="${x}"`).join(',');
          lines.push(`${row.name}${l ? `{${l}}` : ''} ${v}`);
        }
      }
      return lines.join('\n') + '\n';
    },
  };
  return collector;
}

/** One metric of the gateway's own counters: the single description both renderings use. */
interface Row {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labelNames?: readonly string[];
  samples: readonly Sample[];
}

function counterRows(s: GatewayTotals): Row[] {
  const c = (name: string, help: string, value: number): Row => ({ name, help, type: 'counter', samples: [[{}, value]] });
  return [
    c('switchyard_gateway_chunk_bytes_total', 'Chunk payload bytes served by this gateway (origin egress).', s.chunkBytesTotal),
    c('switchyard_gateway_urgent_bytes_total', 'Of those, bytes served under urgent grants (reserved share, no slot).',
      s.urgentBytesTotal),
    c('switchyard_gateway_urgent_chunks_total', 'Chunks served under urgent grants.', s.urgentChunksTotal),
    c('switchyard_gateway_urgent_refused_total', 'Urgent chunk requests refused (share spent, grant budget used).',
      s.urgentRefusedTotal),
    { name: 'switchyard_gateway_requests_total', help: 'HTTP requests answered, by status code.', type: 'counter',
      labelNames: ['status'], samples: Object.entries(s.requestsByStatus).map(([status, n]) => [{ status }, n] as const) },
    c('switchyard_gateway_sessions_served_total', 'Grant sessions this gateway served chunk bytes to.', s.sessionsServedTotal),
  ];
}

function activeLeasesRow(n: number): Row {
  return { name: 'switchyard_gateway_active_leases', help: 'Origin slots currently held by sessions (all origin workers).',
    type: 'gauge', samples: [[{}, n]] };
}

/** What the gateway's admission gauges read: its lease mirror (local, so a scrape never waits on NATS). */
export interface AdmissionView {
  live(): readonly unknown[];
  waiting?(): readonly unknown[];
  config?(): { capacity: number } | null;
}

/**
 * Registers the gateway's own counters and admission gauges on `registry`: the same names and samples as
 * `prometheus()`, plus the wait list and the capacity the origin workers published.
 */
export function statsMetrics(stats: Pick<StatsCollector, 'totals'>, registry: Registry, leases: AdmissionView): void {
  for (const [i, row] of counterRows(stats.totals()).entries()) {
    const labelNames = row.labelNames ?? [];
    // each metric reads fresh totals and picks its row: the rows' order is fixed
    counterFrom({ registry, name: row.name, help: row.help, labelNames }, () => counterRows(stats.totals())[i]!.samples);
  }
  const leasesRow = activeLeasesRow(0);
  gaugeFrom({ registry, name: leasesRow.name, help: leasesRow.help }, () => leases.live().length);
  gaugeFrom({ registry, name: 'switchyard_gateway_waiting_sessions',
    help: 'Sessions on the origin\'s wait list (all origin workers), as the gateway\'s lease mirror sees them.' },
  () => leases.waiting?.().length ?? 0);
  gaugeFrom({ registry, name: 'switchyard_gateway_origin_capacity',
    help: 'Origin slots in all, as the origin workers published it (NaN before any worker started).' },
  () => leases.config?.()?.capacity ?? Number.NaN);
}
