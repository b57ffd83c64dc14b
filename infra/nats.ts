/**
 * Starts a private nats-server with JetStream on 127.0.0.1, a free port and a temporary store directory, for
 * dev, tests and the demo. The server is a child process; `stop()` (or the parent's exit) ends it and removes
 * the store directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  /** fixed port; default a free one */
  port?: number;
  /** JetStream store directory; default a new temporary one, removed on stop */
  storeDir?: string;
  /** path to nats-server; default from PATH */
  binary?: string;
  /** pipe server logs to stderr */
  verbose?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
/** infra/nats.conf lives in the source tree; compiled code runs from dist/infra. */
export const NATS_CONF = join(here, '..', '..', 'infra', 'nats.conf');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export async function startNats(opts: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const ownDir = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'switchyard-js-'));
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port ?? (await freePort());
    const args = ['-c', NATS_CONF, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir];
    const child = spawn(opts.binary ?? 'nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const collect = (b: Buffer) => {
      if (opts.verbose) process.stderr.write(b);
      if (log.length < 20000) log += b.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 10000;
    let up = false;
    while (Date.now() < deadline && !exited) {
      const err = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new Error('nats-server is not installed: run `bash infra/setup.sh` as root ' +
            '(or `apt-get install -y nats-server`)');
        }
        throw err;
      }
      if (await canConnect(port)) {
        up = /Server is ready/.test(log) || (await canConnect(port));
        if (up) break;
      }
    }
    if (up && !exited) {
      const onParentExit = () => child.kill('SIGKILL');
      process.once('exit', onParentExit);
      return {
        url: `nats://127.0.0.1:${port}`,
        port,
        storeDir,
        process: child,
        async stop() {
          process.removeListener('exit', onParentExit);
          if (child.exitCode === null && child.signalCode === null) {
            const gone = new Promise((r) => child.once('exit', r));
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 3000);
            await gone;
            clearTimeout(t);
          }
          if (ownDir) rmSync(storeDir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    lastErr = log;
    if (opts.port) break;
  }
  if (ownDir) rmSync(storeDir, { recursive: true, force: true });
  throw new Error(`nats-server did not start: ${lastErr.slice(-2000)}`);
}
