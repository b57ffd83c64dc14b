/**
 * The fault campaign: one scaled deployment (3 NATS nodes, 3 origin workers, 2 gateways, as processes), one
 * video, a baseline crowd without faults, then one crowd per fault. Per fault: downloads completed among the
 * survivors, bytes re-fetched that a client had already verified and written, time added over the baseline,
 * and corrupt files. Used by `bench:faults` (all faults, one JSON line) and test/scale/faults.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOriginClient } from '../../../actors/origin/client.js';
import { ingestFile } from '../../../actors/ingest/ingest.js';
import { generateSampleVideo } from '../../../client/media.js';
import { createRtcHost, type RtcHost } from '../../../client/p2p/rtc.js';
import { startDeployment, type Deployment } from '../../../infra/deployment.js';
import { minterFor } from '../../../infra/peercreds.js';
import { createLogger } from '../../../lib/logger.js';
import type { Manifest } from '../../../protocol/mod.js';
import { openChunkStore } from '../../../store/mod.js';
import { sha256File } from '../cli.js';
import { runFaultCrowd, type CrowdOutcome } from './crowd.js';
import { FAULTS, type Fault, type FaultKit } from './scenarios.js';

/** One fault's figures, with the keys of brief §6. */
export interface FaultFigures {
  name: string;
  /** survivors whose download completed byte-identical */
  completed: number;
  /** survivors (clients the fault did not kill for good) */
  clients: number;
  refetched_bytes: number;
  added_s: number;
  /** survivors that ended with a file that is not the source, or no file */
  corrupt: number;
  duration_s: number;
  detail: Record<string, unknown>;
  /** why survivors failed, when some did */
  failures?: string[];
  /** per survivor: seconds to exit and its states (with --verbose) */
  timeline?: Array<{ label: string; seconds: number; states: string[] }>;
}

export interface CampaignOptions {
  /** run only faults whose name contains one of these */
  only?: string[];
  clients?: number;
  /** the sample video's length (s) and bit rate (kbit/s) */
  seconds?: number;
  kbps?: number;
  /** each client's download cap as a fraction of the file per second (default 0.25: ≥ 4 s per download) */
  ratePerSecond?: number;
  logger?: ReturnType<typeof createLogger>;
  /** add each survivor's timeline to the figures */
  verbose?: boolean;
  /** run the warm-up and baseline crowds (default true); without them `added_s` is the whole crowd's time */
  baseline?: boolean;
}

export interface CampaignResult {
  baseline_s: number;
  faults: FaultFigures[];
}

function figures(o: CrowdOutcome, baselineS: number, verbose: boolean): FaultFigures {
  const survivors = o.clients.filter((c) => c.survivor);
  const failures = survivors.filter((c) => !c.identical).map((c) => `${c.label}: exit ${c.exitCode} ${c.stderrTail ?? ''}`.trim());
  return {
    name: o.name,
    completed: survivors.filter((c) => c.identical).length,
    clients: survivors.length,
    refetched_bytes: survivors.reduce((s, c) => s + c.refetchedBytes, 0),
    added_s: Number((o.durationS - baselineS).toFixed(2)),
    corrupt: survivors.filter((c) => c.exitCode === 0 && !c.identical).length,
    duration_s: Number(o.durationS.toFixed(2)),
    detail: o.detail,
    ...(failures.length ? { failures } : {}),
    ...(verbose ? { timeline: survivors.map((c) => ({ label: c.label, seconds: c.seconds, states: c.states })) } : {}),
  };
}

export async function runCampaign(opts: CampaignOptions = {}): Promise<CampaignResult> {
  const logger = opts.logger ?? createLogger('faults', 'warn');
  const dir = mkdtempSync(join(tmpdir(), 'sy-faults-'));
  let deploy: Deployment | null = null;
  const rtc: { host: RtcHost | null } = { host: null };
  try {
    deploy = await startDeployment({ capacity: 2, originWorkers: 3, gateways: 2, leaseTtlMs: 3000, trackerIntervalMs: 1000 });
    const videoPath = join(dir, 'source.mp4');
    await generateSampleVideo(videoPath, { seconds: opts.seconds ?? 12, kbps: opts.kbps ?? 2000 });
    const manifest: Manifest = await (async () => {
      const store = await openChunkStore(deploy!.storeDir);
      try {
        const origin = createOriginClient(await deploy!.connectAdmin('faults-ingest'));
        return (await ingestFile({ path: videoPath, stream: false }, { store, publish: (m) => origin.publish(m), logger })).manifest;
      } finally {
        await store.close();
      }
    })();
    const sourceSha256 = sha256File(videoPath);
    const kit: FaultKit = {
      videoPath, logger, minter: minterFor(deploy.cluster.auth),
      rtc: () => (rtc.host ??= createRtcHost({ bindAddress: '127.0.0.1', logger: logger.child('rtc') })),
    };
    const crowd = (name: string, fault?: Fault) => runFaultCrowd({
      deploy: deploy!, manifest, sourceSha256, dir, name, clients: opts.clients ?? 6,
      rateBps: Math.ceil(manifest.size * (opts.ratePerSecond ?? 0.25)),
    }, fault ? (c) => fault.inject(kit, c) : undefined);
    let baselineS = 0;
    if (opts.baseline !== false) {
      // the first crowd after start-up pays for cold caches and JIT: a warm-up crowd, then the baseline
      await crowd('warmup');
      const baseline = await crowd('baseline');
      if (baseline.clients.some((c) => !c.identical)) {
        throw new Error(`the baseline crowd failed: ${JSON.stringify(baseline.clients.filter((c) => !c.identical))}`);
      }
      baselineS = baseline.durationS;
    }
    const selected = FAULTS.filter((f) => !opts.only?.length || opts.only.some((s) => f.name.includes(s)));
    const faults: FaultFigures[] = [];
    for (const fault of selected) {
      const cleanup = fault.before ? await fault.before(kit, { deploy, manifest }) : null;
      try {
        faults.push(figures(await crowd(fault.name, fault), baselineS, opts.verbose === true));
      } finally {
        await cleanup?.();
      }
    }
    return { baseline_s: Number(baselineS.toFixed(2)), faults };
  } finally {
    rtc.host?.shutdown();
    await deploy?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
