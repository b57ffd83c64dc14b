/**
 * bench:origin-throughput — how fast the gateway serves chunks on loopback, beside a plain static file server
 * (Python's http.server) serving the very same chunk files, both fetched by curl in the same run.
 * One client = one curl fetching every chunk in order over one keep-alive connection; four clients = four such
 * curls at once. Prints one JSON line (design brief §6 keys).
 *   npm run -s bench:origin-throughput -- [--size-mib 64] [--rounds 2]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOriginClient } from '../actors/origin/client.js';
import { ingestFile } from '../actors/ingest/ingest.js';
import { startStack } from '../client/stack.js';
import { freePort } from '../infra/nats.js';
import { createLogger } from '../lib/logger.js';

const { values } = parseArgs({ options: { 'size-mib': { type: 'string' }, rounds: { type: 'string' } } });
const sizeMiB = Number(values['size-mib'] ?? 64);
const rounds = Number(values.rounds ?? 2);
const MB = 1e6;

function curl(configPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', ['-s', '-f', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b) => (err += b));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`curl exited ${code}: ${err}`))));
  });
}

/** Best of `rounds` runs of `clients` concurrent curls, each fetching every URL; returns MB/s of all bytes. */
async function measure(urls: string[], header: string | null, clients: number, bytesPerClient: number, dir: string) {
  const cfg = join(dir, `curl-${Math.random().toString(36).slice(2)}.cfg`);
  writeFileSync(cfg, (header ? `header = "${header}"\n` : '') + urls.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join(''));
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: clients }, () => curl(cfg)));
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, (bytesPerClient * clients) / s / MB);
  }
  return best;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-origin-'));
  const logger = createLogger('bench', 'error');
  const stack = await startStack({ dataDir: join(dir, 'stack'), capacity: 8, leaseTtlMs: 60000 }, logger);
  let py: ReturnType<typeof spawn> | null = null;
  try {
    const file = join(dir, 'video.bin');
    writeFileSync(file, randomBytes(sizeMiB * 1024 * 1024));
    const origin = createOriginClient(stack.nc);
    const { manifest } = await ingestFile({ path: file }, { store: stack.store, publish: (m) => origin.publish(m), logger });
    const open = await origin.open(manifest.videoId, 'bench');
    if (open.status !== 'granted') throw new Error('bench could not get a slot');
    const keep = setInterval(() => void origin.heartbeat(open.sessionId, 'bench').catch(() => {}), 10000);
    const ours = manifest.chunks.map((_, i) => `${stack.gatewayUrl}/videos/${manifest.videoId}/chunks/${i}`);
    // The static server serves the fs store's own files: the same bytes from the same disk.
    const port = await freePort();
    py = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', stack.storeLocation],
      { stdio: 'ignore' });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 50; i++) {
      if (await fetch(base).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const theirs = manifest.chunks.map((h) => `${base}/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`);
    const auth = `Authorization: Bearer ${open.grant}`;
    await measure(ours.slice(0, 8), auth, 1, 0, dir); // warm-up: JIT, page cache
    await measure(theirs.slice(0, 8), null, 1, 0, dir);
    const one = await measure(ours, auth, 1, manifest.size, dir);
    const baseOne = await measure(theirs, null, 1, manifest.size, dir);
    const four = await measure(ours, auth, 4, manifest.size, dir);
    const baseFour = await measure(theirs, null, 4, manifest.size, dir);
    clearInterval(keep);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    process.stdout.write(JSON.stringify({
      bench: 'origin-throughput', size_bytes: manifest.size, chunk_bytes: manifest.chunkSize, rounds,
      one_client_MBps: r2(one), four_clients_MBps: r2(four),
      baseline_one_client_MBps: r2(baseOne), baseline_four_clients_MBps: r2(baseFour),
      baseline: 'python3 -m http.server', client: 'curl (keep-alive, sequential chunk URLs)',
      ratio_one: r2(one / baseOne), ratio_four: r2(four / baseFour),
    }) + '\n');
  } finally {
    py?.kill('SIGKILL');
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:origin-throughput failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
