/**
 * The browser's RTC edge: RtcHost (client/p2p/types.ts) over the browser's own RTCPeerConnection, so the shared
 * swarm and links run unchanged. The same signalling rules as the Node host (client/p2p/rtc.ts) apply: incoming
 * SDP and candidates pass protocol/sdp.ts's checks before they reach the browser, candidates that arrive before
 * the remote description are queued (bounded), offers are rewritten to `a=setup:active` (the answerer becomes the
 * DTLS server, as with node-datachannel), one data channel per link, and a link that fails is closed, never left
 * half-open. A browser frees its connections itself, so a closed link is released at once.
 */
import type { Logger } from '../lib/logger.js';
import { createSlicer } from '../lib/slicer.js';
import { acceptDescription, preferActiveSetup, validateCandidate } from '../protocol/sdp.js';
import type { SignalMessage } from '../protocol/mod.js';
import { DATA_CHANNEL_LABEL, SETUP_LANES, type RtcHost, type RtcLink, type RtcLinkOptions } from '../client/p2p/types.js';

export interface BrowserRtcHostOptions {
  /** ICE servers (STUN/TURN URLs); none on loopback */
  iceServers?: string[];
  /** send-buffer low-water mark that fires onDrain (default 256 KiB) */
  lowWaterBytes?: number;
  /** connections beyond which `create()` refuses (default 64: a page is not a seed box) */
  maxAllocated?: number;
  /** how often the RTT is read from getStats (default 2000 ms) */
  statsMs?: number;
  logger: Logger;
}

const MAX_PENDING_CANDIDATES = 64;

/**
 * The first RTCPeerConnection of a page sets up the browser's WebRTC machinery (~60 ms of main thread measured
 * in headless Chromium here); a page that will link to peers soon can pay that now, while it waits on the network.
 */
export function warmUpRtc(): void {
  try {
    new RTCPeerConnection().close();
  } catch {
    // no WebRTC here: the engine says so when it needs it
  }
}

