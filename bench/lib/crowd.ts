/**
 * A flash crowd with bandwidth emulation, all in this process: a whole stack (own nats-server child, origin,
 * tracker, relay, gateway with its egress capped at u_s), one ingested F-byte file, and N real clients (each its
 * own NATS connection, `.part` directory, swarm and node-datachannel links on 127.0.0.1, upload capped at u_i,
 * optionally download capped at d_i) that all start at the same instant and all keep seeding until every client
 * is done. Returns per-client outcomes and the run's figures; `bench/swarm.ts` turns them into the §6 line and
 * tests use it at small scale.
 *
 * node-datachannel's teardown is process-wide: pass one `rtc` host when running several crowds in one process
 * (and shut it down once at the end); without one, the crowd makes its own and shuts it down when done.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { createRtcHost, LOOPBACK_MTU, type RtcHost } from '../../client/p2p/rtc.js';
import { startStack, type Stack } from '../../client/stack.js';
import { startNats, type NatsServerHandle } from '../../infra/nats.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import type { Manifest, OriginPolicy } from '../../protocol/mod.js';
import { egressBound, fluidBounds } from '../../lib/bounds.js';
import { machineCpu, procCpuSeconds, stealBetween } from './cpu.js';
import { createLocalGroup, nowEpoch, type ClientGroup, type ClientSpec, type CrowdClientResult } from './crowd-group.js';
import { spawnGroup } from './crowd-procs.js';
import { startSampler, type CrowdSample } from './timeline.js';

export { countSwitches, median, percentile, resumeLatencies } from './metrics.js';
export type { CrowdSample } from './timeline.js';
export type { CrowdClientResult, StateEntry } from './crowd-group.js';
import { countSwitches, median, resumeLatencies } from './metrics.js';

export interface CrowdOptions {
  /** number of clients */
  N: number;
  /** file size in bytes (ignored when `file` is given: its size is used) */
  F: number;
  /** origin egress cap u_s, bytes/s */
  us: number;
  /** upload cap u_i per client, bytes/s: one figure for all or one per client */
  ui: number | number[];
  /** download cap d_i per client, bytes/s (default none) */
  di?: number | number[];
  policy: OriginPolicy;
  /** origin capacity (admission slots) */
  capacity: number;
  /** swarm-aware: target origin egress as a multiple of F (the operator's knob; default none) */
  egressTarget?: number;
  /** reuse this file instead of writing a random one */
  file?: string;
  /** ingest chunk size (default the ingest default, 256 KiB) */
  chunkSize?: number;
  /** stop everything after this long (crowd phase); default max(60 s, 5 × D_cs) */
  timeoutMs?: number;
  leaseTtlMs?: number;
  /** tracker re-announce interval, ms (default 1000) */
  trackerIntervalMs?: number;
  /** one RTC host shared by every crowd of this process; default: own one, shut down at the end */
  rtc?: RtcHost;
  /**
   * run the clients in this many child processes (crowd-procs.ts), each with its own event loop and RTC host,
   * instead of in this process beside the stack (0, the default: tests)
   */
  procs?: number;
  /** the links' MTU for RTC hosts the crowd makes itself (default LOOPBACK_MTU; 0: libdatachannel's own) */
  mtu?: number;
  logger?: Logger;
  /** parent of the temporary working directory (default the OS temp dir) */
  workDir?: string;
  /** called when a client finishes (progress lines for a CLI) */
  onClientDone?: (c: CrowdClientResult) => void;
  /** called as the run moves through its phases, with ms spent in the phase just ended */
  onPhase?: (phase: 'ready' | 'crowd-done' | 'stopped', ms: number) => void;
}

export interface CrowdCpu {
  /** (this process + the nats-server child) CPU time / (wall × cores), crowd phase */
  busy: number;
  /** this process alone */
  self: number;
  /** the clients' child processes together (null: the clients ran in this process) */
  children: number | null;
  /** the nats-server child alone (null where /proc is unreadable) */
  nats: number | null;
  /** the machine's CPU time stolen by the hypervisor over the crowd phase (0–1; null where /proc is unreadable) */
  steal: number | null;
  cores: number;
  wallMs: number;
}

