/**
 * bench:picker (issue 11 item 3): CPU of the download machine's piece picking per chunk acquired, for a synthetic
 * manifest of 16,384 chunks with 50 simulated peers, against the same swarm over 128 chunks.
 *
 * It drives the machine's own pure updates and planners (context.ts `indexPeers`, `applyPeerEvent`,
 * `chunkVerified`; plan.ts `planPeerFetches`, `planOriginFetches`), assigning their results into a context the way
 * the machine's actions do; no chunk bytes, no XState. The swarm: 40 peers announce partial bitfields (10-90 % of
 * the chunks each) and unchoke; 10 more join and 10 leave at evenly spaced points of the download; every chunk
 * the client verifies comes with `HAVES_PER_CHUNK` haves from random peers (each followed by a pick, as
 * `peer.have` → `schedulePeers` does); requests complete oldest first; a swarm-aware slot (parallel 4) takes what
 * no peer holds. Per-chunk event rates are the same in both sizes; joins and leaves are a fixed number per
 * download (a bitfield or a leave is O(chunks) by nature, so per chunk they cost the same in both sizes).
 *
 * Flags: --chunks (16384) --small (128) --peers (50) --runs (3, median) --reference-chunks (32: chunks acquired
 * with the old recomputing picker on the large manifest, which costs O(peers × chunks) per pick).
 */
import { parseArgs } from 'node:util';
import { gitCommit } from './lib/git.js';
import { applyPeerEvent, chunkVerified, indexPeers, initialContext, type DownloadContext, type Effects } from '../machines/download/context.js';
import { planOriginFetches, planPeerFetches } from '../machines/download/plan.js';
import { originOrderReference, pickPeerRequestsReference, type PeerFetch } from '../machines/download/peers.js';
import type { DownloadEvent } from '../machines/download/types.js';
import { OriginPolicies, type Manifest } from '../protocol/mod.js';
import { rng } from './lib/prng.js';

const { values } = parseArgs({
  options: {
    chunks: { type: 'string' }, small: { type: 'string' }, peers: { type: 'string' }, runs: { type: 'string' },
    'reference-chunks': { type: 'string' },
  },
});
const int = (v: string | undefined, d: number) => (v === undefined ? d : Math.max(1, Math.floor(Number(v))));
const CHUNKS = int(values.chunks, 16384);
const SMALL = int(values.small, 128);
const PEERS = int(values.peers, 50);
const RUNS = int(values.runs, 3);
const REF_CHUNKS = int(values['reference-chunks'], 32);
const HAVES_PER_CHUNK = 8;
const CHURN = Math.min(10, Math.floor(PEERS / 5));

function manifest(count: number): Manifest {
  return { version: 1, videoId: 'vbench', size: count * 65536, chunkSize: 65536, rootHash: 'r',
    chunks: new Array<string>(count).fill('h') } as unknown as Manifest;
}

interface Result { chunks: number; cpuUs: number; acquired: number }

/**
 * One download. `reference`: the old picker (plain peer record, recomputing pickers) for at most `limit` chunks.
 */
