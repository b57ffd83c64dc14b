/**
 * node-datachannel, tamed. Every rule in shared/notes/node-datachannel.md is enforced here, in one place:
 * - an exception escaping a native callback aborts the process, so every callback body is guarded;
 * - remote candidates can arrive before the remote description (the relay may reorder): they are queued;
 * - a received DataChannel that is garbage-collected closes by itself, and `cleanup()` after channels were
 *   collected too early crashes: the host keeps strong references to a link's PeerConnection and channels until
 *   their native close callbacks have all fired plus a grace period (native.ts explains why that is the safe
 *   point), so closed links are freed while the process runs; `shutdown()` closes what is left and calls
 *   `cleanup()` (without which the process never exits);
 * - allocation is bounded: `create()` refuses beyond `maxAllocated` native connections (live + closing), and
 *   callers check `allocated` / `allocatedFor` before accepting offers, so an offer/bye flood cannot grow memory;
 * - the ~1 s DTLS start race: the offer's `a=setup:actpass` is rewritten to `a=setup:active`, making the
 *   answerer the DTLS server (notes: p99 ~1005 ms → ~55 ms);
 * - a link that fails is closed, never left half-open;
 * - candidates ride in the description when gathering ends within `bundleMs` (host candidates: ~3 ms), so a link
 *   costs two relayed messages instead of four; any gathered later (STUN, TURN) trickle as before.
 */
import { cleanup, PeerConnection, type DataChannel } from 'node-datachannel';
import { acceptDescription, preferActiveSetup, validateCandidate } from '../../protocol/sdp.js';
import type { Logger } from '../../lib/logger.js';
import { createSlicer } from '../../lib/slicer.js';
import { createNativeLedger } from './native.js';
import { BadRequestError, type SignalMessage } from '../../protocol/mod.js';
import { DATA_CHANNEL_LABEL, SETUP_LANES, type RtcHost, type RtcLink, type RtcLinkOptions } from './types.js';

export { DATA_CHANNEL_LABEL, type RtcHost, type RtcLink, type RtcLinkEvents, type RtcLinkOptions } from './types.js';

export interface RtcHostOptions {
  /** ICE servers (STUN/TURN URLs); none on loopback */
  iceServers?: string[];
  /** restrict ICE to this local address (tests and benchmarks: 127.0.0.1) */
  bindAddress?: string;
  /**
   * largest UDP payload libdatachannel sends (default its own, 1280: safe on any internet path). Only for
   * links that stay on loopback, where the path MTU is 64 KiB: SCTP + DTLS cost per packet, so 4000 takes about
   * 40 % of the CPU per byte (measured in bench/README.md); above ~4100 links never open (libjuice drops them)
   */
  mtu?: number;
  /** send-buffer low-water mark that fires onDrain */
  lowWaterBytes?: number;
  /** rewrite offers to `a=setup:active` (default true; false only to measure the DTLS race, bench:peer-link) */
  activeSetup?: boolean;
  /**
   * how long a local description waits for candidate gathering to finish before it is sent without them (default
   * 100 ms; 0: send at once and trickle every candidate). Every relayed message costs both peers' event loops and
   * the relay's: with 10–20 clients opening 8–16 links each at once, those loops are the links' set-up time
   */
  bundleMs?: number;
  /** native connections (live + closing) beyond which `create()` refuses (default 256) */
  maxAllocated?: number;
  /** wait after the last native close callback before dropping references (default 1000 ms) */
  releaseGraceMs?: number;
  logger: Logger;
}


/** `mtu` for hosts whose links all stay on 127.0.0.1 (benches): the largest that opens, with a margin */
export const LOOPBACK_MTU = 4000;

