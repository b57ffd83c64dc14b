/**
 * OpenAPI 3 from the route schemas (@fastify/swagger) and the Swagger UI at /docs. The UI serves its own static
 * assets from node_modules and is configured without the online validator, so the docs work on a machine with
 * no internet access. Must be registered before the routes so that every route is seen.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { RAW_BODY, Tags } from './schemas.js';

/** Documents raw-body routes (see RAW_BODY); every other route's schema is used as it is. */
function documentRawBodies({ schema, url }: { schema: FastifySchema; url: string }): { schema: FastifySchema; url: string } {
  const description = (schema as Record<string, unknown> | undefined)?.[RAW_BODY];
  if (typeof description !== 'string') return { schema, url };
  const { [RAW_BODY]: _marker, ...rest } = schema as Record<string, unknown>;
  const body = { description, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  return { schema: { ...rest, body } as FastifySchema, url };
}

export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    transform: documentRawBodies,
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchyard gateway',
        version,
        description: 'HTTP edge of Switchyard: catalog, manifests, chunks by grant (with HTTP ranges), uploads ' +
          'for ingest, metrics. Errors are always `{"error":{"code","message"}}`; branch on `code`.',
      },
      tags: [
        { name: Tags.catalog, description: 'videos and manifests (public)' },
        { name: Tags.chunks, description: 'chunk bytes from the origin (needs a grant)' },
        { name: Tags.ingest, description: 'uploads (needs the admin token)' },
        { name: Tags.ops, description: 'health, metrics' },
        { name: Tags.auth, description: 'NATS credentials for peers (anonymous with a rate limit, or with an API key)' },
      ],
      components: {
        securitySchemes: {
          grant: { type: 'http', scheme: 'bearer', description: 'grant from origin.open / heartbeat / slot offer' },
          grantQuery: { type: 'apiKey', in: 'query', name: 'grant', description: 'the same grant as a query parameter' },
          admin: { type: 'http', scheme: 'bearer', description: 'the gateway\'s admin token' },
          adminHeader: { type: 'apiKey', in: 'header', name: 'X-Admin-Token', description: 'the admin token' },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
    validatorUrl: false,
  });
}
