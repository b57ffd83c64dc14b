/**
 * bench:live — a live `testsrc` stream at bit rate b through a whole local stack to N headless viewers that join at
 * once, with emulated bandwidth: origin egress u_s (gateway token bucket) and each viewer's upload u_i (token
 * bucket). Runs for a fixed time, ends the stream, and prints one JSON line (design brief §6):
 *   N, bitrate_Bps (measured: bytes produced / seconds produced), latency_ms_p50/p95 (segment complete at the
 *   packager → verified at a viewer, every viewer, segments produced after the viewers joined), stalls (a
 *   viewer's playhead ran out of buffer), p2p_share, origin_egress_over_stream, all_verified.
 * Defaults are the acceptance case: N=20, capacity 2, u_s = 2 b, u_i = 1.5 b.
 *   npm run -s bench:live -- [--viewers 20] [--capacity 2] [--bitrate-kbps 500] [--us-b 2] [--ui-b 1.5]
 *     [--seconds 40] [--mode low|default|p2p] [--urgent-b 0.5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOriginClient } from '../actors/origin/client.js';
import { createLivePackager } from '../actors/live/packager.js';
import { createNodeLiveViewer, type NodeLiveViewer } from '../client/live/node.js';
import { createRtcHost } from '../client/p2p/rtc.js';
import { startStack } from '../client/stack.js';
import { systemClock } from '../lib/clock.js';
import { sha256Hex } from '../lib/hash.js';
import { createLogger, type LogLevel } from '../lib/logger.js';
import { isLiveModeName, LiveModes, ServiceRoles } from '../protocol/mod.js';
import { gitCommit } from './lib/git.js';
import { percentile } from './lib/metrics.js';

const { values } = parseArgs({ options: {
  viewers: { type: 'string' }, capacity: { type: 'string' }, 'bitrate-kbps': { type: 'string' }, 'us-b': { type: 'string' },
  'ui-b': { type: 'string' }, seconds: { type: 'string' }, mode: { type: 'string' }, 'urgent-b': { type: 'string' },
} });
const N = Number(values.viewers ?? 20);
const capacity = Number(values.capacity ?? 2);
const kbps = Number(values['bitrate-kbps'] ?? 500);
const seconds = Number(values.seconds ?? 40);
const modeName = values.mode ?? 'default';
if (!isLiveModeName(modeName)) throw new Error(`--mode must be low, default or p2p`);
const mode = LiveModes[modeName];
/** nominal b in bytes/s: the caps are set from it (the measured rate is reported) */
const audioBps = 48_000;
const b = (kbps * 1000) / 8;
const us = Math.round(Number(values['us-b'] ?? 2) * b);
const ui = Math.round(Number(values['ui-b'] ?? 1.5) * b);
const urgentBps = Math.round(Number(values['urgent-b'] ?? 0.5) * b);
const logger = createLogger('bench', (process.env.SWITCHYARD_LOG as LogLevel | undefined) ?? 'error');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (line: string) => process.stderr.write(`${line}\n`);
const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

