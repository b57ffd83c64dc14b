/**
 * nkeys' text form of user keys, without any cryptography (so the watch page's first script can name a key it
 * made with WebCrypto): base32 (RFC 4648, no padding) of prefix byte(s) + key + CRC-16/XMODEM (little endian).
 */

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** nkeys prefix bytes: user public keys, and the seed marker */
const PREFIX_USER = 20 << 3;
const PREFIX_SEED = 18 << 3;

function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const b of data) {
    crc ^= b << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of data) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** `prefix + payload + crc16` in base32, as nkeys encodes keys and seeds */
function encodeKey(prefix: number[], payload: Uint8Array): string {
  const raw = new Uint8Array(prefix.length + payload.length + 2);
  raw.set(prefix, 0);
  raw.set(payload, prefix.length);
  const crc = crc16(raw.subarray(0, raw.length - 2));
  raw[raw.length - 2] = crc & 0xff;
  raw[raw.length - 1] = crc >> 8;
  return base32(raw);
}

/** A user's public key (`U…`) from its 32 raw ed25519 bytes. */
export function encodeUserPublicKey(rawPublic: Uint8Array): string {
  return encodeKey([PREFIX_USER], rawPublic);
}

/** A user's seed (`SU…`, what a creds file holds) from its 32 raw bytes. */
export function encodeUserSeed(rawSeed: Uint8Array): Uint8Array {
  // the two prefix bytes pack the seed marker and the key type (nkeys' Codec.encodeSeed)
  return new TextEncoder().encode(encodeKey([PREFIX_SEED | (PREFIX_USER >> 5), (PREFIX_USER & 31) << 3], rawSeed));
}
