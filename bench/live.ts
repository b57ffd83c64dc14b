/**
 * bench:live — a live `testsrc` stream at bit rate b through a whole local stack to N headless viewers that join at
 * once, with emulated bandwidth: origin egress u_s (gateway token bucket) and each viewer's upload u_i (token
 * bucket). Runs for a fixed time, ends the stream, and prints one JSON line (design brief §6):
 *   N, bitrate_Bps (measured: bytes produced / seconds produced), latency_ms_p50/p95 (segment complete at the
 *   packager → verified at a viewer, every viewer, segments produced after the viewers joined), stalls (a
 *   viewer's playhead ran out of buffer), p2p_share, origin_egress_over_stream, all_verified.
 * Defaults are the acceptance case: N=20, capacity 2, u_s = 2 b, u_i = 1.5 b.
 *   npm run -s bench:live -- [--viewers 20] [--capacity 2] [--bitrate-kbps 500] [--us-b 2] [--ui-b 1.5]
 *     [--seconds 40] [--mode low|default|p2p] [--urgent-b 0]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeLiveViewer, type NodeLiveViewer } from '../client/live/node.js';
import { createRtcHost, type RtcHost } from '../client/p2p/rtc.js';
import { startStack, type Stack } from '../client/stack.js';
import { sha256Hex } from '../lib/hash.js';
import { createLogger, type LogLevel } from '../lib/logger.js';
import { isLiveModeName, LiveEvents, LiveModes, Subjects, type LiveEnd, type LiveWindow } from '../protocol/mod.js';
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
/** x264 under `maxrate` plus AAC plus the fMP4 boxes come out a few % above the nominal rate: aim a little lower */
const SOURCE_SHARE = 0.97;
const b = (kbps * 1000) / 8;
const us = Math.round(Number(values['us-b'] ?? 2) * b);
const ui = Math.round(Number(values['ui-b'] ?? 1.5) * b);
/**
 * the urgent share, as a multiple of b (default 0): at u_s = 2 b and two slots the origin's bandwidth is what its
 * slots may need, and urgent segments queued ahead of slot traffic delay the swarm's first hop
 */
const urgentBps = Math.round(Number(values['urgent-b'] ?? 0) * b);
const logger = createLogger('bench', (process.env.SWITCHYARD_LOG as LogLevel | undefined) ?? 'error');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (line: string) => process.stderr.write(`${line}\n`);
/** niceness of this process's main thread once the source runs (see main) */
const VIEWERS_NICE = 5;
const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

/** `switchyard live testsrc` as a child process: the stream's window through the stack's live directory. */
function startSource(stack: Stack) {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'client', 'cli.js');
  // the CLI adds 64 kbit/s of audio to `--bitrate`'s video share; x264 under maxrate comes out a little above
  const child = spawn(process.execPath, [cli, 'live', 'testsrc', '--name', 'benchlive', '--duration', String(seconds + 4),
    '--bitrate', String(Math.round(kbps * SOURCE_SHARE)), '--dvr', '30', '--no-record', '--json', '--store', stack.storeLocation,
    '--auth-dir', stack.auth.dir, '--nats', stack.natsUrl, '--gateway', stack.gatewayUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let exited = false;
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const ended = new Promise<LiveEnd>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        try {
          const e = JSON.parse(line) as { event?: string; streamId: string; lastSeq: number };
          if (e.event === 'ended') resolve({ streamId: e.streamId, lastSeq: e.lastSeq });
        } catch {
          // not JSON: ignored
        }
      }
    });
    child.once('exit', (code) => {
      exited = true;
      reject(new Error(`the live source exited (${code}) before its end: ${stderr}`));
    });
  });
  ended.catch(() => {});
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    ended,
    window: (): LiveWindow | undefined => stack.live.peek('benchlive'),
    exited: () => exited,
    stderr: () => stderr,
  };
}

