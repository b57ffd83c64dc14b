/**
 * A peer's membership in one video's swarm: finds peers through the tracker, connects (offers) or accepts
 * (answers) WebRTC links, keeps what each remote holds, serves chunks (uploader), fetches chunks (request table),
 * and bans peers that send corrupt data. The download machine sees it only as `peer.*` events and
 * `request(peerId, index)`; the swarm outlives the machine so a finished client keeps seeding.
 *
 * Glare (both sides offer at once): the offer from the lower peer id wins; the other side drops its own attempt.
 *
 * Offers are what a stranger controls, so accepting one is bounded: at most `maxPendingIncoming` incoming links
 * not yet open, at most `maxPerSender` native connections per remote (a closed link counts until the RTC host
 * freed it, so an offer/bye loop from one id waits for its own connections to be freed), none when the host is
 * at capacity, and a link that is not open after `openTimeoutMs` is closed. A refused offer is answered `busy`
 * (rate limited, refusals.ts) so the offerer tries someone else at once. Every per-peer structure is dropped
 * when the link ends; the few that outlive links (bans, set-up times, bytes by peer) are capped.
 */
import { unrefTimer, type Timer } from '../../lib/timers.js';
import type { PeerLinkSnapshot } from '../../machines/peerLink/machine.js';
import { canRequest } from '../../machines/peerLink/machine.js';
import { toBase64, type RelayedSignal } from '../../protocol/mod.js';
import { FetchFailure } from '../http.js';
import { createPeerLinkStarter, type PeerLinkHandle } from './link.js';
import { createRequestTable } from './requests.js';
import { SetupLanes, type Swarm, type SwarmComponents, type SwarmEvent, type SwarmInit } from './types.js';
import { remoteLacking, remoteWants } from './interest.js';
import { createUploader } from './uploader.js';
import { createAnnouncer } from './announcer.js';
import { BUSY_REASON, createRefusals } from './refusals.js';

export type { Swarm, SwarmComponents, SwarmEvent, SwarmInit, SwarmStats } from './types.js';

interface LinkView {
  open: boolean;
  unchoked: boolean;
  haveSent: boolean[] | null;
  /** the remote's have count when we last looked */
  haveCount: number;
  openTimer: Timer | null;
}

/** caps on what outlives links; ids are chosen by remote peers */
const MAX_BANNED = 4096;
const MAX_SETUP_SAMPLES = 1024;
const MAX_DOWNLOADED_PEERS = 1024;

/** Adds to a map/set used as an insertion-ordered cache, evicting the oldest entries beyond `max`. */
function capped<K>(m: Map<K, unknown> | Set<K>, max: number) {
  while (m.size > max) {
    const oldest = m.keys().next();
    if (oldest.done) break;
    m.delete(oldest.value);
  }
}

/** A fresh connection id: 72 random bits (Web Crypto's getRandomValues exists in Node 20 and in browsers). */
function connectionId(): string {
  return `c${toBase64(globalThis.crypto.getRandomValues(new Uint8Array(9)), true)}`;
}

