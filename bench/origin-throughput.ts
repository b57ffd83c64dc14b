/**
 * bench:origin-throughput — how fast the gateway serves chunks on loopback, beside two plain static file servers
 * serving the very same chunk files (the fs store's own files: same bytes, same disk): Python's http.server (the
 * brief's baseline) and Debian's nginx (sendfile, the ceiling a file server reaches here), all fetched by curl in
 * the same run. One client = one curl fetching every chunk in order over one keep-alive connection; four clients =
 * four such curls at once. Each figure is the median of `rounds` runs, the servers taking turns within a round so
 * that a noisy neighbour on a shared machine slows all of them alike. Prints one JSON line (design brief §6 keys).
 *   npm run -s bench:origin-throughput -- [--size-mib 64] [--rounds 5]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOriginClient, type OriginClient } from '../actors/origin/client.js';
import { ingestFile } from '../actors/ingest/ingest.js';
import { startStack } from '../client/stack.js';
import { freePort } from '../infra/nats.js';
import { createLogger } from '../lib/logger.js';
import type { Manifest } from '../protocol/mod.js';
import { median } from './lib/metrics.js';

const { values } = parseArgs({ options: { 'size-mib': { type: 'string' }, rounds: { type: 'string' } } });
const sizeMiB = Number(values['size-mib'] ?? 64);
const rounds = Number(values.rounds ?? 5);
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

/** A curl config fetching every URL in order over one connection, with an optional header. */
function curlConfig(dir: string, urls: string[], header: string | null): string {
  const cfg = join(dir, `curl-${randomBytes(6).toString('hex')}.cfg`);
  const fetches = urls.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join('');
  writeFileSync(cfg, (header ? `header = "${header}"\n` : '') + fetches);
  return cfg;
}

/** A server under test: `configs(clients)` prepares one curl config per client (and returns what to undo after). */
interface Target {
  name: string;
  configs(clients: number): Promise<{ paths: string[]; done(): Promise<void> }>;
}

/** Runs `clients` curls at once over the target; MB/s of all bytes fetched. */
async function pass(target: Target, clients: number, bytesPerClient: number): Promise<number> {
  const { paths, done } = await target.configs(clients);
  try {
    const t0 = performance.now();
    await Promise.all(paths.map((p) => curl(p)));
    return (bytesPerClient * clients) / ((performance.now() - t0) / 1000) / MB;
  } finally {
    await done();
  }
}

/**
 * The gateway: each curl is its own client with its own session (an origin slot and a grant), as real clients are.
 * One session shared by every pass would run into the per-session byte budget (about one copy of the file) and
 * the per-session rate limit, which are there precisely to stop that.
 */
function gatewayTarget(origin: OriginClient, gatewayUrl: string, manifest: Manifest, dir: string): Target {
  const urls = manifest.chunks.map((_, i) => `${gatewayUrl}/videos/${manifest.videoId}/chunks/${i}`);
  let n = 0;
  return {
    name: 'switchyard',
    async configs(clients) {
      const sessions: Array<{ sessionId: string; peerId: string }> = [];
      const paths: string[] = [];
      const done = async () => {
        await Promise.all(sessions.map((s) => origin.release(s.sessionId, s.peerId).catch(() => {})));
      };
      try {
        for (let c = 0; c < clients; c++) {
          const peerId = `bench-${n++}`;
          const open = await origin.open(manifest.videoId, peerId);
          if (open.status !== 'granted') throw new Error(`bench could not get a slot (${open.status})`);
          sessions.push({ sessionId: open.sessionId, peerId });
          paths.push(curlConfig(dir, urls, `Authorization: Bearer ${open.grant}`));
        }
      } catch (err) {
        await done();
        throw err;
      }
      return { paths, done };
    },
  };
}

/** A static file server laid out like the fs store (`<ab>/<cd>/<hash>`). */
function staticTarget(name: string, base: string, manifest: Manifest, dir: string): Target {
  const cfg = curlConfig(dir, manifest.chunks.map((h) => `${base}/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`), null);
  const done = async () => {};
  return { name, configs: async (clients) => ({ paths: Array.from({ length: clients }, () => cfg), done }) };
}

/** Resolves once `url` answers at all (any status), rejects when `child` exits first or after ~5 s. */
async function waitUntilServing(url: string, child: ChildProcess, what: string, log?: () => string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.exitCode ?? child.signalCode;
      throw new Error(`${what} exited (${how}) before serving${log ? `: ${log()}` : ''}`);
    }
    const answered = await fetch(url).then(async (r) => {
      await r.body?.cancel();
      return true;
    }, () => false);
    if (answered) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer on ${url}${log ? `: ${log()}` : ''}`);
}

/** Debian's nginx is /usr/sbin/nginx, which a non-root PATH often lacks. */
function findNginx(): string | null {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']) {
    if (!d) continue;
    try {
      accessSync(join(d, 'nginx'), constants.X_OK);
      return join(d, 'nginx');
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * nginx with its own config under `dir`, in the foreground. `master_process off`: one process that serves (the
 * same shape as the gateway's one event loop, and like `worker_processes 1` it leaves the second core to the
 * curls); it is also the very pid we spawned, so killing it leaves no orphaned worker, and running as root it
 * does not switch to `nobody`, who could not read the store's private temp directory. Every path nginx would
 * write (pid, logs, temp files) is under `dir`; no access log, which the other servers do not keep either.
 */
async function startNginx(binary: string, root: string, dir: string): Promise<{ base: string; child: ChildProcess }> {
  const prefix = join(dir, 'nginx');
  mkdirSync(prefix, { recursive: true });
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${join(prefix, `${t}_temp`)};`).join('\n');
  writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65s;
  keepalive_requests 100000;
  default_type application/octet-stream;
