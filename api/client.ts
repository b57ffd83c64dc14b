/**
 * What every library call starts with: where the system is, a peer identity minted by the gateway, a NATS
 * connection under it, and the catalog's manifest, checked. Options a CLI passes as flags arrive here typed.
 */
import { createOriginClient, type OriginClient } from '../actors/origin/client.js';
import { resolveConfig } from '../client/config.js';
import { basename } from 'node:path';
import { connectAsPeer, type PeerConnection } from '../client/credentials.js';
import { checkManifest } from '../lib/hash.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { BadRequestError, isValidId, type Manifest } from '../protocol/mod.js';

/** Where the system is and who this client is. Unset fields fall back to `SWITCHYARD_*` and `.switchyard/local.json`. */
export interface ClientOptions {
  /** gateway URL (default env SWITCHYARD_GATEWAY, then the local config, then http://127.0.0.1:8080) */
  gateway?: string;
  /** NATS URL; by default the one the gateway advertises with the credential */
  nats?: string;
  /** readable prefix of the peer id the gateway assigns */
  label?: string;
  /** API key, for gateways that require one to mint peer credentials (default env SWITCHYARD_API_KEY) */
  apiKey?: string;
  /** ICE bind address: `any`, an address, or by default loopback when NATS is on loopback */
  bind?: string;
  /** upload cap in bytes/s (default uncapped) */
  uploadRate?: number;
  logger?: Logger;
}

/** A connected peer with the video's manifest. */
export interface PeerContext {
  peer: PeerConnection;
  peerId: string;
  origin: OriginClient;
  manifest: Manifest;
  gateway: string;
  bindAddress: string | undefined;
  logger: Logger;
}

/**
 * ICE bind address: `--bind any` gathers on every interface; `--bind ADDR` on one; by default a system reached
 * over loopback keeps WebRTC on loopback too (local demos and tests never touch other interfaces).
 */
export function bindAddressFor(flag: string | undefined, natsUrl: string): string | undefined {
  if (flag === 'any') return undefined;
  if (flag) return flag;
  return /^(nats:\/\/)?(127\.0\.0\.1|localhost)(:|$)/.test(natsUrl) ? '127.0.0.1' : undefined;
}

/** A file name from a manifest is untrusted: keep only its base name and safe characters. */
export function safeName(name: string, fallback: string): string {
  const b = basename(name).replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '');
  return b.length > 0 ? b : fallback;
}

export function checkRate(value: number | undefined, what: string): number {
  const n = value ?? 0;
  if (!Number.isFinite(n) || n < 0) throw new BadRequestError(`${what} must be bytes per second (got ${value})`);
  return n;
}

/** Mints a peer identity, connects, and fetches and checks the manifest; closes what it opened on failure. */
export async function connectPeer(videoId: string, o: ClientOptions, name: string): Promise<PeerContext> {
  if (!isValidId(videoId)) throw new BadRequestError(`invalid video id ${JSON.stringify(videoId)}`);
  const cfg = resolveConfig({ ...(o.gateway ? { gateway: o.gateway } : {}), ...(o.nats ? { nats: o.nats } : {}) });
  const logger = o.logger ?? createLogger(name);
  const apiKey = o.apiKey ?? cfg.apiKey;
  const peer = await connectAsPeer({ gateway: cfg.gateway, logger, ...(cfg.natsExplicit ? { nats: cfg.nats } : {}),
    ...(o.label ? { label: o.label } : {}), ...(apiKey ? { apiKey } : {}) });
  try {
    const origin = createOriginClient(peer.nc);
    const manifest = checkManifest(await origin.manifest(videoId), videoId, 'catalog manifest');
    return { peer, peerId: peer.identity.peerId, origin, manifest, gateway: cfg.gateway,
      bindAddress: bindAddressFor(o.bind, peer.nc.getServer()), logger };
  } catch (err) {
    await peer.close();
    throw err;
  }
}
