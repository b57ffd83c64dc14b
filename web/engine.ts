/**
 * The Switchyard engine in a browser: the same download machine, swarm, links, picker and uploader as the Node
 * client, wired to the browser's edges (web/rtc.ts, web/hash.ts, web/store.ts, web/nats.ts; every chunk enters through
 * web/intake.ts). The machine runs
 * with the shared session actors (client/runner.ts); only `fetchChunk` (WebCrypto verification, memory storage)
 * and `assemble` (nothing to assemble: the chunks are the product) are this edge's own.
 *
 * A player reads byte ranges (`readRange`). A range whose chunks are not held is fetched at once, outside the
 * machine's order ("urgent": from an unchoked peer that has the chunk, else the origin while a grant is held,
 * else it waits for one of them), so playback does not wait for the rarest-first picker. Every chunk, urgent or
 * not, from the origin or a peer, is verified before it is stored, served or played, and a peer whose chunk fails
 * is banned exactly as on the headless peer (the machine's `swarm.ban`, or the same call for an urgent fetch:
 * link banned, never linked again, tracker told).
 */
import { createActor, fromPromise, type SnapshotFrom } from 'xstate';
import { createOriginClient } from '../actors/origin/client.js';
import type { PeerIdentity } from '../client/identity.js';
import { createSignalClient } from '../actors/signal/client.js';
import { createTrackerClient } from '../actors/tracker/client.js';
import { createSwarm, type Swarm } from '../client/p2p/swarm.js';
import { manifestContent } from '../client/p2p/types.js';
import { startTelemetry, type Telemetry } from '../client/telemetry.js';
import { createInspectPublisher, runId, type InspectPublisher } from '../client/inspect.js';
import { openSessionActor, sessionKeeperActor, stateName, swarmActor, type HeartbeatClock } from '../client/runner.js';
import { sleep } from '../lib/abort.js';
import type { Logger } from '../lib/logger.js';
import { downloadMachine, modeOfSnapshot, type DownloadOutput } from '../machines/download/machine.js';
import { toFetchFailure } from '../machines/download/schedule.js';
import type {
  AssembleInput, AssembleOutput, ChunkSource, FetchChunkInput, FetchChunkOutput, FetchResult, ReleaseSessionInput,
} from '../machines/download/types.js';
import { chunksOfRange, type Manifest, type PeerMode } from '../protocol/mod.js';
import { checkManifest } from './hash.js';
import { createChunkIntake, type ChunkIntake } from './intake.js';
import { connectWebPeer, type WebPeerConnection } from './nats.js';
import { createBrowserRtcHost } from './rtc.js';
import { markOnce } from './marks.js';
import { createMemoryStore, type MemoryStore } from './store.js';
import { createUrgent, type Urgent } from './urgent.js';

export interface WebEngineOptions {
  /** the gateway's base URL (chunks by grant, peer credentials) */
  gateway: string;
  /** nats-server's WebSocket URL */
  wsUrl: string;
  videoId: string;
  /**
   * the manifest as the page already has it (the watch page's boot data), unchecked: checked here exactly like
   * the catalog's, and the catalog is not asked
   */
  manifest?: unknown;
  /** this peer's identity, already being obtained (client/identity.ts); else obtained from `gateway` */
  identity?: Promise<PeerIdentity>;
  /**
   * with a player: background and read-ahead requests wait for `playing()` (the first frame), not just the first
   * read, so the chunks the first frame needs have the page's one thread to themselves (default false)
   */
  holdUntilPlaying?: boolean;
  logger: Logger;
  /** readable prefix of the peer id */
  label?: string;
  /** serve held chunks to others (default true) */
  uploads?: boolean;
  keepBehindChunks?: number;
  maxBytes?: number;
  iceServers?: string[];
  /** urgent fetches at once (default 4) */
  urgentParallel?: number;
  /**
   * a player is about to read (the watch page): background peer requests wait for its first read (at most
   * `playerWaitMs`, default 5000), so its first segments are not queued behind a burst of rarest-first requests
   */
  player?: boolean;
  playerWaitMs?: number;
  /** the machine's requests in flight per unchoked peer (default 2 with a player, else the machine's 4) */
  perPeer?: number;
  /**
   * with a player: after each read, the next this-many seconds of the stream are fetched urgently too (default
   * 8), so the player's next segments are already on their way; background requests wait until they are held
   */
  readAheadSec?: number;
  /**
   * publish the machine's transitions on `sy.inspect.<peerId>` for the gateway's inspector (default true: a few
   * small batched messages per download, bounded; client/inspect.ts)
   */
  inspect?: boolean;
}

