/**
 * A peer's NATS identity, obtained and kept fresh without the user ever handling a key: an nkey pair generated
 * here (the seed never leaves this process or page), a short-lived user JWT minted by the gateway for the public
 * key, and a renewal (signed proof of the key) before the JWT expires. The connection asks for the JWT on every
 * (re)connect, so a renewed one takes effect when the server closes the connection of an expired one. Portable:
 * the Node CLI (client/credentials.ts) and the browser peer (web/nats.ts) both use it.
 */
import type { Logger } from '../lib/logger.js';
import type { NatsCredentials } from '../lib/nats.js';
import { unrefTimer, type Timer } from '../lib/timers.js';
import { createUserSigner, type NkeySigner } from '../lib/signer.js';
import {
  decode, ErrorCodes, PeerCredentialReply, SwitchyardError, toBase64, UnavailableError, errorFromBody,
} from '../protocol/mod.js';

/** Must match infra/peercreds.ts (the gateway checks this exact text). */
const renewProofText = (ts: number, jwt: string) => `switchyard-renew.${ts}.${jwt}`;

export interface PeerIdentity {
  readonly peerId: string;
  /** NATS URLs the gateway advertised */
  readonly nats: { url?: string; ws?: string };
  readonly creds: NatsCredentials;
  /** ms since the epoch when the current JWT expires */
  expiresAt(): number;
  /** renews now (also runs on a timer) */
  renew(): Promise<void>;
  stop(): void;
}

export interface PeerIdentityOptions {
  gateway: string;
  /** for gateways that require one (`SWITCHYARD_API_KEY`) */
  apiKey?: string;
  logger?: Logger;
  /** renew when this fraction of the lifetime has passed (default 2/3) */
  renewAt?: number;
  /** readable prefix of the peer id (the gateway adds a random suffix) */
  label?: string;
  /** a key pair and credential request already made (web/early.ts): used instead of making them here */
  early?: EarlyIdentity;
}

/**
 * A key pair made, and its credential asked for, before this module was loaded (the watch page's first script,
 * web/early.ts): the same request `obtainPeerIdentity` would make, already on its way.
 */
export interface EarlyIdentity {
  signer: NkeySigner;
  /** the answer to `POST /auth/peer` for `signer.publicKey` */
  reply: Promise<Response>;
  url: string;
}

async function post(url: string, body: unknown, apiKey?: string): Promise<PeerCredentialReply> {
  return readReply(url, fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  }));
}

async function readReply(url: string, response: Promise<Response>): Promise<PeerCredentialReply> {
  let res: Response;
  try {
    res = await response;
  } catch (cause) {
    throw new UnavailableError(`cannot reach the gateway at ${url}: ${(cause as Error).message}`, { cause });
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) {
    let err: SwitchyardError;
    try {
      err = errorFromBody(JSON.parse(new TextDecoder().decode(bytes)));
    } catch {
      err = new SwitchyardError(ErrorCodes.unavailable, `gateway answered ${res.status}`);
    }
    throw new SwitchyardError(err.code, `gateway refused a peer credential: ${err.message}`);
  }
  return decode(PeerCredentialReply, bytes, { what: 'peer credential' });
}

/** Obtains a peer identity from the gateway and keeps it renewed until `stop()`. */
export async function obtainPeerIdentity(opts: PeerIdentityOptions): Promise<PeerIdentity> {
  const base = opts.gateway.replace(/\/$/, '');
  const kp: NkeySigner = opts.early?.signer ?? createUserSigner();
  let cur = opts.early ? await readReply(opts.early.url, opts.early.reply)
    : await post(`${base}/auth/peer`, { publicKey: kp.publicKey, ...(opts.label ? { label: opts.label } : {}) }, opts.apiKey);
  const issuedAt = () => Date.now();
  let timer: Timer | null = null;
  let stopped = false;
  const fraction = opts.renewAt ?? 2 / 3;

  const renew = async () => {
    const ts = Date.now();
    const sig = toBase64(kp.sign(new TextEncoder().encode(renewProofText(ts, cur.jwt))), true);
    cur = await post(`${base}/auth/peer/renew`, { jwt: cur.jwt, ts, sig });
  };
  const schedule = (from: number) => {
    if (stopped) return;
    const left = cur.expiresAt - from;
    // renew at 2/3 of the lifetime; after a failure retry every 5 s (and at least once before expiry)
    const delay = Math.max(1000, Math.min(left * fraction, left - 5000));
    timer = setTimeout(() => {
      void renew().then(
        () => schedule(issuedAt()),
        (err) => {
          opts.logger?.warn('credential renewal failed; retrying', { err: (err as Error).message });
          if (!stopped) timer = setTimeout(() => schedule(Date.now()), 5000);
          unrefTimer(timer);
        },
      );
    }, delay);
    unrefTimer(timer);
  };
  schedule(issuedAt());

  return {
    peerId: cur.peerId,
    nats: cur.nats,
    creds: { jwt: () => cur.jwt, seed: kp.seed, signer: kp, inboxPrefix: cur.inboxPrefix, name: cur.peerId },
    expiresAt: () => cur.expiresAt,
    renew,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

