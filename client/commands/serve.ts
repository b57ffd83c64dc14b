/** `switchyard serve`: a whole local Switchyard (NATS, origin, ingest, gateway) until Ctrl-C. */
import { join, resolve } from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { BadRequestError, OriginPolicies } from '../../protocol/mod.js';
import { writeLocalConfig } from '../config.js';
import { startStack } from '../stack.js';

/** `--egress-target E`: origin egress per video as a multiple of its size, ≥ 1 (swarm-aware); absent: none. */
export function parseEgressTarget(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const e = Number(v);
  if (!(Number.isFinite(e) && e >= 1)) throw new BadRequestError('--egress-target is a multiple of the video size, ≥ 1');
  return e;
}

export async function serveCommand(flags: {
  nats?: string; capacity?: string; store?: string; port?: string; 'lease-ttl'?: string; 'idle-timeout'?: string; 'data-dir'?: string;
  workers?: string; 'origin-rate'?: string; policy?: string; 'urgent-share'?: string; 'egress-target'?: string;
  /** the NATS WebSocket URL browsers are told (watch page), when they reach it by another name than 127.0.0.1 */
  'nats-ws'?: string;
}): Promise<number> {
  const policy = flags.policy ?? OriginPolicies.serverFirst;
  if (policy !== OriginPolicies.serverFirst && policy !== OriginPolicies.swarmAware) {
    throw new BadRequestError('--policy is server-first or swarm-aware');
  }
  const capacity = Number(flags.capacity ?? 2);
  if (!Number.isInteger(capacity) || capacity < 0) throw new BadRequestError('--capacity must be an integer ≥ 0');
  const urgentBps = flags['urgent-share'] === undefined ? undefined : Number(flags['urgent-share']);
  if (urgentBps !== undefined && !(Number.isFinite(urgentBps) && urgentBps >= 0)) {
    throw new BadRequestError('--urgent-share is bytes per second ≥ 0 (0 disables urgent grants)');
  }
  const egressTarget = parseEgressTarget(flags['egress-target']);
  const dataDir = resolve(flags['data-dir'] ?? join(process.cwd(), '.switchyard'));
  const logger = createLogger('serve', (process.env.SWITCHYARD_LOG as 'info' | undefined) ?? 'info');
  const stack = await startStack({
    dataDir, capacity,
    ...(flags.nats ? { natsUrl: flags.nats } : {}),
    ...(flags.store ? { store: flags.store } : {}),
    ...(flags.port ? { port: Number(flags.port) } : {}),
    ...(flags['lease-ttl'] ? { leaseTtlMs: Number(flags['lease-ttl']) } : {}),
    ...(flags['idle-timeout'] !== undefined ? { idleMs: Number(flags['idle-timeout']) } : {}),
    ...(flags.workers ? { originWorkers: Number(flags.workers) } : {}),
    ...(flags['origin-rate'] ? { originRate: Number(flags['origin-rate']) } : {}),
    ...(flags['nats-ws'] ? { natsWsUrl: flags['nats-ws'] } : {}),
    policy,
    ...(egressTarget !== undefined ? { egressTarget } : {}),
    ...(urgentBps !== undefined ? { urgentBps } : {}),
    ...(process.env.SWITCHYARD_GRANT_SECRET ? { grantSecret: process.env.SWITCHYARD_GRANT_SECRET } : {}),
    ...(process.env.SWITCHYARD_ADMIN_TOKEN ? { adminToken: process.env.SWITCHYARD_ADMIN_TOKEN } : {}),
    ...(process.env.SWITCHYARD_API_KEYS ? { apiKeys: process.env.SWITCHYARD_API_KEYS.split(',').map((k) => k.trim()) } : {}),
  }, logger);
  const cfgPath = writeLocalConfig({ nats: stack.natsUrl, gateway: stack.gatewayUrl, store: stack.storeLocation,
    grantSecret: stack.grantSecret, adminToken: stack.adminToken, authDir: stack.auth.dir });
  process.stdout.write(`switchyard is serving (origin capacity ${capacity}, ${policy})\n` +
    `  NATS     ${stack.natsUrl}\n  gateway  ${stack.gatewayUrl}  (dashboard ${stack.gatewayUrl}/dashboard, API docs /docs)\n` +
    `  watch    ${stack.gatewayUrl}/watch/<videoId>  (the browser peer; NATS WebSocket ${flags['nats-ws'] ?? stack.wsUrl ?? 'none'})\n` +
    `  store    ${stack.storeLocation}\n  config   ${cfgPath} (other switchyard commands here use it)\n` +
    `Ctrl-C stops.\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  process.stdout.write('stopping…\n');
  await stack.stop();
  return 0;
}
