/**
 * A local NATS cluster for tests, benchmarks and trying out a scaled deployment: `nodes` nats-server processes
 * on 127.0.0.1 (default 3), routed to each other, each with its own JetStream store, all trusting the same
 * operator (infra/auth.ts), as production runs them. JetStream assets made with `replicas: 3` then survive the
 * loss of one node. Nodes can be killed and restarted one at a time (`node(i).pause()/resume()`) to test faults.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../lib/nats.js';
import { ServiceRoles, type ServiceRole } from '../protocol/permissions.js';
import { ensureAuth, serverAuthConfig, serviceCredentials, type AuthMaterial, type NatsCredentials } from './auth.js';
import { freePort, kill, lastServerLog, NATS_CONF, spawnServer, type Running } from './nats.js';

/** One server of the cluster. */
export interface ClusterNode {
  name: string;
  url: string;
  port: number;
  /** WebSocket listener for browser peers (same auth) */
  wsUrl: string;
  /** true while the process runs */
  running(): boolean;
  /** the process id while it runs (tests kill only what they started) */
  pid(): number | undefined;
  /** kills the server (SIGKILL, as a crash) but keeps its store and ports */
  pause(): Promise<void>;
  /** starts it again on the same ports with the same store; it rejoins the cluster */
  resume(): Promise<void>;
}

export interface NatsClusterHandle {
  nodes: ClusterNode[];
  /** every node's client URL, comma-separated: what clients and services are given */
  url: string;
  /** per node, for spreading connections */
  urls: string[];
  auth: AuthMaterial;
  creds(role: ServiceRole): NatsCredentials;
  /** waits until JetStream answers with every running node in the meta group (after start or a resume) */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** servers in the cluster (default 3) */
  nodes?: number;
  /** operator keys (created on first use); default a temporary directory removed on stop */
  authDir?: string;
  /** parent of the nodes' JetStream stores; default a temporary directory removed on stop */
  storeDir?: string;
  binary?: string;
  verbose?: boolean;
}

interface NodePlan {
  name: string;
  port: number;
  clusterPort: number;
  wsPort: number;
  conf: string;
  storeDir: string;
}

function nodeConfig(plan: NodePlan, all: NodePlan[], auth: AuthMaterial): string {
  const routes = all.filter((p) => p !== plan).map((p) => `nats-route://127.0.0.1:${p.clusterPort}`);
  return [
    readFileSync(NATS_CONF, 'utf8'),
    `server_name: ${plan.name}`,
    `jetstream { store_dir: ${JSON.stringify(plan.storeDir)}, max_memory_store: 256MB, max_file_store: 4GB }`,
    `cluster { name: switchyard, listen: "127.0.0.1:${plan.clusterPort}", routes: [${routes.join(', ')}] }`,
    serverAuthConfig(auth),
    `websocket { host: 127.0.0.1, port: ${plan.wsPort}, no_tls: true }`,
    '',
  ].join('\n');
}

export async function startNatsCluster(opts: StartClusterOptions = {}): Promise<NatsClusterHandle> {
  const count = opts.nodes ?? 3;
  const ownAuth = !opts.authDir;
  const authDir = opts.authDir ?? mkdtempSync(join(tmpdir(), 'switchyard-auth-'));
  const ownStore = !opts.storeDir;
  const storeRoot = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'switchyard-cluster-'));
  const binary = opts.binary ?? 'nats-server';
  const verbose = opts.verbose === true;
  const processes = new Map<string, Running>();
  const cleanup = () => {
    if (ownStore) rmSync(storeRoot, { recursive: true, force: true });
    if (ownAuth) rmSync(authDir, { recursive: true, force: true });
  };
  const killAll = () => {
    for (const r of processes.values()) r.child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  try {
    const auth = await ensureAuth(authDir);
    const plans: NodePlan[] = [];
    for (let i = 0; i < count; i++) {
      const name = `sy-n${i + 1}`;
      const storeDir = join(storeRoot, name);
      mkdirSync(storeDir, { recursive: true });
      plans.push({ name, port: await freePort(), clusterPort: await freePort(), wsPort: await freePort(),
        conf: join(authDir, `${name}.conf`), storeDir });
    }
    for (const p of plans) writeFileSync(p.conf, nodeConfig(p, plans, auth), { mode: 0o600 });
    const launch = async (p: NodePlan) => {
      // a port picked free a moment ago may be taken meanwhile; retry a little, as startNats does
      for (let i = 0; i < 20; i++) {
        const r = await spawnServer(binary, p.conf, p.port, verbose);
        if (r) {
          processes.set(p.name, r);
          return;
        }
        await new Promise((res) => setTimeout(res, 250));
      }
      throw new Error(`nats-server ${p.name} did not start on port ${p.port}: ${lastServerLog().slice(-2000)}`);
    };
    await Promise.all(plans.map(launch));
    const nodes: ClusterNode[] = plans.map((p) => ({
      name: p.name,
      url: `nats://127.0.0.1:${p.port}`,
      port: p.port,
      wsUrl: `ws://127.0.0.1:${p.wsPort}`,
      running: () => processes.has(p.name),
      pid: () => processes.get(p.name)?.child.pid,
      async pause() {
        const r = processes.get(p.name);
        processes.delete(p.name);
        if (r) {
          const gone = new Promise((res) => r.child.once('exit', res));
          r.child.kill('SIGKILL');
          await gone;
        }
      },
      async resume() {
        if (!processes.has(p.name)) await launch(p);
      },
    }));
    const urls = nodes.map((n) => n.url);
    const handle: NatsClusterHandle = {
      nodes,
      url: urls.join(','),
      urls,
      auth,
      creds: (role) => serviceCredentials(auth, role),
      ready: (timeoutMs = 20000) => waitForJetStream(handle, timeoutMs),
      async stop() {
        process.removeListener('exit', killAll);
        await Promise.all([...processes.values()].map((r) => kill(r.child)));
        processes.clear();
        cleanup();
      },
    };
    await handle.ready();
    return handle;
  } catch (err) {
    killAll();
    process.removeListener('exit', killAll);
    cleanup();
    throw err;
  }
}

/**
 * "Server is ready" comes before the JetStream meta group has a leader; until it has one every JetStream call
 * fails. Creating a throwaway replicated stream proves the cluster can place replicas on its running nodes.
 */
async function waitForJetStream(cluster: NatsClusterHandle, timeoutMs: number): Promise<void> {
  const running = cluster.nodes.filter((n) => n.running());
  const nc = await connectNats(running.map((n) => n.url).join(','), 'cluster-ready', cluster.creds(ServiceRoles.admin));
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  try {
    const name = `SY_READY_${Math.random().toString(36).slice(2, 8)}`;
    while (Date.now() < deadline) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.streams.add({ name, subjects: [`sy.ready.${name}`], num_replicas: Math.min(3, running.length) });
        await jsm.streams.delete(name);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`the NATS cluster's JetStream did not become ready in ${timeoutMs} ms`, { cause: last });
  } finally {
    await nc.close();
  }
}
