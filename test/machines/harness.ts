/** Shared fakes for the download machine's unit tests: a manifest, controllable fetches, and a runner. */
import { createActor, fromCallback, fromPromise, toPromise } from 'xstate';
import type { EventObject, StateValue } from 'xstate';
import { chunkLength } from '../../protocol/mod.js';
import type { LeaseInfo, Manifest } from '../../protocol/mod.js';
import { downloadMachine, toFetchFailure } from '../../machines/download/mod.js';
import type {
  AssembleInput, AssembleOutput, DownloadEvent, DownloadInput, DownloadOutput, FetchChunkInput, FetchChunkOutput, FetchResult,
  FetchUrgentInput,
  OpenSessionInput, OpenSessionOutput, ReleaseSessionInput, SessionKeeperEvent, SessionKeeperInput, SwarmCommand, SwarmInput,
} from '../../machines/download/mod.js';

export const CHUNK = 16 * 1024;
export const LEASE: LeaseInfo = { slot: 0, expiresAt: 0, ttlMs: 30000 };

/** `count` chunks, the last one `lastLength` bytes long. */
export function makeManifest(count: number, lastLength = 1000): Manifest {
  return {
    version: 1,
    videoId: 'vtest',
    name: 'test.mp4',
    mime: 'video/mp4',
    size: (count - 1) * CHUNK + lastLength,
    chunkSize: CHUNK,
    chunks: Array.from({ length: count }, (_, i) => i.toString(16).padStart(64, '0')),
    rootHash: 'f'.repeat(64),
    createdAt: new Date(0).toISOString(),
  };
}
export const totalBytes = (m: Manifest, indexes: number[]) => indexes.reduce((n, i) => n + chunkLength(m, i), 0);

export const granted = (m: Manifest, grant = 'g1'): OpenSessionOutput =>
  ({ status: 'granted', sessionId: 's1', videoId: m.videoId, rootHash: m.rootHash, manifest: m, grant, lease: LEASE });
export const denied = (m: Manifest, position = 3): OpenSessionOutput =>
  ({ status: 'denied', sessionId: 's1', videoId: m.videoId, rootHash: m.rootHash, manifest: m, reason: 'full', position, ttlMs: 30000 });

export const failure = (reason: string, message = reason) => Object.assign(new Error(message), { reason });

/** Polls (no timing assertion: only a generous bound so a broken machine fails instead of hanging). */
export async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function stateId(v: StateValue): string {
  if (typeof v === 'string') return v;
  return Object.entries(v).map(([k, c]) => (c === undefined ? k : `${k}.${stateId(c)}`)).join(',');
}

/** Appends every new state value of `actor` (dotted ids) to `history`; errors are left to the test. */
export function recordHistory(actor: { subscribe(o: { next(s: { value: StateValue }): void; error(e: unknown): void }): unknown },
  history: string[]): void {
  actor.subscribe({
    next: (s) => {
      const id = stateId(s.value);
      if (history[history.length - 1] !== id) history.push(id);
    },
    error: () => {},
  });
}

export interface FetchCall { input: FetchChunkInput; signal: AbortSignal }
export type FetchImpl = (call: FetchCall, nth: number) => Promise<FetchChunkOutput>;

/** A fetch that succeeds on the next timer tick. */
export const okFetch: FetchImpl = async ({ input }) => {
  await new Promise((r) => setTimeout(r, 0));
  return { index: input.index, source: input.source, bytes: input.length };
};

/** A fetch that settles only when the test says so, or rejects when aborted. */
export function manualFetch() {
  const pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void; call: FetchCall }>();
  const impl: FetchImpl = (call) => new Promise<FetchChunkOutput>((resolve, reject) => {
    const { input, signal } = call;
    pending.set(input.index, {
      call,
      resolve: () => { pending.delete(input.index); resolve({ index: input.index, source: input.source, bytes: input.length }); },
      reject: (e) => { pending.delete(input.index); reject(e); },
    });
    signal.addEventListener('abort', () => { pending.delete(input.index); reject(failure('network', 'aborted')); });
  });
  return { pending, impl };
}

