/**
 * The faults of the campaign (issue 10 item 5), each a function run once a crowd is under way. They act only on
 * processes the campaign started (by pid) and on 127.0.0.1. Each returns details worth printing.

 * The NATS node kill runs third, so later crowds show what a node restart leaves behind: it once left the origin
 * workers with expired leases they no longer swept (fixed: leader reads, lib/kv/buckets.ts; the reproduction is
 * bench/lib/faults/node-restart.ts).
 */
import { randomBytes } from 'node:crypto';
import type { RtcHost } from '../../../client/p2p/rtc.js';
import { createPeerNode } from '../../../client/p2p/peer.js';
import { createTrackerClient } from '../../../actors/tracker/client.js';
import { connectMintedPeer, type PeerMinter } from '../../../infra/peercreds.js';
import type { Logger } from '../../../lib/logger.js';
import { chunkLength, encodeBitfield, Subjects } from '../../../protocol/mod.js';
import { startCli } from '../cli.js';
import type { CrowdControl } from './crowd.js';

/** What the faults share: the source file, a peer minter, one RTC host for in-process peers, a logger. */
export interface FaultKit {
  videoPath: string;
  minter: PeerMinter;
  rtc: () => RtcHost;
  logger: Logger;
}

export interface Fault {
  name: string;
  /** runs before the crowd starts; returns a cleanup run after it ends */
  before?(kit: FaultKit, c: Omit<CrowdControl, 'clients' | 'kill' | 'killAndRestart' | 'progress'>): Promise<() => Promise<void>>;
  /** runs mid-crowd */
  inject(kit: FaultKit, c: CrowdControl): Promise<Record<string, unknown>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** state kept between a fault's `before` and `inject` (one campaign runs one fault at a time) */
const shared: { stall?: { pid: number; stop: () => Promise<void> }; floodPeers?: string[] } = {};

export const FAULTS: readonly Fault[] = [
  {
    name: 'kill_30pct_peers',
    async inject(_kit, c) {
      const n = Math.max(1, Math.round(c.clients.length * 0.3));
      for (let i = 0; i < n; i++) await c.kill(i);
      return { killed: n };
    },
  },
  {
    name: 'origin_workers_restarted',
    async inject(_kit, c) {
      // every origin worker crashes and comes back: a total origin outage of ~1 s plus their start-up
      const names = c.deploy.origins().map((w) => w.name);
      await Promise.all(names.map((n) => c.deploy.restartWorker(n, 'kill', 500)));
      return { restarted: names.length };
    },
  },
  {
    name: 'nats_node_killed',
    async inject(_kit, c) {
      const node = c.deploy.cluster.nodes[1]!;
      await node.pause();
      return { node: node.name };
    },
    async before(_kit, c) {
      return async () => {
        await c.deploy.cluster.nodes[1]!.resume();
        await c.deploy.cluster.ready();
      };
    },
  },
  {
    name: 'tracker_restarted',
    async inject(_kit, c) {
      await c.deploy.restartWorker('services', 'kill', 500);
      return { restarted: 'tracker+signal+ingest' };
    },
  },
  {
    name: 'client_killed_and_restarted',
    async inject(_kit, c) {
      await c.killAndRestart(0, 300);
      return { restarted: c.clients[0]!.label, written_before_kill: c.clients[0]!.writtenBeforeRestart };
    },
  },
  {
    name: 'poisoning_peer',
    async before(kit, c) {
      const { peerId, nc } = await connectMintedPeer(c.deploy.cluster.url, kit.minter, { peerId: 'poisoner' });
      const count = c.manifest.chunks.length;
      const liar = createPeerNode({ peerId, manifest: c.manifest, bindAddress: '127.0.0.1' }, { nc, logger: kit.logger, rtc: kit.rtc(),
        source: { has: () => true, have: () => new Array<boolean>(count).fill(true),
          read: async (i) => randomBytes(chunkLength(c.manifest, i)) } });
      await liar.swarm.start();
      return async () => {
        await liar.stop();
        await nc.close();
      };
    },
    async inject() {
      return { liar: 'poisoner' };
    },
  },
  {
    name: 'peer_stalls_mid_piece',
    async before(kit, c) {
      // a real seeder process, slowed so pieces are in flight when it is frozen (SIGSTOP: no FIN, no RST)
      const g = c.deploy.gateways()[0]!.gatewayUrl!;
      const run = startCli(['seed', c.manifest.videoId, '--file', kit.videoPath, '--json', '--up-rate',
        String(Math.ceil(c.manifest.size / 3)), '--nats', c.deploy.cluster.url, '--gateway', g, '--label', 'staller'],
      { timeoutMs: 180_000 });
      const deadline = Date.now() + 20_000;
      while (!run.events.some((e) => e.event === 'seeding') && Date.now() < deadline) await sleep(50);
      if (!run.events.some((e) => e.event === 'seeding')) throw new Error(`the stalling seeder did not start: ${run.stderr()}`);
      shared.stall = { pid: run.child.pid!, stop: async () => {
        run.child.kill('SIGCONT');
        run.child.kill('SIGKILL');
        await run.exited;
      } };
      return async () => {
        await shared.stall?.stop();
        delete shared.stall;
      };
    },
    async inject() {
      process.kill(shared.stall!.pid, 'SIGSTOP');
      return { frozen_pid: shared.stall!.pid };
    },
  },
  {
    name: 'bogus_signalling_flood',
    async inject(kit, c) {
      const { peerId, nc } = await connectMintedPeer(c.deploy.cluster.url, kit.minter, { peerId: 'flooder' });
      try {
        // the victims are whoever the tracker lists for the video (a flooder can learn them the same way)
        const reply = await createTrackerClient(nc).announce(c.manifest.videoId, { peerId, chunkCount: c.manifest.chunks.length,
          bitfield: encodeBitfield(new Array<boolean>(c.manifest.chunks.length).fill(false)), uploads: false, uploadBps: 0 });
        const victims = reply.peers.map((p) => p.peerId);
        const junk = [
          new TextEncoder().encode('{"connId":"x","videoId":"y","kind":"offer","sdp":"v=0\\r\\nnot an sdp"}'),
          randomBytes(2048),
          new TextEncoder().encode('{"kind":"candidate","candidate":"a=candidate:1 1 UDP 1 10.0.0.1 9 typ host"}'),
        ];
        let sent = 0;
        const until = Date.now() + 3000;
        while (Date.now() < until && victims.length > 0) {
          for (let k = 0; k < 200; k++) {
            nc.publish(Subjects.signal(peerId, victims[sent % victims.length]!), junk[sent % junk.length]!);
            sent++;
          }
          await sleep(10);
        }
        await nc.flush();
        return { messages: sent, victims: victims.length };
      } finally {
        await nc.close();
      }
    },
  },
  {
    name: 'gateway_restarted',
    async inject(_kit, c) {
      await c.deploy.restartWorker('gateway-0', 'kill', 500);
      return { restarted: 'gateway-0' };
    },
  },
];
