/**
 * The download machine's actors as the machine itself declares them: placeholders that fail loudly until the
 * runner provides the real ones with `.provide()` (types.ts says what each must do). Only `swarm` has a working
 * default: "no swarm" is a valid runner (origin only).
 */
import { fromCallback, fromPromise, type EventObject } from 'xstate';
import type {
  AssembleInput, AssembleOutput, FetchChunkInput, FetchResult, FetchUrgentInput, OpenSessionInput,
  OpenSessionOutput, ReleaseSessionInput, SessionKeeperEvent, SessionKeeperInput, SwarmInput,
} from './types.js';

const missing = (name: string) => async (): Promise<never> => {
  throw new Error(`${name} not provided`);
};

export const downloadActors = {
  openSession: fromPromise<OpenSessionOutput, OpenSessionInput>(missing('openSession')),
  sessionKeeper: fromCallback<SessionKeeperEvent, SessionKeeperInput>(() => {
    throw new Error('sessionKeeper not provided');
  }),
  // both resolve with a FetchResult naming chunk and source (never reject): fetchChunk from the origin under the
  // slot's grant or from a peer; fetchUrgent an urgent grant from the origin, then the chunk from the gateway
  fetchChunk: fromPromise<FetchResult, FetchChunkInput>(missing('fetchChunk')),
  fetchUrgent: fromPromise<FetchResult, FetchUrgentInput>(missing('fetchUrgent')),
  assemble: fromPromise<AssembleOutput, AssembleInput>(missing('assemble')),
  releaseSession: fromPromise<void, ReleaseSessionInput>(missing('releaseSession')),
  swarm: fromCallback<EventObject, SwarmInput>(() => () => {}),
};
