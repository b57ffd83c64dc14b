/**
 * `download(videoId, options)`: the library's download, which `switchyard get` and `switchyard play` run too. It
 * mints a peer identity, locks `<output>.part/`, joins the video's swarm (serving what it holds unless
 * `uploads: false`), runs the download machine and reports typed events. After completion it keeps seeding when
 * `seed` is set, until `close()`.
 */
import { runDownload, type DownloadProgress, type DownloadResult } from '../client/download.js';
import type { StreamingOptions } from '../client/playback.js';
import { openPartial, partialDirFor, type PartialDownload } from '../client/partial.js';
import { acquirePartLock, type PartLock } from '../client/partlock.js';
import { createPeerNode, type PeerNode } from '../client/p2p/peer.js';
import { partialSource } from '../client/p2p/sources.js';
import { startTelemetry } from '../client/telemetry.js';
import { createInspectPublisher } from '../client/inspect.js';
import { createTokenBucket } from '../lib/tokenbucket.js';
import type { DownloadMode } from '../machines/download/machine.js';
import { BadRequestError, type Manifest } from '../protocol/mod.js';
import { checkRate, connectPeer, safeName, type ClientOptions } from './client.js';
import { createEmitter, type TypedEvents } from './events.js';

export interface DownloadOptions extends ClientOptions {
  /** the output file (default the manifest's name, made safe, in the working directory) */
  output?: string;
  /** parallel requests to the origin (1..64, default 4) */
  parallel?: number;
  /** download cap in bytes/s (default uncapped) */
  downloadRate?: number;
  /** serve chunks to others while downloading (default true) */
  uploads?: boolean;
  /**
   * publish the download and peer-link machines' transitions on `sy.inspect.<peerId>` for the gateway's
   * /inspector page (default true; batched 4×/s at most, bounded, no chunk data or grants)
   */
  inspect?: boolean;
  /** stay in the swarm after completion, serving the file, until `close()` (default false) */
  seed?: boolean;
  /** keep `<output>.part/` after completion (default false: it goes at `close()`, once the swarm stopped serving from it) */
  keepPartial?: boolean;
  /**
   * play while it downloads: chunks from the playhead (`setPlayhead`) on come first, the urgent window from the
   * origin even when it is full; `true` takes the defaults (needs a streamable video for seconds-based windows)
   */
  streaming?: boolean | StreamingOptions;
  /**
   * wall-clock time (epoch ms) to start fetching at: everything else (connection, credential, manifest, lock,
   * `.part/`) is done first, so clients started apart begin together (a flash crowd, as the demo runs one);
   * a time already past starts at once
   */
  startAt?: number;
}

/** The events of a download, in the order they happen. */
export interface DownloadEvents {
  /** the machine entered a state; `mode` is what a user sees (server, p2p, resumeServer, …) */
  state: { state: string; mode: DownloadMode; at: number };
  /** chunks verified so far and bytes by source (`origin`, `peer:<id>`) */
  progress: DownloadProgress;
  /** the run settled (complete, failed or cancelled) */
  done: DownloadResult;
}

export interface Download extends TypedEvents<DownloadEvents> {
  readonly videoId: string;
  /** this client's id in the swarm, assigned by the gateway */
  readonly peerId: string;
  readonly manifest: Manifest;
  readonly outPath: string;
  /** chunks already verified on disk when it started (a resumed download) */
  readonly resumed: number;
  /** the verified chunks on disk (read them while the download runs: `partial.readChunk`, `whenChunk`) */
  readonly partial: PartialDownload;
  /** the swarm membership (stats: uploaded bytes, links) */
  readonly node: PeerNode;
  /** settles once with the result; never rejects for a failed download (see `result.status`) */
  readonly done: Promise<DownloadResult>;
  /** the current mode */
  mode(): DownloadMode;
  /** streaming: the chunk the player reads now; a jump is a seek */
  setPlayhead(chunkIndex: number): void;
  /** cancels the run; verified chunks stay in `<output>.part/` for a resume */
  cancel(): void;
  /** leaves the swarm, releases the lock and the connection (waits for nothing else); idempotent */
  close(): Promise<void>;
}

/**
 * Starts a download. Resolves once the client is connected, holds the lock and joined the swarm; the run itself
 * starts on the next turn of the event loop, so listeners attached right after `await download(...)` see every
 * event from the first `state`.
 */
