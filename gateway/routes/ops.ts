/**
 * Operational routes: liveness, Prometheus metrics and the OpenAPI document. None needs credentials: they
 * expose counts, never session ids or grants.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { LeaseChecker } from '../../actors/origin/leases.js';
import { errorResponses, Health, Tags } from '../schemas.js';
import type { StatsCollector } from '../stats.js';

export interface OpsRoutesOptions {
  leases: Pick<LeaseChecker, 'live'>;
  stats: StatsCollector;
  /** the generated OpenAPI document (available once the server is ready) */
  openapi: () => unknown;
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, opts) => {
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
    // The lease mirror is local (watch-fed), so a scrape never waits on NATS.
    const text = opts.stats.prometheus(opts.leases.live().length);
    return reply.header('cache-control', 'no-store').type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-cache').send(opts.openapi());
  });
};