${temps}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`);
  const child = spawn(binary, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b) => (log += b));
  child.on('error', (err) => (log += String(err)));
  const readLog = () => {
    try {
      return (log + readFileSync(join(prefix, 'error.log'), 'utf8')).trim().slice(-2000);
    } catch {
      return log.trim();
    }
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(base, child, 'nginx', readLog);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { base, child };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-origin-'));
  const logger = createLogger('bench', 'error');
  const children: ChildProcess[] = [];
  let stack: Awaited<ReturnType<typeof startStack>> | null = null;
  try {
    stack = await startStack({ dataDir: join(dir, 'stack'), capacity: 8, leaseTtlMs: 60000 }, logger);
    const file = join(dir, 'video.bin');
    writeFileSync(file, randomBytes(sizeMiB * 1024 * 1024));
    const origin = createOriginClient(stack.nc);
    const { manifest } = await ingestFile({ path: file },
      { store: stack.store, publish: (m) => origin.publish(m), logger });
    rmSync(file);
    const targets: Target[] = [gatewayTarget(origin, stack.gatewayUrl, manifest, dir)];

    const pyPort = await freePort();
    const pyArgs = ['-m', 'http.server', String(pyPort), '--bind', '127.0.0.1', '--directory', stack.storeLocation];
    const py = spawn('python3', pyArgs, { stdio: 'ignore' });
    children.push(py);
    await waitUntilServing(`http://127.0.0.1:${pyPort}`, py, 'python3 -m http.server');
    targets.push(staticTarget('python', `http://127.0.0.1:${pyPort}`, manifest, dir));

    const nginxBinary = findNginx();
    let nginxNote: string | null = null;
    if (!nginxBinary) {
      nginxNote = 'nginx is not installed: run `SWITCHYARD_BENCH=1 bash infra/setup.sh` as root ' +
        '(or `apt-get install -y nginx`); nginx figures are null';
    } else {
      try {
        const ng = await startNginx(nginxBinary, stack.storeLocation, dir);
        children.push(ng.child);
        targets.push(staticTarget('nginx', ng.base, manifest, dir));
      } catch (err) {
        nginxNote = `nginx did not start (${(err as Error).message}); nginx figures are null`;
      }
    }
    if (nginxNote) process.stderr.write(`bench:origin-throughput: ${nginxNote}\n`);

    // warm-up, unmeasured, one and four clients each: page cache, connection paths, and the gateway's JIT, which
    // a single pass left visibly cold (its first measured round ran ~20 % below the later ones)
    for (const t of targets) for (const clients of [1, 4]) await pass(t, clients, manifest.size);
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const clients of [1, 4]) {
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + r) % targets.length]!;
          const key = `${t.name}/${clients}`;
          samples.set(key, [...(samples.get(key) ?? []), await pass(t, clients, manifest.size)]);
        }
      }
    }
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const fig = (name: string, clients: number) => {
      const xs = samples.get(`${name}/${clients}`);
      return xs ? median(xs) : null;
    };
    const ratio = (a: number | null, b: number | null) => (a !== null && b ? r2(a / b) : null);
    const one = fig('switchyard', 1)!;
    const four = fig('switchyard', 4)!;
    const nOne = fig('nginx', 1);
    const nFour = fig('nginx', 4);
    process.stdout.write(JSON.stringify({
      bench: 'origin-throughput', size_bytes: manifest.size, chunk_bytes: manifest.chunkSize, rounds, figure: 'median',
      one_client_MBps: r2(one), four_clients_MBps: r2(four),
      baseline_one_client_MBps: r2(fig('python', 1)!), baseline_four_clients_MBps: r2(fig('python', 4)!),
      baseline: 'python3 -m http.server', client: 'curl (keep-alive, sequential chunk URLs)',
      ratio_one: ratio(one, fig('python', 1)), ratio_four: ratio(four, fig('python', 4)),
      nginx_one_client_MBps: nOne === null ? null : r2(nOne),
      nginx_four_clients_MBps: nFour === null ? null : r2(nFour),
      nginx: nginxBinary && !nginxNote ? 'nginx (master_process off, sendfile on)' : null,
      ratio_nginx_one: ratio(one, nOne), ratio_nginx_four: ratio(four, nFour),
      samples_MBps: Object.fromEntries([...samples].map(([k, xs]) => [k, xs.map(r2)])),
    }) + '\n');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:origin-throughput failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
