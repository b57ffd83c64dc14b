/**
 * bench:swarm — a flash crowd with bandwidth emulation (design brief §4, §6): N clients start at the same instant
 * against a stack whose origin egress is capped at u_s (token bucket on the gateway's chunk bytes), each client
 * uploading at most u_i; everyone seeds until the last one is done. The clients run in `--procs` child processes
 * (default 2; 0: in this process, beside the stack). Distribution time is
 * compared with the fluid bounds D_p2p and D_cs for the same parameters (lib/bounds.ts).
 *
 *   npm run -s bench:swarm -- [--peers 10] [--size-mib 32] [--origin-up-mibps 4] [--peer-up-mibps 1]
 *       [--policy swarm-aware|server-first] [--capacity N] [--down-mibps D] [--chunk-kib 256] [--timeout-s T]
 *       [--egress-target E] [--timeline FILE.csv] [--mtu 4000|0] [--procs 2]
 *   npm run -s bench:swarm -- --sweep [--out bench/out] [same parameters]
 *
 * Prints one JSON line, last on stdout. `--sweep` measures the operator's knob along the cost/time frontier
 * (swarm-aware, capacity N, `--egress-target` E ∈ {1, 1.5, 2, 3}, and without a target) beside its ends
 * (server-first, capacity N; swarm-aware, capacity 1) and writes `<out>/swarm-sweep.csv` and
 * `<out>/swarm-sweep.svg` (origin egress / F against distribution time / D_p2p, with the fluid bound for each
 * egress drawn as a curve); its JSON line is `{ bench, sweep: [rows], csv, svg }`. Progress goes to stderr.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRtcHost, LOOPBACK_MTU } from '../client/p2p/rtc.js';
import { createLogger, type LogLevel } from '../lib/logger.js';
import type { OriginPolicy } from '../protocol/mod.js';
import { gitCommit } from './lib/git.js';
import { egressBound, fluidBounds } from '../lib/bounds.js';
import { countSwitches, percentile, runCrowd, writeRandomFile, type CrowdOptions, type CrowdResult } from './lib/crowd.js';
import { FETCH_MODES } from './lib/metrics.js';
import { idealChunkSchedule } from './lib/ideal.js';
import { plotSvg } from './lib/plot.js';
import { timelineCsv } from './lib/timeline.js';

const { values } = parseArgs({
  options: {
    peers: { type: 'string' }, 'size-mib': { type: 'string' }, 'origin-up-mibps': { type: 'string' },
    'peer-up-mibps': { type: 'string' }, policy: { type: 'string' }, capacity: { type: 'string' },
    'down-mibps': { type: 'string' }, 'chunk-kib': { type: 'string' }, 'timeout-s': { type: 'string' },
    sweep: { type: 'boolean' }, out: { type: 'string' }, timeline: { type: 'string' }, 'egress-target': { type: 'string' },
    mtu: { type: 'string' }, procs: { type: 'string' },
  },
});
const MiB = 1024 * 1024;
const num = (name: string, v: string | undefined, dflt: number, check: (x: number) => boolean = (x) => x > 0) => {
  const x = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(x) || !check(x)) throw new Error(`--${name}: bad value ${v}`);
  return x;
};
const N = num('peers', values.peers, 10, (x) => Number.isInteger(x) && x >= 1);
const F = Math.round(num('size-mib', values['size-mib'], 32) * MiB);
const us = num('origin-up-mibps', values['origin-up-mibps'], 4) * MiB;
const ui = num('peer-up-mibps', values['peer-up-mibps'], 1) * MiB;
const di = values['down-mibps'] === undefined ? undefined : num('down-mibps', values['down-mibps'], 0) * MiB;
const chunkSize = values['chunk-kib'] === undefined ? undefined : Math.round(num('chunk-kib', values['chunk-kib'], 256) * 1024);
const timeoutMs = values['timeout-s'] === undefined ? undefined : num('timeout-s', values['timeout-s'], 0) * 1000;
const policyArg = values.policy ?? 'swarm-aware';
if (policyArg !== 'swarm-aware' && policyArg !== 'server-first') throw new Error('--policy: server-first or swarm-aware');
const policy: OriginPolicy = policyArg;
const capacity = num('capacity', values.capacity, N, (x) => Number.isInteger(x) && x >= 0);
const egressTarget = values['egress-target'] === undefined ? undefined : num('egress-target', values['egress-target'], 1, (x) => x >= 1);
// every link is on 127.0.0.1: packets as large as loopback allows (rtc.ts LOOPBACK_MTU), so the transport's
// per-packet CPU does not stand in for bandwidth when N peers share this machine's cores; 0: libdatachannel's own
const mtu = num('mtu', values.mtu, LOOPBACK_MTU, (x) => Number.isInteger(x) && x >= 0);
// the emulated peers out of the stack's process, as on their own machines: two processes share this machine's
// two cores with the stack and the nats-server (one event loop for all of them measured the loop, not the swarm)
const procs = num('procs', values.procs, 2, (x) => Number.isInteger(x) && x >= 0);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = values.out ? resolve(values.out) : join(root, 'bench', 'out');
const logger = createLogger('bench', (process.env.SWITCHYARD_LOG as LogLevel | undefined) ?? 'error');

const r3 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);
const r1 = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);

/**
 * The run against its zero-overhead chunk-level schedule: what the grain of the chunks costs by itself, so the rest
 * of the gap to the fluid bound is this system's overhead. Only for the model's crowd: capacity 1, swarm-aware, one
 * copy, every client with the same upload and no download cap.
 */
