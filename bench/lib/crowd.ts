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
import type { InspectionEvent } from 'xstate';
import { createOriginClient } from '../../actors/origin/client.js';
import { ingestFile } from '../../actors/ingest/ingest.js';
import { runDownload, stateName, type DownloadResult } from '../../client/download.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import { modeOfSnapshot, type DownloadMode } from '../../machines/download/machine.js';
import { createRtcHost, LOOPBACK_MTU, type RtcHost } from '../../client/p2p/rtc.js';
import { partialSource } from '../../client/p2p/sources.js';
import { openPartial, partialDirFor, type PartialDownload } from '../../client/partial.js';
import { startStack, type Stack } from '../../client/stack.js';
import { startNats, type NatsServerHandle } from '../../infra/nats.js';
import { createLogger, type Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import type { Manifest, OriginPolicy } from '../../protocol/mod.js';
import { egressBound, fluidBounds } from '../../lib/bounds.js';
import { procCpuSeconds } from './cpu.js';
import { startSampler, type CrowdSample } from './timeline.js';

export { countSwitches, median, percentile, resumeLatencies } from './metrics.js';
export type { CrowdSample } from './timeline.js';
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
  logger?: Logger;
  /** parent of the temporary working directory (default the OS temp dir) */
  workDir?: string;
  /** called when a client finishes (progress lines for a CLI) */
  onClientDone?: (c: CrowdClientResult) => void;
  /** called as the run moves through its phases, with ms spent in the phase just ended */
  onPhase?: (phase: 'ready' | 'crowd-done' | 'stopped', ms: number) => void;
}

export interface StateEntry {
  /** the machine's state path, for reading; figures use `mode` */
  state: string;
  mode: DownloadMode;
  /** ms since the crowd start */
  atMs: number;
}

export interface CrowdClientResult {
  peerId: string;
  /** the download outcome, or `timeout` (still running when the run was stopped) / `error` (the run threw) */
  status: string;
  error?: string;
  bytesBySource: Record<string, number>;
  fromOrigin: number;
  fromPeers: number;
  /** states entered (from inspection events), with the time since the crowd start */
  history: StateEntry[];
  /** when the download settled, ms since the crowd start (null: not settled) */
  doneMs: number | null;
  /** the output file's SHA-256 equals the source's */
  verified: boolean;
  uploadedBytes: number;
  /** set-up time of every link this client opened or accepted, ms */
  setupMs: number[];
}

