/**
 * The live dashboard: `GET /dashboard` (one self-contained HTML page: inline CSS and JS, no external asset of any
 * kind, enforced by its Content-Security-Policy), `GET /dashboard/state` (everything it shows, as JSON) and
 * `GET /dashboard/events` (the same state pushed every second as Server-Sent Events; the page falls back to
 * polling `/dashboard/state` when SSE is unavailable). The state is built at most once per push period and that
 * one snapshot is shared by every stream and `/dashboard/state`; at most `maxStreams` streams are open at once. Like /metrics it needs no credentials: it shows peer
 * and video ids, slot and wait-list order and byte counts, never a grant or a session id.
 */
import type { ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { LiveDirectory } from '../../actors/live/registry.js';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import type { OriginClient } from '../../actors/origin/client.js';
import type { Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { UnavailableError } from '../../protocol/mod.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from '../dashboard/page.js';
import { createEgressSampler, createStateBuilder, DashboardState } from '../dashboard/state.js';
import { errorResponses, Tags } from '../schemas.js';
import type { StatsCollector } from '../stats.js';
import type { TelemetryAggregator } from '../telemetry.js';

export interface DashboardRoutesOptions {
  leases: Pick<LeaseChecker, 'live'> & Partial<Pick<LeaseChecker, 'waiting' | 'config'>>;
  origin: Pick<OriginClient, 'listPage'>;
  /** client telemetry; without it the page shows the origin side only */
  telemetry?: Pick<TelemetryAggregator, 'peers'> & Partial<Pick<TelemetryAggregator, 'liveViewers'>>;
  /** live streams' windows (the live section); without it the section lists what live viewers report */
  live?: Pick<LiveDirectory, 'all'>;
  stats: Pick<StatsCollector, 'snapshot'>;
  clock: Clock;
  logger: Logger;
  /** SSE push period (default 1 s) */
  pushIntervalMs?: number;
  /** most SSE streams open at once; more answer 503 (default 64) */
  maxStreams?: number;
}

/** A viewer that reads slower than this many buffered bytes misses updates instead of growing our memory. */
const MAX_SSE_BUFFERED = 1024 * 1024;
const SNAPSHOT_SLACK_MS = 20;

export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (app, opts) => {
  const pushIntervalMs = opts.pushIntervalMs ?? 1000;
  const maxStreams = opts.maxStreams ?? 64;
  const egressTotal = () => opts.stats.snapshot().chunkBytesTotal;
  const egress = createEgressSampler(egressTotal, opts.clock);
  const build = createStateBuilder({
    leases: opts.leases, origin: opts.origin, egress, egressTotal, clock: opts.clock, logger: opts.logger,
    urgent: () => {
      const s = opts.stats.snapshot();
      return { bytes: s.urgentBytesTotal, chunks: s.urgentChunksTotal, refused: s.urgentRefusedTotal };
    },
    ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
    ...(opts.live ? { live: opts.live } : {}),
  });
  // One snapshot per period, shared: every viewer and /dashboard/state get the same document (built once and
  // serialised once), so a hundred open dashboards cost what one does.
  let shared: { at: number; state: Promise<DashboardState> } | null = null;
  const snapshot = (): Promise<DashboardState> => {
    const now = opts.clock.now();
    // a little slack: the ticker's period equals the snapshot's, and a tick a millisecond early must not reuse it
    if (!shared || now - shared.at >= pushIntervalMs - SNAPSHOT_SLACK_MS) {
      const state = build();
      shared = { at: now, state };
      // a failed build must not be served for a whole period
      state.catch(() => {
        if (shared?.state === state) shared = null;
      });
    }
    return shared.state;
  };
  const streams = new Map<() => void, ServerResponse>();
  let ticker: NodeJS.Timeout | null = null;
  let busy = false;
  const broadcast = async () => {
    if (busy || streams.size === 0) return;
    busy = true;
    try {
      const line = `data: ${JSON.stringify(await snapshot())}\n\n`;
      for (const res of streams.values()) {
        // a viewer that reads slower than we push misses updates instead of growing our memory
        if (!res.writableEnded && res.writableLength <= MAX_SSE_BUFFERED) res.write(line);
      }
    } catch (err) {
      opts.logger.warn('dashboard: state failed', { err });
    } finally {
      busy = false;
    }
  };

  app.addHook('preClose', async () => {
    // Open event streams would otherwise keep the server from closing.
    for (const end of [...streams.keys()]) end();
  });
  app.addHook('onClose', async () => egress.stop());

  app.get('/dashboard', {
    schema: {
      tags: [Tags.ops],
      summary: 'Live dashboard (HTML page, no external assets)',
      response: { 200: { description: 'the page', content: { 'text/html': { schema: Type.String() } } } },
    },
  }, async (_request, reply) => {
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', DASHBOARD_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(DASHBOARD_HTML);
  });

  app.get('/dashboard/state', {
    schema: {
      tags: [Tags.ops],
      summary: 'Dashboard state: origin slots, wait list, egress, catalog, client telemetry, byte totals, live streams',
      response: { 200: Type.Object(DashboardState.properties, { description: 'the state' }), ...errorResponses() },
    },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return snapshot();
  });

  app.get('/dashboard/events', {
    schema: {
      tags: [Tags.ops],
      summary: 'Dashboard state pushed every second (Server-Sent Events, one `data:` JSON state per event)',
      response: {
        200: { description: 'an event stream', content: { 'text/event-stream': { schema: Type.String() } } },
        ...errorResponses(503),
      },
    },
  }, async (request, reply) => {
    if (streams.size >= maxStreams) {
      throw new UnavailableError('too many dashboard streams open');
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const end = () => {
      if (!streams.delete(end)) return;
      if (streams.size === 0 && ticker) {
        clearInterval(ticker);
        ticker = null;
      }
      if (!res.writableEnded) res.end();
    };
    streams.set(end, res);
    ticker ??= setInterval(() => void broadcast(), pushIntervalMs);
    request.raw.once('close', end);
    res.once('close', end);
    res.once('error', end);
    // the newcomer gets the current snapshot at once rather than waiting for the next tick
    snapshot().then((state) => {
      if (!res.writableEnded) res.write(`data: ${JSON.stringify(state)}\n\n`);
    }, (err) => opts.logger.warn('dashboard: state failed', { err }));
  });
};