function chunkSchedule(r: CrowdResult) {
  const uniform = r.ui.every((u) => u === r.ui[0]);
  if (r.capacity !== 1 || r.policy !== 'swarm-aware' || r.egressTarget !== undefined || !uniform || r.di) {
    return { D_chunk_schedule_s: null, ratio_D_chunk_schedule: null };
  }
  const s = idealChunkSchedule({ N: r.N, F: r.F, chunkBytes: r.chunkSize, us: r.us, ui: r.ui[0]! });
  return { D_chunk_schedule_s: r3(s.D_s), ratio_D_chunk_schedule: r3(r.D_s / s.D_s) };
}

/** The §6 figures of one crowd (and a few more). */
function figures(r: CrowdResult) {
  const received = r.clients.reduce((a, c) => a + c.fromOrigin + c.fromPeers, 0);
  const byDone = [...r.clients].sort((a, b) => (a.doneMs ?? Infinity) - (b.doneMs ?? Infinity));
  return {
    N: r.N, F_bytes: r.F, u_s_Bps: r.us, u_i_Bps: r.ui[0] ?? 0, policy: r.policy, capacity: r.capacity,
    egress_target: r.egressTarget ?? null,
    D_s: r3(r.D_s), median_s: r3(r.median_s), D_p2p_s: r3(r.D_p2p_s), D_cs_s: r3(r.D_cs_s),
    ratio_D_p2p: r3(r.D_s / r.D_p2p_s),
    // the fluid bound for the egress this run spent (lib/bounds.ts egressBound), and how far from it
    D_bound_egress_s: r3(r.D_egress_s),
    ratio_D_bound_egress: r3(r.D_s / r.D_egress_s),
    // the same crowd as a zero-overhead chunk-level schedule (bench/lib/ideal.ts; capacity 1 only), and how far from it
    ...chunkSchedule(r),
    origin_egress_over_F: r3(r.originEgressBytes / r.F),
    p2p_share: r3(r.p2pShare),
    switches: r.switches,
    // the acceptance figure: per client, then the median over clients
    switches_per_client_p50: percentile(r.clients.map((c) => countSwitches(c.history)), 50),
    // peers' upload actually used over the crowd: Σ uploaded / (Σ u_i × D)
    upload_busy: r3(r.clients.reduce((a, c) => a + c.uploadedBytes, 0) / (r.ui.reduce((a, u) => a + u, 0) * r.wallMs / 1000)),
    resume_latency_ms_p50: r1(percentile(r.resumeLatencyMs, 50)),
    setup_ms_p50: r1(percentile(r.setupMs, 50)), setup_ms_p99: r1(percentile(r.setupMs, 99)),
    cpu_busy: r3(r.cpu.busy),
    all_verified: r.allVerified,
    // more
    ratio_D_cs: r3(r.D_s / r.D_cs_s),
    d_i_Bps: r.di?.[0] ?? null,
    chunk_bytes: r.chunkSize,
    origin_egress_bytes: r.originEgressBytes,
    // origin bytes no client kept (aborted or duplicate fetches)
    origin_unused_bytes: r.originEgressBytes - r.clients.reduce((a, c) => a + c.fromOrigin, 0),
    origin_responses: r.originResponses,
    origin_decisions: r.originDecisions,
    received_bytes: received,
    // every client's done time, s, in order (the tail's shape), and the links each of them opened or accepted
    done_s_sorted: byDone.map((c) => (c.doneMs === null ? null : r3(c.doneMs / 1000))),
    links_by_done: byDone.map((c) => c.setupMs.length),
    resume_samples: r.resumeLatencyMs.length,
    resume_latency_ms_max: r1(Math.max(...r.resumeLatencyMs)),
    setup_samples: r.setupMs.length,
    cpu_self: r3(r.cpu.self), cpu_nats: r.cpu.nats === null ? null : r3(r.cpu.nats),
    cpu_clients: r.cpu.children === null ? null : r3(r.cpu.children), cores: r.cpu.cores,
    cpu_steal: r.cpu.steal === null ? null : r3(r.cpu.steal),
    completed: r.clients.filter((c) => c.status === 'complete').length,
    timed_out: r.timedOut,
    wall_s: r3(r.wallMs / 1000),
    statuses: [...new Set(r.clients.map((c) => c.status))],
  };
}
type Row = ReturnType<typeof figures>;

