/**
 * Prometheus metrics against real parts: a whole stack with two real downloads, then the gateway's `/metrics`
 * and worker metrics servers (lib/metrics) around the stack's own origin worker and tracker, parsed as Prometheus
 * text; the counters must agree with what the clients report and with each other. A second suite runs an ingest
 * worker and a signalling relay on a bare NATS, where every job and message is ours.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createIngestWorker, ensureIngestStream } from '../../actors/ingest/worker.js';
import { createOriginClient } from '../../actors/origin/client.js';
import { download } from '../../api/mod.js';
import { startStack, type Stack } from '../../client/stack.js';
import { startTelemetry } from '../../client/telemetry.js';
import { systemClock } from '../../lib/clock.js';
import { createLogger } from '../../lib/logger.js';
import {
  createMetricsRegistry, ingestMetrics, originMetrics, parsePrometheus, signalMetrics, startMetricsServer, trackerMetrics,
  type MetricsServer, type PromText, type TrackerMetrics,
} from '../../lib/metrics/mod.js';
import { connectNats } from '../../lib/nats.js';
import { encode, ServiceRoles, Subjects, type Manifest } from '../../protocol/mod.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';

const KiB = 1024;
const logger = createLogger('metrics-test', 'error');
const scrape = async (base: string): Promise<PromText> => {
  const res = await fetch(`${base}/metrics`);
  assert.is(res.status, 200);
  assert.match(String(res.headers.get('content-type')), /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
};

interface StackCtx {
  dir: string;
  stack: Stack;
  manifest: Manifest;
  servers: MetricsServer[];
  origin: MetricsServer;
  tracker: MetricsServer;
  trackerView: TrackerMetrics;
}

const s = suite<StackCtx>('metrics: gateway and worker endpoints around a real stack');

s.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-metrics-'));
  ctx.stack = await startStack({ dataDir: join(ctx.dir, 'stack'), capacity: 2, leaseTtlMs: 3000, trackerIntervalMs: 1000 },
    logger);
  const file = join(ctx.dir, 'video.bin');
  writeFileSync(file, randomBytes(1536 * KiB + 77));
  const origin = createOriginClient(ctx.stack.nc);
  ctx.manifest = (await ingestFile({ path: file, stream: false, chunkSize: 256 * KiB },
    { store: ctx.stack.store, publish: (m) => origin.publish(m), logger })).manifest;

  // what `switchyard worker` does per role: a registry, the role's collector, an endpoint
  const originReg = createMetricsRegistry({ role: 'origin', worker: ctx.stack.origins[0]!.workerId });
  originMetrics(ctx.stack.origins[0]!, originReg);
  const trackerReg = createMetricsRegistry({ role: 'tracker', worker: ctx.stack.tracker.workerId });
  ctx.trackerView = await trackerMetrics(ctx.stack.tracker, trackerReg, {
    nc: await ctx.stack.connectService(ServiceRoles.tracker, 'tracker-metrics'), clock: systemClock, logger });
  ctx.origin = await startMetricsServer({ registry: originReg });
  ctx.tracker = await startMetricsServer({ registry: trackerReg });
  ctx.servers = [ctx.origin, ctx.tracker];
});

s.after(async (ctx) => {
  for (const m of ctx.servers ?? []) await m.stop();
  await ctx.trackerView?.stop();
  await ctx.stack?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

s('two downloads: gateway egress = what the clients got from the origin; admission and telemetry agree', async (ctx) => {
  const { stack, manifest } = ctx;
  const runs = await Promise.all([0, 1].map((i) =>
    download(manifest.videoId, { gateway: stack.gatewayUrl, output: join(ctx.dir, `out${i}.bin`), logger, label: `m${i}` })));
  const results = await Promise.all(runs.map((d) => d.done));
  for (const d of runs) await d.close();
  let fromOrigin = 0;
  for (const r of results) {
    assert.is(r.status, 'complete', r.error?.message);
    assert.is(Object.values(r.bytesBySource).reduce((a, b) => a + b, 0), manifest.size);
    fromOrigin += r.bytesBySource.origin ?? 0;
  }
  assert.ok(fromOrigin > 0, 'capacity 2: both clients were admitted');

  const gw = await scrape(stack.gatewayUrl);
  assert.is(gw.value('switchyard_gateway_chunk_bytes_total'), fromOrigin, 'gateway egress = origin bytes the clients got');
  assert.is(gw.value('switchyard_gateway_chunk_bytes_total'), stack.gateway.stats().chunkBytesTotal);
  assert.is(gw.value('switchyard_gateway_sessions_served_total'), 2);
  assert.ok((gw.value('switchyard_gateway_requests_total', { status: '200' }) ?? 0) >= fromOrigin / manifest.chunkSize);
  assert.is(gw.types.switchyard_gateway_requests_total, 'counter');
  assert.is(gw.types.switchyard_gateway_peer_setup_seconds, 'histogram');
  assert.is(gw.value('switchyard_gateway_origin_capacity'), 2);
  assert.ok((gw.value('nodejs_heap_size_used_bytes', { role: 'gateway' }) ?? 0) > 0, 'process heap metric');
  assert.ok((gw.value('process_resident_memory_bytes', { role: 'gateway' }) ?? 0) > 0, 'process RSS metric');
  assert.ok(gw.value('nodejs_eventloop_lag_p99_seconds', { role: 'gateway' }) !== undefined, 'event loop lag metric');
  assert.ok((gw.value('nodejs_active_handles_total', { role: 'gateway' }) ?? 0) > 0, 'handles metric');

  // telemetry arrives on its own schedule; each client's last status is published when it stops
  const told = await waitFor(async () => {
    const t = await scrape(stack.gatewayUrl);
    return t.value('switchyard_gateway_client_received_bytes_total', { source: 'origin' }) === fromOrigin &&
      t.value('switchyard_gateway_clients', { mode: 'complete' }) === 2 ? t : null;
  }, 'telemetry of both clients');
  assert.is(told.sum('switchyard_gateway_client_received_bytes_total'), 2 * manifest.size);
  assert.is(told.value('switchyard_gateway_clients', { mode: 'p2p' }), 0);

  const o = await scrape(ctx.origin.url);
  const worker = { role: 'origin', worker: stack.origins[0]!.workerId };
  assert.is(o.value('switchyard_origin_opens_total', { outcome: 'granted' }), 2);
  assert.is(o.value('switchyard_origin_opens_total', { outcome: 'denied' }), 0);
  assert.is(o.value('switchyard_origin_requests_total', { verb: 'open' }), 2);
  assert.is(o.value('switchyard_origin_requests_total', { verb: 'release' }), 2);
  assert.is(o.value('switchyard_origin_grants_issued_total', { kind: 'open' }), 2);
  assert.is(o.value('switchyard_origin_capacity'), 2);
  assert.is(o.value('switchyard_origin_slots_held'), 0, 'both released');
  assert.is(o.value('switchyard_origin_waiting'), 0);
  assert.ok((o.value('nodejs_heap_size_used_bytes', worker) ?? 0) > 0, 'the worker\'s process metrics carry its labels');

  const t = await scrape(ctx.tracker.url);
  assert.ok((t.value('switchyard_tracker_requests_total', { verb: 'announce' }) ?? 0) >= 2, 'both clients announced');
  assert.is(t.types.switchyard_tracker_peers, 'gauge');
  assert.is(t.value('switchyard_tracker_banned_peers'), 0);
  assert.ok((t.value('nodejs_heap_size_used_bytes', { role: 'tracker' }) ?? 0) > 0);
});

s('link set-up times a client publishes reach the histogram once each; bans are summed', async (ctx) => {
  const { stack, manifest } = ctx;
  const peer = await stack.connectPeer({ peerId: 'setupReporter' });
  const before = await scrape(stack.gatewayUrl);
  const count0 = before.value('switchyard_gateway_peer_setup_seconds_count') ?? 0;
  const sum0 = before.value('switchyard_gateway_peer_setup_seconds_sum') ?? 0;
  const le025 = before.value('switchyard_gateway_peer_setup_seconds_bucket', { le: '0.25' }) ?? 0;
  // what a client's swarm would say (swarm.stats()); the client republishes it every 50 ms, unchanged or not
  const swarm = { setupMs: [100, 200], banned: [] as string[] };
  const telemetry = startTelemetry(peer.nc, { peerId: 'setupReporter', manifest, intervalMs: 50 }, {
    mode: 'p2p', state: 'active.p2p', have: () => manifest.chunks.map(() => false), bytesBySource: {},
    uploadedBytes: () => 0, position: 1, links: () => 1, doneAt: null, swarmStats: () => swarm,
  });
  const setups = async (n: number) => waitFor(async () => {
    const t = await scrape(stack.gatewayUrl);
    return (t.value('switchyard_gateway_peer_setup_seconds_count') ?? 0) >= count0 + n ? t : null;
  }, `${n} set-up times`);
  try {
    await setups(2);
    swarm.setupMs = [100, 200, 3000];
    swarm.banned = ['liar'];
    await setups(3);
    swarm.setupMs = [100, 200, 3000, 400];
    // statuses are handled in order: by the time the fourth time is in, every repeat before it was too
    const after = await setups(4);
    assert.is(after.value('switchyard_gateway_peer_setup_seconds_count'), count0 + 4, 'each set-up observed once');
    assert.ok(Math.abs((after.value('switchyard_gateway_peer_setup_seconds_sum') ?? 0) - sum0 - 3.7) < 1e-9);
    assert.is(after.value('switchyard_gateway_peer_setup_seconds_bucket', { le: '0.25' }), le025 + 2, '100 and 200 ms');
    assert.is(after.value('switchyard_gateway_client_banned_peers'), 1);
    assert.is(after.value('switchyard_gateway_clients', { mode: 'p2p' }), 1);
  } finally {
    telemetry.stop();
  }
});

s('worker endpoint: /healthz answers, anything else is 404, only GET', async (ctx) => {
  const h = await fetch(`${ctx.origin.url}/healthz`);
  assert.is(h.status, 200);
  assert.equal(await h.json(), { status: 'ok' });
  assert.is((await fetch(`${ctx.origin.url}/nope`)).status, 404);
  assert.is((await fetch(`${ctx.origin.url}/metrics`, { method: 'POST' })).status, 405);
});

s.run();

const w = suite<{ env: TestEnv }>('metrics: ingest worker backlog and jobs, signalling relay refusals');

w.before(async (ctx) => {
  ctx.env = await startEnv();
});
w.after(async (ctx) => {
  await ctx.env.close();
});

w('ingest: jobs waiting show as backlog, then as failed jobs once a worker refuses them', async ({ env }) => {
  const nc = await connectNats(env.nats.url, 'ingest-metrics', env.nats.creds(ServiceRoles.ingest));
  const staging = join(env.dir, 'staging');
  mkdirSync(staging, { recursive: true });
  const worker = createIngestWorker({ stagingDir: staging }, { nc, store: env.store, origin: createOriginClient(env.nc), logger });
  const registry = createMetricsRegistry({ role: 'ingest', worker: 'ingest-0' });
  ingestMetrics(worker, registry, { logger });
  const server = await startMetricsServer({ registry });
  try {
    await ensureIngestStream(env.nc);
    const jobs = ['jobA', 'jobB'];
    const answered = jobs.map((jobId) => env.nc.subscribe(Subjects.ingestDone(jobId), { max: 1 }));
    // outside the staging directory: the worker must refuse both (ok:false)
    for (const jobId of jobs) {
      await jetstream(env.nc).publish(Subjects.ingestJob, encode({ jobId, path: '/etc/hostname', name: 'x' }));
    }
    const queued = await scrape(server.url);
    assert.is(queued.value('switchyard_ingest_queue_pending'), 2);
    assert.is(queued.value('switchyard_ingest_jobs_total', { outcome: 'failed' }), 0);
    await worker.start();
    await Promise.all(answered.map(async (sub) => {
      for await (const m of sub) assert.match(new TextDecoder().decode(m.data), /"ok":false/);
    }));
    const after = await waitFor(async () => {
      const t = await scrape(server.url);
      return t.value('switchyard_ingest_jobs_total', { outcome: 'failed' }) === 2 ? t : null;
    }, 'two failed jobs counted');
    assert.is(after.value('switchyard_ingest_jobs_total', { outcome: 'done' }), 0);
    assert.is(after.value('switchyard_ingest_queue_pending'), 0);
    assert.is(after.value('switchyard_ingest_jobs_running'), 0);
  } finally {
    await server.stop();
    await worker.stop();
    await nc.close();
  }
});

w('signal: malformed and unknown-peer messages count as refused, nothing as relayed', async ({ env }) => {
  const { relay } = await env.startSwarmServices();
  const registry = createMetricsRegistry({ role: 'signal' });
  signalMetrics(relay, registry);
  const server = await startMetricsServer({ registry });
  try {
    const peer = await env.connectPeer('signaller');
    for (const body of ['not json', '{"kind":"offer"}']) {
      const reply = await peer.nc.request(Subjects.signal('signaller', 'someone'), new TextEncoder().encode(body));
      assert.match(new TextDecoder().decode(reply.data), /"error"/);
    }
    const t = await scrape(server.url);
    assert.is(t.value('switchyard_signal_refused_total', { reason: 'invalid' }), 2);
    assert.is(t.value('switchyard_signal_refused_total', { reason: 'rate_limited' }), 0);
    assert.is(t.value('switchyard_signal_relayed_total'), 0);
    assert.ok((t.value('nodejs_heap_size_used_bytes', { role: 'signal' }) ?? 0) > 0);
  } finally {
    await server.stop();
  }
});

w.run();
