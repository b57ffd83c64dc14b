/**
 * A group of crowd clients in a child process (crowd-worker.ts), driven over the IPC channel: the parent keeps
 * the stack and the figures, the child runs the clients with its own event loop and its own RTC host. Each child
 * makes its peers' nkey pairs itself and asks the parent (which holds the account's signing key, as the gateway
 * would) for their JWTs, so no seed crosses the channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PeerMinter } from '../../infra/peercreds.js';
import type { Logger } from '../../lib/logger.js';
import { procCpuSeconds } from './cpu.js';
import type { ClientGroup, CrowdClientResult, GroupInit } from './crowd-group.js';

/** parent → child */
export type ToWorker =
  | { t: 'init'; init: GroupInit; natsUrl: string; mtu: number; logLevel: string }
  | { t: 'minted'; peerId: string; jwt?: string; inboxPrefix?: string; error?: string }
  | { t: 'start'; at: number }
  | { t: 'cancel' }
  | { t: 'results' }
  | { t: 'stop' };

/** child → parent */
export type FromWorker =
  | { t: 'mint'; peerId: string; publicKey: string }
  | { t: 'ready' }
  | { t: 'failed'; message: string }
  | { t: 'tick'; uploaded: number }
  | { t: 'done'; result: CrowdClientResult }
  | { t: 'settled' }
  | { t: 'cancelled' }
  | { t: 'results'; results: CrowdClientResult[] }
  | { t: 'stopped' };

export interface SpawnInit {
  natsUrl: string;
  /** the links' MTU (0: libdatachannel's own) */
  mtu: number;
  logLevel: string;
}

const WORKER = fileURLToPath(new URL('./crowd-worker.js', import.meta.url));
/** a child that does not answer a step in this long is killed and the crowd fails */
const STEP_TIMEOUT_MS = 60_000;

/** Starts a child with `init.clients` and resolves once every one of them is prepared. */
export async function spawnGroup(init: GroupInit, s: SpawnInit,
  deps: { minter: PeerMinter; logger: Logger; onDone(r: CrowdClientResult): void }): Promise<ClientGroup> {
  const child: ChildProcess = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const pid = child.pid;
  let uploaded = 0;
  let exited = false;
  const waiting = new Map<FromWorker['t'], Array<(m: FromWorker) => void>>();
  let onSettled!: () => void;
  const settled = new Promise<void>((r) => (onSettled = r));
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {}); // observed through `next` and `ready`

  const send = (m: ToWorker) => {
    if (!exited && child.connected) child.send(m);
  };
  const next = <T extends FromWorker['t']>(t: T): Promise<Extract<FromWorker, { t: T }>> => {
    let timer: NodeJS.Timeout | undefined;
    const got = new Promise<Extract<FromWorker, { t: T }>>((resolve) => {
      const list = waiting.get(t) ?? [];
      list.push(resolve as (m: FromWorker) => void);
      waiting.set(t, list);
    });
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`crowd child ${pid}: no '${t}' in ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    });
    return Promise.race([got, failed, late]).finally(() => clearTimeout(timer));
  };

  child.on('message', (raw) => {
    const m = raw as FromWorker;
    if (m.t === 'tick') uploaded = m.uploaded;
    else if (m.t === 'done') deps.onDone(m.result);
    else if (m.t === 'settled') onSettled();
    else if (m.t === 'failed') fail(new Error(`crowd child ${pid}: ${m.message}`));
    else if (m.t === 'mint') {
      deps.minter.mint(m.publicKey, { peerId: m.peerId })
        .then((c) => send({ t: 'minted', peerId: m.peerId, jwt: c.jwt, inboxPrefix: c.inboxPrefix }))
        .catch((err: Error) => send({ t: 'minted', peerId: m.peerId, error: err.message }));
    }
    const list = waiting.get(m.t);
    if (list?.length) list.shift()!(m);
  });
  child.on('exit', (code, signal) => {
    exited = true;
    fail(new Error(`crowd child ${pid} exited (${signal ?? code})`));
  });
  child.on('error', (err) => fail(err));
  const kill = () => {
    if (!exited) child.kill('SIGKILL');
  };

  try {
    send({ t: 'init', init, natsUrl: s.natsUrl, mtu: s.mtu, logLevel: s.logLevel });
    await next('ready');
  } catch (err) {
    kill();
    throw err;
  }
  return {
    start: (at) => send({ t: 'start', at }),
    uploaded: () => uploaded,
    settled: Promise.race([settled, failed]),
    async cancel() {
      send({ t: 'cancel' });
      await next('cancelled');
    },
    async results() {
      send({ t: 'results' });
      return (await next('results')).results;
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      send({ t: 'stop' });
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (!exited) deps.logger.warn('crowd child did not stop: killed', { pid });
      kill();
    },
    cpuSeconds: () => procCpuSeconds(pid),
  };
}