async function main() {
  const commit = gitCommit();
  const measuredAt = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-live-'));
  const stack = await startStack({ dataDir: join(dir, 'stack'), capacity, originRate: us, urgentBps, trackerIntervalMs: 1000 }, logger);
  const rtc = createRtcHost({ bindAddress: '127.0.0.1', logger });
  const viewers: NodeLiveViewer[] = [];
  try {
    const ingestNc = await stack.connectService(ServiceRoles.ingest, 'bench-live');
    const origin = createOriginClient(ingestNc);
    const packager = createLivePackager({ streamId: 'benchlive', input: { kind: 'testsrc' }, workDir: dir, dvrSec: 30,
      record: false, encoding: { durationSec: seconds + 4, videoBitrate: kbps * 1000 - audioBps, audioBitrate: audioBps } },
    { nc: ingestNc, store: stack.store, publish: (m) => origin.publish(m), clock: systemClock, logger });
    await packager.start();
    while ((packager.window()?.segments.length ?? 0) < 2) await sleep(50);
    progress(`stream up; N=${N} b=${b} B/s u_s=${us} u_i=${ui} capacity=${capacity} mode=${modeName}`);
    const joinedAt = Date.now();
    const cpu0 = process.cpuUsage();
    const corrupt: number[] = [];
    // production → verified, for segments produced after the viewers joined (the window they joined into is history)
    const latencies: number[] = [];
    await Promise.all(Array.from({ length: N }, async (_, i) => {
      const peer = await stack.connectPeer({ label: `v${i}` });
      const v = createNodeLiveViewer({ streamId: 'benchlive', peerId: peer.peerId, gatewayUrl: stack.gatewayUrl, mode,
        uploadRate: ui, bindAddress: '127.0.0.1' }, { nc: peer.nc, logger, rtc });
      v.on((e) => {
        if (e.type === 'segment.corrupt') corrupt.push(e.seq);
        if (e.type === 'segment.verified' && (v.info(e.seq)?.producedAt ?? 0) >= joinedAt) latencies.push(e.latencyMs);
      });
      viewers.push(v);
      await v.start();
    }));
    progress(`joined in ${Date.now() - joinedAt} ms`);
    const end = await packager.ended;
    const cpu = process.cpuUsage(cpu0);
    const cpuSelf = (cpu.user + cpu.system) / 1000 / Math.max(1, Date.now() - joinedAt);
    // the last segments still travel: give every viewer a moment to get them
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && !viewers.every((v) => v.held().includes(end.lastSeq))) await sleep(100);
    const w = packager.window()!;
    const produced = w.producedBytes;
    const producedSec = (w.segments[w.segments.length - 1]!.producedAt - w.startedAt) / 1000;
    const stats = viewers.map((v) => v.stats());
    let allVerified = corrupt.length === 0;
    let missing = 0;
    let wanted = 0;
    for (const v of viewers) {
      const held = new Set(v.held());
      const first = Math.min(...held);
      for (let seq = first; seq <= end.lastSeq; seq++) {
        wanted++;
        if (!held.has(seq)) missing++;
      }
      for (const seq of held) {
        const info = v.info(seq);
        if (!info || sha256Hex(v.segment(seq)!) !== info.sha256) allVerified = false;
      }
    }
    const bySource = stats.reduce((t, s) => ({ origin: t.origin + s.bySource.origin, urgent: t.urgent + s.bySource.urgent,
      peer: t.peer + s.bySource.peer }), { origin: 0, urgent: 0, peer: 0 });
    const received = bySource.origin + bySource.urgent + bySource.peer;
    const egress = stack.gateway.stats().chunkBytesTotal;
    const out = {
      bench: 'live', N, bitrate_Bps: Math.round(produced / Math.max(1, producedSec)), nominal_bitrate_Bps: b,
      u_s_Bps: us, u_i_Bps: ui, capacity, mode: modeName, seconds,
      latency_ms_p50: percentile(latencies, 50), latency_ms_p95: percentile(latencies, 95),
      stalls: stats.reduce((t, s) => t + s.playhead.stalls, 0),
      skips: stats.reduce((t, s) => t + s.playhead.skips, 0),
      p2p_share: r3(bySource.peer / Math.max(1, received)),
      origin_egress_over_stream: r3(egress / Math.max(1, produced)),
      urgent_bytes: bySource.urgent, missed_segments: missing, wanted_segments: wanted,
      playback_latency_ms_p50: percentile(stats.map((s) => s.playhead.latencyMs ?? NaN).filter(Number.isFinite), 50),
      all_verified: allVerified && missing === 0,
      /** this process (viewers, stack; not ffmpeg or nats-server): CPU seconds per wall second */
      cpu_self: r3(cpuSelf),
      git_commit: commit, measured_at: measuredAt,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await Promise.all(viewers.map((v) => v.stop().catch(() => {})));
    rtc.shutdown();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:live failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
