/**
 * The metrics endpoint of a worker process (origin, tracker, signal, ingest): plain node:http, two routes,
 * `GET /metrics` (the registry in Prometheus text format 0.0.4) and `GET /healthz`. Workers have no fastify and
 * need none for this; the gateway serves its registry on its own `/metrics` route instead.
 *
 * Bound to 127.0.0.1 by default: the numbers are not secret, but an operator decides who may scrape, not us.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServerInit {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: a free port */
  port?: number;
  registry: Registry;
  /**
   * diagnostics (bench:soak): a full garbage collection before each scrape, so the heap figure is live memory
   * rather than garbage a quiet process has not collected yet. Only when the process runs with --expose-gc.
   */
  gcBeforeScrape?: boolean;
}

export interface MetricsServer {
  /** base URL, e.g. http://127.0.0.1:9464 (scrape `${url}/metrics`) */
  url: string;
  stop(): Promise<void>;
}

export async function startMetricsServer(init: MetricsServerInit): Promise<MetricsServer> {
  const host = init.host ?? '127.0.0.1';
  const gc = init.gcBeforeScrape ? (globalThis as { gc?: () => void }).gc : undefined;
  const server = createServer((req, res) => {
    void handle(init.registry, req, res, gc);
  });
  // a scraper that opens a connection and sends nothing must not hold a socket forever
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(init.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let stopped: Promise<void> | null = null;
  return {
    url,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

async function handle(registry: Registry, req: IncomingMessage, res: ServerResponse, gc?: () => void): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
  if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}\n', req.method);
  if (path !== '/metrics') return send(res, 404, 'text/plain', 'not found\n');
  try {
    gc?.();
    send(res, 200, registry.contentType, await registry.metrics(), req.method);
  } catch {
    // a collector failed (e.g. NATS is down for a JetStream query): say so, leak nothing
    send(res, 503, 'text/plain', 'metrics unavailable\n');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, method = 'GET'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(method === 'HEAD' ? undefined : body);
}
