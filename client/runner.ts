/**
 * The runner glue every edge shares: the download machine's session actors (open, keep alive, swarm events) over
 * an OriginClient and a Swarm. The Node CLI (client/download.ts) and the browser engine (web/engine.ts) provide
 * these same actors, so a slot offer, a lost lease or a ban behaves identically in both; only chunk fetching,
 * storage and hashing differ per edge. Portable: no Node built-in, no Buffer.
 */
import { fromCallback, fromPromise, type EventObject } from 'xstate';
import { beatTimeoutMs, nextBeatMs, type OriginClient } from '../actors/origin/client.js';
import type { Logger } from '../lib/logger.js';
import type { Timer } from '../lib/timers.js';
import { isTransientError } from '../machines/download/schedule.js';
import type {
  OpenSessionInput, OpenSessionOutput, SessionKeeperEvent, SessionKeeperInput, SwarmCommand, SwarmInput,
} from '../machines/download/types.js';
import { BadManifestError, ErrorCodes, SwitchyardError, type Manifest } from '../protocol/mod.js';
import type { Swarm } from './p2p/swarm.js';

/** Heartbeat period shared by the open actor (which learns the lease TTL) and the keeper (which uses it). */
export interface HeartbeatClock {
  ms: number;
}

/**
 * `openSession`: opens (or joins the wait list) at the origin. The reply names the root only: the manifest is
 * the one fetched from the catalog (and checked) once, and a reply for another root fails the run.
 */
export function openSessionActor(origin: Pick<OriginClient, 'open'>, manifest: Manifest, beat: HeartbeatClock) {
  return fromPromise<OpenSessionOutput, OpenSessionInput>(async ({ input }) => {
    const r = await origin.open(input.videoId, input.peerId);
    if (r.videoId !== manifest.videoId || r.rootHash !== manifest.rootHash) {
      throw new BadManifestError(`the origin serves ${r.videoId} with root ${r.rootHash.slice(0, 12)}…, ` +
        `not the manifest this download holds (${manifest.rootHash.slice(0, 12)}…)`);
    }
    beat.ms = Math.max(100, Math.floor((r.status === 'granted' ? r.lease.ttlMs : r.ttlMs) / 3));
    return { ...r, manifest };
  });
}

/**
 * `sessionKeeper`: heartbeats the session and reports what it hears, raw (`origin.heartbeat` with the answer, the
 * pushes as they come); the machine decides what a granted or waiting answer means in its own state. The machine
 * tells it `session.yield` (the turn is over: release the slot, parked) and `session.need` (whether the download
 * lacks chunks its peers do not hold; the heartbeats carry it).
 */
/**
 * How long a need must last, with no chunk from peers meanwhile, before heartbeats say so: a client that peers
 * keep busy does not need the origin even while some chunk is out of its peers' reach for now.
 */
export const NEED_HOLD_MS = 2000;

