/**
 * When a node-datachannel object may be let go (garbage-collected) without crashing the process.
 *
 * What node-datachannel 0.33.4's C++ wrappers do (src/cpp/*-wrapper.cpp), and so what is safe:
 * - A DataChannel wrapper sits in a static `instances` set that `cleanup()` walks (CloseAll/CleanupAll). It
 *   leaves the set only in `doCleanup()`, which runs right after the JS `onClosed` callback returns. Its
 *   destructor (GC) does NOT leave the set: a channel collected before its `onClosed` was delivered leaves a
 *   dangling pointer there, and `cleanup()` then crashes (the SIGSEGV in `DataChannelWrapper::CloseAll` of
 *   shared/notes/node-datachannel.md). A channel whose `onClosed` was never registered never leaves the set.
 * - A PeerConnection wrapper leaves its set in the destructor too, but libdatachannel threads keep calling the
 *   wrapper's lambdas (which capture `this`) until the connection reached state `closed` and its transports
 *   were stopped on libdatachannel's thread pool.
 * So an entry is released only when the JS side is done with it, the peer connection reported `closed`, every
 * channel reported `onClosed`, and a grace period passed (the pool's transport shutdown, and `doCleanup()`
 * which runs after our callback returns). Until then the entry holds strong references. An entry whose close
 * callbacks never come is kept for good ("stuck", logged once): leaking a little is the safe failure, and the
 * caller bounds how many entries may exist (`allocated`) by refusing new links.
 */
import type { DataChannel, PeerConnection } from 'node-datachannel';
import type { Logger } from '../../lib/logger.js';

export interface NativeEntry {
  readonly remotePeerId: string;
  pc: PeerConnection | null;
  /** channels whose `onClosed` has not been delivered yet */
  readonly openChannels: Set<DataChannel>;
  /** every channel of this connection, kept until release */
  readonly channels: DataChannel[];
  pcClosed: boolean;
  /** the link is finished on the JS side (closed or failed) */
  ended: boolean;
  endedAt: number;
  releaseTimer: NodeJS.Timeout | null;
  stuck: boolean;
  readonly onRelease: () => void;
}

export interface NativeLedgerOptions {
  /** after the last close callback, before references are dropped */
  graceMs: number;
  /** an ended entry whose close callbacks have not all come by then is reported as stuck and kept */
  stuckAfterMs: number;
  logger: Logger;
}

export interface NativeLedger {
  track(remotePeerId: string, pc: PeerConnection, onRelease: () => void): NativeEntry;
  /** the caller has registered `onClosed` on `dc` and will call `channelClosed` from it */
  addChannel(e: NativeEntry, dc: DataChannel): void;
  channelClosed(e: NativeEntry, dc: DataChannel): void;
  pcClosed(e: NativeEntry): void;
  ended(e: NativeEntry): void;
  /** entries still referenced (live + closing + stuck) */
  readonly allocated: number;
  readonly closing: number;
  readonly stuck: number;
  allocatedFor(remotePeerId: string): number;
  /** everything still referenced, for shutdown; the ledger stops releasing afterwards */
  drain(): NativeEntry[];
}

export function createNativeLedger(opts: NativeLedgerOptions): NativeLedger {
  const entries = new Set<NativeEntry>();
  const perRemote = new Map<string, number>();
  let stuckCount = 0;
  let draining = false;
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const e of entries) {
      if (!e.ended || e.stuck || e.releaseTimer || now - e.endedAt < opts.stuckAfterMs) continue;
      e.stuck = true;
      stuckCount++;
      opts.logger.warn('native connection never reported closed; kept referenced', {
        peer: e.remotePeerId, pcClosed: e.pcClosed, openChannels: e.openChannels.size });
    }
  }, Math.max(1000, Math.floor(opts.stuckAfterMs / 2)));
  sweep.unref();

  const release = (e: NativeEntry) => {
    e.releaseTimer = null;
    if (draining || !entries.delete(e)) return;
    if (e.stuck) stuckCount--;
    const n = (perRemote.get(e.remotePeerId) ?? 1) - 1;
    if (n > 0) perRemote.set(e.remotePeerId, n);
    else perRemote.delete(e.remotePeerId);
    e.pc = null;
    e.channels.length = 0;
    e.onRelease();
  };
  const maybeRelease = (e: NativeEntry) => {
    if (draining || !e.ended || !e.pcClosed || e.openChannels.size > 0 || e.releaseTimer) return;
    e.releaseTimer = setTimeout(() => release(e), opts.graceMs);
    // a pending release must not keep a finished process alive; shutdown drains whatever is left
    e.releaseTimer.unref();
  };

  return {
    track(remotePeerId, pc, onRelease) {
      const e: NativeEntry = { remotePeerId, pc, openChannels: new Set(), channels: [], pcClosed: false, ended: false,
        endedAt: 0, releaseTimer: null, stuck: false, onRelease };
      entries.add(e);
      perRemote.set(remotePeerId, (perRemote.get(remotePeerId) ?? 0) + 1);
      return e;
    },
    addChannel(e, dc) {
      e.channels.push(dc);
      e.openChannels.add(dc);
    },
    channelClosed(e, dc) {
      e.openChannels.delete(dc);
      maybeRelease(e);
    },
    pcClosed(e) {
      e.pcClosed = true;
      maybeRelease(e);
    },
    ended(e) {
      if (e.ended) return;
      e.ended = true;
      e.endedAt = performance.now();
      maybeRelease(e);
    },
    get allocated() {
      return entries.size;
    },
    get closing() {
      let n = 0;
      for (const e of entries) if (e.ended) n++;
      return n;
    },
    get stuck() {
      return stuckCount;
    },
    allocatedFor: (remotePeerId) => perRemote.get(remotePeerId) ?? 0,
    drain() {
      draining = true;
      clearInterval(sweep);
      for (const e of entries) if (e.releaseTimer) clearTimeout(e.releaseTimer);
      return [...entries];
    },
  };
}
