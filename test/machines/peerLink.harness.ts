/**
 * The peerLink machine's unit-test harness: the machine over a fake transport (no WebRTC) that the test drives
 * with transport events and whose received commands and stop it records.
 */
import * as assert from 'uvu/assert';
import { createActor, fromCallback, toPromise } from 'xstate';
import { recordHistory, stateId } from './harness.js';
import { peerLinkMachine } from '../../machines/peerLink/mod.js';
import type {
  LinkTransportCommand, LinkTransportEvent, LinkTransportInput, PeerLinkInput, PeerLinkOutput,
} from '../../machines/peerLink/mod.js';

export const VIDEO = 'vtest';
export const ROOT = 'f'.repeat(64);
export const REMOTE = 'peerB';

/** A valid handshake from REMOTE for the test swarm, with `over` changed. */
export const handshake = (over: Partial<Extract<LinkTransportEvent, { type: 'frame.handshake' }>> = {}): LinkTransportEvent =>
  ({ type: 'frame.handshake', peerId: REMOTE, videoId: VIDEO, rootHash: ROOT, uploads: true, ...over });

export interface Options {
  input?: Partial<PeerLinkInput>;
  delays?: { signallingTimeout?: number; connectTimeout?: number; handshakeTimeout?: number };
  /** replaces the fake transport's body (e.g. to throw) */
  transportStart?: () => void;
  /** run the machine's own placeholder transport */
  noTransport?: boolean;
}

/** Long enough never to fire during a test unless a test shortens it. */
export const NEVER = 600_000;

/** A started peerLink machine over a fake transport the test drives (`t`) and whose commands it reads (`log`). */
export function run(opts: Options = {}) {
  /** commands received by the transport and its stop, in order */
  const log: Array<LinkTransportCommand | 'stopped'> = [];
  const inputs: LinkTransportInput[] = [];
  const history: string[] = [];
  let sendBack: ((e: LinkTransportEvent) => void) | null = null;
  const transport = fromCallback<LinkTransportCommand, LinkTransportInput>(({ sendBack: sb, receive, input }) => {
    inputs.push(input);
    opts.transportStart?.();
    sendBack = sb;
    receive((c) => { log.push(c); });
    return () => { log.push('stopped'); };
  });
  const delays = { signallingTimeout: NEVER, connectTimeout: NEVER, handshakeTimeout: NEVER, ...opts.delays };
  const machine = opts.noTransport
    ? peerLinkMachine.provide({ delays })
    : peerLinkMachine.provide({ actors: { transport }, delays });
  const actor = createActor(machine, {
    input: { remotePeerId: REMOTE, role: 'offerer', videoId: VIDEO, rootHash: ROOT, ...opts.input },
  });
  recordHistory(actor, history);
  actor.start();
  const t = (e: LinkTransportEvent) => {
    if (!sendBack) throw new Error('transport not running');
    sendBack(e);
  };
  return {
    actor,
    log,
    inputs,
    history,
    t,
    snap: () => actor.getSnapshot(),
    ctx: () => actor.getSnapshot().context,
    state: () => stateId(actor.getSnapshot().value),
    done: () => toPromise(actor) as Promise<PeerLinkOutput>,
    commands: () => log.filter((c): c is LinkTransportCommand => c !== 'stopped'),
    stopped: () => log.filter((c) => c === 'stopped').length,
  };
}
export type Run = ReturnType<typeof run>;

/** Offerer path up to `open.choked`. */
export function open(r: Run) {
  r.t({ type: 'signal.offerSent' });
  r.t({ type: 'signal.answerReceived' });
  r.t({ type: 'transport.connected', at: 100 });
  r.t({ type: 'channel.open', at: 110 });
  r.t({ ...handshake(), at: 120 } as LinkTransportEvent);
  assert.is(r.state(), 'open.choked');
}