async function main() {
  const commit = gitCommit();
  const measuredAt = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-live-'));
  const stack = await startStack({ dataDir: join(dir, 'stack'), capacity, originRate: us, urgentBps, trackerIntervalMs: 1000 }, logger);
  let rtc: RtcHost | null = null;
  const viewers: NodeLiveViewer[] = [];
  try {
    // The source runs as its own process (`switchyard live`, as an operator runs it) at the normal priority, and
    // this process (viewers and services) lowers its own: on one 2-core machine the viewers' join storm must not
    // stall the stream itself (in real life the encoder is on its own machine).
    const packager = startSource(stack);
    setPriority(VIEWERS_NICE);
    rtc = createRtcHost({ bindAddress: '127.0.0.1', logger });
    while ((packager.window()?.segments.length ?? 0) < 2) {
      if (packager.exited()) throw new Error(`the live source exited: ${packager.stderr()}`);
      await sleep(50);
    }
    progress(`stream up; N=${N} b=${b} B/s u_s=${us} u_i=${ui} capacity=${capacity} mode=${modeName}`);
    // how late the announcements themselves arrive (NATS under the swarm's load)
    const announceDelays: number[] = [];
    const annSub = stack.nc.subscribe(Subjects.live('benchlive', LiveEvents.segment), { callback: (_e, m) => {
      const seg = JSON.parse(new TextDecoder().decode(m.data)) as { producedAt: number };
      announceDelays.push(Date.now() - seg.producedAt);
    } });
    // every viewer's connection first (a credential and a NATS connection: what a page has before it plays), then
    // all of them join the stream at once
    const peers = await Promise.all(Array.from({ length: N }, (_, i) => stack.connectPeer({ label: `v${i}` })));
    const joinedAt = Date.now();
    const cpu0 = process.cpuUsage();
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const corrupt: number[] = [];
    // production → verified, for segments produced after each viewer joined (the window it joined into is history)
    const latencies: number[] = [];
    await Promise.all(peers.map(async (peer) => {
      const v = createNodeLiveViewer({ streamId: 'benchlive', peerId: peer.peerId, gatewayUrl: stack.gatewayUrl, mode,
        uploadRate: ui, bindAddress: '127.0.0.1' }, { nc: peer.nc, logger, rtc: rtc! });
      let joined = Infinity;
      v.on((e) => {
        if (e.type === 'segment.corrupt') corrupt.push(e.seq);
        if (e.type === 'segment.verified' && (v.info(e.seq)?.producedAt ?? 0) >= joined) latencies.push(e.latencyMs);
      });
      viewers.push(v);
      await v.start();
      joined = Date.now();
    }));
    progress(`joined in ${Date.now() - joinedAt} ms`);
    if (process.env.BENCH_DEBUG) {
      let last = '';
      const watch = setInterval(() => {
        const line = viewers.map((v) => v.stats().playhead.state[1]).join('');
        if (line !== last) progress(`  ${Date.now() - joinedAt} ms: ${line} edge=${packager.window()?.segments.at(-1)?.seq} ` +
          `at=${viewers.map((v) => v.stats().playhead.seq).join(',')}`);
        last = line;
      }, 50);
      void packager.ended.then(() => clearInterval(watch));
    }
    const end = await packager.ended;
    await sleep(300); // the last window write reaches the gateway's mirror
    annSub.unsubscribe();
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
    if (process.env.BENCH_DEBUG) {
      for (const [i, v] of viewers.entries()) {
        const st = stats[i]!;
        const sw = v.swarm.stats();
        progress(`v${i} admitted=${st.admitted} verified=${st.verified} src=${JSON.stringify(st.bySource)} up=${sw.uploadedBytes} ` +
          `links=${sw.links.length} open=${sw.links.filter((l) => l.state.includes('open')).length} ` +
          `lat50=${percentile(st.latenciesMs, 50)} play=${JSON.stringify(st.playhead)}`);
      }
    }
    const out = {
      bench: 'live', N, bitrate_Bps: Math.round(produced / Math.max(1, producedSec)), nominal_bitrate_Bps: b,
      u_s_over_b: r3(us / (produced / Math.max(1, producedSec))), u_i_over_b: r3(ui / (produced / Math.max(1, producedSec))),
      u_s_Bps: us, u_i_Bps: ui, capacity, mode: modeName, seconds, viewers_nice: VIEWERS_NICE,
      latency_ms_p50: percentile(latencies, 50), latency_ms_p95: percentile(latencies, 95),
      stalls: stats.reduce((t, s) => t + s.playhead.stalls, 0),
      skips: stats.reduce((t, s) => t + s.playhead.skips, 0),
      p2p_share: r3(bySource.peer / Math.max(1, received)),
      origin_egress_over_stream: r3(egress / Math.max(1, produced)),
      urgent_bytes: bySource.urgent, missed_segments: missing, wanted_segments: wanted,
      playback_latency_ms_p50: percentile(stats.map((s) => s.playhead.latencyMs ?? NaN).filter(Number.isFinite), 50),
      all_verified: allVerified,
      /** this process (viewers, stack; not ffmpeg or nats-server): CPU seconds per wall second */
      cpu_self: r3(cpuSelf),
      /** this process's event-loop delay during the run, ms (everything here waits behind it) */
      announce_delay_ms_p50: percentile(announceDelays, 50), announce_delay_ms_max: Math.max(...announceDelays),
      loop_delay_ms_p50: r3(lag.percentile(50) / 1e6), loop_delay_ms_p99: r3(lag.percentile(99) / 1e6),
      git_commit: commit, measured_at: measuredAt,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await Promise.all(viewers.map((v) => v.stop().catch(() => {})));
    rtc?.shutdown();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:live failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
