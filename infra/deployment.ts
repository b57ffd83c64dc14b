/**
 * A scaled Switchyard on one machine, as production lays it out: a NATS cluster (infra/cluster.ts) with its
 * JetStream assets provisioned at 3 replicas, and every role as its own `switchyard worker` process (several
 * origin workers, several gateways) sharing one chunk store and one staging directory. Tests of scale and faults
 * and the soak benchmark start it; each process can be added, stopped (SIGTERM) or killed (SIGKILL) by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectNats, type NatsConnection } from '../lib/nats.js';
import { ServiceRoles, type OriginPolicy } from '../protocol/mod.js';
import { startNatsCluster, type NatsClusterHandle } from './cluster.js';
import { freePort } from './nats.js';
import { provision } from './provision.js';

/** the compiled CLI (this file runs from dist/infra) */
export const CLI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'client', 'cli.js');

export interface WorkerProcess {
  name: string;
  roles: string[];
  child: ChildProcess;
  pid: number;
  /** the gateway's HTTP URL when the process runs one */
  gatewayUrl?: string;
  /** the process's Prometheus endpoint (heap, RSS, handles and its roles' counters) */
  metricsUrl?: string;
  /** resolves with the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
  stderr(): string;
  /** SIGTERM and wait: a graceful leave (queue groups drained) */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash */
  kill(): Promise<void>;
}

export interface DeploymentOptions {
  /** global origin capacity (every origin worker is given the same) */
  capacity: number;
  originWorkers?: number;
  gateways?: number;
  /** NATS servers in the cluster (default 3) */
  nodes?: number;
  /** JetStream replicas (default min(3, nodes)) */
  replicas?: number;
  leaseTtlMs?: number;
  idleMs?: number;
  trackerIntervalMs?: number;
  policy?: OriginPolicy;
  urgentBps?: number;
  /** per gateway origin egress cap, bytes/s (bandwidth emulation) */
  originRate?: number;
  /** the SWITCHYARD_LOG level of the workers (default warn) */
  logLevel?: string;
  /** diagnostics: workers collect garbage before each metrics scrape (live heap, for bench:soak) */
  gcBeforeScrape?: boolean;
}

export interface Deployment {
  cluster: NatsClusterHandle;
  dataDir: string;
  storeDir: string;
  grantSecret: string;
  adminToken: string;
  /** every worker process started and not yet gone, by name */
  workers: Map<string, WorkerProcess>;
  gateways(): WorkerProcess[];
  origins(): WorkerProcess[];
  /** starts one more worker process running `roles` (its name must be new) */
  startWorker(name: string, roles: string[], extraArgs?: string[]): Promise<WorkerProcess>;
  /**
   * stops (SIGTERM) or kills (SIGKILL) a worker and starts it again with the same roles and arguments (a gateway
   * keeps its port, so its clients find it again); resolves with the new process once it is ready
   */
  restartWorker(name: string, how: 'stop' | 'kill', downMs?: number): Promise<WorkerProcess>;
  /** an admin service connection to the cluster (tests, tools) */
  connectAdmin(name?: string): Promise<NatsConnection>;
  stop(): Promise<void>;
}

interface ReadyLine { roles: Array<{ role: string; url?: string }>; metrics?: string }

