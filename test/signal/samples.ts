/**
 * Real SDP samples for the signalling tests: one offer/answer exchange between two node-datachannel peers on
 * loopback, plus a browser-shaped (Chrome) data-channel offer. Follows the lifetime rules of
 * shared/notes/node-datachannel.md: strong references to every PeerConnection and DataChannel, every callback
 * guarded, and `close()` closes them all and then calls `cleanup()` (without which the process never exits).
 */
import nodeDataChannel, { type DataChannel, type DescriptionType, type PeerConnection } from 'node-datachannel';
import { openWithRetry, type SetupAttempt } from '../helpers/setup.js';

export interface RealSdp {
  offer: string;
  answer: string;
  /** local candidates of both sides, as node-datachannel reports them */
  candidates: Array<{ candidate: string; mid: string }>;
  /** closes every channel and connection, then releases the native library */
  close(): void;
}

/**
 * One real exchange, retried with fresh connections (test/helpers/setup.ts: node-datachannel's start race fails
 * a loopback set-up now and then on a loaded machine, "Got a remote candidate without ICE transport").
 */
export async function realSdp(timeoutMs = 10000): Promise<RealSdp> {
  try {
    const x = await openWithRetry(() => attemptSdp(), 'a real SDP exchange', { timeoutMs, pauseMs: 200 });
    return { offer: x.offer(), answer: x.answer(), candidates: x.candidates, close: () => { x.close(); nodeDataChannel.cleanup(); } };
  } catch (err) {
    nodeDataChannel.cleanup();
    throw err;
  }
}

/** connections and channels of closed attempts: referenced until the library is released (the notes' rule) */
const retired: unknown[] = [];

/** One attempt; `close()` closes its connections and keeps them referenced (the library stays up). */
function attemptSdp(): SetupAttempt & { offer(): string; answer(): string; candidates: RealSdp['candidates'] } {
  const a = new nodeDataChannel.PeerConnection('a', { iceServers: [], bindAddress: '127.0.0.1' });
  const b = new nodeDataChannel.PeerConnection('b', { iceServers: [], bindAddress: '127.0.0.1' });
  const channels: DataChannel[] = [];
  const candidates: Array<{ candidate: string; mid: string }> = [];
  let offer = '';
  let answer = '';
  let opened = false;
  let failure: unknown = null;
  const guard = (fn: () => void) => {
    try { fn(); } catch (e) { failure ??= e; }
  };
  // candidates can arrive before the remote description (notes: that throws inside a callback): queue them
  const pending = new Map<PeerConnection, Array<[string, string]>>([[a, []], [b, []]]);
  const described = new Set<PeerConnection>();
  const describe = (pc: PeerConnection, sdp: string, type: DescriptionType) => {
    pc.setRemoteDescription(sdp, type);
    described.add(pc);
    for (const [c, mid] of pending.get(pc)!.splice(0)) pc.addRemoteCandidate(c, mid);
  };
  const addCandidate = (pc: PeerConnection, c: string, mid: string) => {
    if (described.has(pc)) pc.addRemoteCandidate(c, mid);
    else pending.get(pc)!.push([c, mid]);
  };
  b.onDataChannel((dc) => guard(() => { channels.push(dc); }));
  a.onLocalDescription((sdp, type) => guard(() => {
    if (type === 'offer') { offer = sdp; describe(b, sdp, type); }
  }));
  b.onLocalDescription((sdp, type) => guard(() => {
    if (type === 'answer') { answer = sdp; describe(a, sdp, type); }
  }));
  a.onLocalCandidate((candidate, mid) => guard(() => { candidates.push({ candidate, mid }); addCandidate(b, candidate, mid); }));
  b.onLocalCandidate((candidate, mid) => guard(() => { candidates.push({ candidate, mid }); addCandidate(a, candidate, mid); }));
  const dc = a.createDataChannel('x');
  channels.push(dc);
  dc.onOpen(() => guard(() => { opened = true; }));
  return {
    opened: () => opened && offer !== '' && answer !== '' && candidates.length >= 2,
    failed: () => failure !== null,
    close() {
      for (const c of channels) { try { c.close(); } catch { /* already closed */ } }
      for (const pc of [a, b]) { try { pc.close(); } catch { /* already closed */ } }
      retired.push(a, b, ...channels);
    },
    offer: () => offer,
    answer: () => answer,
    candidates,
  };
}

/** A data-channel offer as Chrome writes it (trickle ICE, CRLF line ends). */
export const CHROME_OFFER = [
  'v=0',
  'o=- 4215775240449105457 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Kk0E',
  'a=ice-pwd:3Xc0Pa8c6ayJ2Qfr1xgoVKVf',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
  'a=setup:actpass',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  '',
].join('\r\n');

/** Browser-shaped candidates (Chrome host/srflx, Firefox mDNS, TCP). */
export const BROWSER_CANDIDATES = [
  'candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Kk0E network-cost 999',
  'candidate:1467250027 1 udp 2122260223 192.168.1.20 56143 typ host generation 0 ufrag Kk0E network-id 1',
  'candidate:0 1 UDP 2122252543 3b7c0e2c-4e8e-4a4a-9a1e-4d2b3c5e6f70.local 51234 typ host',
  'candidate:3 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active generation 0',
];

/**
 * uvu swallows an exception thrown by a `before` hook (the suite just reports 0 / N passed, with no message):
 * wrap hook bodies so the cause is printed and the exit code is set.
 */
export function loud<C>(fn: (ctx: C) => Promise<void>): (ctx: C) => Promise<void> {
  return async (ctx) => {
    try {
      await fn(ctx);
    } catch (e) {
      console.error('before hook failed:', e);
      process.exitCode = 1;
      throw e;
    }
  };
}
