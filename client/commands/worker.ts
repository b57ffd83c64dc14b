/**
 * `switchyard worker <role>...`: runs Switchyard roles (origin, tracker, signal, ingest, gateway) as one process
 * joined to a NATS someone else runs, usually a cluster. Start as many of each as load needs, stop any of them
 * at any time: see docs/OPERATIONS.md. `switchyard provision` creates the JetStream assets first (replicas).
 * Secrets come from the environment, never flags (flags show in `ps`): SWITCHYARD_GRANT_SECRET (origin, gateway:
 * the same value everywhere), SWITCHYARD_ADMIN_TOKEN (gateway). On start it prints one JSON line, `{"ready":…}`.
 */
import { parseEgressTarget } from './serve.js';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureAuth, loadAuth, serverAuthConfig, serviceCredentials } from '../../infra/auth.js';
import { provision } from '../../infra/provision.js';
import {
  startGatewayRole, startIngestRole, startOriginRole, startSignalRole, startTrackerRole, stagingDirOf,
  type RoleContext, type RunningRole,
} from '../../infra/roles.js';
import { createLogger } from '../../lib/logger.js';
import { serveWorkerMetrics, type WorkerServices } from '../../infra/metrics.js';
import { connectNats } from '../../lib/nats.js';
import { BadRequestError, OriginPolicies, ServiceRoles, type OriginPolicy } from '../../protocol/mod.js';
import { openChunkStore, type ChunkStore } from '../../store/mod.js';

/** The roles a worker process can run. */
export const WorkerRoles = ['origin', 'tracker', 'signal', 'ingest', 'gateway'] as const;
export type WorkerRole = (typeof WorkerRoles)[number];

export interface WorkerFlags {
  nats?: string; 'auth-dir'?: string; 'data-dir'?: string; store?: string; name?: string;
  capacity?: string; policy?: string; 'lease-ttl'?: string; 'idle-timeout'?: string; 'urgent-share'?: string; 'egress-target'?: string;
  port?: string; host?: string; 'origin-rate'?: string; 'nats-ws'?: string; 'tracker-interval'?: string;
  replicas?: string; 'metrics-port'?: string;
  /** the NATS URL(s) peers are told with their credential, when they reach NATS by another name than --nats */
  'peer-nats'?: string;
}

const num = (v: string | undefined, what: string, min = 0): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new BadRequestError(`${what} must be a number ≥ ${min}`);
  return n;
};

function secret(name: string, roles: readonly WorkerRole[], needs: readonly WorkerRole[]): string {
  const v = process.env[name];
  if (roles.some((r) => needs.includes(r)) && !v) {
    throw new BadRequestError(`${name} must be set for ${needs.join('/')} workers (the same value in every worker)`);
  }
  return v ?? '';
}

export function parseRoles(args: readonly string[]): WorkerRole[] {
  if (args.length === 0) throw new BadRequestError(`name at least one role: ${WorkerRoles.join(', ')}`);
  for (const a of args) {
    if (!(WorkerRoles as readonly string[]).includes(a)) throw new BadRequestError(`unknown role ${JSON.stringify(a)}: ${WorkerRoles.join(', ')}`);
  }
  return [...new Set(args)] as WorkerRole[];
}

function context(flags: WorkerFlags, name: string): { ctx: RoleContext; dataDir: string } {
  if (!flags.nats) throw new BadRequestError('--nats URL[,URL…] is required (the NATS or cluster to join)');
  const dataDir = resolve(flags['data-dir'] ?? join(process.cwd(), '.switchyard'));
  const authDir = resolve(flags['auth-dir'] ?? join(dataDir, 'auth'));
  const auth = loadAuth(authDir);
  if (!auth) throw new BadRequestError(`no operator keys in ${authDir}: workers need the keys the NATS servers trust`);
  const level = (process.env.SWITCHYARD_LOG as 'info' | undefined) ?? 'info';
  const replicas = num(flags.replicas, '--replicas', 1);
  return { ctx: { natsUrl: flags.nats, auth, logger: createLogger(name, level), ...(replicas ? { bucket: { replicas } } : {}) },
    dataDir };
}

/**
 * `switchyard keys --auth-dir DIR`: makes the deployment's operator, accounts and service keys if DIR has none
 * (mode 0600), and writes `DIR/nats-auth.conf`, the operator-mode lines every nats-server of the cluster includes.
 */
export async function keysCommand(flags: WorkerFlags): Promise<number> {
  const dir = resolve(flags['auth-dir'] ?? join(resolve(flags['data-dir'] ?? join(process.cwd(), '.switchyard')), 'auth'));
  const auth = await ensureAuth(dir);
  const conf = join(dir, 'nats-auth.conf');
  writeFileSync(conf, serverAuthConfig(auth) + '\n', { mode: 0o644 });
  process.stdout.write(JSON.stringify({ authDir: dir, natsConfig: conf, account: auth.account.publicKey }) + '\n');
  return 0;
}