export interface CrowdCpu {
  /** (this process + the nats-server child) CPU time / (wall × cores), crowd phase */
  busy: number;
  /** this process alone */
  self: number;
  /** the nats-server child alone (null where /proc is unreadable) */
  nats: number | null;
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

interface Client {
  peerId: string;
  outPath: string;
  nc: NatsConnection;
  node: PeerNode;
  partial: PartialDownload;
  history: StateEntry[];
  run: { done: Promise<DownloadResult>; cancel(): void } | null;
  settled: Promise<void>;
  result: CrowdClientResult;
}

export async function runCrowd(opts: CrowdOptions): Promise<CrowdResult> {
  const logger = opts.logger ?? createLogger('crowd', 'error');
  const N = opts.N;
  if (!Number.isInteger(N) || N < 1) throw new RangeError('N must be a positive integer');
  const ui = perClient(opts.ui, N, 'ui')!;
  const di = perClient(opts.di, N, 'di');
  const dir = mkdtempSync(join(opts.workDir ?? tmpdir(), 'sy-crowd-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir); // an interrupted run leaves no temp files either
  const ownRtc = !opts.rtc;
  const rtc = opts.rtc ?? createRtcHost({ bindAddress: '127.0.0.1', mtu: LOOPBACK_MTU, logger: logger.child('rtc') });
  let nats: NatsServerHandle | null = null;
  let stack: Stack | null = null;
  const clients: Client[] = [];
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
    const file = opts.file ?? join(dir, 'video.bin');
    if (!opts.file) await writeRandomFile(file, opts.F);
    const F = statSync(file).size;
    const sourceHash = await sha256OfFile(file);
    const origin = createOriginClient(stack.nc);
    const manifest: Manifest = (await ingestFile({ path: file, name: 'crowd.bin',
      ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}) },
    { store: stack.store, publish: (m) => origin.publish(m), logger: logger.child('ingest') })).manifest;
    const bounds = fluidBounds({ N, F, us: opts.us, ui, ...(di ? { dmin: Math.min(...di) } : {}) });
    const timeoutMs = opts.timeoutMs ?? Math.max(60_000, 5 * bounds.D_cs * 1000);

    // everything a client needs before it starts (connections, .part directories, peer nodes)
    const outDir = join(dir, 'clients');
    mkdirSync(outDir, { recursive: true });
    for (let i = 0; i < N; i++) {
      const peerId = `c${String(i).padStart(3, '0')}${randomBytes(3).toString('hex')}`;
      const { nc } = await stack.connectPeer({ peerId });
      const outPath = join(outDir, `${peerId}.out`);
      const partial = await openPartial(partialDirFor(outPath), manifest);
      const node = createPeerNode({ peerId, manifest, uploads: true, uploadRate: ui[i]! },
        { nc, source: partialSource(partial), logger: logger.child(peerId), rtc });
      const client: Client = {
        peerId, outPath, nc, node, partial, history: [], run: null, settled: Promise.resolve(),
        result: { peerId, status: 'timeout', bytesBySource: {}, fromOrigin: 0, fromPeers: 0, history: [], doneMs: null,
          verified: false, uploadedBytes: 0, setupMs: [] },
      };
      clients.push(client);
    }

    phase('ready');
    // the flash crowd: every client starts now
    const startedAt = Date.now();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const nats0 = procCpuSeconds(nats.process.pid);
    let lastSettled = 0;
    for (let i = 0; i < N; i++) {
      const c = clients[i]!;
      const partial = c.partial;
      let lastState = '';
      const inspect = (e: InspectionEvent) => {
        if (e.type !== '@xstate.snapshot' || e.actorRef.sessionId !== e.rootId) return;
        const snap = e.snapshot as { value?: unknown; hasTag?(t: string): boolean };
        const s = stateName(snap.value);
        if (s && s !== lastState && snap.hasTag) {
          lastState = s;
          c.history.push({ state: s, mode: modeOfSnapshot(snap as { hasTag(t: string): boolean }), atMs: performance.now() - t0 });
        }
      };
      const limit = di?.[i];
      c.settled = (async () => {
        try {
          // as api/download.ts does: the first announce overlaps the origin open
          void c.node.swarm.start().catch((err) => logger.warn('swarm start failed', { err }));
          c.run = runDownload({ videoId: manifest.videoId, peerId: c.peerId, gateway: stack!.gatewayUrl, outPath: c.outPath,
            keepPartial: true }, {
            origin: createOriginClient(c.nc), partial, logger: logger.child(c.peerId), swarm: c.node.swarm, inspect,
            ...(limit ? { limiter: createTokenBucket(limit) } : {}),
          });
          const r = await c.run.done;
          c.result.status = r.status;
          if (r.error) c.result.error = `${r.error.code}: ${r.error.message}`;
          c.result.bytesBySource = { ...r.bytesBySource };
        } catch (err) {
          c.result.status = 'error';
          c.result.error = (err as Error).message;
        }
        c.result.doneMs = performance.now() - t0;
        lastSettled = Math.max(lastSettled, c.result.doneMs);
        opts.onClientDone?.({ ...c.result, history: [...c.history] });
      })();
    }

    const sampler = startSampler(t0, () => ({
      uploaded: clients.reduce((a, c) => a + c.node.swarm.stats().uploadedBytes, 0),
      origin: stack!.gateway.stats().chunkBytesTotal,
      done: clients.filter((c) => c.result.doneMs !== null).length,
    }));
    let timer: NodeJS.Timeout | null = null;
    const timedOut = await Promise.race([
      Promise.all(clients.map((c) => c.settled)).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    if (timer) clearTimeout(timer);
    const timeline = sampler.stop();
    const wallMs = timedOut ? performance.now() - t0 : lastSettled;
    const cpu = process.cpuUsage(cpu0);
    const nats1 = procCpuSeconds(nats.process.pid);
    if (timedOut) {
      logger.warn('crowd timed out: cancelling', { timeoutMs });
      const unsettled = clients.filter((c) => c.result.doneMs === null);
      for (const c of unsettled) c.run?.cancel();
      await Promise.race([Promise.all(unsettled.map((c) => c.settled)), new Promise((r) => setTimeout(r, 5000))]);
      for (const c of unsettled) {
        c.result.status = c.result.status === 'cancelled' ? 'timeout' : c.result.status;
        c.result.doneMs = null;
      }
    }

    phase('crowd-done');
    // figures (swarm stats before the nodes stop); outputs are hashed now, outside the timed phase
    for (const c of clients) {
      if (c.result.status === 'complete') c.result.verified = (await sha256OfFile(c.outPath).catch(() => '')) === sourceHash;
      const s = c.node.swarm.stats();
      c.result.uploadedBytes = s.uploadedBytes;
      c.result.setupMs = s.setupMs;
      c.result.history = c.history.map((e) => ({ ...e, atMs: Math.round(e.atMs * 10) / 10 }));
      for (const [k, v] of Object.entries(c.result.bytesBySource)) {
        if (k === 'origin') c.result.fromOrigin += v;
        else if (k.startsWith('peer:')) c.result.fromPeers += v;
      }
    }
    const results = clients.map((c) => c.result);
    const done = results.filter((r) => r.status === 'complete' && r.doneMs !== null).map((r) => r.doneMs!);
    const allComplete = done.length === N;
    const received = results.reduce((a, r) => a + Object.values(r.bytesBySource).reduce((x, y) => x + y, 0), 0);
    const fromPeers = results.reduce((a, r) => a + r.fromPeers, 0);
    const cores = availableParallelism();
    const selfSec = (cpu.user + cpu.system) / 1e6;
    const natsSec = nats0 !== null && nats1 !== null ? nats1 - nats0 : null;
    const capacitySec = (wallMs / 1000) * cores;
    const result: CrowdResult = {
      N, F, us: opts.us, ui, di, policy: opts.policy, capacity: opts.capacity,
      ...(opts.egressTarget !== undefined ? { egressTarget: opts.egressTarget } : {}),
      chunkSize: manifest.chunkSize, chunkCount: manifest.chunks.length, videoId: manifest.videoId,
      startedAt, wallMs, timedOut, clients: results,
      D_s: allComplete ? Math.max(...done) / 1000 : NaN,
      median_s: median(done) / 1000,
      D_p2p_s: bounds.D_p2p, D_cs_s: bounds.D_cs,
      D_egress_s: egressBound({ N, F, us: opts.us, ui, ...(di ? { dmin: Math.min(...di) } : {}) },
        Math.max(1, stack.gateway.stats().chunkBytesTotal / F)),
      originEgressBytes: stack.gateway.stats().chunkBytesTotal,
      originResponses: { ...stack.gateway.stats().requestsByStatus },
      originDecisions: stack.swarmView.stats(),
      p2pShare: received > 0 ? fromPeers / received : 0,
      switches: results.reduce((a, r) => a + countSwitches(r.history), 0),
      resumeLatencyMs: resumeLatencies(results.map((r) => r.history)),
      setupMs: results.flatMap((r) => r.setupMs),
      cpu: {
        busy: (selfSec + (natsSec ?? 0)) / capacitySec, self: selfSec / capacitySec,
        nats: natsSec === null ? null : natsSec / capacitySec, cores, wallMs,
      },
      allVerified: allComplete && results.every((r) => r.verified),
      timeline,
    };
    return result;
  } finally {
    for (const c of clients) {
      await c.node.stop().catch(() => {});
      await c.partial.close().catch(() => {});
      await c.nc.close().catch(() => {});
    }
    if (ownRtc) {
      await new Promise((r) => setTimeout(r, 50)); // let byes leave before the native side goes away
      rtc.shutdown();
    }
    // every client is gone: drop their keep-alive sockets, or the gateway's close waits out fastify's 72 s
    // keep-alive timeout (the in-process clients share undici's global pool, which nothing else closes)
    if (stack) stack.gateway.app.server.closeAllConnections();
    if (stack) await stack.stop().catch((err) => logger.warn('stack stop failed', { err }));
    if (nats) await nats.stop().catch(() => {});
    process.removeListener('exit', removeDir);
    removeDir();
    phase('stopped');
  }
}
