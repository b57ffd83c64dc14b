/**
 * Operational routes: liveness, Prometheus metrics and the OpenAPI document. None needs credentials: they
 * expose counts, never session ids or grants.
 *
 * `/metrics` is this gateway's own prom-client registry (one per gateway instance, made here): its counters
 * (gateway/stats.ts), admission gauges from the lease mirror, client telemetry (lib/metrics/telemetry.ts) and
 * Node's process metrics labelled `role="gateway"`. Names and meanings: docs/ARCHITECTURE.md, "Metrics".
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import { createMetricsRegistry } from '../../lib/metrics/registry.js';
import { telemetryMetrics } from '../../lib/metrics/telemetry.js';
import { errorResponses, Health, Tags } from '../schemas.js';
import { statsMetrics, type StatsCollector } from '../stats.js';
import type { TelemetryAggregator } from '../telemetry.js';

export interface OpsRoutesOptions {
  leases: Pick<LeaseChecker, 'live'> & Partial<Pick<LeaseChecker, 'waiting' | 'config'>>;
  stats: StatsCollector;
  /** client telemetry (owned by the caller); without it `/metrics` has no client metrics */
  telemetry?: Pick<TelemetryAggregator, 'peers'> & Partial<Pick<TelemetryAggregator, 'liveViewers' | 'onStatus'>>;
  /** the generated OpenAPI document (available once the server is ready) */
  openapi: () => unknown;
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, opts) => {
  const registry = createMetricsRegistry({ role: 'gateway' });
  statsMetrics(opts.stats, registry, opts.leases);
  const fromTelemetry = opts.telemetry ? telemetryMetrics(opts.telemetry, registry) : null;
  app.addHook('onClose', async () => {
    fromTelemetry?.stop();
  });

  app.get('/healthz', {
    schema: {
      tags: [Tags.ops],
      summary: 'Liveness probe',
      response: { 200: Type.Object(Health.properties, { description: 'the gateway answers' }) },
    },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' as const };
  });

  app.get('/metrics', {
    schema: {
      tags: [Tags.ops],
      summary: 'Prometheus metrics',
      response: {
        200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: Type.String() } } },
        ...errorResponses(),
      },
    },
  }, async (_request, reply) => {
    // Every collector reads local state (counters, the watch-fed lease mirror, the telemetry table), so a scrape
    // never waits on NATS.
    const text = await registry.metrics();
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(text);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-cache').send(opts.openapi());
  });
};