export function sessionKeeperActor(origin: Pick<OriginClient, 'heartbeat' | 'onPush' | 'release'>, logger: Logger, beat: HeartbeatClock) {
  return fromCallback<SessionKeeperEvent, SessionKeeperInput>(({ input, sendBack, receive }) => {
    let stopped = false;
    /** since when the machine says it needs the origin (null: it does not) */
    let needSince: number | null = null;
    let lastProgress = 0;
    /** bumped at each yield: a granted answer to a beat sent before the park was answered is stale */
    let yields = 0;
    /** bumped at each push for this session: an answer to a beat sent before it is older than the push */
    let pushes = 0;
    let parking = false;
    /** whether the origin ever answered a beat of this session (one lost before that was lost at once) */
    let answered = false;
    const unsub = origin.onPush(input.peerId, {
      slotOffered: (o) => {
        if (o.sessionId !== input.sessionId) return;
        pushes++;
        sendBack({ type: 'origin.slotOffered', grant: o.grant, lease: o.lease });
      },
      slotRevoked: (r) => {
        if (r.sessionId !== input.sessionId) return;
        pushes++;
        sendBack({ type: 'origin.leaseLost', reason: r.reason });
      },
    }, logger);
    let timer: Timer | null = null;
    receive((e) => {
      if (stopped) return;
      if (e.type === 'session.yield') {
        yields++;
        parking = true;
        // a lost reply is harmless: the next heartbeat tells what the origin made of it
        origin.release(input.sessionId, input.peerId, { park: true })
          .catch((err: unknown) => logger.debug('yielding the slot failed', { err }))
          .finally(() => (parking = false));
      } else if (e.type === 'session.need') {
        // a chunk none of our peers holds is usually on its way to one of them: only a lasting need is worth a slot
        needSince = e.need ? (needSince ?? Date.now()) : null;
      } else if (e.type === 'session.progress') {
        lastProgress = Date.now();
      }
    });
    const tick = async () => {
      let failure: unknown;
      try {
        const epoch = yields;
        const heard = pushes;
        const now = Date.now();
        const need = needSince !== null && now - needSince >= NEED_HOLD_MS && now - lastProgress >= NEED_HOLD_MS;
        const r = await origin.heartbeat(input.sessionId, input.peerId, { need, timeoutMs: beatTimeoutMs(beat.ms) });
        if (stopped) return;
        answered = true;
        // the slot we just yielded, renewed by a beat that crossed the park: not an offer. And a push that came
        // while the beat was out is newer than its answer (a turn told as the crowd queued, answered `granted`
        // without it; an offer, answered `waiting`): the answer is dropped, the next beat is asked afresh
        const stale = heard !== pushes || (r.status === 'granted' && (parking || epoch !== yields));
        if (!stale) sendBack({ type: 'origin.heartbeat', ...r });
      } catch (err) {
        if (stopped) return;
        if (err instanceof SwitchyardError && err.code === ErrorCodes.unknownSession) {
          stopped = true; // the machine re-opens, and a new keeper starts with the new session
          sendBack({ type: 'origin.sessionLost', reason: 'session expired at the origin', answered });
          return;
        } else {
          logger.warn('heartbeat failed', { err });
          // no answer (NATS down, origin restarting): the machine times the outage; the beats go on, so the
          // first answer after it (often unknown_session: the lease expired meanwhile) resumes the download
          if (isTransientError(err)) sendBack({ type: 'origin.unreachable', reason: (err as Error).message });
          failure = err; // a timed-out beat (its worker may have died with it) is sent again at once
        }
      }
      if (!stopped) timer = setTimeout(() => void tick(), nextBeatMs(beat.ms, failure));
    };
    // a first beat at once: pushes sent between the open's answer and this subscription (a turn told to the first
    // holder as the crowd queues behind it) were lost, and the answer carries what they said
    timer = setTimeout(() => void tick(), 0);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      unsub();
    };
  });
}

/** how long a have may wait for others to share its step: a tenth of a 256 KiB chunk's time at 1 MiB/s */
const HAVE_BATCH_MS = 25;

/** `swarm`: the swarm's `peer.*` events into the machine, its `swarm.ban` commands out to the swarm. */
export function swarmActor(swarm: Swarm | undefined) {
  return fromCallback<EventObject, SwarmInput>(({ sendBack, receive }) => {
    if (!swarm) return () => {};
    receive((cmd) => {
      const command = cmd as SwarmCommand;
      if (command.type === 'swarm.ban') swarm.ban(command.peerId, command.reason);
    });
    // a swarm sends N−1 haves for every chunk it completes: those of one moment go in as one `peer.haves`, so the
    // machine takes one step (and one pick) for them, not one each. Any other event goes after the haves before it.
    const haves: Array<{ peerId: string; index: number }> = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (haves.length > 0) sendBack({ type: 'peer.haves', haves: haves.splice(0) });
    };
    const unsubscribe = swarm.subscribe((e) => {
      if (e.type === 'peer.have') {
        haves.push({ peerId: e.peerId, index: e.index });
        timer ??= setTimeout(flush, HAVE_BATCH_MS);
        return;
      }
      flush();
      sendBack(e);
    });
    return () => {
      if (timer) clearTimeout(timer);
      unsubscribe();
    };
  });
}

/** A dotted state path (`active.server`) from a snapshot's value. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [k, v] = Object.entries(value)[0] ?? [];
    return k === undefined ? '' : `${k}.${stateName(v)}`.replace(/\.$/, '');
  }
  return String(value);
}