/** `--sweep`: the egress targets measured (× F), and the points of the fluid bound drawn beside them */
const SWEEP_TARGETS = [1, 1.5, 2, 3];
const FRONTIER_E = Array.from({ length: 41 }, (_, i) => 1 + i * 0.1);

const CSV_KEYS = ['policy', 'capacity', 'egress_target', 'N', 'F_bytes', 'u_s_Bps', 'u_i_Bps', 'D_s', 'median_s', 'D_p2p_s',
  'D_cs_s', 'D_bound_egress_s', 'ratio_D_p2p', 'ratio_D_bound_egress', 'origin_egress_over_F', 'p2p_share', 'switches',
  'switches_per_client_p50', 'upload_busy', 'resume_latency_ms_p50', 'setup_ms_p50',
  'setup_ms_p99', 'cpu_busy', 'cpu_steal', 'all_verified', 'completed', 'timed_out', 'wall_s'] as const;

function toCsv(rows: Row[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return [CSV_KEYS.join(','), ...rows.map((r) => CSV_KEYS.map((k) => cell(r[k])).join(','))].join('\n') + '\n';
}

function progress(line: string) {
  process.stderr.write(`bench:swarm ${line}\n`);
}

/** Says so when the VM lost CPU to other guests during a crowd: every timing here is CPU-bound on a small machine. */
function warnSteal(steal: number | null) {
  if (steal !== null && steal > 0.02) {
    progress(`warning: the hypervisor took ${(steal * 100).toFixed(1)} % of the machine's CPU during the crowd ` +
      '(cpu_steal): its timings are not comparable with runs at 0 %');
  }
}

async function main() {
  const commit = gitCommit();
  const measuredAt = new Date().toISOString();
  // in-process clients only: one host for every crowd of the sweep (node-datachannel's teardown is process-wide)
  const rtc = procs === 0 ? createRtcHost({ bindAddress: '127.0.0.1', ...(mtu ? { mtu } : {}), logger }) : null;
  const tmp = mkdtempSync(join(tmpdir(), 'sy-bench-swarm-'));
  process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const base: Omit<CrowdOptions, 'policy' | 'capacity'> = {
    N, F, us, ui, logger, procs, mtu, ...(rtc ? { rtc } : {}),
    ...(di ? { di } : {}), ...(chunkSize ? { chunkSize } : {}), ...(timeoutMs ? { timeoutMs } : {}),
    onPhase: (p, ms) => progress(`${p} (${(ms / 1000).toFixed(1)} s)`),
    onClientDone: (c) => progress(`  ${c.peerId} ${c.status} at ${((c.doneMs ?? NaN) / 1000).toFixed(2)} s ` +
      `(${c.history.map((h) => h.mode).filter((m) => FETCH_MODES.has(m)).join(' → ')})`),
  };
  try {
    if (!values.sweep) {
      progress(`N=${N} F=${F} u_s=${us} u_i=${ui} policy=${policy} capacity=${capacity}` +
        (egressTarget !== undefined ? ` egress-target=${egressTarget}` : ''));
      const r = await runCrowd({ ...base, policy, capacity, ...(egressTarget !== undefined ? { egressTarget } : {}) });
      if (values.timeline) writeFileSync(values.timeline, timelineCsv(r.timeline)); // --timeline FILE
      warnSteal(r.cpu.steal);
      process.stdout.write(JSON.stringify({ bench: 'swarm', ...figures(r), rtc_mtu: mtu || null, client_procs: procs, git_commit: commit,
        measured_at: measuredAt }) + '\n');
      return;
    }
    // one source file for the whole sweep
    const file = join(tmp, 'video.bin');
    await writeRandomFile(file, F);
    // the knob (swarm-aware at a generous capacity, egress target E) and the two ends it sits between: the
    // client-server end (server-first, every client admitted) and one slot taken in turns (capacity 1)
    const runs: Array<{ policy: OriginPolicy; capacity: number; egressTarget?: number }> = [
      { policy: 'server-first', capacity: N },
      { policy: 'swarm-aware', capacity: 1 },
      ...SWEEP_TARGETS.map((e) => ({ policy: 'swarm-aware' as const, capacity: N, egressTarget: e })),
      { policy: 'swarm-aware', capacity: N },
    ];
    const rows: Row[] = [];
    for (const run of runs) {
      progress(`sweep: policy=${run.policy} capacity=${run.capacity}${run.egressTarget ? ` egress-target=${run.egressTarget}` : ''}`);
      const r = await runCrowd({ ...base, file, ...run });
      const row = figures(r);
      warnSteal(r.cpu.steal);
      progress(`  → D=${row.D_s} s (${row.ratio_D_p2p} × D_p2p), egress ${row.origin_egress_over_F} × F, p2p ${row.p2p_share}`);
      rows.push(row);
    }
    mkdirSync(outDir, { recursive: true });
    const csv = join(outDir, 'swarm-sweep.csv');
    const svg = join(outDir, 'swarm-sweep.svg');
    writeFileSync(csv, toCsv(rows));
    const MiBs = (x: number) => `${Math.round((x / MiB) * 100) / 100}`;
    const params = { N, F, us, ui, ...(di ? { dmin: di } : {}) };
    const dp2p = fluidBounds(params).D_p2p;
    const point = (r: Row, label: string) => ({ x: r.ratio_D_p2p ?? NaN, y: r.origin_egress_over_F ?? NaN, label });
    const knob = rows.filter((r) => r.policy === 'swarm-aware' && r.capacity === N && r.egress_target !== null);
    writeFileSync(svg, plotSvg({
      title: `Flash crowd: origin cost vs distribution time (N=${N}, F=${MiBs(F)} MiB)`,
      xLabel: 'distribution time / D_p2p (last client done)',
      yLabel: 'origin egress / F',
      series: [
        // the fluid bound: the least time for each egress (a curve from (N−1)F/Σu_i at 1 × F down to D_p2p)
        { name: 'fluid bound', curve: true, points: FRONTIER_E.map((e) => ({ x: egressBound(params, e) / dp2p, y: e })) },
        { name: 'swarm-aware, --egress-target E', points: knob.map((r) => point(r, `E ${r.egress_target}`)) },
        { name: 'swarm-aware, no target', points: rows.filter((r) => r.policy === 'swarm-aware' && r.egress_target === null)
          .map((r) => point(r, `cap ${r.capacity}`)) },
        { name: 'server-first', points: rows.filter((r) => r.policy === 'server-first').map((r) => point(r, `cap ${r.capacity}`)) },
      ],
      refX: [{ at: 1, label: 'D_p2p' }, { at: rows[0] ? (rows[0].D_cs_s ?? 0) / (rows[0].D_p2p_s ?? 1) : 0, label: 'D_cs' }],
      refY: [{ at: 1, label: 'egress = F' }],
      note: `u_s=${MiBs(us)} MiB/s, u_i=${MiBs(ui)} MiB/s${di ? `, d_i=${MiBs(di)} MiB/s` : ''}; commit ${commit ?? '?'}; ${measuredAt}`,
    }));
    process.stdout.write(JSON.stringify({ bench: 'swarm-sweep', sweep: rows, rtc_mtu: mtu || null, client_procs: procs, csv, svg, git_commit: commit,
      measured_at: measuredAt }) + '\n');
  } finally {
    rtc?.shutdown();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Ctrl-C: exit through process.exit so the nats-server child's exit hook (infra/nats.ts) still kills it
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:swarm failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
