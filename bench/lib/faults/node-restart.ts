/**
 * The regression check of the admission bug after a NATS node restart (found and fixed 2026-11-29, issue 10):
 * `node dist/bench/lib/faults/node-restart.js`. A scaled deployment runs a crowd, a crowd during which one NATS
 * node of three is killed (restarted after it), then three more crowds, dumping `sy_admission` and the origin
 * workers' slot and wait gauges after each. Before the fix, in 3 of 4 sittings: within two crowds after the
 * restart, two `slot.<i>` leases stayed in the bucket long after they expired, their holders were also on the
 * wait list, the old workers never swept them and every later client waited until killed (an origin worker
 * started afresh swept them at once). The cause: KV reads were direct gets, which any replica may answer,
 * including the restarted one still catching up; stale answers went into the workers' mirrors. Reads now go to
 * the stream leader (lib/kv/buckets.ts). Exits 1 when some crowd failed.
 *
 * Found 2026-11-30 with the node killed while no crowd ran (the fault campaign then injected every fault after its
 * crowd): in 3 of 4 sittings the crowds after the restart took 2–3 × as long or failed, and some origin workers
 * answered every heartbeat `unknown_session`. nats-server 2.9.10 acknowledged every write 4–5 revisions ahead of
 * what the leader's reads returned, and the watches numbered like the acknowledgements; the workers' mirrors took
 * those revisions, so each compare-and-set at them failed and a fresh read could not correct them. Written
 * entries are provisional now and reads replace entries (lib/kvmirror.ts). The idle kill runs first for that.
 */
import { Kvm } from '@nats-io/kv';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOriginClient } from '../../../actors/origin/client.js';
import { ingestFile } from '../../../actors/ingest/ingest.js';
import { generateSampleVideo } from '../../../client/media.js';
import { startDeployment } from '../../../infra/deployment.js';
import { createLogger } from '../../../lib/logger.js';
import { Buckets } from '../../../protocol/mod.js';
import { openChunkStore } from '../../../store/mod.js';
import { sha256File } from '../cli.js';
import { runFaultCrowd } from './crowd.js';

const logger = createLogger('node-restart', 'warn');
const dir = mkdtempSync(join(tmpdir(), 'sy-noderestart-'));
const deploy = await startDeployment({ capacity: 2, originWorkers: 3, gateways: 2, leaseTtlMs: 3000, trackerIntervalMs: 1000 });
let failed = false;
try {
  const video = join(dir, 'v.mp4');
  await generateSampleVideo(video, { seconds: 12, kbps: 2000 });
  const store = await openChunkStore(deploy.storeDir);
  const admin = await deploy.connectAdmin('node-restart');
  const manifest = (await ingestFile({ path: video, stream: false }, { store, publish: (m) => createOriginClient(admin).publish(m), logger })).manifest;
  await store.close();
  const kv = await new Kvm(admin).open(Buckets.admission);
  const dump = async (tag: string) => {
    const lines: string[] = [];
    try {
      for await (const k of await kv.keys()) {
        if (k.startsWith('slot.') || k.startsWith('wait.')) lines.push(`${k} ${(await kv.get(k))?.string().slice(0, 100)}`);
      }
    } catch (err) {
      lines.push(`(bucket unreadable: ${(err as Error).message})`);
    }
    for (const w of deploy.origins()) {
      const text = await (await fetch(`${w.metricsUrl}/metrics`)).text();
      lines.push(`${w.name} ${text.split('\n').filter((l) => /^switchyard_origin_(slots_held|waiting) /.test(l)).join(' ')}`);
    }
    process.stdout.write(`--- ${tag}\n${lines.sort().join('\n')}\n`);
  };
  const crowd = async (name: string, fault?: Parameters<typeof runFaultCrowd>[1]) => {
    const o = await runFaultCrowd({ deploy, manifest, sourceSha256: sha256File(video), dir, name, clients: 6,
      rateBps: Math.ceil(manifest.size / 4), timeoutMs: 60_000 }, fault);
    const ok = o.clients.filter((c) => c.identical).length;
    if (ok < o.clients.length) failed = true;
    process.stdout.write(`${name}: ${ok}/${o.clients.length} complete in ${o.durationS.toFixed(1)} s\n`);
    await dump(`after ${name}`);
  };
  await crowd('before');
  // first while idle (the case of 2026-11-30, below), then mid-crowd (the case of 2026-11-29)
  const node = deploy.cluster.nodes[1]!;
  await node.pause();
  await new Promise((r) => setTimeout(r, 3000));
  await node.resume();
  await deploy.cluster.ready();
  for (const n of ['idle1', 'idle2']) await crowd(n);
  await crowd('node', async (c) => {
    await c.deploy.cluster.nodes[1]!.pause();
    return {};
  });
  await node.resume();
  await deploy.cluster.ready();
  for (const n of ['after1', 'after2', 'after3']) await crowd(n);
  for (const w of deploy.origins()) process.stdout.write(`=== ${w.name}\n${w.stderr().split('\n').slice(-10).join('\n')}\n`);
} finally {
  await deploy.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
