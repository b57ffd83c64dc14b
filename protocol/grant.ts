/**
 * Grants: the origin's signed, expiring permission for one peer's session to fetch one video's chunks from the
 * gateway. HMAC-SHA256 over a compact JSON claim set; the gateway holds the same secret. The token is opaque to
 * clients. The gateway also checks that the session still holds a lease, so a released or expired slot stops
 * serving at once, without waiting for the grant's own expiry.
 *
 * The token format lives here; the HMAC is injected (lib/hash.ts binds node:crypto), since only Node services
 * sign or check grants.
 */
import { fromBase64, toBase64 } from './base64.js';
import { ErrorCodes, GrantError } from './errors.js';
import { constantTimeEqual, type Hasher } from './hash.js';
import { chunkLength, type Manifest } from './manifest.js';

export interface GrantClaims {
  /** video id */
  v: string;
  /** peer id */
  p: string;
  /** session id */
  s: string;
  /** admission slot index the session holds (lets the gateway check the lease with one KV read) */
  n: number;
  /** expiry, ms since epoch */
  exp: number;
  /**
   * kind: absent for a slot grant, `u` for an urgent grant (chunks near a streaming client's playhead, served
   * from the gateway's reserved share without a slot; `n` is -1). The kind is inside the signed claims, so
   * neither kind can be passed off as the other.
   */
  k?: typeof URGENT_KIND;
  /** urgent grants: the chunk indexes it covers */
  c?: number[];
  /** urgent grants: the byte budget (the chunks' total length) */
  b?: number;
}

export const URGENT_KIND = 'u';
/** Which grants a check accepts: slot grants only (the default), urgent grants only, or either (rate-limit keys). */
export type GrantKind = 'slot' | 'urgent' | 'any';

/** True for an urgent grant's claims. */
export const isUrgentClaims = (c: GrantClaims): boolean => c.k === URGENT_KIND;

/**
 * An urgent grant's claims for `chunks` of `m` (no slot: `n` is -1), their total length as the byte budget: what
 * the origin's urgent issuer and the watch page's start grant both sign.
 */
export function urgentClaims(m: Pick<Manifest, 'videoId' | 'size' | 'chunkSize'> | UrgentTarget, chunks: number[],
  who: { peerId: string; sessionId: string }, expiresAt: number): GrantClaims {
  const lengthOf = 'lengthOf' in m ? (i: number) => m.lengthOf(i) ?? 0 : (i: number) => chunkLength(m, i);
  const b = chunks.reduce((n, i) => n + lengthOf(i), 0);
  return { v: m.videoId, p: who.peerId, s: who.sessionId, n: -1, exp: expiresAt, k: URGENT_KIND, c: chunks, b };
}

/**
 * What an urgent grant can cover: a video's chunks, or a live stream's segments in its window (indexes are `seq`).
 * `lengthOf` is undefined for an index that does not exist (past the end, slid out of the window).
 */
export interface UrgentTarget {
  videoId: string;
  lengthOf(index: number): number | undefined;
}

const MAX_TOKEN_LENGTH = 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function grantSigning(h: Pick<Hasher, 'hmacSha256'>) {
  const mac = (secret: string | Uint8Array, payload: string) => h.hmacSha256(secret, payload);

  function signGrant(claims: GrantClaims, secret: string | Uint8Array): string {
    const payload = toBase64(encoder.encode(JSON.stringify(claims)), true);
    return `${payload}.${toBase64(mac(secret, payload), true)}`;
  }

  /**
   * Verifies signature, expiry and (when given) the video it must be for. Throws GrantError with the precise
   * code, so the edge can answer 401 (missing/invalid) or 403 (expired/wrong video/lease lost).
   */
  function verifyGrant(
    token: string | undefined,
    secret: string | Uint8Array,
    opts: { now: number; videoId?: string; kind?: GrantKind },
  ): GrantClaims {
    if (!token) throw new GrantError(ErrorCodes.grantMissing, 'a grant is required for chunk requests');
    if (token.length > MAX_TOKEN_LENGTH) throw new GrantError(ErrorCodes.grantInvalid, 'grant too long');
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) throw new GrantError(ErrorCodes.grantInvalid, 'malformed grant');
    const payload = token.slice(0, dot);
    const sig = fromBase64(token.slice(dot + 1));
    if (!sig || !constantTimeEqual(sig, mac(secret, payload))) {
      throw new GrantError(ErrorCodes.grantInvalid, 'grant signature does not verify');
    }
    let claims: GrantClaims;
    try {
      const bytes = fromBase64(payload);
      if (!bytes) throw new Error('not base64url');
      claims = JSON.parse(decoder.decode(bytes)) as GrantClaims;
    } catch {
      throw new GrantError(ErrorCodes.grantInvalid, 'grant payload is not JSON');
    }
    if (typeof claims?.v !== 'string' || typeof claims.p !== 'string' || typeof claims.s !== 'string' ||
        typeof claims.n !== 'number' || typeof claims.exp !== 'number') {
      throw new GrantError(ErrorCodes.grantInvalid, 'grant claims incomplete');
    }
    if (claims.k !== undefined && (claims.k !== URGENT_KIND || !Array.isArray(claims.c) || typeof claims.b !== 'number' ||
        !claims.c.every((i) => Number.isInteger(i) && i >= 0))) {
      throw new GrantError(ErrorCodes.grantInvalid, 'urgent grant claims incomplete');
    }
    const kind = opts.kind ?? 'slot';
    if (kind !== 'any' && (kind === 'urgent') !== isUrgentClaims(claims)) {
      throw new GrantError(ErrorCodes.grantWrongKind, kind === 'urgent'
        ? 'a slot grant cannot be used for urgent chunks: ask the origin for an urgent grant'
        : 'an urgent grant cannot be used as a slot grant: it covers only its own chunks on the urgent route');
    }
    if (claims.exp <= opts.now) throw new GrantError(ErrorCodes.grantExpired, 'grant expired');
    if (opts.videoId !== undefined && claims.v !== opts.videoId) {
      throw new GrantError(ErrorCodes.grantWrongVideo, 'grant is for another video');
    }
    return claims;
  }

  return { signGrant, verifyGrant };
}
