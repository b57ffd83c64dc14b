/**
 * Credentials at the edge: chunk grants (signed by the origin, checked with the shared secret) and the admin
 * token guarding uploads. Both arrive as `Authorization: Bearer ...`; grants may also ride in `?grant=` because
 * a `<video>` element or a plain download link cannot set headers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCodes, GrantError, UnauthorizedError } from '../protocol/mod.js';

/**
 * The bearer token of an Authorization header; undefined when there is no header. A header in another scheme
 * is not silently ignored (the client clearly meant to authenticate), it is an invalid credential.
 */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (h === undefined || h === '') return undefined;
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(h);
  return m ? m[1] : '';
}

/** Grant token from the header (preferred) or the query; '' marks a malformed Authorization header. */
export function grantToken(headers: IncomingHttpHeaders, query: { grant?: string }): string | undefined {
  const fromHeader = bearerToken(headers);
  if (fromHeader === '') throw new GrantError(ErrorCodes.grantInvalid, 'Authorization must be "Bearer <grant>"');
  return fromHeader ?? (query.grant || undefined);
}

/**
 * Compares in constant time. Hashing both sides first makes the lengths equal, so neither the length of the
 * expected token nor the position of the first differing byte leaks through timing.
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Throws UnauthorizedError unless the request carries the admin token (Bearer or X-Admin-Token). */
export function requireAdmin(headers: IncomingHttpHeaders, adminToken: string): void {
  const x = headers['x-admin-token'];
  const candidate = bearerToken(headers) || (typeof x === 'string' ? x : undefined);
  if (!candidate) throw new UnauthorizedError('admin token required (Authorization: Bearer <token> or X-Admin-Token)');
  if (!safeEqual(candidate, adminToken)) throw new UnauthorizedError('admin token does not match');
}
