/**
 * Starts a private nats-server with JetStream on 127.0.0.1, a free port and a temporary store directory, for
 * dev, tests and the demo, always in operator mode (infra/auth.ts): anonymous connections are refused here as
 * in production, and a WebSocket listener on the same auth serves browser peers. The server is a child process; `stop()` (or the parent's exit) ends it and removes
 * the store directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceRole } from '../protocol/permissions.js';
import { ensureAuth, serverAuthConfig, serviceCredentials, type AuthMaterial, type NatsCredentials } from './auth.js';

export interface NatsServerHandle {
  url: string;
  port: number;
  /** the WebSocket listener for browser peers (same auth), ws://127.0.0.1:<port> */
  wsUrl: string;
  storeDir: string;
  /** operator, accounts and service credentials this server trusts */
  auth: AuthMaterial;
  process: ChildProcess;
  /** a service role's credential for connectNats */
  creds(role: ServiceRole): NatsCredentials;
  /** stops the server but keeps its store and ports, as a crash or a restart would (tests of outages) */
  pause(): Promise<void>;
  /** starts it again on the same ports with the same store */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  /** fixed port; default a free one */
  port?: number;
  /** JetStream store directory; default a new temporary one, removed on stop */
  storeDir?: string;
  /** where the operator keys live (created on first use); default a new temporary one, removed on stop */
  authDir?: string;
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

export interface Running {
  child: ChildProcess;
  log: () => string;
}

function notInstalled(err: Error): Error {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
    ? new Error('nats-server is not installed: run `bash infra/setup.sh` as root (or `apt-get install -y nats-server`)')
    : err;
}

/** Spawns nats-server and waits until it accepts connections; null when it exited (e.g. port taken). */
export async function spawnServer(binary: string, conf: string, port: number, verbose: boolean): Promise<Running | null> {
  const child = spawn(binary, ['-c', conf, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const collect = (b: Buffer) => {
    if (verbose) process.stderr.write(b);
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
  while (Date.now() < deadline && !exited) {
    const err = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
    if (err) throw notInstalled(err);
    if (/Server is ready/.test(log) && (await canConnect(port))) return { child, log: () => log };
  }
  child.kill('SIGKILL');
  if (!exited) throw new Error(`nats-server did not become ready: ${log.slice(-2000)}`);
  lastLog = log;
  return null;
}
let lastLog = '';
/** the log of the last server that failed to start (for error messages) */
export const lastServerLog = (): string => lastLog;

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

/** The server configuration: the base file, JetStream's store, operator-mode auth and the WebSocket listener. */
function writeConfig(path: string, auth: AuthMaterial, storeDir: string, wsPort: number): void {
  const base = readFileSync(NATS_CONF, 'utf8');
  writeFileSync(path, [
    base,
    `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_memory_store: 256MB, max_file_store: 4GB }`,
    serverAuthConfig(auth),
    // browser peers; no TLS on loopback only (production terminates TLS here or in front, docs/SECURITY.md)
    `websocket { host: 127.0.0.1, port: ${wsPort}, no_tls: true }`,
    '',
  ].join('\n'), { mode: 0o600 });
}

export async function startNats(opts: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const ownDir = !opts.storeDir;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'switchyard-js-'));
  const ownAuth = !opts.authDir;
  const authDir = opts.authDir ?? mkdtempSync(join(tmpdir(), 'switchyard-auth-'));
  const cleanup = () => {
    if (ownDir) rmSync(storeDir, { recursive: true, force: true });
    if (ownAuth) rmSync(authDir, { recursive: true, force: true });
  };
  const binary = opts.binary ?? 'nats-server';
  const verbose = opts.verbose === true;
  try {
    const auth = await ensureAuth(authDir);
    const conf = join(authDir, 'nats-server.conf');
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = opts.port ?? (await freePort());
      const wsPort = await freePort();
      writeConfig(conf, auth, storeDir, wsPort);
      let running = await spawnServer(binary, conf, port, verbose);
      if (!running) {
        if (opts.port) break;
        continue;
      }
      const onParentExit = () => running?.child.kill('SIGKILL');
      process.once('exit', onParentExit);
      const handle: NatsServerHandle = {
        url: `nats://127.0.0.1:${port}`,
        port,
        wsUrl: `ws://127.0.0.1:${wsPort}`,
        storeDir,
        auth,
        process: running.child,
        creds: (role) => serviceCredentials(auth, role),
        async pause() {
          if (running) await kill(running.child);
          running = null;
        },
        async resume() {
          if (running) return;
          // the port was ours a moment ago; another process may grab it meanwhile, so retry briefly
          for (let i = 0; i < 20 && !running; i++) {
            running = await spawnServer(binary, conf, port, verbose);
            if (!running) await new Promise((r) => setTimeout(r, 250));
          }
          if (!running) throw new Error(`nats-server did not restart on port ${port}: ${lastLog.slice(-2000)}`);
          handle.process = running.child;
        },
        async stop() {
          process.removeListener('exit', onParentExit);
          if (running) await kill(running.child);
          running = null;
          cleanup();
        },
      };
      return handle;
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  cleanup();
  throw new Error(`nats-server did not start: ${lastLog.slice(-2000)}`);
}
