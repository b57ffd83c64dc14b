/**
 * The soak: a scaled deployment (infra/deployment.ts) and one long-running seeder process serve a swarm that
 * never settles. `concurrency` CLI clients download at any moment; each one that ends is replaced at once, and
 * some are killed half way (peers leaving abruptly). Every `sampleMs` the heap, RSS and open handles of every
 * long-running process are read from its Prometheus endpoint, each process having collected its garbage first
 * (started with --expose-gc for this bench only), so heap growth means live memory. Growth is measured from the
 * end of the warm-up to the end, each end the median of three samples.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { generateSampleVideo } from '../../client/media.js';
import { startDeployment } from '../../infra/deployment.js';
import { createLogger } from '../../lib/logger.js';
import { parsePrometheus } from '../../lib/metrics/mod.js';
import { openChunkStore } from '../../store/mod.js';
import { sha256File, startCli, type CliRun } from './cli.js';
import { median } from './metrics.js';

export interface SoakOptions {
  minutes: number;
  /** fraction of the run that is warm-up (default 0.2) */
  warmup?: number;
  concurrency?: number;
  /** share of clients killed half way (default 0.25) */
  killShare?: number;
  sampleMs?: number;
}

export interface ProcessSample { t_s: number; heap: number; rss: number; handles: number }

export interface SoakProcess {
  name: string;
  samples: ProcessSample[];
  heap_after_warmup: number;
  heap_end: number;
  rss_after_warmup: number;
  rss_end: number;
  handles_after_warmup: number;
  handles_end: number;
  heap_growth: number;
  rss_growth: number;
  handles_growth: number;
}

export interface SoakResult {
  minutes: number;
  processes: SoakProcess[];
  max_heap_growth: number;
  max_rss_growth: number;
  max_handles_growth: number;
  downloads_completed: number;
  downloads_killed: number;
  downloads_failed: number;
  all_verified: boolean;
}


async function scrape(url: string): Promise<Omit<ProcessSample, 't_s'> | null> {
  try {
    const m = parsePrometheus(await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) })).text());
    return { heap: m.value('nodejs_heap_size_used_bytes') ?? Number.NaN, rss: m.value('process_resident_memory_bytes') ?? Number.NaN,
      handles: m.value('nodejs_active_handles_total') ?? Number.NaN };
  } catch {
    return null; // a slow scrape is a missing sample, not a failed soak
  }
}