export interface CrowdResult {
  N: number;
  F: number;
  us: number;
  ui: number[];
  di: number[] | null;
  policy: OriginPolicy;
  capacity: number;
  egressTarget?: number;
  chunkSize: number;
  chunkCount: number;
  videoId: string;
  /** epoch ms of the crowd start */
  startedAt: number;
  /** the crowd phase, ms (start → last client settled, or the timeout) */
  wallMs: number;
  timedOut: boolean;
  clients: CrowdClientResult[];
  /** last client done, s (NaN unless every client completed) */
  D_s: number;
  /** median done time of the completed clients, s */
  median_s: number;
  D_p2p_s: number;
  D_cs_s: number;
  /** the fluid bound for the origin egress this run spent (egressBound; D_p2p once that is e* × F or more) */
  D_egress_s: number;
  /** chunk payload bytes the gateway sent */
  originEgressBytes: number;
  /** the gateway's answers by HTTP status (e.g. 409: the swarm-aware origin declined a chunk) */
  originResponses: Record<string, number>;
  /** the swarm-aware gateway's serve/decline decisions by reason */
  originDecisions: Record<string, number>;
  /** bytes received from peers / all bytes received */
  p2pShare: number;
  /** transitions between active.server, active.p2p and active.resumeServer, summed over clients */
  switches: number;
  /** per entry into active.resumeServer: ms since the latest slot release (a slot holder entering releasing) */
  resumeLatencyMs: number[];
  /** every link set-up time, ms */
  setupMs: number[];
  cpu: CrowdCpu;
  allVerified: boolean;
  /** samples every 250 ms of the crowd phase: where the bytes were at that moment (for reading a run's shape) */
  timeline: CrowdSample[];
}

export async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path)) h.update(b as Buffer);
  return h.digest('hex');
}

