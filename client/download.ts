/**
 * Runs the download machine for real: the origin over NATS, chunks over HTTP from the gateway, verified chunks
 * kept on disk (`<output>.part/`). This is the only place where the machine meets I/O; the machine itself stays
 * pure and is given these implementations with `.provide()`.
 */
import { createActor, fromPromise, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { OriginClient } from '../actors/origin/client.js';
import type { Logger } from '../lib/logger.js';
import type { TokenBucket } from '../lib/tokenbucket.js';
import { downloadMachine, modeOfSnapshot, type DownloadMode, type DownloadOutput } from '../machines/download/machine.js';
import { toFetchFailure } from '../machines/download/schedule.js';
import type {
  AssembleInput, AssembleOutput, FetchChunkInput, FetchChunkOutput, FetchResult, FetchUrgentInput, ReleaseSessionInput,
} from '../machines/download/types.js';
import { fetchUrgentChunk, streamingInput, type StreamingOptions } from './playback.js';
import { runId, transitionTap, type InspectPublisher } from './inspect.js';
import type { Manifest } from '../protocol/mod.js';
import { FetchFailure, fetchOriginChunk } from './http.js';
import type { PartialDownload } from './partial.js';
import type { Swarm } from './p2p/swarm.js';
import { openSessionActor, sessionKeeperActor, stateName, swarmActor, type HeartbeatClock } from './runner.js';

export interface DownloadOptions {
  videoId: string;
  peerId: string;
  gateway: string;
  outPath: string;
  parallel?: number;
  /** chunk requests in flight per unchoked peer */
  perPeer?: number;
  /** keep `<output>.part/` after completion (a seeding peer serves from it) */
  keepPartial?: boolean;
  /**
   * a streaming download: chunks near the playhead (`setPlayhead`) come first, from the origin under urgent
   * grants while no slot is held; without it the download is offline (rarest first)
   */
  streaming?: StreamingOptions;
}

export interface DownloadComponents {
  origin: OriginClient;
  partial: PartialDownload;
  logger: Logger;
  /** the P2P side; without it the client only uses the origin */
  swarm?: Swarm;
  limiter?: TokenBucket;
  /** every state the machine enters, as a dotted path (`active.server`), with its mode (the state's tag) */
  onState?: (state: string, at: number, mode: DownloadMode) => void;
  onProgress?: (p: DownloadProgress) => void;
  /** inspection events for live inspectors */
  inspect?: (e: InspectionEvent) => void;
  /** publishes the machine's transitions for the gateway's inspector (client/inspect.ts); without it they are only logged */
  inspector?: Pick<InspectPublisher, 'record'>;
}

export interface DownloadProgress {
  haveCount: number;
  chunkCount: number;
  bytesBySource: Record<string, number>;
  state: string;
  position: number | null;
}

export interface DownloadResult extends DownloadOutput {
  /** states entered, in order */
  history: string[];
  /** chunks already verified on disk when the run started */
  resumedChunks: number;
}

export { stateName };

export function runDownload(opts: DownloadOptions, c: DownloadComponents): {
  done: Promise<DownloadResult>;
  cancel(): void;
  /** the machine's current snapshot (dashboards, diagnostics) */
  snapshot(): SnapshotFrom<typeof downloadMachine>;
  /** streaming: the chunk index the player reads now; a jump is a seek and re-plans at once */
  setPlayhead(index: number): void;
} {
  const { origin, partial, logger } = c;
  const manifest: Manifest = partial.manifest;
  const beat: HeartbeatClock = { ms: 3000 };

  /** One chunk from the origin (slot grant) or a peer, verified and stored; rejects with a FetchFailure. */
  const fetchChunk = async (input: FetchChunkInput, signal: AbortSignal): Promise<FetchChunkOutput> => {
    // the download cap is spent before asking, so a throttled client never holds a transferred chunk back
    // (which would look "in flight" to the endgame and draw a duplicate)
    if (c.limiter) await c.limiter.take(input.length, signal);
    let data: Uint8Array;
    if (input.source === 'origin') {
      data = await fetchOriginChunk({ gateway: opts.gateway, videoId: input.videoId, index: input.index,
        grant: input.grant, signal });
    } else {
      if (!c.swarm) throw new FetchFailure('missing', `no swarm for ${input.source}`);
      data = await c.swarm.request(input.source.slice('peer:'.length), input.index, signal);
    }
    // every chunk, from any source, is verified before it is stored or offered to others
    if (!(await partial.writeChunk(input.index, data))) {
      throw new FetchFailure('corrupt', `chunk ${input.index} from ${input.source} failed verification`);
    }
    c.swarm?.noteHave(input.index);
    return { index: input.index, source: input.source, bytes: data.byteLength };
  };

  const machine = downloadMachine.provide({
    actors: {
      openSession: openSessionActor(origin, manifest, beat),
      sessionKeeper: sessionKeeperActor(origin, logger, beat),
      swarm: swarmActor(c.swarm),
      // resolves with a result naming chunk and source, so the machine never reads them out of child ids
      fetchChunk: fromPromise<FetchResult, FetchChunkInput>(({ input, signal }) => fetchChunk(input, signal).then(
        (out): FetchResult => ({ ok: true, ...out }),
        (err): FetchResult => ({ ok: false, index: input.index, source: input.source, failure: toFetchFailure(err) }),
      )),
      fetchUrgent: fromPromise<FetchResult, FetchUrgentInput>(({ input, signal }) => fetchUrgentChunk(input, {
        origin, partial, gateway: opts.gateway, peerId: opts.peerId, signal,
        ...(c.limiter ? { limiter: c.limiter } : {}), ...(c.swarm ? { noteHave: (i: number) => c.swarm!.noteHave(i) } : {}),
      })),
      assemble: fromPromise<AssembleOutput, AssembleInput>(async () => {
        // re-reads every chunk and checks the assembled file's root hash; a failure keeps `.part` for a resume
        await partial.assemble(opts.outPath);
        if (!opts.keepPartial) await partial.remove();
        return { path: opts.outPath };
      }),
      releaseSession: fromPromise<void, ReleaseSessionInput>(async ({ input }) => {
        await origin.release(input.sessionId, input.peerId);
      }),
    },
  });

  const history: string[] = [];
  const resumedChunks = partial.have().length;
  const actor = createActor(machine, {
    input: { videoId: opts.videoId, peerId: opts.peerId, have: partial.have(), parallel: opts.parallel ?? 4,
      ...(opts.perPeer ? { perPeer: opts.perPeer } : {}),
      ...(opts.streaming ? { streaming: streamingInput(manifest, opts.streaming) } : {}) },
    // every transition is a debug line, and a record for the inspector when there is one
    inspect: transitionTap({ machine: 'download', id: runId(), videoId: opts.videoId }, {
      logger, ...(c.inspector ? { publisher: c.inspector } : {}), ...(c.inspect ? { next: c.inspect } : {}) }),
  });
  let last = '';
  actor.subscribe((snap) => {
    const s = stateName(snap.value);
    if (s !== last) {
      last = s;
      history.push(s);
      c.onState?.(s, Date.now(), modeOfSnapshot(snap));
    }
    c.onProgress?.({ haveCount: snap.context.haveCount, chunkCount: manifest.chunks.length,
      bytesBySource: snap.context.bytesBySource, state: s, position: snap.context.position });
  });
  const done = new Promise<DownloadResult>((resolve, reject) => {
    actor.subscribe({
      complete: () => resolve({ ...(actor.getSnapshot().output as DownloadOutput), history, resumedChunks }),
      error: reject,
    });
  });
  actor.start();
  return {
    done,
    cancel: () => actor.send({ type: 'download.cancel' }),
    snapshot: () => actor.getSnapshot(),
    setPlayhead: (index: number) => {
      if (Number.isInteger(index) && index >= 0) actor.send({ type: 'playback.playhead', index });
    },
  };
}