function waitReady(child: ChildProcess, name: string, err: () => string, timeoutMs = 30000): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`worker ${name} not ready in ${timeoutMs} ms: ${err().slice(-2000)}`)), timeoutMs);
    const onData = (b: Buffer) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{"ready"')) continue;
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(JSON.parse(line) as ReadyLine);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${name} exited (${code}) before ready: ${err().slice(-2000)}`));
    });
  });
}

export async function startDeployment(opts: DeploymentOptions): Promise<Deployment> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sy-deploy-'));
  const authDir = join(dataDir, 'auth');
  const storeDir = join(dataDir, 'store');
  mkdirSync(storeDir, { recursive: true });
  const grantSecret = randomBytes(32).toString('hex');
  const adminToken = randomBytes(16).toString('hex');
  const workers = new Map<string, WorkerProcess>();
  // a parent that dies without stop() (a crash, a runner's timeout) must not leave workers behind, as cluster.ts
  // does for its servers: SIGKILL, by pid, every worker still running
  const killWorkers = () => {
    for (const w of workers.values()) w.child.kill('SIGKILL');
  };
  process.once('exit', killWorkers);
  const admins: NatsConnection[] = [];
  const cluster = await startNatsCluster({ nodes: opts.nodes ?? 3, authDir });
  const connectAdmin = async (name = 'deploy-admin') => {
    const nc = await connectNats(cluster.url, name, cluster.creds(ServiceRoles.admin));
    admins.push(nc);
    return nc;
  };
  const common = (): string[] => [
    '--nats', cluster.url, '--auth-dir', authDir, '--data-dir', dataDir, '--store', storeDir,
    '--capacity', String(opts.capacity), '--replicas', String(opts.replicas ?? Math.min(3, opts.nodes ?? 3)),
    ...(opts.policy ? ['--policy', opts.policy] : []),
    ...(opts.leaseTtlMs ? ['--lease-ttl', String(opts.leaseTtlMs)] : []),
    ...(opts.idleMs !== undefined ? ['--idle-timeout', String(opts.idleMs)] : []),
    ...(opts.trackerIntervalMs ? ['--tracker-interval', String(opts.trackerIntervalMs)] : []),
    ...(opts.urgentBps !== undefined ? ['--urgent-share', String(opts.urgentBps)] : []),
    ...(opts.originRate ? ['--origin-rate', String(opts.originRate)] : []),
  ];
  const argsOf = new Map<string, { roles: string[]; extraArgs: string[] }>();
  const startWorker = async (name: string, roles: string[], extraArgs: string[] = []): Promise<WorkerProcess> => {
    if (workers.has(name)) throw new Error(`worker ${name} exists`);
    argsOf.set(name, { roles, extraArgs });
    const child = spawn(process.execPath, [...(opts.gcBeforeScrape ? ['--expose-gc'] : []), CLI_PATH, 'worker', ...roles, '--name', name, '--metrics-port', '0', ...common(),
      ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SWITCHYARD_GRANT_SECRET: grantSecret, SWITCHYARD_ADMIN_TOKEN: adminToken,
        SWITCHYARD_LOG: opts.logLevel ?? 'warn', ...(opts.gcBeforeScrape ? { SWITCHYARD_METRICS_GC: '1' } : {}) },
    });
    let err = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (err.length < 200_000) err += b.toString();
    });
    // keep the pipe flowing after ready (a full pipe would block the worker)
    child.stdout?.resume();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => {
      workers.delete(name);
      r(code);
    }));
    const ready = await waitReady(child, name, () => err);
    const signal = async (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      // a worker that hangs on its way out is killed: stop() always ends
      const t = sig === 'SIGKILL' ? null : setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      if (t) clearTimeout(t);
    };
    const w: WorkerProcess = {
      name, roles, child, pid: child.pid!, exited, stderr: () => err,
      ...(ready.roles.find((r) => r.url)?.url ? { gatewayUrl: ready.roles.find((r) => r.url)!.url! } : {}),
      ...(ready.metrics ? { metricsUrl: ready.metrics } : {}),
      stop: () => signal('SIGTERM'),
      kill: () => signal('SIGKILL'),
    };
    workers.set(name, w);
    return w;
  };
  try {
    const nc = await connectAdmin('provision');
    await provision(nc, { replicas: opts.replicas ?? Math.min(3, opts.nodes ?? 3) });
    await startWorker('services', ['tracker', 'signal', 'ingest']);
    await Promise.all(Array.from({ length: opts.originWorkers ?? 3 }, (_, i) => startWorker(`origin-${i}`, ['origin'])));
    // gateways on fixed ports: a restarted gateway is found again at the URL its clients were given
    await Promise.all(Array.from({ length: opts.gateways ?? 2 }, async (_, i) =>
      startWorker(`gateway-${i}`, ['gateway'], ['--port', String(await freePort())])));
  } catch (err) {
    process.removeListener('exit', killWorkers);
    for (const w of [...workers.values()]) await w.kill();
    for (const nc of admins) await nc.close().catch(() => {});
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const byRole = (role: string) => [...workers.values()].filter((w) => w.roles.includes(role));
  return {
    cluster, dataDir, storeDir, grantSecret, adminToken, workers, startWorker, connectAdmin,
    async restartWorker(name, how, downMs = 0) {
      const args = argsOf.get(name);
      if (!args) throw new Error(`no worker ${name} was started`);
      const w = workers.get(name);
      if (w) await (how === 'kill' ? w.kill() : w.stop());
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      return startWorker(name, args.roles, args.extraArgs);
    },
    gateways: () => byRole('gateway'),
    origins: () => byRole('origin'),
    async stop() {
      await Promise.all([...workers.values()].map((w) => w.stop()));
      process.removeListener('exit', killWorkers);
      for (const nc of admins.splice(0)) await nc.close().catch(() => {});
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