export function createSwarm(init: SwarmInit, c: SwarmComponents): Swarm {
  const { content, videoId, peerId: self } = init;
  const log = c.logger;
  const maxPeers = init.maxPeers ?? 8;
  const maxLinks = init.maxLinks ?? maxPeers + 2;
  const openTimeoutMs = init.openTimeoutMs ?? 15_000;
  const maxPendingIncoming = init.maxPendingIncoming ?? maxPeers;
  const maxPerSender = init.maxPerSender ?? 2;
  /** this swarm's links per remote whose native connection is not freed yet (entries removed at zero) */
  const nativeFor = new Map<string, number>();
  const links = new Map<string, PeerLinkHandle>();
  const views = new Map<string, LinkView>();
  const banned = new Set<string>();
  const listeners = new Set<(e: SwarmEvent) => void>();
  const setupTimes: number[] = [];
  const downloaded = new Map<string, number>();
  let unsubscribeSignal: (() => void) | null = null;
  const refusals = createRefusals({ videoId }, { send: (to, m) => c.signal.send(to, m), now: () => performance.now() });
  let stopped = false;

  const emit = (e: SwarmEvent) => {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        log.warn('swarm listener failed', { err });
      }
    }
  };
  const requests = createRequestTable({ timeoutMs: init.requestTimeoutMs ?? 8000 });
  const uploader = createUploader({ enabled: init.uploads, slots: init.uploadSlots ?? 4, rechokeMs: init.rechokeMs ?? 2000,
    highWaterBytes: 1024 * 1024, maxQueued: 16, ...(init.maxQueuedTotal ? { maxQueuedTotal: init.maxQueuedTotal } : {}) }, {
    source: c.source, logger: log, ...(c.uploadLimiter ? { limiter: c.uploadLimiter } : {}),
    complete: () => c.source.complete?.() ?? c.source.have().every(Boolean),
    lacking: (peerId) => remoteLacking(links.get(peerId)?.snapshot().context.remoteHave),
    remoteHas: (peerId, index) => links.get(peerId)?.snapshot().context.remoteHave?.[index] === true,
    wants: (peerId) => remoteWants(links.get(peerId)?.snapshot().context.remoteHave, c.source),
    lacksAny: (peerId, pick) => remoteWants(links.get(peerId)?.snapshot().context.remoteHave, c.source, pick),
  });

  /** the download machine hears of each remote chunk once, whichever way the link learnt of it */
  const tellHave = (peerId: string, v: LinkView, index: number) => {
    if (!v.haveSent || v.haveSent[index]) return;
    v.haveSent[index] = true;
    emit({ type: 'peer.have', peerId, index });
  };

  const onSnapshot = (link: PeerLinkHandle, snap: PeerLinkSnapshot) => {
    if (links.get(link.remotePeerId) !== link) return;
    const v = views.get(link.remotePeerId)!;
    const open = snap.matches('open');
    if (open && !v.open) {
      v.open = true;
      if (v.openTimer) clearTimeout(v.openTimer);
      v.openTimer = null;
      const ms = link.setupMs();
      if (ms !== null) setupTimes.push(ms);
      if (setupTimes.length > MAX_SETUP_SAMPLES) setupTimes.splice(0, setupTimes.length - MAX_SETUP_SAMPLES);
      uploader.addPeer(link);
      emit({ type: 'peer.joined', peerId: link.remotePeerId });
    }
    if (!open) return;
    const have = snap.context.remoteHave;
    if (have) {
      if (!v.haveSent) {
        v.haveSent = have.slice();
        emit({ type: 'peer.bitfield', peerId: link.remotePeerId, have });
      } else if (snap.context.haveCount !== v.haveCount) {
        const last = snap.context.lastHave;
        if (snap.context.haveCount === v.haveCount + 1 && last !== null && have[last] && !v.haveSent[last]) {
          // one new have (the common case): no scan of a bitfield that may hold 65,536 entries
          tellHave(link.remotePeerId, v, last);
        } else {
          for (let i = 0; i < have.length; i++) if (have[i]) tellHave(link.remotePeerId, v, i);
        }
      }
      v.haveCount = snap.context.haveCount;
    }
    const unchoked = canRequest(snap);
    if (unchoked !== v.unchoked) {
      v.unchoked = unchoked;
      emit({ type: unchoked ? 'peer.unchoked' : 'peer.choked', peerId: link.remotePeerId });
    }
  };

  /** a have the link took without its machine (link.ts): same outcome as one seen in a snapshot */
  const onHave = (link: PeerLinkHandle, index: number) => {
    const v = views.get(link.remotePeerId);
    if (links.get(link.remotePeerId) === link && v) tellHave(link.remotePeerId, v, index);
  };

  const onEnd = (link: PeerLinkHandle, status: 'closed' | 'banned', reason: string) => {
    if (links.get(link.remotePeerId) === link) {
      links.delete(link.remotePeerId);
      const v = views.get(link.remotePeerId);
      views.delete(link.remotePeerId);
      if (v?.openTimer) clearTimeout(v.openTimer);
      if (v?.open) emit({ type: 'peer.left', peerId: link.remotePeerId });
      else if (reason === `remote closed: ${BUSY_REASON}`) refusals.noteBusy(link.remotePeerId);
      // only the current link's end clears the peer: a replaced link (glare) must not fail the new one's requests
      requests.peerGone(link.remotePeerId, reason);
      uploader.removePeer(link.remotePeerId);
    }
    if (status === 'banned') {
      addBan(link.remotePeerId);
      log.warn('peer banned', { peer: link.remotePeerId, reason });
      void c.tracker.report(videoId, self, link.remotePeerId, reason.slice(0, 200)).catch(() => {});
    } else {
      log.debug('link closed', { peer: link.remotePeerId, reason });
    }
  };

  const addBan = (peerId: string) => {
    banned.delete(peerId);
    banned.add(peerId);
    capped(banned, MAX_BANNED);
  };

  const onReleased = (link: PeerLinkHandle) => {
    const n = (nativeFor.get(link.remotePeerId) ?? 1) - 1;
    if (n > 0) nativeFor.set(link.remotePeerId, n);
    else nativeFor.delete(link.remotePeerId);
  };

  const onPiece = (link: PeerLinkHandle, index: number, offset: number, len: number, data: Uint8Array) => {
    const verdict = requests.onPiece(link.remotePeerId, index, offset, len, data);
    if (verdict === 'unrequested' || verdict === 'inconsistent') {
      log.debug('protocol violation', { peer: link.remotePeerId, verdict, index, offset });
      link.strike(`${verdict} piece: chunk ${index} offset ${offset}`);
      return;
    }
    if (verdict === 'late') return;
    // reciprocity credit only for bytes we asked for and accepted
    const p = link.remotePeerId;
    downloaded.set(p, (downloaded.get(p) ?? 0) + data.byteLength);
    capped(downloaded, MAX_DOWNLOADED_PEERS);
    uploader.noteReceived(p, data.byteLength);
  };

  const startLink = createPeerLinkStarter();
  const addLink = (remote: string, role: 'offerer' | 'answerer', connId: string): PeerLinkHandle => {
    const link: PeerLinkHandle = startLink({ remotePeerId: remote, connId, role,
      self: { peerId: self, videoId, rootHash: content.rootHash, chunkCount: content.chunkCount, uploads: init.uploads },
      ...(init.linkTimeouts ? { timeouts: init.linkTimeouts } : {}) }, {
      rtc: c.rtc, source: c.source, logger: log, ...(c.inspect ? { inspect: c.inspect } : {}),
      sendSignal: (to, m) => c.signal.send(to, m),
      handlers: {
        onRequest: (p, i) => uploader.onRequest(p, i),
        onCancel: (p, i) => uploader.onCancel(p, i),
        onPiece: (_p, i, off, len, data) => onPiece(link, i, off, len, data),
        onReject: (p, i, r) => requests.onReject(p, i, r),
        onSnapshot, onHave, onEnd, onReleased,
        onDrain: () => uploader.kick(),
      },
    });
    nativeFor.set(remote, (nativeFor.get(remote) ?? 0) + 1);
    if (link.snapshot().status !== 'active') return link; // ended at once (e.g. the RTC host is at capacity)
    links.set(remote, link);
    const openTimer = setTimeout(() => {
      if (!views.get(remote)?.open && links.get(remote) === link) link.close('timeout:open');
    }, openTimeoutMs);
    unrefTimer(openTimer);
    views.set(remote, { open: false, unchoked: false, haveSent: null, haveCount: 0, openTimer });
    return link;
  };

  // a signal is set-up work (a native call, a link's machine): handled in the runtime's slices. One for a link
  // we have goes first (it finishes or ends it); an offer, or anything for a link whose offer still waits, behind
  // the offers that came before it, so a link's signals keep their order
  const onSignal = (m: RelayedSignal) => {
    const ours = m.kind !== 'offer' && links.get(m.from)?.connId === m.connId;
    const lane = ours ? SetupLanes.finish : SetupLanes.accept;
    if (!c.rtc.setup.run(() => handleSignal(m), lane)) log.debug('signal dropped: the set-up queue is full', { from: m.from });
  };
  const handleSignal = (m: RelayedSignal) => {
    if (stopped || m.videoId !== videoId) return;
    const existing = links.get(m.from);
    if (m.kind !== 'offer') {
      if (existing && existing.connId === m.connId) existing.handleSignal(m);
      return;
    }
    if (banned.has(m.from)) return;
    if (!acceptable(m.from)) return refusals.refuse(m.from, m.connId); // rate limited: a flood is not amplified
    if (existing) {
      const settled = existing.snapshot().matches('open') || existing.role === 'answerer';
      // glare: keep the attempt offered by the lower peer id
      if (settled || self < m.from) return;
      existing.close('glare: accepting the remote offer');
      links.delete(m.from);
      views.delete(m.from);
    }
    addLink(m.from, 'answerer', m.connId).handleSignal(m);
  };

  /** may an offer from `from` be answered now (the offerer's signalling timeout closes its side otherwise) */
  const acceptable = (from: string) => {
    if (links.size >= maxLinks) return false;
    if ((nativeFor.get(from) ?? 0) >= maxPerSender) return false;
    if (c.rtc.allocated >= c.rtc.maxAllocated) return false;
    let pending = 0;
    for (const [p, l] of links) if (l.role === 'answerer' && !views.get(p)?.open) pending++;
    return pending < maxPendingIncoming;
  };

  const announcer = createAnnouncer({ videoId, peerId: self, chunkCount: content.chunkCount, uploads: init.uploads, maxPeers }, {
    tracker: c.tracker, source: c.source, logger: log,
    upload: () => ({ uploadedBytes: uploader.stats().uploadedBytes, spare: uploader.spare() }),
    linkCount: () => links.size,
    linked: (p) => links.has(p),
    rtts: () => {
      const rttMs: Record<string, number> = {};
      for (const [p, l] of links) {
        const r = l.rttMs();
        if (r !== null) rttMs[p] = r;
      }
      return rttMs;
    },
    offer: (p) => {
      if (links.has(p) || banned.has(p) || refusals.isBusy(p)) return;
      if ((nativeFor.get(p) ?? 0) >= maxPerSender || c.rtc.allocated >= c.rtc.maxAllocated) return;
      addLink(p, 'offerer', connectionId());
    },
    setup: (fn) => c.rtc.setup.run(fn, SetupLanes.begin),
  });

  return {
    async start() {
      unsubscribeSignal = c.signal.onSignal(onSignal);
      await announcer.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      announcer.stop();
      unsubscribeSignal?.();
      uploader.stop();
      for (const v of views.values()) if (v.openTimer) clearTimeout(v.openTimer);
      for (const l of [...links.values()]) l.close('leaving the swarm');
      await c.tracker.leave(videoId, self).catch(() => {});
    },
    subscribe(fn) {
      listeners.add(fn);
      for (const [p, l] of links) {
        const v = views.get(p);
        if (!v?.open) continue;
        fn({ type: 'peer.joined', peerId: p });
        const have = l.snapshot().context.remoteHave;
        if (have) fn({ type: 'peer.bitfield', peerId: p, have });
        if (v.unchoked) fn({ type: 'peer.unchoked', peerId: p });
      }
      return () => listeners.delete(fn);
    },
    request(peerId, index, signal) {
      const link = links.get(peerId);
      if (!link?.canRequest()) {
        return Promise.reject(new FetchFailure('network', `no open, unchoked link to ${peerId}`));
      }
      const length = content.chunkLength(index);
      if (length === undefined) return Promise.reject(new FetchFailure('network', `chunk ${index} has no known length yet`));
      return requests.request(link, index, length, signal);
    },
    ban(peerId, reason) {
      addBan(peerId);
      const link = links.get(peerId);
      if (link) link.ban(reason);
      else void c.tracker.report(videoId, self, peerId, reason.slice(0, 200)).catch(() => {});
    },
    noteHave(index) {
      for (const l of links.values()) if (l.snapshot().matches('open')) l.sendHave(index);
      announcer.noteHave(index);
      uploader.refill();
    },
    stats() {
      const u = uploader.stats();
      return {
        uploadedBytes: u.uploadedBytes, uploadedByPeer: u.byPeer, downloadedByPeer: Object.fromEntries(downloaded),
        links: [...links.values()].map((l) => ({ peerId: l.remotePeerId, state: JSON.stringify(l.snapshot().value),
          role: l.role, setupMs: l.setupMs(), remoteHave: l.remoteHaveCount() })),
        setupMs: [...setupTimes], banned: [...banned],
      };
    },
  };
}
