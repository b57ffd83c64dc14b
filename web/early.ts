/**
 * The watch page's first script (`/watch/assets/early.js`, about 2 KB, run as soon as it arrives): it starts
 * the two slow things that need none of the big bundle (hls.js and the engine), while that bundle loads.
 * - The player's MediaSource: it takes ~100 ms to open in Chromium here; web/watch.ts hands it to hls.js
 *   (`attachMedia({ media, mediaSource })`).
 * - When the engine will start at once (no start grant in the page), this peer's key pair, made by WebCrypto
 *   (native, off the main thread), and its credential request (`POST /auth/peer`); client/identity.ts takes
 *   both over. The seed stays in this page, as always.
 * Nothing here is trusted with anything: every byte is still verified by the engine.
 */
import { encodeUserPublicKey } from '../lib/nkey.js';

/** A key pair and its credential request, already on the way. */
export interface EarlyKeys {
  rawSeed: Uint8Array;
  rawPublic: Uint8Array;
  url: string;
  reply: Promise<Response>;
}

/** What the early script leaves for web/watch.ts. */
export interface EarlyPage {
  mediaSource?: MediaSource;
  /** null when this browser cannot make an ed25519 key with WebCrypto (the engine then makes its own) */
  keys?: Promise<EarlyKeys | null>;
}

declare global {
  interface Window {
    switchyardEarly?: EarlyPage;
  }
}

async function makeKeys(label: string): Promise<EarlyKeys | null> {
  try {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const rawPublic = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    // PKCS #8 of an ed25519 key ends with its 32-byte seed
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    const rawSeed = pkcs8.slice(pkcs8.length - 32);
    const url = `${location.origin}/auth/peer`;
    const reply = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: encodeUserPublicKey(rawPublic), label }), signal: AbortSignal.timeout(10_000) });
    reply.catch(() => {}); // read (and reported) by client/identity.ts
    return { rawSeed, rawPublic, url, reply };
  } catch {
    return null;
  }
}

/** Starts what it can; whatever fails here, web/watch.ts does itself. */
function startEarly(): EarlyPage {
  const early: EarlyPage = {};
  try {
    const boot = JSON.parse(document.getElementById('sy-boot')?.textContent || '{}') as
      { start?: unknown; manifest?: { stream?: unknown }; live?: unknown };
    const params = new URLSearchParams(location.search);
    const play = params.get('play') !== '0';
    // a live stream (web/livepage.ts) always plays, and never has a start grant
    const stream = Boolean(boot.manifest?.stream) || Boolean(boot.live);
    const video = document.getElementById('video');
    if (play && stream && video instanceof HTMLVideoElement && typeof MediaSource !== 'undefined') {
      early.mediaSource = new MediaSource();
      video.src = URL.createObjectURL(early.mediaSource);
    }
    // with a start grant the engine waits for the first frame (web/watch.ts), and so does its credential
    if (!(play && stream && boot.start)) early.keys = makeKeys(params.get('label') ?? 'web');
  } catch {
    // nothing started early
  }
  return early;
}

// This script is async: when the page's module ran first, it claimed the slot, started the player on its own
// MediaSource and makes its own keys, so starting either here would only compete with it (a second MediaSource
// on the video makes hls.js detach, and nothing plays).
window.switchyardEarly ??= startEarly();
