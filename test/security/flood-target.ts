/**
 * Child program for the offer-flood test: one seeding peer (real swarm, uploads on, every chunk held, links on
 * 127.0.0.1) in a process of its own, so its RSS is a clean figure. It is driven line by line on stdin:
 * `stats` answers one JSON line on stdout (RSS after a forced GC, RTC host counters, the swarm's links);
 * `stop` (or stdin closing) leaves the swarm, releases node-datachannel and exits.
 * Usage: node --expose-gc dist/test/security/flood-target.js <natsUrl> <peer id> <manifest.json> <video file> <auth dir>
 * (the auth dir of the test's NATS: the child mints its own peer credential, as the gateway would)
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createPeerNode } from '../../client/p2p/peer.js';
import { fileSource } from '../../client/p2p/sources.js';
import { createLogger } from '../../lib/logger.js';
import { loadAuth } from '../../infra/auth.js';
import { connectMintedPeer, minterFor } from '../../infra/peercreds.js';
import type { Manifest } from '../../protocol/mod.js';

async function main() {
  const [natsUrl, peerId, manifestPath, videoPath, authDir] = process.argv.slice(2) as [string, string, string, string, string];
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const logger = createLogger('target', 'error');
  const auth = loadAuth(authDir);
  if (!auth) throw new Error(`no auth material in ${authDir}`);
  const { nc } = await connectMintedPeer(natsUrl, minterFor(auth), { peerId });
  const source = await fileSource(videoPath, manifest);
  const node = createPeerNode({ peerId: peerId, manifest, uploads: true, bindAddress: '127.0.0.1' },
    { nc, source, logger });
  await node.swarm.start();
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await node.stop().catch(() => {});
    await source.close().catch(() => {});
    await nc.close().catch(() => {});
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line === 'stop') void stop();
    else if (line === 'stats') {
      gc();
      const s = node.swarm.stats();
      process.stdout.write(JSON.stringify({
        rssMb: process.memoryUsage().rss / 1048576, live: node.rtc.live, allocated: node.rtc.allocated,
        closing: node.rtc.closing, links: s.links.map((l) => ({ peerId: l.peerId, state: l.state })),
      }) + '\n');
    }
  });
  lines.on('close', () => void stop());
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`flood target failed: ${(err as Error).stack}\n`);
  process.exit(2);
});
