/**
 * A group of a crowd's clients in one process: each its own NATS connection, `.part` directory, swarm and
 * node-datachannel links, upload capped at u_i (optionally download at d_i). The crowd runs one group in its
 * own process (tests) or several, each in a child process (crowd-procs.ts), so that the emulated peers do not
 * share one event loop with each other and with the stack, as real peers on their own machines would not.
 *
 * Times are ms since the crowd's start instant, an epoch in `performance.timeOrigin` terms shared by every
 * process of the crowd.
 */
import type { InspectionEvent } from 'xstate';
import { createOriginClient } from '../../actors/origin/client.js';
import { runDownload, stateName, type DownloadResult } from '../../client/download.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import type { RtcHost } from '../../client/p2p/rtc.js';
import { partialSource } from '../../client/p2p/sources.js';
import { openPartial, partialDirFor, type PartialDownload } from '../../client/partial.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import { modeOfSnapshot, type DownloadMode } from '../../machines/download/machine.js';
import type { Manifest } from '../../protocol/mod.js';

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

/** One client of the crowd: who it is, where its output goes, its emulated bandwidth. */
export interface ClientSpec {
  peerId: string;
  outPath: string;
  /** upload cap, bytes/s */
  ui: number;
  /** download cap, bytes/s (none: unlimited) */
  di?: number;
}

export interface GroupInit {
  manifest: Manifest;
  gatewayUrl: string;
  clients: ClientSpec[];
}

export interface GroupComponents {
  /** a peer connection for this id (credentials minted by the stack) */
  connect(peerId: string): Promise<NatsConnection>;
  rtc: RtcHost;
  logger: Logger;
  /** a client settled (its figures so far: no uploads, set-up times or verification yet) */
  onDone(result: CrowdClientResult): void;
}

/** A running group of clients, local or in a child process. */
export interface ClientGroup {
  /** starts every client at `atEpochMs` (`performance.timeOrigin + performance.now()` terms) */
  start(atEpochMs: number): void;
  /** bytes the group's peers uploaded so far (a child reports it every 250 ms) */
  uploaded(): number;
  /** resolves once every client settled */
  settled: Promise<void>;
  /** cancels the clients still running; they end as `timeout` */
  cancel(): Promise<void>;
  /** every client's figures, with uploads, set-up times and history (verification is the crowd's) */
  results(): Promise<CrowdClientResult[]>;
  stop(): Promise<void>;
  /** CPU seconds of the group's own process; null when it is this process */
  cpuSeconds(): number | null;
}

export const nowEpoch = () => performance.timeOrigin + performance.now();

interface Client {
  spec: ClientSpec;
  nc: NatsConnection;
  node: PeerNode;
  partial: PartialDownload;
  history: StateEntry[];
  run: { done: Promise<DownloadResult>; cancel(): void } | null;
  result: CrowdClientResult;
}

