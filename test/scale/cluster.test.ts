/**
 * Scale-out acceptance: a 3-node NATS cluster (JetStream replicas 3), two gateways and three origin workers as
 * separate processes serve one swarm of real CLI clients. The capacity is global (never more slot leases than
 * it, whichever worker granted them, whichever gateway served the bytes), and an origin worker added and another
 * one stopped mid-run change nothing for the clients: none fails, none has to re-open, all bytes identical.
 */
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { generateSampleVideo } from '../../client/media.js';
import { startDeployment, type Deployment } from '../../infra/deployment.js';
import { createLogger } from '../../lib/logger.js';
import { Buckets, type Manifest } from '../../protocol/mod.js';
import { openChunkStore } from '../../store/mod.js';
import { sha256File, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/env.js';

const CAPACITY = 2;
const CLIENTS = 6;
const t = suite<{ deploy: Deployment; dir: string; video: string; manifest: Manifest }>('scale: cluster, gateways and workers');

t.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'sy-scale-'));
  ctx.deploy = await startDeployment({ capacity: CAPACITY, originWorkers: 3, gateways: 2, leaseTtlMs: 3000, trackerIntervalMs: 1000 });
  ctx.video = join(ctx.dir, 'testsrc.mp4');
  await generateSampleVideo(ctx.video, { seconds: 12, kbps: 2000 });
  const store = await openChunkStore(ctx.deploy.storeDir);
  const nc = await ctx.deploy.connectAdmin('ingest-tool');
  const origin = createOriginClient(nc);
  ctx.manifest = (await ingestFile({ path: ctx.video, stream: false }, { store, publish: (m) => origin.publish(m),
    logger: createLogger('ingest') })).manifest;
  await store.close();
});
t.after(async ({ deploy, dir }) => {
  await deploy?.stop();
  rmSync(dir, { recursive: true, force: true });
});

t('the JetStream state is replicated on the three nodes', async ({ deploy }) => {
  const jsm = await jetstreamManager(await deploy.connectAdmin());
  for (const bucket of [Buckets.admission, Buckets.catalog, Buckets.swarm]) {
    const info = await jsm.streams.info(`KV_${bucket}`);
    assert.is(info.config.num_replicas, 3, bucket);
    assert.is((info.cluster?.replicas?.length ?? 0) + 1, 3, `${bucket} has a leader and two replicas`);
  }
});

t('two gateways, three origin workers, one swarm: capacity is global; a worker added and one removed mid-run change nothing', async (ctx) => {
  const { deploy, manifest } = ctx;
  const kv = await new Kvm(await deploy.connectAdmin('observer')).open(Buckets.admission);
  const live = new Set<string>();
  let maxLive = 0;
  const watcher = await kv.watch({ key: 'slot.>' });
  void (async () => {
    for await (const e of watcher) {
      if (e.operation === 'PUT') live.add(e.key);
      else live.delete(e.key);
      maxLive = Math.max(maxLive, live.size);
    }
  })();
  const [g0, g1] = deploy.gateways();
  // each client is slowed so the run lasts long enough for the worker changes to land in the middle of it
  const rate = String(Math.ceil(manifest.size / 5));
  const runs = Array.from({ length: CLIENTS }, (_, i) => startCli(['get', manifest.videoId, '-o', join(ctx.dir, `c${i}.mp4`),
    '--json', '--rate', rate, '--nats', deploy.cluster.url, '--gateway', (i % 2 ? g1 : g0)!.gatewayUrl!, '--label', `c${i}`],
  { timeoutMs: 90000 }));
  await waitFor(() => runs.some((r) => r.events.some((e) => e.event === 'state' && e.state === 'active.p2p')),
    'a client sent to the swarm (the origin is full)', 30000);
  const added = await deploy.startWorker('origin-3', ['origin']);
  const removed = deploy.origins().find((w) => w.name === 'origin-0')!;
  await removed.stop();
  assert.is(await removed.exited, 0, `origin-0 left cleanly: ${removed.stderr().slice(-1000)}`);
  const codes = await Promise.all(runs.map((r) => r.exited));
  watcher.stop();
  for (const [i, c] of codes.entries()) assert.is(c, 0, runs[i]!.stderr());
  for (let i = 0; i < CLIENTS; i++) assert.is(sha256File(join(ctx.dir, `c${i}.mp4`)), sha256File(ctx.video), `client ${i}`);
  assert.ok(maxLive > 0 && maxLive <= CAPACITY, `at most ${CAPACITY} slot leases at once across all workers (saw ${maxLive})`);
  for (const [i, r] of runs.entries()) {
    const states = r.events.filter((e) => e.event === 'state').map((e) => String(e.state));
    assert.is(states.filter((s) => s === 'opening').length, 1, `client ${i} opened once: ${states.join(' → ')}`);
    assert.not.ok(states.includes('failed'), `client ${i} never failed`);
  }
  const sources = runs.map((r) => r.events.find((e) => e.event === 'done')?.bytesBySource as Record<string, number>);
  const origin = sources.reduce((s, b) => s + (b.origin ?? 0), 0);
  const peers = sources.reduce((s, b) => s + Object.entries(b).filter(([k]) => k !== 'origin').reduce((a, [, v]) => a + v, 0), 0);
  assert.ok(peers > 0, 'clients served each other');
  assert.ok(origin < CLIENTS * manifest.size, 'the origin did not send every client the whole file');
  // both gateways served chunk bytes (the clients were split between them)
  for (const g of [g0!, g1!]) {
    const text = await (await fetch(`${g.gatewayUrl}/metrics`)).text();
    const served = Number(/^switchyard_gateway_chunk_bytes_total (\d+)/m.exec(text)?.[1] ?? 0);
    assert.ok(served > 0, `${g.name} served chunk bytes`);
  }
  assert.ok(deploy.workers.has(added.name), 'the added worker still runs');
});

t.run();
