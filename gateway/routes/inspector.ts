/**
 * The inspector for developers: `GET /inspector` (one self-contained HTML page: the download and peer-link machine
 * diagrams with the states clients are in highlighted live, and per client its machines and a timeline of
 * transitions with the event that caused each) and `GET /inspector/state` (the same as JSON, polled by the page
 * every 500 ms). Fed by the clients' `sy.inspect.<peerId>` batches through the aggregator
 * (gateway/inspector/aggregator.ts). Like the dashboard it needs no credentials: it shows peer and video ids,
 * state names and event types, never a grant, a token or an origin session id (clients never send them).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { InspectAggregator } from '../inspector/aggregator.js';
import { loadDiagrams, type Diagrams } from '../inspector/diagram.js';
import { inspectorPage } from '../inspector/page.js';
import { InspectorState } from '../inspector/state.js';
import { errorResponses, Tags } from '../schemas.js';

export interface InspectorRoutesOptions {
  inspector: Pick<InspectAggregator, 'state'>;
  /** the machines' SVGs (default: docs/machines/*.svg, read once here) */
  diagrams?: Diagrams;
}

export const inspectorRoutes: FastifyPluginAsync<InspectorRoutesOptions> = async (app, opts) => {
  // built once: the diagrams change only with the code, and the CSP hashes the exact inline blocks
  const page = inspectorPage(opts.diagrams ?? loadDiagrams());

  app.get('/inspector', {
    schema: {
      tags: [Tags.ops],
      summary: 'Live state machine inspector (HTML page, no external assets)',
      response: { 200: { description: 'the page', content: { 'text/html': { schema: Type.String() } } } },
    },
  }, async (_request, reply) => {
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', page.csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(page.html);
  });

  app.get('/inspector/state', {
    schema: {
      tags: [Tags.ops],
      summary: 'Clients\' machines: current states of downloads and peer links, and recent transitions',
      response: { 200: InspectorState, ...errorResponses() },
    },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return opts.inspector.state();
  });
};