function simulate(count: number, seed: number, reference: boolean, limit = Infinity): Result {
  const rand = rng(seed);
  const m = manifest(count);
  let ctx: DownloadContext = {
    ...initialContext({ videoId: 'vbench', peerId: 'client-1' }),
    manifest: m, sessionId: 's', grant: 'g', usePeers: true, policy: OriginPolicies.swarmAware,
    have: new Array<boolean>(count).fill(false), haveCount: 0,
  };
  const ids = Array.from({ length: PEERS }, (_, k) => `peer-${k}`);
  const initial = PEERS - CHURN;
  const bitfield = () => {
    const f = 0.1 + 0.8 * rand();
    return Array.from({ length: count }, () => rand() < f);
  };
  // bitfields are made outside the measured time (they come off the wire in a real client)
  const fields = ids.map(() => bitfield());
  const live: string[] = [];
  const fx = (e: Effects) => {
    ctx = { ...ctx, ...e.assign };
  };
  const peerEvent = (e: DownloadEvent) => {
    ctx = { ...ctx, ...applyPeerEvent(ctx, e) };
  };
  const schedule = () => {
    if (reference) {
      const picked = pickPeerRequestsReference({ self: ctx.peerId, have: ctx.have, peers: ctx.peers, peerInFlight: ctx.peerInFlight,
        originBusy: ctx.inFlight, perPeer: ctx.perPeer, maxSources: ctx.maxSources });
      if (picked.length > 0) ctx = { ...ctx, peerInFlight: [...ctx.peerInFlight, ...picked] };
      const free = ctx.parallel - ctx.inFlight.length;
      const o = originOrderReference(ctx.have, ctx.peers, [...ctx.inFlight, ...ctx.peerInFlight.map((f) => f.index)], free, ctx.peerId);
      if (o.length > 0) ctx = { ...ctx, inFlight: [...ctx.inFlight, ...o] };
      return;
    }
    const p = planPeerFetches(ctx);
    if (p) ctx = { ...ctx, ...p.assign };
    const o = planOriginFetches(ctx);
    if (o) ctx = { ...ctx, ...o.assign };
  };
  // origin requests: only for chunks no peer holds (the slot is shared; peers carry the rest)
  const originNeeded = () => ctx.inFlight.some((i) => ctx.peerInFlight.every((f) => f.index !== i));

  const t0 = process.cpuUsage();
  if (!reference) ctx = { ...ctx, peers: indexPeers(ctx, count, ctx.have) };
  for (let k = 0; k < initial; k++) {
    live.push(ids[k]!);
    peerEvent({ type: 'peer.bitfield', peerId: ids[k]!, have: fields[k]! });
    peerEvent({ type: 'peer.unchoked', peerId: ids[k]! });
    schedule();
  }
  let joined = initial;
  let left = 0;
  const churnEvery = Math.max(1, Math.floor(count / (CHURN + 1)));
  let acquired = 0;
  let originTurn = 0;
  while (ctx.haveCount < count && acquired < limit) {
    // the oldest request completes (peer first; the origin's every other turn or when nothing else runs)
    const fromOrigin = ctx.inFlight.length > 0 && (ctx.peerInFlight.length === 0 || (originNeeded() && originTurn++ % 2 === 0));
    if (fromOrigin) {
      const i = ctx.inFlight[0]!;
      fx(chunkVerified(ctx, i, { index: i, source: 'origin', bytes: 65536 }, null));
    } else if (ctx.peerInFlight.length > 0) {
      const f: PeerFetch = ctx.peerInFlight[0]!;
      fx(chunkVerified(ctx, f.index, { index: f.index, source: `peer:${f.peerId}`, bytes: 65536 }, f.peerId));
    } else {
      schedule();
      if (ctx.inFlight.length === 0 && ctx.peerInFlight.length === 0) throw new Error('stuck');
      continue;
    }
    acquired++;
    schedule();
    // the swarm moves on: haves from random peers for chunks they lack
    for (let h = 0; h < HAVES_PER_CHUNK && live.length > 0; h++) {
      const id = live[Math.floor(rand() * live.length)]!;
      const bits = ctx.peers[id]?.have;
      for (let tries = 0; tries < 4 && bits; tries++) {
        const i = Math.floor(rand() * count);
        if (!bits[i]) {
          peerEvent({ type: 'peer.haves', haves: [{ peerId: id, index: i }] });
          schedule();
          break;
        }
      }
    }
    if (acquired % churnEvery === 0) {
      if (left < CHURN && live.length > 1) {
        const id = live.splice(Math.floor(rand() * live.length), 1)[0]!;
        peerEvent({ type: 'peer.left', peerId: id });
        // its requests fail (the link closed): the machine drops them the same way
        ctx = { ...ctx, peerInFlight: ctx.peerInFlight.filter((f) => f.peerId !== id) };
        left++;
      }
      if (joined < PEERS) {
        const id = ids[joined]!;
        live.push(id);
        peerEvent({ type: 'peer.bitfield', peerId: id, have: fields[joined]! });
        peerEvent({ type: 'peer.unchoked', peerId: id });
        joined++;
      }
      schedule();
    }
  }
  const d = process.cpuUsage(t0);
  return { chunks: count, cpuUs: d.user + d.system, acquired };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function perChunk(count: number, runs: number, reference = false, limit = Infinity): number {
  const out: number[] = [];
  simulate(Math.min(count, 512), 99, reference, limit); // warm-up (JIT)
  for (let r = 0; r < runs; r++) {
    const res = simulate(count, 1000 + r, reference, limit);
    out.push(res.cpuUs / res.acquired);
  }
  return median(out);
}

// the small case many times over per run, so its timing is not a few milliseconds of noise
const smallRuns = Math.max(RUNS, Math.ceil((RUNS * CHUNKS) / SMALL / 16));
const small = perChunk(SMALL, smallRuns);
const large = perChunk(CHUNKS, RUNS);
const refSmall = perChunk(SMALL, RUNS, true);
const refLarge = perChunk(CHUNKS, 1, true, REF_CHUNKS);
const round = (x: number) => Math.round(x * 100) / 100;
console.log(JSON.stringify({
  chunks: CHUNKS,
  peers: PEERS,
  cpu_us_per_chunk: round(large),
  cpu_us_per_chunk_small: round(small),
  ratio_to_small: round(large / small),
  cpu_us_per_chunk_reference: round(refLarge),
  cpu_us_per_chunk_reference_small: round(refSmall),
  reference_chunks_measured: REF_CHUNKS,
  haves_per_chunk: HAVES_PER_CHUNK,
  churn: CHURN,
  runs: RUNS,
  commit: gitCommit(),
}));
