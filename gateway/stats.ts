/**
 * Counters of one gateway instance and their Prometheus rendering. Per-session bytes are the origin's egress
 * attributed to each admitted session, which is what tells us whether the hybrid design keeps origin egress
 * near F; sessions come and go forever, so that map is bounded and forgets the least recently served.
 */

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
}

export interface StatsCollector {
  chunkServed(sessionId: string, bytes: number): void;
  /** a chunk left under an urgent grant: origin egress, counted apart as well */
  urgentServed(sessionId: string, bytes: number): void;
  urgentRefused(): void;
  responded(status: number): void;
  snapshot(): GatewayStats;
  /** Prometheus text exposition format 0.0.4 */
  prometheus(activeLeases: number): string;
}

export const DEFAULT_MAX_TRACKED_SESSIONS = 10_000;

export function createStatsCollector(opts: { maxSessions?: number } = {}): StatsCollector {
  const maxSessions = opts.maxSessions ?? DEFAULT_MAX_TRACKED_SESSIONS;
  let chunkBytesTotal = 0;
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
      const prev = bySession.get(sessionId) ?? 0;
      bySession.delete(sessionId);
      bySession.set(sessionId, prev + bytes);
      if (bySession.size > maxSessions) {
        const oldest = bySession.keys().next().value;
        if (oldest !== undefined) bySession.delete(oldest);
      }
    },
    responded(status) {
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    },
    snapshot() {
      return {
        chunkBytesTotal,
        urgentBytesTotal: urgent.bytes,
        urgentChunksTotal: urgent.chunks,
        urgentRefusedTotal: urgent.refused,
        bytesBySession: Object.fromEntries(bySession),
        requestsByStatus: Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
      };
    },
    prometheus(activeLeases) {
      const lines = [
        '# HELP switchyard_gateway_chunk_bytes_total Chunk payload bytes served by this gateway (origin egress).',
        '# TYPE switchyard_gateway_chunk_bytes_total counter',
        `switchyard_gateway_chunk_bytes_total ${chunkBytesTotal}`,
        '# HELP switchyard_gateway_urgent_bytes_total Of those, bytes served under urgent grants (reserved share, no slot).',
        '# TYPE switchyard_gateway_urgent_bytes_total counter',
        `switchyard_gateway_urgent_bytes_total ${urgent.bytes}`,
        '# HELP switchyard_gateway_urgent_chunks_total Chunks served under urgent grants.',
        '# TYPE switchyard_gateway_urgent_chunks_total counter',
        `switchyard_gateway_urgent_chunks_total ${urgent.chunks}`,
        '# HELP switchyard_gateway_urgent_refused_total Urgent chunk requests refused (share spent, grant budget used).',
        '# TYPE switchyard_gateway_urgent_refused_total counter',
        `switchyard_gateway_urgent_refused_total ${urgent.refused}`,
        '# HELP switchyard_gateway_requests_total HTTP requests answered, by status code.',
        '# TYPE switchyard_gateway_requests_total counter',
        ...[...byStatus].sort((a, b) => a[0] - b[0])
          .map(([status, n]) => `switchyard_gateway_requests_total{status="${status}"} ${n}`),
        '# HELP switchyard_gateway_active_leases Origin slots currently held by sessions (all origin workers).',
        '# TYPE switchyard_gateway_active_leases gauge',
        `switchyard_gateway_active_leases ${activeLeases}`,
      ];
      return lines.join('\n') + '\n';
    },
  };
  return collector;
}
