/**
 * In-process download clients for P2P tests: each is a real client (its own NATS connection, `.part`
 * directory, swarm and node-datachannel links on 127.0.0.1) sharing one RTC host, because node-datachannel's
 * native teardown is process-wide. State histories come from XState inspection events.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { InspectionEvent } from 'xstate';
import { createOriginClient } from '../../actors/origin/client.js';
import { runDownload, stateName, type DownloadResult } from '../../client/download.js';
import { createPeerNode, type PeerNode } from '../../client/p2p/peer.js';
import type { RtcHost } from '../../client/p2p/rtc.js';
import { partialSource } from '../../client/p2p/sources.js';
import { openPartial, partialDirFor } from '../../client/partial.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import { createTokenBucket } from '../../lib/tokenbucket.js';
import type { Manifest } from '../../protocol/mod.js';

/** Records the root machine's state values, from inspection events only. */
export function inspectionHistory() {
  const history: string[] = [];
  const last: { snapshot: unknown } = { snapshot: null };
  const inspect = (e: InspectionEvent) => {
    if (e.type !== '@xstate.snapshot' || e.actorRef.sessionId !== e.rootId) return;
    last.snapshot = e.snapshot;
    const s = stateName((e.snapshot as { value?: unknown }).value);
    if (s && history[history.length - 1] !== s) history.push(s);
  };
  return { history, inspect, last };
}

export interface TestClient {
  peerId: string;
  outPath: string;
  node: PeerNode;
  history: string[];
  /** the machine's latest snapshot (from inspection), for diagnostics */
  last: { snapshot: unknown };
  snapshot(): ReturnType<ReturnType<typeof runDownload>['snapshot']>;
  result: Promise<DownloadResult>;
  nc: NatsConnection;
  stop(): Promise<void>;
}

export async function startClient(args: {
  /** mints a peer credential and connects (a stack's or test env's connectPeer) */
  peers: { connectPeer(opts: { peerId: string }): Promise<{ nc: NatsConnection }> };
  gateway: string; manifest: Manifest; dir: string; rtc: RtcHost; logger: Logger;
  peerId?: string; rate?: number; upRate?: number;
}): Promise<TestClient> {
  const peerId = args.peerId ?? `t${randomBytes(6).toString('hex')}`;
  const { nc } = await args.peers.connectPeer({ peerId });
  const outPath = join(args.dir, `${peerId}.out`);
  const partial = await openPartial(partialDirFor(outPath), args.manifest);
  const node = createPeerNode({ peerId, manifest: args.manifest, uploads: true, rechokeMs: 500,
    ...(args.upRate ? { uploadRate: args.upRate } : {}) },
  { nc, source: partialSource(partial), logger: args.logger, rtc: args.rtc });
  await node.swarm.start();
  const { history, inspect, last } = inspectionHistory();
  const run = runDownload({ videoId: args.manifest.videoId, peerId, gateway: args.gateway, outPath, keepPartial: true }, {
    origin: createOriginClient(nc), partial, logger: args.logger, swarm: node.swarm, inspect,
    ...(args.rate ? { limiter: createTokenBucket(args.rate) } : {}),
  });
  return {
    peerId, outPath, node, history, last, result: run.done, nc, snapshot: () => run.snapshot(),
    async stop() {
      await node.stop();
      await partial.close();
      await nc.close();
    },
  };
}