export function createBrowserRtcHost(hostOpts: BrowserRtcHostOptions): RtcHost {
  const log = hostOpts.logger;
  const maxAllocated = hostOpts.maxAllocated ?? 64;
  const links = new Set<RtcLink>();
  const perPeer = new Map<string, number>();
  let down = false;
  // the browser's own WebRTC works off the page's thread; slices still keep a burst of offers from holding it
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
    if (links.size >= maxAllocated) throw new Error(`rtc host at capacity (${maxAllocated} connections)`);
    const pc = new RTCPeerConnection({ iceServers: (hostOpts.iceServers ?? []).map((urls) => ({ urls })) });
    let dc: RTCDataChannel | null = null;
    let closed = false;
    let remoteSet = false;
    let rtt: number | null = null;
    const pending: RTCIceCandidateInit[] = [];
    perPeer.set(opts.remotePeerId, (perPeer.get(opts.remotePeerId) ?? 0) + 1);

    const send = (msg: Omit<SignalMessage, 'connId' | 'videoId'>) => {
      if (closed) return;
      opts.sendSignal({ connId: opts.connId, videoId: opts.videoId, ...msg } as SignalMessage)
        .catch((err) => fail(`signalling failed: ${(err as Error).message}`));
    };

    const statsTimer = setInterval(() => {
      pc.getStats().then((report) => {
        report.forEach((s: { type?: string; nominated?: boolean; state?: string; currentRoundTripTime?: number }) => {
          if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' &&
            typeof s.currentRoundTripTime === 'number') rtt = s.currentRoundTripTime * 1000;
        });
      }, () => {});
    }, hostOpts.statsMs ?? 2000);

    const finish = (reason: string, failed: boolean, notifyRemote: boolean) => {
      if (closed) return;
      closed = true;
      clearInterval(statsTimer);
      if (notifyRemote) send({ kind: 'bye', reason: reason.slice(0, 200) });
      guard('close', () => dc?.close());
      guard('close', () => pc.close());
      links.delete(link);
      const n = (perPeer.get(opts.remotePeerId) ?? 1) - 1;
      if (n > 0) perPeer.set(opts.remotePeerId, n);
      else perPeer.delete(opts.remotePeerId);
      guard('onClosed', () => opts.events.onClosed(reason, failed));
      // nothing native to outlive the link here: released on the next turn, after onClosed as the contract says
      setTimeout(() => guard('onReleased', () => opts.events.onReleased?.()), 0);
    };
    const fail = (reason: string) => finish(reason, true, true);

    const wire = (channel: RTCDataChannel) => {
      dc = channel;
      channel.binaryType = 'arraybuffer';
      channel.bufferedAmountLowThreshold = hostOpts.lowWaterBytes ?? 256 * 1024;
      channel.onopen = () => guard('onOpen', () => opts.events.onOpen());
      channel.onclose = () => guard('dc closed', () => finish('data channel closed', false, false));
      channel.onerror = (e) => guard('dc error', () => fail(`data channel error: ${String((e as RTCErrorEvent).error?.message ?? 'unknown')}`));
      channel.onbufferedamountlow = () => guard('onDrain', () => opts.events.onDrain());
      channel.onmessage = (m: MessageEvent) => guard('onMessage', () => {
        const d = m.data as unknown;
        if (typeof d === 'string') opts.events.onMessage(new TextEncoder().encode(d));
        else if (d instanceof ArrayBuffer) opts.events.onMessage(new Uint8Array(d));
      });
    };

    pc.onicecandidate = (e) => guard('local candidate', () => {
      if (e.candidate?.candidate) send({ kind: 'candidate', candidate: e.candidate.candidate, mid: e.candidate.sdpMid ?? '0' });
    });
    pc.onconnectionstatechange = () => guard('state', () => {
      const state = pc.connectionState;
      if (state === 'connected') opts.events.onConnected();
      else if (state === 'failed') fail('peer connection failed');
      else if (state === 'closed' || state === 'disconnected') finish(`peer connection ${state}`, false, false);
    });
    if (opts.role === 'answerer') {
      pc.ondatachannel = (e) => guard('data channel', () => {
        if (dc || closed) {
          e.channel.close(); // one channel per link is the protocol
          return;
        }
        wire(e.channel);
      });
    }

    const flushCandidates = async () => {
      for (const c of pending.splice(0)) await pc.addIceCandidate(c);
    };
    const run = (what: string, p: () => Promise<void>) => {
      p().catch((err) => fail(`${what}: ${(err as Error).message}`));
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
            case 'answer': {
              const type = m.kind;
              const sdp = acceptDescription(type, m.sdp, opts.role, remoteSet);
              remoteSet = true;
              run('answer', async () => {
                await pc.setRemoteDescription({ type, sdp });
                await flushCandidates();
                if (type !== 'offer') return;
                const answer = await pc.createAnswer();
                await pc.setLocalDescription(answer);
                send({ kind: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp ?? '' });
              });
              break;
            }
            case 'candidate': {
              validateCandidate(m.candidate ?? '', m.mid);
              // node-datachannel writes candidates as SDP lines (`a=candidate:…`); the browser wants the attribute
              const c: RTCIceCandidateInit = { candidate: m.candidate!.replace(/^a=/, ''), sdpMid: m.mid ?? '0' };
              if (!remoteSet || pending.length > 0) {
                if (pending.length < MAX_PENDING_CANDIDATES) pending.push(c);
              } else {
                // a candidate the browser cannot use (e.g. an unresolvable host) is not a broken link
                pc.addIceCandidate(c).catch((err) => log.debug('candidate ignored', { err: (err as Error).message }));
              }
              break;
            }
            case 'bye':
              finish(`remote closed: ${m.reason ?? 'bye'}`, false, false);
              break;
          }
        } catch (err) {
          fail(`bad signalling from ${opts.remotePeerId}: ${(err as Error).message}`);
        }
      },
      send(frame) {
        if (closed || !dc || dc.readyState !== 'open') return false;
        try {
          dc.send(frame as Uint8Array<ArrayBuffer>);
          return true;
        } catch (err) {
          fail(`send failed: ${(err as Error).message}`);
          return false;
        }
      },
      bufferedAmount: () => (dc && !closed ? dc.bufferedAmount : 0),
      rttMs: () => rtt,
      close(reason) {
        finish(reason, false, true);
      },
    };
    links.add(link);
    if (opts.role === 'offerer') {
      try {
        wire(pc.createDataChannel(DATA_CHANNEL_LABEL));
        run('offer', async () => {
          const offer = await pc.createOffer();
          await pc.setLocalDescription(offer);
          send({ kind: 'offer', sdp: preferActiveSetup(pc.localDescription?.sdp ?? offer.sdp ?? '') });
        });
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
      return links.size;
    },
    closing: 0,
    maxAllocated,
    allocatedFor: (remotePeerId) => perPeer.get(remotePeerId) ?? 0,
    setup,
    shutdown() {
      if (down) return;
      down = true;
      setup.clear();
      for (const l of [...links]) l.close('shutting down');
    },
  };
}
