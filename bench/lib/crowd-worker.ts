/**
 * A child process of a crowd (crowd-procs.ts): runs one group of clients (crowd-group.ts) with its own RTC host
 * and answers the parent over the IPC channel. It exits when told to stop or when the parent goes away.
 */
import { createUser } from '@nats-io/nkeys';
import { createRtcHost } from '../../client/p2p/rtc.js';
import { createLogger, type LogLevel } from '../../lib/logger.js';
import { connectNats } from '../../lib/nats.js';
import { createLocalGroup, type ClientGroup } from './crowd-group.js';
import type { FromWorker, ToWorker } from './crowd-procs.js';

const send = (m: FromWorker) => {
  if (process.connected) process.send!(m);
};
const minted = new Map<string, (m: Extract<ToWorker, { t: 'minted' }>) => void>();
let group: ClientGroup | null = null;
let rtc: ReturnType<typeof createRtcHost> | null = null;
let tick: NodeJS.Timeout | null = null;
let stopping: Promise<never> | null = null;

/** once only: told to stop, then the parent disconnects (node-datachannel's teardown must not run twice) */
const stop = (): Promise<never> => (stopping ??= stopOnce());

async function stopOnce(): Promise<never> {
  if (tick) clearInterval(tick);
  await group?.stop().catch(() => {});
  if (rtc) {
    await new Promise((r) => setTimeout(r, 50)); // let byes leave before the native side goes away
    rtc.shutdown();
  }
  send({ t: 'stopped' });
  process.exit(0);
}

async function init(m: Extract<ToWorker, { t: 'init' }>): Promise<void> {
  const logger = createLogger('crowd-child', m.logLevel as LogLevel);
  rtc = createRtcHost({ bindAddress: '127.0.0.1', ...(m.mtu ? { mtu: m.mtu } : {}), logger: logger.child('rtc') });
  const connect = async (peerId: string) => {
    const kp = createUser();
    const cred = await new Promise<Extract<ToWorker, { t: 'minted' }>>((resolve) => {
      minted.set(peerId, resolve);
      send({ t: 'mint', peerId, publicKey: kp.getPublicKey() });
    });
    if (!cred.jwt || !cred.inboxPrefix) throw new Error(`no credential for ${peerId}: ${cred.error ?? 'refused'}`);
    return connectNats(m.natsUrl, peerId, { jwt: cred.jwt, seed: kp.getSeed(), inboxPrefix: cred.inboxPrefix });
  };
  group = await createLocalGroup(m.init, { connect, rtc, logger, onDone: (result) => send({ t: 'done', result }) });
  const g = group;
  void g.settled.then(() => send({ t: 'settled' }));
  send({ t: 'ready' });
}

process.on('message', (raw) => {
  const m = raw as ToWorker;
  const fail = (err: unknown) => send({ t: 'failed', message: (err as Error).message ?? String(err) });
  switch (m.t) {
    case 'init':
      init(m).catch(fail);
      break;
    case 'minted':
      minted.get(m.peerId)?.(m);
      minted.delete(m.peerId);
      break;
    case 'start':
      group?.start(m.at);
      tick = setInterval(() => send({ t: 'tick', uploaded: group?.uploaded() ?? 0 }), 250);
      break;
    case 'cancel':
      group?.cancel().then(() => send({ t: 'cancelled' }), fail);
      break;
    case 'results':
      group?.results().then((results) => send({ t: 'results', results }), fail);
      break;
    case 'stop':
      void stop();
      break;
  }
});
// the parent went away (killed, crashed): nothing of this crowd may outlive it
process.on('disconnect', () => void stop());
