/**
 * Pure validation of signalling payloads (SDP, ICE candidates, signal messages), used by the relay (so hostile input never reaches another peer) and
 * again by the receiving peer before anything is handed to libdatachannel (defence in depth: the relay may be
 * an older version, or a message may reach the peer some other way).
 *
 * Switchyard only ever negotiates one data channel, so a legitimate SDP is small (~600 bytes, ~15 lines; a
 * browser's non-trickle SDP with embedded candidates stays well under 100 lines) and has exactly the shape
 * checked below. Anything else (audio/video sections, control characters, odd line shapes) is refused with a
 * BadRequestError naming the rule, never passed on. Nothing here throws anything but BadRequestError.
 */
import { BadRequestError } from './errors.js';
import { MAX_CANDIDATE_BYTES, MAX_SDP_BYTES, SignalKinds, type SignalMessage } from './p2p.js';

/** UTF-8 byte length without encoding (a lone surrogate counts as U+FFFD, 3 bytes, as an encoder writes it). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export type SdpKind = 'offer' | 'answer';

export const MAX_SDP_LINES = 100;

/** C0 controls other than CR/LF, DEL and C1 controls. */
// control characters are exactly what these two patterns look for
const CONTROL_EXCEPT_CRLF = /[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]/;
const ANY_CONTROL = /[\x00-\x1f\x7f-\x9f]/;
/** A lone UTF-16 surrogate cannot be encoded as UTF-8: refuse it rather than let it become U+FFFD natively. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SDP_LINE = /^[a-z]=.*$/;
const CANDIDATE = /^(a=)?candidate:\S+ \d+ (udp|tcp|UDP|TCP) \d+ \S+ \d+ typ \S+/;
const MID = /^[A-Za-z0-9_-]{1,32}$/;
/** RFC 8839 ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4..256, pwd 22..256 characters. */
const ICE_UFRAG = /^a=ice-ufrag:[A-Za-z0-9+/]{4,256}$/;
const ICE_PWD = /^a=ice-pwd:[A-Za-z0-9+/]{22,256}$/;
/** RFC 8122: hash function token, then colon-separated upper/lower-case hex bytes. */
const FINGERPRINT = /^a=fingerprint:[A-Za-z0-9-]{1,32} [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/;
const SETUP = /^a=setup:(\S*)$/;

function reject(what: string, reason: string): never {
  throw new BadRequestError(`invalid ${what}: ${reason}`);
}

/** Short, printable excerpt of a hostile line for error messages (never echoes control bytes or huge text). */
function excerpt(s: string): string {
  const cut = s.length > 40 ? s.slice(0, 40) + '…' : s;
  return JSON.stringify(cut);
}

/**
 * Throws BadRequestError unless `sdp` is a plausible data-channel-only session description of the given kind.
 * Rules: ≤ MAX_SDP_BYTES (UTF-8), ≤ MAX_SDP_LINES lines, first line `v=0`, no control characters besides the
 * CR LF / LF line ends, every line `<lowercase letter>=<value>`, `o=`, `s=`, `t=` present, at least one
 * `m=application` section and no other media section, `a=ice-ufrag`, `a=ice-pwd`, `a=fingerprint:` and
 * `a=setup:` present and well-formed (setup in an answer must be `active` or `passive`), and any embedded
 * `a=candidate:` line a valid candidate.
 */
export function validateSdp(sdp: string, kind: SdpKind): void {
  const what = `${kind} sdp`;
  if (typeof sdp !== 'string') reject(what, 'not a string');
  if (kind !== 'offer' && kind !== 'answer') reject('sdp', `unknown kind ${excerpt(String(kind))}`);
  // cheap length pre-check before counting bytes (a UTF-16 unit is at most 3 UTF-8 bytes)
  if (sdp.length > MAX_SDP_BYTES || utf8Length(sdp) > MAX_SDP_BYTES) {
    reject(what, `longer than ${MAX_SDP_BYTES} bytes`);
  }
  if (sdp.length === 0) reject(what, 'empty');
  if (!sdp.startsWith('v=0\r\n') && !sdp.startsWith('v=0\n')) reject(what, 'does not start with a "v=0" line');
  const ctl = CONTROL_EXCEPT_CRLF.exec(sdp);
  if (ctl) reject(what, `contains control character U+${ctl[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (LONE_SURROGATE.test(sdp)) reject(what, 'contains an unpaired surrogate');

  const lines = sdp.split('\n');
  // a trailing line end leaves one empty element: that is the normal form
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length > MAX_SDP_LINES) reject(what, `more than ${MAX_SDP_LINES} lines`);

  let hasO = false, hasS = false, hasT = false, hasApp = false;
  let hasUfrag = false, hasPwd = false, hasFingerprint = false;
  const setups: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.includes('\r')) reject(what, `line ${i + 1} contains a bare CR`);
    if (!SDP_LINE.test(line)) reject(what, `line ${i + 1} is not "<letter>=<value>": ${excerpt(line)}`);
    switch (line[0]) {
      case 'o': hasO = true; break;
      case 's': hasS = true; break;
      case 't': hasT = true; break;
      case 'v':
        if (i !== 0) reject(what, `second "v=" line at line ${i + 1}`);
        break;
      case 'm':
        if (line.startsWith('m=application ')) hasApp = true;
        else reject(what, `media section other than m=application (data channels only): ${excerpt(line)}`);
        break;
      case 'a':
        if (line.startsWith('a=ice-ufrag:')) {
          if (!ICE_UFRAG.test(line)) reject(what, `malformed ice-ufrag line ${i + 1}`);
          hasUfrag = true;
        } else if (line.startsWith('a=ice-pwd:')) {
          if (!ICE_PWD.test(line)) reject(what, `malformed ice-pwd line ${i + 1}`);
          hasPwd = true;
        } else if (line.startsWith('a=fingerprint:')) {
          if (!FINGERPRINT.test(line)) reject(what, `malformed fingerprint line ${i + 1}`);
          hasFingerprint = true;
        } else if (line.startsWith('a=setup:')) {
          setups.push(SETUP.exec(line)?.[1] ?? '');
        } else if (line.startsWith('a=candidate:')) {
          if (line.length > MAX_CANDIDATE_BYTES || !CANDIDATE.test(line)) {
            reject(what, `malformed candidate line ${i + 1}`);
          }
        }
        break;
      default:
        break;
    }
  }
  if (!hasO) reject(what, 'missing "o=" line');
  if (!hasS) reject(what, 'missing "s=" line');
  if (!hasT) reject(what, 'missing "t=" line');
  if (!hasApp) reject(what, 'no "m=application" section (only data-channel sessions are accepted)');
  if (!hasUfrag) reject(what, 'missing "a=ice-ufrag" line');
  if (!hasPwd) reject(what, 'missing "a=ice-pwd" line');
  if (!hasFingerprint) reject(what, 'missing "a=fingerprint:" line');
  if (setups.length === 0) reject(what, 'missing "a=setup:" line');
  const allowed = kind === 'offer' ? ['actpass', 'active', 'passive'] : ['active', 'passive'];
  for (const s of setups) {
    if (!allowed.includes(s)) reject(what, `a=setup:${excerpt(s)} is not allowed in an ${kind} (${allowed.join('|')})`);
  }
}

/**
 * Throws BadRequestError unless `candidate` is one ICE candidate line (with or without the `a=` prefix) of at
 * most MAX_CANDIDATE_BYTES without control characters, and `mid` (when given) is a short token.
 */
export function validateCandidate(candidate: string, mid?: string): void {
  if (typeof candidate !== 'string') reject('candidate', 'not a string');
  if (candidate.length > MAX_CANDIDATE_BYTES || utf8Length(candidate) > MAX_CANDIDATE_BYTES) {
    reject('candidate', `longer than ${MAX_CANDIDATE_BYTES} bytes`);
  }
  const ctl = ANY_CONTROL.exec(candidate);
  if (ctl) reject('candidate', `contains control character U+${ctl[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (LONE_SURROGATE.test(candidate)) reject('candidate', 'contains an unpaired surrogate');
  if (!CANDIDATE.test(candidate)) reject('candidate', `not an ICE candidate line: ${excerpt(candidate)}`);
  if (mid !== undefined && (typeof mid !== 'string' || !MID.test(mid))) reject('candidate', `bad mid ${excerpt(String(mid))}`);
}

/** Fields each kind may carry (besides connId, videoId, kind). */
const ALLOWED_FIELDS: Record<SignalMessage['kind'], ReadonlySet<string>> = {
  offer: new Set(['sdp']),
  answer: new Set(['sdp']),
  candidate: new Set(['candidate', 'mid']),
  bye: new Set(['reason']),
};
const OPTIONAL_FIELDS = ['sdp', 'candidate', 'mid', 'reason'] as const;

/**
 * Kind-specific checks on a message that already passed the `SignalMessage` schema: offer/answer carry a valid
 * `sdp`, candidate carries a valid `candidate` (and optional `mid`), bye may carry a printable `reason`, and no
 * message carries a field irrelevant to its kind. Throws BadRequestError.
 */
export function validateSignal(msg: SignalMessage): void {
  if (typeof msg !== 'object' || msg === null) reject('signal', 'not an object');
  const kind = msg.kind;
  const allowed = Object.hasOwn(ALLOWED_FIELDS, kind) ? ALLOWED_FIELDS[kind] : undefined;
  if (!allowed) reject('signal', `unknown kind ${excerpt(String(kind))}`);
  for (const f of OPTIONAL_FIELDS) {
    if (msg[f] !== undefined && !allowed.has(f)) reject('signal', `"${f}" is not allowed in a ${kind} message`);
  }
  switch (kind) {
    case SignalKinds.offer:
    case SignalKinds.answer:
      if (msg.sdp === undefined) reject('signal', `${kind} without "sdp"`);
      validateSdp(msg.sdp, kind);
      break;
    case SignalKinds.candidate:
      if (msg.candidate === undefined) reject('signal', 'candidate without "candidate"');
      validateCandidate(msg.candidate, msg.mid);
      break;
    case SignalKinds.bye:
      if (msg.reason !== undefined) {
        if (typeof msg.reason !== 'string' || msg.reason.length > 200) reject('signal', 'bad bye reason');
        if (ANY_CONTROL.test(msg.reason) || LONE_SURROGATE.test(msg.reason)) {
          reject('signal', 'bye reason contains control characters');
        }
      }
      break;
  }
}

/**
 * The order rule of one connection's signalling, for both RTC edges (node-datachannel and the browser): an
 * answerer takes exactly one offer and an offerer exactly one answer, and the description must pass
 * `validateSdp`. Returns the SDP to apply; throws a BadRequestError otherwise.
 */
export function acceptDescription(kind: 'offer' | 'answer', sdp: string | undefined, role: 'offerer' | 'answerer',
  remoteSet: boolean): string {
  if (kind !== (role === 'answerer' ? 'offer' : 'answer') || remoteSet) throw new BadRequestError(`unexpected ${kind}`);
  validateSdp(sdp ?? '', kind);
  return sdp ?? '';
}

/**
 * Rewrites the offer's `a=setup:actpass` to `a=setup:active`, so the offerer is the DTLS client and the
 * answerer the DTLS server. This removes libdatachannel's DTLS start race (notes/node-datachannel.md: set-up
 * p99 ~1005 ms → ~55 ms). Only whole `a=setup:actpass` lines change; line ends are kept.
 */
export function preferActiveSetup(offerSdp: string): string {
  return offerSdp.replace(/^a=setup:actpass(?=\r?$)/gm, 'a=setup:active');
}
