/**
 * Downloader side of the data plane: chunk requests in flight to peers, reassembled from piece blocks.
 * A request settles exactly once: with the bytes (not yet verified: the caller hashes them), or with a
 * FetchFailure the download machine understands (`missing` when refused, `network` when the link died or timed
 * out, `corrupt` when the blocks contradict the request).
 *
 * Every piece block gets a verdict, so the caller can tell a peer's protocol violation from network timing: a
 * block of a request that ended without its data a moment ago (cancelled, timed out) is `late` and harmless,
 * up to one chunk's worth; a block we never asked for, a second copy of a block, or one that does not fit the
 * request is a violation. Only requested, accepted bytes may earn the sender credit.
 */
import { RejectReasons } from '../../protocol/mod.js';
import type { FetchFailureReason } from '../../machines/download/types.js';
import type { Timer } from '../../lib/timers.js';
import { FetchFailure } from '../http.js';
import type { LinkIO } from './types.js';

interface Pending {
  peerId: string;
  index: number;
  buf: Uint8Array;
  received: number;
  /** blocks seen, by offset, so a duplicate block cannot fake completeness */
  offsets: Set<number>;
  resolve(data: Uint8Array): void;
  reject(err: Error): void;
  timer: Timer;
  cleanup(): void;
}

/**
 * `accepted`: stored, the chunk is not complete yet; `complete`: this block completed the chunk; `late`: for a
 * request that just ended without data (no credit, no blame); `unrequested` / `inconsistent`: a violation.
 */
export type PieceVerdict = 'accepted' | 'complete' | 'late' | 'unrequested' | 'inconsistent';

/** requests that ended without data, remembered per peer so their in-flight blocks are not blamed */
const RECENT_PER_PEER = 32;

interface Ended {
  index: number;
  chunkLength: number;
  lateBytes: number;
}

export interface RequestTable {
  request(io: LinkIO, index: number, chunkLength: number, signal?: AbortSignal): Promise<Uint8Array>;
  onPiece(peerId: string, index: number, offset: number, chunkLength: number, data: Uint8Array): PieceVerdict;
  onReject(peerId: string, index: number, reason: number): void;
  /** the link to `peerId` closed: everything pending on it fails */
  peerGone(peerId: string, why: string): void;
  pendingFor(peerId: string): number;
}

export function createRequestTable(opts: { timeoutMs: number }): RequestTable {
  const pending = new Map<string, Pending>();
  // keys are peers we sent requests to (linked peers only), and peerGone drops them
  const ended = new Map<string, Ended[]>();
  const key = (peerId: string, index: number) => `${peerId}#${index}`;

  const rememberEnded = (p: Pending) => {
    const list = ended.get(p.peerId) ?? [];
    list.push({ index: p.index, chunkLength: p.buf.byteLength, lateBytes: p.received });
    if (list.length > RECENT_PER_PEER) list.shift();
    ended.set(p.peerId, list);
  };

  const settle = (p: Pending, outcome: { data: Uint8Array } | { err: Error }) => {
    if (pending.get(key(p.peerId, p.index)) !== p) return;
    pending.delete(key(p.peerId, p.index));
    if (!('data' in outcome)) rememberEnded(p);
    clearTimeout(p.timer);
    p.cleanup();
    if ('data' in outcome) p.resolve(outcome.data);
    else p.reject(outcome.err);
  };

  return {
    request(io, index, chunkLength, signal) {
      const k = key(io.peerId, index);
      if (pending.has(k)) return Promise.reject(new FetchFailure('network', `chunk ${index} already requested from ${io.peerId}`));
      return new Promise<Uint8Array>((resolve, reject) => {
        const onAbort = () => {
          io.sendCancel(index);
          settle(p, { err: new FetchFailure('network', 'cancelled') });
        };
        const p: Pending = {
          peerId: io.peerId, index, buf: new Uint8Array(chunkLength), received: 0, offsets: new Set(), resolve, reject,
          timer: setTimeout(() => {
            io.sendCancel(index);
            settle(p, { err: new FetchFailure('network', `peer ${io.peerId} did not deliver chunk ${index} in ${opts.timeoutMs} ms`) });
          }, opts.timeoutMs),
          cleanup: () => signal?.removeEventListener('abort', onAbort),
        };
        pending.set(k, p);
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        if (!io.sendRequest(index)) settle(p, { err: new FetchFailure('network', `link to ${io.peerId} is not open`) });
      });
    },
    onPiece(peerId, index, offset, chunkLength, data) {
      const p = pending.get(key(peerId, index));
      if (!p) {
        // a block already on the wire when we cancelled or gave up: harmless, but at most the chunk's size
        const e = ended.get(peerId)?.find((x) => x.index === index);
        if (!e || e.chunkLength !== chunkLength || e.lateBytes + data.byteLength > e.chunkLength) return 'unrequested';
        e.lateBytes += data.byteLength;
        return 'late';
      }
      if (chunkLength !== p.buf.byteLength || offset + data.byteLength > chunkLength || p.offsets.has(offset)) {
        settle(p, { err: new FetchFailure('corrupt', `peer ${peerId} sent an inconsistent block for chunk ${index}`) });
        return 'inconsistent';
      }
      p.offsets.add(offset);
      p.buf.set(data, offset);
      p.received += data.byteLength;
      if (p.received === chunkLength) {
        settle(p, { data: p.buf });
        return 'complete';
      }
      return 'accepted';
    },
    onReject(peerId, index, reason) {
      const p = pending.get(key(peerId, index));
      // only "not have" says anything about what the peer holds; choked/overloaded are about now, not the chunk
      const why: FetchFailureReason = reason === RejectReasons.notHave ? 'missing' : 'network';
      if (p) settle(p, { err: new FetchFailure(why, `peer ${peerId} refused chunk ${index} (reason ${reason})`) });
    },
    peerGone(peerId, why) {
      for (const p of [...pending.values()]) {
        if (p.peerId === peerId) settle(p, { err: new FetchFailure('network', `link to ${peerId} closed: ${why}`) });
      }
      ended.delete(peerId);
    },
    pendingFor(peerId) {
      let n = 0;
      for (const p of pending.values()) if (p.peerId === peerId) n++;
      return n;
    },
  };
}