export interface Options {
  input?: Partial<DownloadInput>;
  open?: (input: OpenSessionInput, signal: AbortSignal) => Promise<OpenSessionOutput>;
  fetch?: FetchImpl;
  assemble?: (input: AssembleInput) => Promise<AssembleOutput>;
  release?: (input: ReleaseSessionInput) => Promise<void>;
  keeper?: () => void;
  /** the urgent fetch (streaming without a slot); default: succeeds on the next tick */
  urgent?: (input: FetchUrgentInput, signal: AbortSignal) => Promise<FetchResult>;
  /** commands the machine sends to the swarm actor */
  onSwarmCommand?: (c: SwarmCommand) => void;
  delays?: {
    retryDelay?: number; releaseTimeout?: number; declineDelay?: number; outageTimeout?: number; outageRetryDelay?: number;
    openRetryDelay?: number; urgentRetryDelay?: number;
  };
}

export function run(opts: Options) {
  const calls: FetchCall[] = [];
  const urgentCalls: Array<{ input: FetchUrgentInput; signal: AbortSignal }> = [];
  const releases: ReleaseSessionInput[] = [];
  const keeperInputs: SessionKeeperInput[] = [];
  const history: string[] = [];
  const conc = { now: 0, max: 0 };
  let keeperSend: ((e: DownloadEvent) => void) | null = null;
  let keeperStopped = 0;
  const keeperEvents: SessionKeeperEvent[] = [];
  let swarmSend: ((e: DownloadEvent) => void) | null = null;
  const swarmCommands: SwarmCommand[] = [];
  const machine = downloadMachine.provide({
    actors: {
      openSession: fromPromise<OpenSessionOutput, OpenSessionInput>(async ({ input, signal }) => opts.open!(input, signal)),
      sessionKeeper: fromCallback<SessionKeeperEvent, SessionKeeperInput>(({ sendBack, input, receive }) => {
        keeperInputs.push(input);
        receive((e) => keeperEvents.push(e));
        keeperSend = sendBack;
        opts.keeper?.();
        return () => { keeperStopped++; };
      }),
      swarm: fromCallback<EventObject, SwarmInput>(({ sendBack, receive }) => {
        swarmSend = sendBack;
        receive((c) => {
          swarmCommands.push(c as SwarmCommand);
          opts.onSwarmCommand?.(c as SwarmCommand);
        });
        return () => { swarmSend = null; };
      }),
      // the fakes resolve or reject like the real I/O; the provided actor reports either as a FetchResult
      fetchChunk: fromPromise<FetchResult, FetchChunkInput>(async ({ input, signal }) => {
        const call = { input, signal };
        calls.push(call);
        conc.max = Math.max(conc.max, ++conc.now);
        try {
          return { ok: true, ...(await (opts.fetch ?? okFetch)(call, calls.filter((c) => c.input.index === input.index).length)) };
        } catch (err) {
          return { ok: false, index: input.index, source: input.source, failure: toFetchFailure(err) };
        } finally {
          conc.now--;
        }
      }),
      fetchUrgent: fromPromise<FetchResult, FetchUrgentInput>(async ({ input, signal }) => {
        urgentCalls.push({ input, signal });
        if (opts.urgent) return opts.urgent(input, signal);
        await new Promise((r) => setTimeout(r, 0));
        return { ok: true, index: input.index, source: 'origin', bytes: input.length };
      }),
      assemble: fromPromise<AssembleOutput, AssembleInput>(async ({ input }) =>
        opts.assemble ? opts.assemble(input) : { path: `/out/${input.manifest.videoId}.mp4` }),
      releaseSession: fromPromise<void, ReleaseSessionInput>(async ({ input }) => {
        releases.push(input);
        await opts.release?.(input);
      }),
    },
    delays: { retryDelay: 1, ...opts.delays },
  });
  const actor = createActor(machine, { input: { videoId: 'vtest', peerId: 'p1', ...opts.input } });
  recordHistory(actor, history);
  actor.start();
  return {
    actor,
    calls,
    urgentCalls,
    /** sends an event as the player would (`playback.playhead`) */
    send: (e: DownloadEvent) => actor.send(e),
    releases,
    keeperInputs,
    /** what the machine told the keeper (turn yields, need changes) */
    keeperEvents,
    history,
    conc,
    done: () => toPromise(actor) as Promise<DownloadOutput>,
    keeper: (e: DownloadEvent) => {
      if (!keeperSend) throw new Error('sessionKeeper not running');
      keeperSend(e);
    },
    keeperStopped: () => keeperStopped,
    /** sends a `peer.*` event as the swarm would */
    swarm: (e: DownloadEvent) => {
      if (!swarmSend) throw new Error('swarm not running');
      swarmSend(e);
    },
    swarmCommands,
    indexes: () => calls.map((c) => c.input.index),
  };
}