const growth = (from: number, to: number) => (from > 0 ? Number(((to - from) / from).toFixed(4)) : 0);

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const logger = createLogger('soak', 'warn');
  const dir = mkdtempSync(join(tmpdir(), 'sy-soak-'));
  // each process collects its garbage before a scrape: growth is then live memory, not a quiet process's garbage
  const deploy = await startDeployment({ capacity: 2, originWorkers: 2, gateways: 2, leaseTtlMs: 3000, trackerIntervalMs: 1000,
    gcBeforeScrape: true });
  const runs = new Set<CliRun>();
  let seeder: CliRun | null = null;
  try {
    const video = join(dir, 'source.mp4');
    await generateSampleVideo(video, { seconds: 8, kbps: 1500 });
    const store = await openChunkStore(deploy.storeDir);
    const origin = createOriginClient(await deploy.connectAdmin('soak-ingest'));
    const manifest = (await ingestFile({ path: video, stream: false }, { store, publish: (m) => origin.publish(m), logger })).manifest;
    await store.close();
    const sourceSha = sha256File(video);
    const gateways = deploy.gateways().map((g) => g.gatewayUrl!);
    seeder = startCli(['seed', manifest.videoId, '--file', video, '--json', '--metrics-port', '0', '--up-rate',
      String(manifest.size), '--nats', deploy.cluster.url, '--gateway', gateways[0]!, '--label', 'longseeder'],
    { timeoutMs: (opts.minutes * 60 + 120) * 1000, nodeArgs: ['--expose-gc'], env: { SWITCHYARD_METRICS_GC: '1' } });
    const seederStarted = Date.now();
    while (!seeder.events.some((e) => e.event === 'seeding') && Date.now() - seederStarted < 30_000) await new Promise((r) => setTimeout(r, 100));
    const seederMetrics = seeder.events.find((e) => e.event === 'seeding')?.metrics as string | undefined;
    if (!seederMetrics) throw new Error(`the seeder did not start: ${seeder.stderr()}`);
    const watched = [...deploy.workers.values()].map((w) => ({ name: w.name, url: w.metricsUrl! }))
      .concat([{ name: 'seeder', url: seederMetrics }]);
    const samples = new Map<string, ProcessSample[]>(watched.map((w) => [w.name, []]));
    const started = Date.now();
    const endAt = started + opts.minutes * 60_000;
    let n = 0;
    const tally = { completed: 0, killed: 0, failed: 0, verified: true };
    const startClient = () => {
      const i = n++;
      const out = join(dir, `c${i}.mp4`);
      const run = startCli(['get', manifest.videoId, '-o', out, '--json', '--rate', String(Math.ceil(manifest.size / 3)),
        '--nats', deploy.cluster.url, '--gateway', gateways[i % gateways.length]!, '--label', `soak${i}`], { timeoutMs: 120_000 });
      runs.add(run);
      const kill = Math.random() < (opts.killShare ?? 0.25);
      const timer = kill ? setTimeout(() => run.child.kill('SIGKILL'), 1500 + Math.random() * 1500) : null;
      void run.exited.then((code) => {
        if (timer) clearTimeout(timer);
        runs.delete(run);
        if (code === 0) {
          tally.completed++;
          if (sha256File(out) !== sourceSha) tally.verified = false;
        } else if (run.child.signalCode === 'SIGKILL') tally.killed++;
        else tally.failed++;
        rmSync(out, { force: true });
        rmSync(`${out}.part`, { recursive: true, force: true });
        if (Date.now() < endAt) startClient();
      });
    };
    for (let i = 0; i < (opts.concurrency ?? 4); i++) startClient();
    const sampleMs = opts.sampleMs ?? 10_000;
    while (Date.now() < endAt) {
      await new Promise((r) => setTimeout(r, sampleMs));
      const t_s = Math.round((Date.now() - started) / 1000);
      await Promise.all(watched.map(async (w) => {
        const s = await scrape(w.url);
        if (s) samples.get(w.name)!.push({ t_s, ...s });
      }));
    }
    await Promise.all([...runs].map((r) => r.exited));
    const warmS = opts.minutes * 60 * (opts.warmup ?? 0.2);
    const processes = watched.map((w): SoakProcess => {
      const all = samples.get(w.name)!;
      const after = all.filter((s) => s.t_s >= warmS);
      const head = after.slice(0, 3);
      const tail = after.slice(-3);
      const at = (xs: ProcessSample[], k: 'heap' | 'rss' | 'handles') => median(xs.map((x) => x[k]));
      const p = { heap_after_warmup: at(head, 'heap'), heap_end: at(tail, 'heap'), rss_after_warmup: at(head, 'rss'),
        rss_end: at(tail, 'rss'), handles_after_warmup: at(head, 'handles'), handles_end: at(tail, 'handles') };
      return { name: w.name, samples: all, ...p, heap_growth: growth(p.heap_after_warmup, p.heap_end),
        rss_growth: growth(p.rss_after_warmup, p.rss_end), handles_growth: growth(p.handles_after_warmup, p.handles_end) };
    });
    return {
      minutes: opts.minutes, processes,
      max_heap_growth: Math.max(...processes.map((p) => p.heap_growth)),
      max_rss_growth: Math.max(...processes.map((p) => p.rss_growth)),
      max_handles_growth: Math.max(...processes.map((p) => p.handles_growth)),
      downloads_completed: tally.completed, downloads_killed: tally.killed, downloads_failed: tally.failed,
      all_verified: tally.verified && tally.failed === 0 && tally.completed > 0,
    };
  } finally {
    for (const r of runs) r.child.kill('SIGKILL');
    if (seeder) {
      seeder.child.kill('SIGTERM');
      await seeder.exited;
    }
    await deploy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
