/**
 * The hashing protocol/ needs, injected rather than imported: Node passes node:crypto (lib/hash.ts), another
 * runtime passes its own, and protocol/ itself stays free of platform crypto. Synchronous because every caller
 * today hashes inline (chunk checks, manifest building), and an async hasher would ripple through all of them.
 */
export interface Hasher {
  /** SHA-256 of `data`, lowercase hex */
  sha256(data: Uint8Array): string;
  /** HMAC-SHA256 of the UTF-8 of `data` under `key` (grants: only Node services sign and check them) */
  hmacSha256(key: string | Uint8Array, data: string): Uint8Array;
}

/** Compares without an early exit, so the time taken does not reveal how many leading bytes matched. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