/** `switchyard provision --nats … --replicas N`: JetStream assets with N replicas (idempotent). */
export async function provisionCommand(flags: WorkerFlags): Promise<number> {
  const { ctx } = context(flags, 'provision');
  const replicas = num(flags.replicas, '--replicas', 1) ?? 1;
  const nc = await connectNats(ctx.natsUrl, 'provision', serviceCredentials(ctx.auth, ServiceRoles.admin));
  try {
    process.stdout.write(JSON.stringify(await provision(nc, { replicas })) + '\n');
    return 0;
  } finally {
    await nc.close();
  }
}

export async function workerCommand(args: readonly string[], flags: WorkerFlags): Promise<number> {
  const roles = parseRoles(args);
  const name = flags.name ?? `worker-${process.pid}`;
  const { ctx, dataDir } = context(flags, name);
  const grantSecret = secret('SWITCHYARD_GRANT_SECRET', roles, ['origin', 'gateway']);
  const adminToken = secret('SWITCHYARD_ADMIN_TOKEN', roles, ['gateway']);
  const policy = (flags.policy ?? OriginPolicies.serverFirst) as OriginPolicy;
  if (policy !== OriginPolicies.serverFirst && policy !== OriginPolicies.swarmAware) {
    throw new BadRequestError('--policy is server-first or swarm-aware');
  }
  const capacity = num(flags.capacity, '--capacity');
  if (roles.includes('origin') && (capacity === undefined || !Number.isInteger(capacity))) {
    throw new BadRequestError('--capacity N is required for origin workers (the same N in every worker: it is global)');
  }
  const urgentBps = num(flags['urgent-share'], '--urgent-share');
  const egressTarget = parseEgressTarget(flags['egress-target']);
  const trackerIntervalMs = num(flags['tracker-interval'], '--tracker-interval', 100);
  let store: ChunkStore | null = null;
  const running: Array<RunningRole<unknown>> = [];
  const services: WorkerServices = {};
  let stopMetrics: (() => Promise<void>) | null = null;
  const stopAll = async () => {
    // the metrics server reads the services: it goes first
    await stopMetrics?.();
    for (const r of running.splice(0).reverse()) await r.stop();
    await store?.close();
  };
  try {
    if (roles.includes('gateway') || roles.includes('ingest')) store = await openChunkStore(flags.store ?? join(dataDir, 'store'));
    const stagingDir = stagingDirOf(dataDir);
    const ready: Array<{ role: WorkerRole; name: string; url?: string }> = [];
    for (const role of roles) {
      const id = `${name}-${role}`;
      if (role === 'origin') {
        const o = await startOriginRole(ctx, { workerId: id, capacity: capacity ?? 0, grantSecret, policy,
          ...(egressTarget !== undefined ? { egressTarget } : {}),
          ...(flags['lease-ttl'] ? { leaseTtlMs: num(flags['lease-ttl'], '--lease-ttl', 1) } : {}),
          ...(flags['idle-timeout'] !== undefined ? { idleMs: num(flags['idle-timeout'], '--idle-timeout') } : {}),
          ...(urgentBps === 0 ? { urgentMaxChunks: 0 } : {}) });
        running.push(o);
        services.origin = o.service;
      } else if (role === 'tracker') {
        const t = await startTrackerRole(ctx, { workerId: id, ...(trackerIntervalMs ? { intervalMs: trackerIntervalMs } : {}) });
        running.push(t);
        services.tracker = t;
      } else if (role === 'signal') {
        const r = await startSignalRole(ctx, { workerId: id });
        running.push(r);
        services.signal = r.service;
      } else if (role === 'ingest') {
        const w = await startIngestRole(ctx, { workerId: id, stagingDir, store: store! });
        running.push(w);
        services.ingest = w.service;
      } else {
        const g = await startGatewayRole(ctx, { workerId: id, grantSecret, adminToken, store: store!, stagingDir,
          ...(flags.host ? { host: flags.host } : {}), ...(flags.port ? { port: num(flags.port, '--port') } : {}),
          ...(flags['nats-ws'] ? { wsUrl: flags['nats-ws'] } : {}),
          ...(flags['peer-nats'] ? { peerNatsUrl: flags['peer-nats'] } : {}),
          ...(urgentBps !== undefined ? { urgentBps } : {}),
          ...(flags['origin-rate'] ? { originRate: num(flags['origin-rate'], '--origin-rate', 1) } : {}),
          ...(trackerIntervalMs ? { trackerIntervalMs } : {}),
          ...(process.env.SWITCHYARD_API_KEYS ? { apiKeys: process.env.SWITCHYARD_API_KEYS.split(',').map((k) => k.trim()) } : {}) });
        running.push(g);
        ready.push({ role, name: id, url: g.service.url });
        continue;
      }
      ready.push({ role, name: id });
    }
    const metrics = flags['metrics-port'] === undefined ? null
      : await serveWorkerMetrics(services, { name, roles, port: num(flags['metrics-port'], '--metrics-port') ?? 0,
        ...(flags.host ? { host: flags.host } : {}), logger: ctx.logger });
    if (metrics) stopMetrics = () => metrics.stop();
    process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, roles: ready,
      ...(metrics ? { metrics: metrics.url } : {}) }) + '\n');
    await new Promise<void>((r) => {
      process.once('SIGINT', r);
      process.once('SIGTERM', r);
    });
    return 0;
  } finally {
    await stopAll();
  }
}