/** Prepares every client (connection, `.part` directory, peer node) in this process; none starts yet. */
export async function createLocalGroup(init: GroupInit, c: GroupComponents): Promise<ClientGroup> {
  const { manifest } = init;
  const clients: Client[] = [];
  try {
    for (const spec of init.clients) {
      // as a real client does before it downloads: the manifest from the gateway (which also loads this process's
      // HTTP client and opens a keep-alive connection, instead of in the first chunk request of the crowd)
      const res = await fetch(`${init.gatewayUrl}/videos/${manifest.videoId}/manifest`);
      const served = (await res.json()) as { rootHash?: string };
      if (!res.ok || served.rootHash !== manifest.rootHash) throw new Error(`the gateway serves another manifest (${res.status})`);
      const nc = await c.connect(spec.peerId);
      const partial = await openPartial(partialDirFor(spec.outPath), manifest).catch(async (err) => {
        await nc.close().catch(() => {});
        throw err;
      });
      const node = createPeerNode({ peerId: spec.peerId, manifest, uploads: true, uploadRate: spec.ui },
        { nc, source: partialSource(partial), logger: c.logger.child(spec.peerId), rtc: c.rtc });
      clients.push({ spec, nc, node, partial, history: [], run: null,
        result: { peerId: spec.peerId, status: 'timeout', bytesBySource: {}, fromOrigin: 0, fromPeers: 0, history: [],
          doneMs: null, verified: false, uploadedBytes: 0, setupMs: [] } });
    }
  } catch (err) {
    await stopClients(clients);
    throw err;
  }
  let startAt = 0;
  let begin!: () => void;
  const started = new Promise<void>((r) => (begin = r));
  const settledEach = clients.map((cl) => started.then(() => runClient(cl)));

  async function runClient(cl: Client): Promise<void> {
    let lastState = '';
    const inspect = (e: InspectionEvent) => {
      if (e.type !== '@xstate.snapshot' || e.actorRef.sessionId !== e.rootId) return;
      const snap = e.snapshot as { value?: unknown; hasTag?(t: string): boolean };
      const s = stateName(snap.value);
      if (s && s !== lastState && snap.hasTag) {
        lastState = s;
        cl.history.push({ state: s, mode: modeOfSnapshot(snap as { hasTag(t: string): boolean }), atMs: nowEpoch() - startAt });
      }
    };
    try {
      // as api/download.ts does: the first announce overlaps the origin open
      void cl.node.swarm.start().catch((err) => c.logger.warn('swarm start failed', { err }));
      cl.run = runDownload({ videoId: manifest.videoId, peerId: cl.spec.peerId, gateway: init.gatewayUrl,
        outPath: cl.spec.outPath, keepPartial: true }, {
        origin: createOriginClient(cl.nc), partial: cl.partial, logger: c.logger.child(cl.spec.peerId),
        swarm: cl.node.swarm, inspect,
        ...(cl.spec.di ? { limiter: createTokenBucket(cl.spec.di) } : {}),
      });
      const r = await cl.run.done;
      cl.result.status = r.status;
      if (r.error) cl.result.error = `${r.error.code}: ${r.error.message}`;
      cl.result.bytesBySource = { ...r.bytesBySource };
    } catch (err) {
      cl.result.status = 'error';
      cl.result.error = (err as Error).message;
    }
    cl.result.doneMs = nowEpoch() - startAt;
    c.onDone({ ...cl.result, history: [...cl.history] });
  }

  return {
    start(atEpochMs) {
      startAt = atEpochMs;
      setTimeout(begin, Math.max(0, atEpochMs - nowEpoch()));
    },
    uploaded: () => clients.reduce((a, cl) => a + cl.node.swarm.stats().uploadedBytes, 0),
    settled: Promise.all(settledEach).then(() => {}),
    async cancel() {
      const unsettled = clients.filter((cl) => cl.result.doneMs === null);
      for (const cl of unsettled) cl.run?.cancel();
      await Promise.race([Promise.all(settledEach), new Promise((r) => setTimeout(r, 5000))]);
      for (const cl of unsettled) {
        cl.result.status = cl.result.status === 'cancelled' ? 'timeout' : cl.result.status;
        cl.result.doneMs = null;
      }
    },
    async results() {
      return clients.map((cl) => {
        const s = cl.node.swarm.stats();
        const r: CrowdClientResult = { ...cl.result, uploadedBytes: s.uploadedBytes, setupMs: s.setupMs,
          history: cl.history.map((e) => ({ ...e, atMs: Math.round(e.atMs * 10) / 10 })), fromOrigin: 0, fromPeers: 0 };
        for (const [k, v] of Object.entries(r.bytesBySource)) {
          if (k === 'origin') r.fromOrigin += v;
          else if (k.startsWith('peer:')) r.fromPeers += v;
        }
        return r;
      });
    },
    stop: () => stopClients(clients),
    cpuSeconds: () => null,
  };
}

async function stopClients(clients: Client[]): Promise<void> {
  for (const cl of clients) {
    await cl.node.stop().catch(() => {});
    await cl.partial.close().catch(() => {});
    await cl.nc.close().catch(() => {});
  }
}