export interface WebEngineStatus {
  peerId: string;
  videoId: string;
  /** the machine's state path (`active.p2p`) */
  state: string;
  /** the machine's mode (its state tag), `seeding` once complete */
  mode: PeerMode;
  complete: boolean;
  chunkCount: number;
  /** chunks the machine counts as downloaded */
  haveCount: number;
  /** chunks verified by WebCrypto and stored (urgent and machine fetches; re-fetches of evicted chunks too) */
  verifiedChunks: number;
  /** chunks that failed verification (never stored) */
  corruptChunks: number;
  bytesFromOrigin: number;
  bytesFromPeers: number;
  bytesByPeer: Record<string, number>;
  /** open links */
  peers: number;
  /** remote peers with a link (any state) */
  linked: string[];
  uploadedBytes: number;
  heldBytes: number;
  heldChunks: number;
  evictedChunks: number;
  banned: string[];
  /** place in the origin's wait list (null when not waiting) */
  position: number | null;
  error: string | null;
}

export interface WebEngine {
  readonly peerId: string;
  readonly manifest: Manifest;
  /** bytes `[offset, offset + length)` of the file, verified chunk by chunk; fetched at once when missing */
  readRange(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * a chunk obtained outside the engine (the watch page's start grant): verified here, then kept, counted (as
   * from `source`, default the origin) and seeded like any other. False when it is not chunk `index`.
   */
  offer(index: number, data: Uint8Array, source?: ChunkSource): Promise<boolean>;
  /** the player shows its first frame: held background and read-ahead requests may go (`holdUntilPlaying`) */
  playing(): void;
  /** where playback is, as a chunk index: chunks far behind it are evicted */
  setPlayhead(chunkIndex: number): void;
  status(): WebEngineStatus;
  /** called after every change of status (machine snapshots, chunks) */
  onChange(fn: () => void): () => void;
  /** the machine's outcome; the swarm keeps seeding afterwards until `stop()` */
  readonly done: Promise<DownloadOutput>;
  stop(): Promise<void>;
}

/** Connects, checks the manifest and starts downloading and seeding `videoId`. */
export async function startWebEngine(opts: WebEngineOptions): Promise<WebEngine> {
  const log = opts.logger;
  const conn: WebPeerConnection = await connectWebPeer({ gateway: opts.gateway, wsUrl: opts.wsUrl, logger: log,
    ...(opts.label ? { label: opts.label } : {}), ...(opts.identity ? { identity: opts.identity } : {}) });
  try {
    return await runEngine(opts, conn);
  } catch (err) {
    await conn.close();
    throw err;
  }
}

async function runEngine(opts: WebEngineOptions, conn: WebPeerConnection): Promise<WebEngine> {
  const log = opts.logger;
  const { nc } = conn;
  const peerId = conn.identity.peerId;
  const origin = createOriginClient(nc);
  // the catalog's manifest is the root of every chunk check: checked (schema, root hash, id) before anything else
  const manifest = await checkManifest(opts.manifest ?? await origin.manifest(opts.videoId), opts.videoId);
  markOnce('manifest');
  const initChunks = manifest.stream
    ? chunksOfRange(manifest.chunkSize, manifest.stream.init.offset, manifest.stream.init.length) : null;
  const store: MemoryStore = createMemoryStore(manifest, {
    ...(opts.keepBehindChunks !== undefined ? { keepBehindChunks: opts.keepBehindChunks } : {}),
    ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    ...(initChunks ? { pinned: range(initChunks.first, initChunks.last) } : {}),
  });
  const inspector: InspectPublisher | null = opts.inspect === false ? null
    : createInspectPublisher({ peerId }, { nc, logger: log });
  const rtc = createBrowserRtcHost({ logger: log.child('rtc'), ...(opts.iceServers ? { iceServers: opts.iceServers } : {}) });
  const swarm: Swarm = createSwarm({ videoId: manifest.videoId, peerId, content: manifestContent(manifest), uploads: opts.uploads ?? true,
    rechokeMs: 1000 }, {
    tracker: createTrackerClient(nc), signal: createSignalClient(nc, peerId, log.child('signal')), rtc, source: store,
    logger: log.child('swarm'), ...(inspector ? { inspect: inspector } : {}),
  });

  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) {
      try {
        l();
      } catch (err) {
        log.warn('status listener failed', { err });
      }
    }
  };
  let actorRef: { getSnapshot(): SnapshotFrom<typeof downloadMachine> } | null = null;
  const intake: ChunkIntake = createChunkIntake({ gateway: opts.gateway, manifest }, {
    store, swarm, changed, arrived: (i) => urgent.arrived(i),
  });
  const counters = intake.counters;
  const grant = () => {
    const snap = actorRef?.getSnapshot();
    return snap?.status === 'active' ? snap.context.grant : null;
  };
  const player = opts.player === true && manifest.stream !== undefined;
  const urgent: Urgent = createUrgent({ manifest, player,
    ...(opts.urgentParallel !== undefined ? { parallel: opts.urgentParallel } : {}),
    ...(opts.playerWaitMs !== undefined ? { playerWaitMs: opts.playerWaitMs } : {}),
    ...(opts.readAheadSec !== undefined ? { readAheadSec: opts.readAheadSec } : {}),
  }, {
    swarm, logger: log, has: (i) => store.has(i), grant,
    fetch: (source, index) => intake.fetch(source, index, grant() ?? ''),
  });
  swarm.subscribe((e) => markOnce(e.type));
  // joining the swarm (tracker, signalling) and opening the origin session go on side by side
  const swarmStarted = swarm.start().then(() => markOnce('swarm'));

  // ---- the machine ----
  /** the machine's fetch: a chunk fetched urgently meanwhile (perhaps played and evicted since) is just recorded */
  const fetchForMachine = async (input: FetchChunkInput, signal: AbortSignal): Promise<FetchChunkOutput> => {
    const pending = urgent.pending(input.index);
    if (pending) await pending.catch(() => {});
    if (intake.fetchedOnce(input.index)) return { index: input.index, source: input.source, bytes: 0 };
    if (input.source !== 'origin') {
      await urgent.backgroundTurn(signal);
      if (intake.fetchedOnce(input.index)) return { index: input.index, source: input.source, bytes: 0 };
    }
    const bytes = await intake.fetch(input.source, input.index, input.grant, signal);
    return { index: input.index, source: input.source, bytes };
  };
  const beat: HeartbeatClock = { ms: 3000 };
  const machine = downloadMachine.provide({
    actors: {
      openSession: openSessionActor(origin, manifest, beat),
      sessionKeeper: sessionKeeperActor(origin, log, beat),
      swarm: swarmActor(swarm),
      // resolves with a result naming chunk and source (the machine's contract; failures are results too)
      fetchChunk: fromPromise<FetchResult, FetchChunkInput>(({ input, signal }) => fetchForMachine(input, signal).then(
        (out): FetchResult => ({ ok: true, ...out }),
        (err): FetchResult => ({ ok: false, index: input.index, source: input.source, failure: toFetchFailure(err) }),
      )),
      // every chunk was verified on arrival; a page keeps no file to assemble
      assemble: fromPromise<AssembleOutput, AssembleInput>(async () => ({ path: 'memory' })),
      releaseSession: fromPromise<void, ReleaseSessionInput>(async ({ input }) => {
        await origin.release(input.sessionId, input.peerId);
      }),
    },
  });
  const perPeer = opts.perPeer ?? (player ? 2 : undefined);
  const actor = createActor(machine, { input: { videoId: manifest.videoId, peerId, ...(perPeer ? { perPeer } : {}) },
    ...(inspector ? { inspect: inspector.tap({ machine: 'download', id: runId(), videoId: manifest.videoId }) } : {}) });
  actorRef = actor;
  let stopped = false;
  let lastState = '';
  actor.subscribe((snap) => {
    if (snap.context.grant) markOnce('grant');
    const s = stateName(snap.value);
    if (s !== lastState) {
      lastState = s;
      log.info('state', { state: s });
    }
    changed();
  });
  const done = new Promise<DownloadOutput>((resolve, reject) => {
    actor.subscribe({ complete: () => resolve(actor.getSnapshot().output as DownloadOutput), error: reject });
  });
  actor.start();
  try {
    await swarmStarted;
  } catch (err) {
    actor.stop();
    await swarm.stop().catch(() => {});
    throw err;
  }

  // the same status the CLI publishes (protocol/telemetry.ts): the dashboard shows the browser like any peer
  let doneAt: number | null = null;
  const bySource = () => {
    const out: Record<string, number> = counters.origin > 0 ? { origin: counters.origin } : {};
    for (const [p, n] of Object.entries(counters.byPeer)) out[`peer:${p}`] = n;
    return out;
  };
  const telemetry: Telemetry = startTelemetry(nc, { peerId, manifest }, {
    mode: 'opening', state: 'opening', bytesBySource: {}, position: null, doneAt: null,
    have: () => {
      const h = actor.getSnapshot().context.have;
      return h.length === manifest.chunks.length ? h : new Array<boolean>(manifest.chunks.length).fill(false);
    },
    uploadedBytes: () => swarm.stats().uploadedBytes,
    links: () => urgent.peers,
    swarmStats: () => swarm.stats(),
  });
  listeners.add(() => {
    const st = actor.getSnapshot();
    const complete = st.status === 'done' && st.output?.status === 'complete';
    if (complete) doneAt ??= Date.now();
    telemetry.update({ mode: complete ? 'seeding' : modeOfSnapshot(st), state: stateName(st.value),
      position: st.context.position, bytesBySource: bySource(), doneAt });
  });

  const statsTimer = setInterval(changed, 1000);
  let reads = 0;
  /** false until `playing()` when holding background requests for the first frame */
  let playing = !(opts.holdUntilPlaying && player);
  /** where the player's reads ended before it played (read-ahead starts there) */
  let readEnd = 0;
  return {
    peerId,
    manifest,
    async readRange(offset, length, signal) {
      if (offset < 0 || length < 0 || offset + length > manifest.size) throw new RangeError('range outside the file');
      const out = new Uint8Array(length);
      if (length === 0) return out;
      const { first, last } = chunksOfRange(manifest.chunkSize, offset, length);
      const release = store.hold(first, last);
      const nth = reads++;
      if (nth < 3) markOnce(`read${nth}`);
      try {
        const waits = range(first, last).map((i) => urgent.ensure(i, signal));
        // after the urgent fetches are counted (synchronously, above), so background requests cannot slip in
        if (playing) urgent.playerArrived();
        const t = performance.now();
        await Promise.all(waits);
        if (nth < 3) markOnce(`read${nth}.done`);
        if (playing) urgent.readAhead(offset + length);
        else readEnd = Math.max(readEnd, offset + length);
        log.debug('read', { offset, length, chunks: last - first + 1, ms: Math.round(performance.now() - t) });
        for (let i = first; i <= last; i++) {
          const data = store.get(i)!;
          const start = i * manifest.chunkSize;
          const from = Math.max(offset, start);
          const to = Math.min(offset + length, start + data.byteLength);
          out.set(data.subarray(from - start, to - start), from - offset);
        }
        return out;
      } finally {
        release();
      }
    },
    offer: (index, data, source = 'origin') => intake.offer(index, data, source),
    setPlayhead(chunkIndex) {
      store.setPlayhead(chunkIndex);
    },
    playing() {
      if (playing) return;
      playing = true;
      urgent.playerArrived();
      if (readEnd > 0) urgent.readAhead(readEnd);
    },
    status() {
      const snap = actor.getSnapshot();
      const s = swarm.stats();
      const complete = snap.status === 'done' && snap.output?.status === 'complete';
      return {
        peerId, videoId: manifest.videoId, state: stateName(snap.value),
        mode: complete ? 'seeding' : modeOfSnapshot(snap), complete,
        chunkCount: manifest.chunks.length, haveCount: snap.context.haveCount,
        verifiedChunks: counters.verified, corruptChunks: counters.corrupt,
        bytesFromOrigin: counters.origin, bytesFromPeers: counters.peers, bytesByPeer: { ...counters.byPeer },
        peers: s.links.filter((l) => l.state.includes('open')).length, linked: s.links.map((l) => l.peerId),
        uploadedBytes: s.uploadedBytes,
        heldBytes: store.heldBytes, heldChunks: store.heldChunks, evictedChunks: store.evictedChunks,
        banned: s.banned, position: snap.context.position,
        error: snap.context.error ? `${snap.context.error.code}: ${snap.context.error.message}` : null,
      };
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    done,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(statsTimer);
      telemetry.stop();
      urgent.stop();
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'download.cancel' });
      await Promise.race([done.catch(() => {}), sleep(3000)]);
      actor.stop();
      // after the machine's last transition (cancelled), so the inspector sees how it ended
      inspector?.stop();
      await swarm.stop();
      rtc.shutdown();
      await conn.close();
    },
  };
}

function range(first: number, last: number): number[] {
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(i);
  return out;
}