export async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  const piece = 4 * 1024 * 1024;
  for (let left = size; left > 0; left -= piece) {
    if (!out.write(randomBytes(Math.min(piece, left)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

const perClient = (v: number | number[] | undefined, n: number, what: string): number[] | null => {
  if (v === undefined) return null;
  const xs = typeof v === 'number' ? new Array<number>(n).fill(v) : v;
  if (xs.length !== n) throw new RangeError(`${what}: ${xs.length} figures for ${n} clients`);
  return xs;
};

export async function runCrowd(opts: CrowdOptions): Promise<CrowdResult> {
  const logger = opts.logger ?? createLogger('crowd', 'error');
  const N = opts.N;
  if (!Number.isInteger(N) || N < 1) throw new RangeError('N must be a positive integer');
  const procs = Math.min(N, opts.procs ?? 0);
  if (!Number.isInteger(procs) || procs < 0) throw new RangeError('procs must be a whole number');
  const ui = perClient(opts.ui, N, 'ui')!;
  const di = perClient(opts.di, N, 'di');
  const mtu = opts.mtu ?? LOOPBACK_MTU;
  const dir = mkdtempSync(join(opts.workDir ?? tmpdir(), 'sy-crowd-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir); // an interrupted run leaves no temp files either
  let ownRtc: RtcHost | null = null;
  let nats: NatsServerHandle | null = null;
  let stack: Stack | null = null;
  const groups: ClientGroup[] = [];
  let phaseT = performance.now();
  const phase = (p: 'ready' | 'crowd-done' | 'stopped') => {
    const now = performance.now();
    opts.onPhase?.(p, now - phaseT);
    phaseT = now;
  };
  try {
    // our own nats-server child, so its CPU can be read from /proc
    mkdirSync(join(dir, 'nats'), { recursive: true });
    nats = await startNats({ storeDir: join(dir, 'nats'), authDir: join(dir, 'auth') });
    stack = await startStack({ natsUrl: nats.url, authDir: join(dir, 'auth'), dataDir: join(dir, 'stack'), capacity: opts.capacity, policy: opts.policy,
      originRate: opts.us, trackerIntervalMs: opts.trackerIntervalMs ?? 1000,
      ...(opts.egressTarget !== undefined ? { egressTarget: opts.egressTarget } : {}),
      ...(opts.leaseTtlMs ? { leaseTtlMs: opts.leaseTtlMs } : {}) }, logger.child('stack'));
    const st = stack;
    const file = opts.file ?? join(dir, 'video.bin');
    if (!opts.file) await writeRandomFile(file, opts.F);
    const F = statSync(file).size;
    const sourceHash = await sha256OfFile(file);
    const origin = createOriginClient(st.nc);
    const manifest: Manifest = (await ingestFile({ path: file, name: 'crowd.bin',
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}) },
    { store: st.store, publish: (m) => origin.publish(m), logger: logger.child('ingest') })).manifest;
    const bounds = fluidBounds({ N, F, us: opts.us, ui, ...(di ? { dmin: Math.min(...di) } : {}) });
    const timeoutMs = opts.timeoutMs ?? Math.max(60_000, 5 * bounds.D_cs * 1000);

    // everything a client needs before it starts (connections, .part directories, peer nodes), in this process
    // or dealt round-robin to the child processes
    const outDir = join(dir, 'clients');
    mkdirSync(outDir, { recursive: true });
    const specs: ClientSpec[] = ui.map((u, i) => {
      const peerId = `c${String(i).padStart(3, '0')}${randomBytes(3).toString('hex')}`;
      return { peerId, outPath: join(outDir, `${peerId}.out`), ui: u, ...(di?.[i] ? { di: di[i] } : {}) };
    });
    const byPeer = new Map<string, CrowdClientResult>();
    let lastSettled = 0;
    const onDone = (r: CrowdClientResult) => {
      byPeer.set(r.peerId, r);
      if (r.doneMs !== null) lastSettled = Math.max(lastSettled, r.doneMs);
      opts.onClientDone?.(r);
    };
    if (procs === 0) {
      if (!opts.rtc) ownRtc = createRtcHost({ bindAddress: '127.0.0.1', ...(mtu ? { mtu } : {}), logger: logger.child('rtc') });
      const rtc = opts.rtc ?? ownRtc!;
      groups.push(await createLocalGroup({ manifest, gatewayUrl: st.gatewayUrl, clients: specs },
        { connect: async (peerId) => (await st.connectPeer({ peerId })).nc, rtc, logger, onDone }));
    } else {
      const parts = Array.from({ length: procs }, (_, k) => specs.filter((_, i) => i % procs === k));
      const spawned = await Promise.allSettled(parts.map((clients) => spawnGroup(
        { manifest, gatewayUrl: st.gatewayUrl, clients },
        { natsUrl: nats!.url, mtu, logLevel: process.env.SWITCHYARD_LOG ?? 'error' },
        { minter: st.minter, logger, onDone })));
      for (const s of spawned) if (s.status === 'fulfilled') groups.push(s.value);
      const bad = spawned.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (bad) throw bad.reason;
    }

    phase('ready');
    // the other processes' CPU baselines before the start: their first reading spawns `getconf`, which must not
    // stall the stack's event loop at the crowd's busiest instant (they are idle until then)
    const nats0 = procCpuSeconds(nats.process.pid);
    const kids0 = groups.map((g) => g.cpuSeconds());
    const machine0 = machineCpu();
    // the flash crowd: every client starts at one instant, a moment from now so that every process has it
    const startAt = nowEpoch() + (procs ? 100 : 0);
    for (const g of groups) g.start(startAt);
    const startedAt = Math.round(startAt);
    const t0 = startAt - performance.timeOrigin;
    await new Promise((r) => setTimeout(r, Math.max(0, startAt - nowEpoch())));
    const cpu0 = process.cpuUsage();

    const sampler = startSampler(t0, () => ({
      uploaded: groups.reduce((a, g) => a + g.uploaded(), 0),
      origin: st.gateway.stats().chunkBytesTotal,
      done: byPeer.size,
    }));
    let timer: NodeJS.Timeout | null = null;
    const timedOut = await Promise.race([
      Promise.all(groups.map((g) => g.settled)).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    if (timer) clearTimeout(timer);
    const timeline = sampler.stop();
    const wallMs = timedOut ? performance.now() - t0 : lastSettled;
    const cpu = process.cpuUsage(cpu0);
    const nats1 = procCpuSeconds(nats.process.pid);
    const kids1 = groups.map((g) => g.cpuSeconds());
    const machine1 = machineCpu();
    if (timedOut) {
      logger.warn('crowd timed out: cancelling', { timeoutMs });
      await Promise.all(groups.map((g) => g.cancel()));
    }

    phase('crowd-done');
    // figures (swarm stats before the nodes stop); outputs are hashed now, outside the timed phase
    const results = (await Promise.all(groups.map((g) => g.results()))).flat();
    for (const r of results) {
      if (r.status === 'complete') {
        const spec = specs.find((x) => x.peerId === r.peerId)!;
        r.verified = (await sha256OfFile(spec.outPath).catch(() => '')) === sourceHash;
      }
    }
    results.sort((a, b) => a.peerId.localeCompare(b.peerId));
    const done = results.filter((r) => r.status === 'complete' && r.doneMs !== null).map((r) => r.doneMs!);
    const allComplete = done.length === N;
    const received = results.reduce((a, r) => a + Object.values(r.bytesBySource).reduce((x, y) => x + y, 0), 0);
    const fromPeers = results.reduce((a, r) => a + r.fromPeers, 0);
    const cores = availableParallelism();
    const selfSec = (cpu.user + cpu.system) / 1e6;
    const natsSec = nats0 !== null && nats1 !== null ? nats1 - nats0 : null;
    const kidsSec = procs === 0 ? null
      : kids0.reduce<number>((a, c0, k) => a + ((kids1[k] ?? NaN) - (c0 ?? NaN)), 0);
    const capacitySec = (wallMs / 1000) * cores;
    const egress = st.gateway.stats().chunkBytesTotal;
    return {
      N, F, us: opts.us, ui, di, policy: opts.policy, capacity: opts.capacity,
      ...(opts.egressTarget !== undefined ? { egressTarget: opts.egressTarget } : {}),
      chunkSize: manifest.chunkSize, chunkCount: manifest.chunks.length, videoId: manifest.videoId,
      startedAt, wallMs, timedOut, clients: results,
      D_s: allComplete ? Math.max(...done) / 1000 : NaN,
      median_s: median(done) / 1000,
      D_p2p_s: bounds.D_p2p, D_cs_s: bounds.D_cs,
      D_egress_s: egressBound({ N, F, us: opts.us, ui, ...(di ? { dmin: Math.min(...di) } : {}) }, Math.max(1, egress / F)),
      originEgressBytes: egress,
      originResponses: { ...st.gateway.stats().requestsByStatus },
      originDecisions: st.swarmView.stats(),
      p2pShare: received > 0 ? fromPeers / received : 0,
      switches: results.reduce((a, r) => a + countSwitches(r.history), 0),
      resumeLatencyMs: resumeLatencies(results.map((r) => r.history)),
      setupMs: results.flatMap((r) => r.setupMs),
      cpu: {
        busy: (selfSec + (natsSec ?? 0) + (kidsSec ?? 0)) / capacitySec, self: selfSec / capacitySec,
        nats: natsSec === null ? null : natsSec / capacitySec,
        children: kidsSec === null ? null : kidsSec / capacitySec, cores, wallMs, steal: stealBetween(machine0, machine1),
      },
      allVerified: allComplete && results.every((r) => r.verified),
      timeline,
    };
  } finally {
    for (const g of groups) await g.stop().catch(() => {});
    if (ownRtc) {
      await new Promise((r) => setTimeout(r, 50)); // let byes leave before the native side goes away
      ownRtc.shutdown();
    }
    // every client is gone: drop their keep-alive sockets, or the gateway's close waits out fastify's 72 s
    // keep-alive timeout (in-process clients share undici's global pool, which nothing else closes)
    if (stack) stack.gateway.app.server.closeAllConnections();
    if (stack) await stack.stop().catch((err) => logger.warn('stack stop failed', { err }));
    if (nats) await nats.stop().catch(() => {});
    process.removeListener('exit', removeDir);
    removeDir();
    phase('stopped');
  }
}