export function createRtcHost(hostOpts: RtcHostOptions): RtcHost {
  const log = hostOpts.logger;
  const maxAllocated = hostOpts.maxAllocated ?? 256;
  // strong references until the native side is done with them (see the header comment)
  const ledger = createNativeLedger({ graceMs: hostOpts.releaseGraceMs ?? 1000, stuckAfterMs: 30_000, logger: log });
  const links = new Set<RtcLink>();
  let down = false;
  // native set-up calls run on this thread (`new PeerConnection` ~1–2 ms, `setRemoteDescription` ~1 ms, more
  // under load): a crowd's burst of offers, handled as it came, held the loop for up to 155 ms
  const setup = createSlicer({ lanes: SETUP_LANES }, { logger: log });

  const guard = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      log.warn(`rtc callback failed: ${what}`, { err });
    }
  };

  function create(opts: RtcLinkOptions): RtcLink {
    if (down) throw new Error('rtc host is shut down');
    if (ledger.allocated >= maxAllocated) throw new Error(`rtc host at capacity (${maxAllocated} connections)`);
    const pc = new PeerConnection(`${opts.connId}`, {
      iceServers: hostOpts.iceServers ?? [],
      ...(hostOpts.bindAddress ? { bindAddress: hostOpts.bindAddress } : {}),
      enableIceUdpMux: false,
      ...(hostOpts.mtu ? { mtu: hostOpts.mtu } : {}),
    });
    const native = ledger.track(opts.remotePeerId, pc, () => guard('onReleased', () => opts.events.onReleased?.()));
    let dc: DataChannel | null = null;
    let closed = false;
    let remoteSet = false;
    const pendingCandidates: Array<{ candidate: string; mid: string }> = [];
    // the local description until it is sent, with candidates gathered meanwhile (sent in it when it goes)
    let local: { type: 'offer' | 'answer'; sdp: string; timer: ReturnType<typeof setTimeout> | null } | null = null;
    let localSent = false;
    // "gathering complete" can be reported before the description it belongs to (callbacks are not ordered)
    let gathered = false;
    // candidates the sent description carried: native callbacks are not ordered across kinds, so one may be
    // reported after the gathering ended and the description went out with it
    const bundled = new Set<string>();
    const candidateKey = (c: string) => c.trim().replace(/^a=/, '');
    const bundleMs = hostOpts.bundleMs ?? 100;

    const send = (msg: Omit<SignalMessage, 'connId' | 'videoId'>) => {
      if (closed) return;
      opts.sendSignal({ connId: opts.connId, videoId: opts.videoId, ...msg } as SignalMessage)
        .catch((err) => fail(`signalling failed: ${(err as Error).message}`));
    };

    const finish = (reason: string, failed: boolean, notifyRemote: boolean) => {
      if (closed) return;
      closed = true;
      if (local?.timer) clearTimeout(local.timer);
      if (notifyRemote) send({ kind: 'bye', reason: reason.slice(0, 200) });
      guard('close', () => dc?.close());
      guard('close', () => pc.close());
      links.delete(link);
      ledger.ended(native);
      guard('onClosed', () => opts.events.onClosed(reason, failed));
    };
    const fail = (reason: string) => finish(reason, true, true);

    // every channel gets onClosed at once: only its delivery takes the channel out of node-datachannel's
    // instance set, which is what makes dropping our reference safe
    const track = (channel: DataChannel, onClosed: () => void) => {
      ledger.addChannel(native, channel);
      channel.onClosed(() => guard('dc closed', () => {
        ledger.channelClosed(native, channel);
        onClosed();
      }));
    };

    const wire = (channel: DataChannel) => {
      dc = channel;
      track(channel, () => finish('data channel closed', false, false));
      channel.setBufferedAmountLowThreshold(hostOpts.lowWaterBytes ?? 256 * 1024);
      channel.onOpen(() => guard('onOpen', () => opts.events.onOpen()));
      channel.onMessage((m) => guard('onMessage', () => {
        if (typeof m === 'string') opts.events.onMessage(Buffer.from(m, 'utf8'));
        else opts.events.onMessage(Buffer.isBuffer(m) ? m : Buffer.from(m));
      }));
      channel.onBufferedAmountLow(() => guard('onDrain', () => opts.events.onDrain()));
      channel.onError((e) => guard('dc error', () => fail(`data channel error: ${e}`)));
    };

    const sendDescription = (type: 'offer' | 'answer', sdp: string) => {
      localSent = true;
      if (type === 'offer') send({ kind: 'offer', sdp: (opts.activeSetup ?? hostOpts.activeSetup) === false ? sdp : preferActiveSetup(sdp) });
      else send({ kind: 'answer', sdp });
    };
    // sends the description as it stands now: it carries every candidate gathered so far
    const flushLocal = () => {
      if (!local || localSent || closed) return;
      if (local.timer) clearTimeout(local.timer);
      const { type, sdp } = local;
      local = null;
      const full = pc.localDescription()?.sdp || sdp;
      for (const line of full.split('\n')) if (line.startsWith('a=candidate:')) bundled.add(candidateKey(line));
      sendDescription(type, full);
    };
    pc.onLocalDescription((sdp, type) => guard('local description', () => {
      if (type !== 'offer' && type !== 'answer') return;
      if (bundleMs <= 0) return sendDescription(type, sdp);
      if (gathered) {
        local = { type, sdp, timer: null };
        return flushLocal();
      }
      local = { type, sdp, timer: setTimeout(() => guard('bundle timeout', flushLocal), bundleMs) };
      local.timer?.unref?.();
    }));
    pc.onGatheringStateChange((state) => guard('gathering', () => {
      if (state !== 'complete') return;
      gathered = true;
      flushLocal();
    }));
    pc.onLocalCandidate((candidate, mid) => guard('local candidate', () => {
      // before the description is sent, a candidate goes in it
      if (localSent && !bundled.has(candidateKey(candidate))) send({ kind: 'candidate', candidate, mid });
    }));
    pc.onStateChange((state) => guard('state', () => {
      if (state === 'connected') opts.events.onConnected();
      else if (state === 'failed') fail('peer connection failed');
      else if (state === 'closed' || state === 'disconnected') finish(`peer connection ${state}`, false, false);
      if (state === 'closed') ledger.pcClosed(native);
    }));
    if (opts.role === 'answerer') pc.onDataChannel((channel) => guard('data channel', () => {
      if (dc || closed) {
        track(channel, () => {}); // one channel per link is the protocol
        channel.close();
        return;
      }
      wire(channel);
    }));

    const applyRemote = (sdp: string, type: 'offer' | 'answer') => {
      pc.setRemoteDescription(sdp, type);
      remoteSet = true;
      for (const c of pendingCandidates.splice(0)) pc.addRemoteCandidate(c.candidate, c.mid);
    };

    const link: RtcLink = {
      connId: opts.connId,
      remotePeerId: opts.remotePeerId,
      get closed() {
        return closed;
      },
      handleSignal(m) {
        if (closed || m.connId !== opts.connId) return;
        try {
          switch (m.kind) {
            case 'offer':
            case 'answer':
              applyRemote(acceptDescription(m.kind, m.sdp, opts.role, remoteSet), m.kind);
              break;
            case 'candidate':
              validateCandidate(m.candidate ?? '', m.mid);
              if (remoteSet) pc.addRemoteCandidate(m.candidate!, m.mid ?? '0');
              else if (pendingCandidates.length < 64) pendingCandidates.push({ candidate: m.candidate!, mid: m.mid ?? '0' });
              break;
            case 'bye':
              finish(`remote closed: ${m.reason ?? 'bye'}`, false, false);
              break;
          }
        } catch (err) {
          // malformed or out-of-order signalling ends this attempt cleanly; it never reaches native code. A native
          // error is ours, not the remote's: e.g. the start race (notes), where our DTLS failed inside
          // setRemoteDescription and the answer's candidates found no ICE transport
          const message = (err as Error).message;
          fail(err instanceof BadRequestError ? `bad signalling from ${opts.remotePeerId}: ${message}`
            : `link set-up failed: ${message}`);
        }
      },
      send(frame) {
        if (closed || !dc || !dc.isOpen()) return false;
        try {
          return dc.sendMessageBinary(Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
        } catch (err) {
          fail(`send failed: ${(err as Error).message}`);
          return false;
        }
      },
      bufferedAmount() {
        try {
          return dc && !closed ? dc.bufferedAmount() : 0;
        } catch {
          return 0;
        }
      },
      rttMs() {
        try {
          const r = pc.rtt();
          return r >= 0 ? r : null;
        } catch {
          return null;
        }
      },
      close(reason) {
        finish(reason, false, true);
      },
    };
    links.add(link);
    if (opts.role === 'offerer') {
      try {
        wire(pc.createDataChannel(DATA_CHANNEL_LABEL));
      } catch (err) {
        fail(`could not create data channel: ${(err as Error).message}`);
      }
    }
    return link;
  }

  return {
    create,
    get live() {
      return links.size;
    },
    get allocated() {
      return ledger.allocated;
    },
    get closing() {
      return ledger.closing;
    },
    maxAllocated,
    allocatedFor: (remotePeerId) => ledger.allocatedFor(remotePeerId),
    setup,
    shutdown() {
      if (down) return;
      down = true;
      setup.clear();
      for (const l of [...links]) l.close('shutting down');
      for (const e of ledger.drain()) {
        for (const d of e.channels) guard('close', () => d.close());
        guard('close', () => e.pc?.close());
      }
      guard('cleanup', () => cleanup());
    },
  };
}