export async function download(videoId: string, o: DownloadOptions = {}): Promise<Download> {
  const parallel = o.parallel ?? 4;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new BadRequestError('parallel must be 1..64');
  const rate = checkRate(o.downloadRate, 'downloadRate');
  const upRate = checkRate(o.uploadRate, 'uploadRate');
  const ctx = await connectPeer(videoId, o, 'download');
  const { manifest, peerId, logger } = ctx;
  let lock: PartLock | undefined;
  let opened: PartialDownload | undefined;
  try {
    const outPath = o.output ?? safeName(manifest.name, videoId);
    lock = await acquirePartLock(partialDirFor(outPath));
    const partial = await openPartial(partialDirFor(outPath), manifest);
    opened = partial;
    const resumed = partial.have().length;
    const source = partialSource(partial);
    // the machines' transitions, for the gateway's /inspector (bounded batches, a few per second at most)
    const inspector = o.inspect === false ? null : createInspectPublisher({ peerId }, { nc: ctx.peer.nc, logger });
    const node = createPeerNode({ peerId, manifest, uploads: o.uploads !== false,
      ...(ctx.bindAddress ? { bindAddress: ctx.bindAddress } : {}), ...(upRate > 0 ? { uploadRate: upRate } : {}) },
    { nc: ctx.peer.nc, source, logger, ...(inspector ? { inspect: inspector } : {}) });
    const wait = (o.startAt ?? 0) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 60_000)));
    // not awaited: the first tracker round trip overlaps the origin open instead of delaying it
    void node.swarm.start().catch((err) => logger.warn('starting the swarm failed', { err }));
    const openLinks = () => node.swarm.stats().links.filter((l) => l.state.includes('open')).length;
    const telemetry = startTelemetry(ctx.peer.nc, { peerId, manifest }, {
      mode: 'opening', state: 'opening', have: () => source.have(), bytesBySource: {},
      uploadedBytes: () => node.swarm.stats().uploadedBytes, position: null, links: openLinks, doneAt: null,
      swarmStats: () => node.swarm.stats(),
    });
    const events = createEmitter<DownloadEvents>((err) => logger.warn('a download listener threw', { err }));
    const staying = o.seed === true;
    const streaming = o.streaming === true ? {} : o.streaming || undefined;
    let mode: DownloadMode = 'opening';
    let run: ReturnType<typeof runDownload> | null = null;
    let cancelled = false;
    let pendingPlayhead: number | null = null;
    let settled = false;
    const done = new Promise<DownloadResult>((resolve, reject) => {
      setImmediate(() => {
        run = runDownload({ videoId, peerId, gateway: ctx.gateway, outPath, parallel,
          // `.part/` goes at close(), once the swarm no longer serves chunks from it: removed at assembly, a peer's
          // request in between met a closed file ("cannot read chunk for upload", answered notHave)
          keepPartial: true, ...(streaming ? { streaming } : {}) }, {
          origin: ctx.origin, partial, logger, swarm: node.swarm, ...(rate > 0 ? { limiter: createTokenBucket(rate) } : {}),
          ...(inspector ? { inspector } : {}),
          onState: (state, at, m) => {
            mode = m;
            const complete = m === 'complete';
            telemetry.update({ state, mode: complete && staying ? 'seeding' : m, ...(complete ? { doneAt: at } : {}) });
            events.emit('state', { state, mode: m, at });
          },
          onProgress: (p) => {
            telemetry.update({ bytesBySource: p.bytesBySource, position: p.position });
            events.emit('progress', p);
          },
        });
        if (pendingPlayhead !== null) run.setPlayhead(pendingPlayhead);
        if (cancelled) run.cancel();
        run.done.then((result) => {
          settled = true;
          events.emit('done', result);
          resolve(result);
        }, reject);
      });
    });
    let closed = false;
    const held = lock;
    const cancel = () => {
      if (settled) return;
      cancelled = true;
      run?.cancel();
    };
    return {
      videoId, peerId, manifest, outPath, resumed, partial, node, done,
      on: events.on, once: events.once,
      mode: () => mode,
      setPlayhead(chunkIndex) {
        if (run) run.setPlayhead(chunkIndex);
        else pendingPlayhead = chunkIndex;
      },
      cancel,
      async close() {
        if (closed) return;
        closed = true;
        cancel();
        await done.catch(() => {});
        telemetry.stop();
        inspector?.stop();
        await node.stop().catch((err) => logger.warn('stopping the swarm failed', { err }));
        if (o.keepPartial !== true && mode === 'complete') await partial.remove().catch(() => {});
        await partial.close();
        await held.release();
        await ctx.peer.close();
        events.clear();
      },
    };
  } catch (err) {
    await opened?.close();
    await lock?.release();
    await ctx.peer.close();
    throw err;
  }
}
