/**
 * The peer wire format: the binary frames two peers exchange over a WebRTC data channel (the data plane; the
 * control plane is NATS, see p2p.ts). One frame is one whole data-channel message, so there is no stream
 * reassembly: a message either decodes to exactly one frame or is a protocol violation.
 *
 * Layout: u32 big-endian payload length, u8 type, payload. The length is redundant with the message size on
 * purpose: a peer whose encoder is out of step with ours (or that sends garbage) is caught on its first frame
 * rather than producing plausible-looking nonsense.
 *
 * Every input from a peer is hostile until proven otherwise, so `decodeFrame` checks every field and throws
 * only `WireError` (code `bad_frame`): the caller drops the connection on any error and never has to sort
 * "bad peer" from "our bug" by exception class. The encoders apply the same rules, so whatever we send, we
 * would accept.
 *
 * Frame layouts (payload only):
 * - handshake  u8 version, 32 B root hash, u8 len + videoId, u8 len + peerId, u8 flags (bit0 = uploads)
 * - bitfield   u32 chunkCount, ceil(count/8) bytes, bit order as in bitfield.ts
 * - have, request, cancel   u32 index
 * - piece      u32 index, u32 offset, u32 chunkLength, data (1..BLOCK_SIZE bytes)
 * - reject     u32 index, u8 reason
 * - choke, unchoke, keepalive   empty
 */
import { bitfieldBytes, packBits, spareBitsClear, unpackBits } from './bitfield.js';
import { WireError } from './errors.js';
import { MAX_CHUNKS, MAX_CHUNK_SIZE } from './manifest.js';

export const WIRE_VERSION = 1;
/**
 * Piece data per frame. A full piece frame (65553 bytes) fits the 256 KiB max-message-size that libdatachannel
 * and browsers advertise in their SDP, and small blocks let an uploader interleave several requesters.
 */
export const BLOCK_SIZE = 64 * 1024;
/** The largest legal frame is a full piece (17 bytes of header); the slack keeps room for a future field. */
export const MAX_FRAME_BYTES = BLOCK_SIZE + 64;

const HEADER_BYTES = 5;
const PIECE_HEADER_BYTES = HEADER_BYTES + 12;
const HASH_BYTES = 32;
const MAX_ID_BYTES = 64;
const FLAG_UPLOADS = 0x01;

export const FrameTypes = {
  handshake: 1,
  bitfield: 2,
  have: 3,
  request: 4,
  piece: 5,
  cancel: 6,
  reject: 7,
  choke: 8,
  unchoke: 9,
  keepalive: 10,
} as const;
export type FrameType = keyof typeof FrameTypes;

const TYPE_BY_CODE = new Map<number, FrameType>(
  (Object.entries(FrameTypes) as [FrameType, number][]).map(([name, code]) => [code, name]),
);

export const RejectReasons = {
  /** the uploader has choked us: wait for unchoke */
  choked: 1,
  /** the uploader does not hold (a verified copy of) the chunk */
  notHave: 2,
  /** the uploader has too many requests in flight */
  overloaded: 3,
  /** the request made no sense (index out of the video) */
  badRequest: 4,
} as const;
export type RejectReason = (typeof RejectReasons)[keyof typeof RejectReasons];
const REJECT_REASONS = new Set<number>(Object.values(RejectReasons));

export interface HandshakeFrame {
  type: 'handshake';
  version: number;
  /** the manifest's `rootHash`, lowercase hex: both ends must talk about the same bytes */
  rootHash: string;
  videoId: string;
  peerId: string;
  /** the peer serves chunks; a consumer-only peer is not worth requesting from */
  uploads: boolean;
}
/**
 * `have[i]` = chunk i is held and verified; `have.length` is the chunk count. A plain boolean[] (not the packed
 * bytes) because that is what the tracker helpers and the piece picker use; 65536 entries is the worst case.
 */
export interface BitfieldFrame { type: 'bitfield'; have: boolean[] }
export interface HaveFrame { type: 'have'; index: number }
/** Asks for a whole chunk; the uploader answers with ceil(chunkLength / BLOCK_SIZE) piece frames or a reject. */
export interface RequestFrame { type: 'request'; index: number }
export interface PieceFrame {
  type: 'piece';
  index: number;
  /** byte offset of `data` within the chunk */
  offset: number;
  /** total length of the chunk, so the receiver can size its buffer from the first piece that arrives */
  chunkLength: number;
  /** a plain Uint8Array view into the received message (no copy): copy it if the message buffer is reused */
  data: Uint8Array;
}
export interface CancelFrame { type: 'cancel'; index: number }
export interface RejectFrame { type: 'reject'; index: number; reason: RejectReason }
export interface ChokeFrame { type: 'choke' }
export interface UnchokeFrame { type: 'unchoke' }
export interface KeepaliveFrame { type: 'keepalive' }

export type Frame =
  | HandshakeFrame | BitfieldFrame | HaveFrame | RequestFrame | PieceFrame | CancelFrame | RejectFrame
  | ChokeFrame | UnchokeFrame | KeepaliveFrame;
export type FrameOf<K extends FrameType> = Extract<Frame, { type: K }>;
export type FrameHandlers = Partial<{ [K in FrameType]: (f: FrameOf<K>) => void }>;

// ---------------------------------------------------------------------------------------------------------------
// Field rules, shared by encoder and decoder so both sides agree on what is legal.

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function checkIndex(index: unknown, what = 'index'): number {
  if (!isU32(index) || index >= MAX_CHUNKS) throw new WireError(`${what} ${String(index)} is out of range 0..${MAX_CHUNKS - 1}`);
  return index;
}

function checkPiece(index: unknown, offset: unknown, chunkLength: unknown, dataLength: number): void {
  checkIndex(index, 'piece index');
  if (!isU32(chunkLength) || chunkLength < 1 || chunkLength > MAX_CHUNK_SIZE) {
    throw new WireError(`piece chunkLength ${String(chunkLength)} is out of range 1..${MAX_CHUNK_SIZE}`);
  }
  if (dataLength < 1 || dataLength > BLOCK_SIZE) {
    throw new WireError(`piece carries ${dataLength} data bytes; allowed 1..${BLOCK_SIZE}`);
  }
  if (!isU32(offset) || offset + dataLength > chunkLength) {
    throw new WireError(`piece ${String(offset)}+${dataLength} runs past the chunk end ${chunkLength}`);
  }
}

function isIdByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
}

/** Same rule as ID_PATTERN in subjects.ts, checked per character so the decoder never builds an invalid string. */
function checkId(id: unknown, what: string): string {
  let ok = typeof id === 'string' && id.length >= 1 && id.length <= MAX_ID_BYTES;
  for (let i = 0; ok && i < (id as string).length; i++) ok = isIdByte((id as string).charCodeAt(i));
  if (!ok) throw new WireError(`${what} must match ^[A-Za-z0-9_-]{1,64}$`);
  return id as string;
}

const HEX_HASH = /^[0-9a-f]{64}$/;

function hexToBytes(hex: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < HASH_BYTES; i++) out[at + i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
}

function bytesToHex(bytes: Uint8Array, at: number): string {
  let s = '';
  for (let i = 0; i < HASH_BYTES; i++) s += bytes[at + i]!.toString(16).padStart(2, '0');
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

/** A zeroed frame with its header written; the view is for the big-endian u32 fields that follow. */
function frameBuffer(type: number, payloadLength: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(HEADER_BYTES + payloadLength);
  const view = new DataView(buf.buffer);
  view.setUint32(0, payloadLength);
  buf[4] = type;
  return { buf, view };
}

/** Ids are checked to be ASCII first, so one byte per character is exact. */
function writeAscii(s: string, buf: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
  return s.length;
}

/**
 * The hot path: one allocation, `data` copied once. Kept apart from `encodeFrame` so an uploader never has to
 * build a frame object per block.
 */
export function encodePiece(index: number, offset: number, chunkLength: number, data: Uint8Array): Uint8Array {
  checkPiece(index, offset, chunkLength, data.byteLength);
  const { buf, view } = frameBuffer(FrameTypes.piece, 12 + data.byteLength);
  view.setUint32(5, index);
  view.setUint32(9, offset);
  view.setUint32(13, chunkLength);
  buf.set(data, PIECE_HEADER_BYTES);
  return buf;
}

/** Encodes any frame; throws WireError for a field the decoder would refuse. */
export function encodeFrame(frame: Frame): Uint8Array {
  switch (frame.type) {
    case 'handshake': {
      if (frame.version !== WIRE_VERSION) throw new WireError(`cannot encode wire version ${frame.version}`);
      if (typeof frame.rootHash !== 'string' || !HEX_HASH.test(frame.rootHash)) {
        throw new WireError('handshake rootHash must be 64 lowercase hex characters');
      }
      const videoId = checkId(frame.videoId, 'handshake videoId');
      const peerId = checkId(frame.peerId, 'handshake peerId');
      const { buf } = frameBuffer(FrameTypes.handshake, 1 + HASH_BYTES + 1 + videoId.length + 1 + peerId.length + 1);
      let at = HEADER_BYTES;
      buf[at++] = WIRE_VERSION;
      hexToBytes(frame.rootHash, buf, at);
      at += HASH_BYTES;
      buf[at++] = videoId.length;
      at += writeAscii(videoId, buf, at);
      buf[at++] = peerId.length;
      at += writeAscii(peerId, buf, at);
      buf[at] = frame.uploads ? FLAG_UPLOADS : 0;
      return buf;
    }
    case 'bitfield': {
      const count = frame.have.length;
      if (count < 1 || count > MAX_CHUNKS) throw new WireError(`bitfield chunk count ${count} is out of range 1..${MAX_CHUNKS}`);
      const { buf, view } = frameBuffer(FrameTypes.bitfield, 4 + bitfieldBytes(count));
      view.setUint32(HEADER_BYTES, count);
      const bits = HEADER_BYTES + 4;
      packBits(frame.have, buf, bits);
      return buf;
    }
    case 'have':
    case 'request':
    case 'cancel': {
      const { buf, view } = frameBuffer(FrameTypes[frame.type], 4);
      view.setUint32(HEADER_BYTES, checkIndex(frame.index));
      return buf;
    }
    case 'piece':
      return encodePiece(frame.index, frame.offset, frame.chunkLength, frame.data);
    case 'reject': {
      if (!REJECT_REASONS.has(frame.reason)) throw new WireError(`unknown reject reason ${String(frame.reason)}`);
      const { buf, view } = frameBuffer(FrameTypes.reject, 5);
      view.setUint32(HEADER_BYTES, checkIndex(frame.index));
      buf[HEADER_BYTES + 4] = frame.reason;
      return buf;
    }
    case 'choke':
    case 'unchoke':
    case 'keepalive':
      return frameBuffer(FrameTypes[frame.type], 0).buf;
    default:
      throw new WireError(`cannot encode frame type ${JSON.stringify((frame as { type?: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

function expectPayload(name: FrameType, actual: number, expected: number): void {
  if (actual !== expected) throw new WireError(`${name} payload must be ${expected} bytes, got ${actual}`);
}

function decodeHandshake(buf: Uint8Array, end: number): HandshakeFrame {
  let at = HEADER_BYTES;
  const need = (n: number, what: string) => {
    if (at + n > end) throw new WireError(`handshake truncated in ${what}`);
  };
  need(1, 'version');
  const version = buf[at++]!;
  // Checked before anything else: a different version may lay out the rest differently.
  if (version !== WIRE_VERSION) throw new WireError(`unsupported wire version ${version} (this peer speaks ${WIRE_VERSION})`);
  need(HASH_BYTES, 'root hash');
  const rootHash = bytesToHex(buf, at);
  at += HASH_BYTES;
  const readId = (what: string): string => {
    need(1, `${what} length`);
    const len = buf[at++]!;
    if (len < 1 || len > MAX_ID_BYTES) throw new WireError(`handshake ${what} length ${len} is out of range 1..${MAX_ID_BYTES}`);
    need(len, what);
    let s = '';
    for (let i = 0; i < len; i++) {
      const c = buf[at + i]!;
      if (!isIdByte(c)) throw new WireError(`handshake ${what} has a byte 0x${c.toString(16)} outside [A-Za-z0-9_-]`);
      s += String.fromCharCode(c);
    }
    at += len;
    return s;
  };
  const videoId = readId('videoId');
  const peerId = readId('peerId');
  need(1, 'flags');
  const flags = buf[at++]!;
  // Reserved bits must be zero: new flags come with a new version, so a set bit here means a broken encoder.
  if ((flags & ~FLAG_UPLOADS) !== 0) throw new WireError(`handshake flags 0x${flags.toString(16)} set reserved bits`);
  if (at !== end) throw new WireError(`handshake has ${end - at} trailing bytes`);
  return { type: 'handshake', version, rootHash, videoId, peerId, uploads: (flags & FLAG_UPLOADS) !== 0 };
}

function decodeBitfield(buf: Uint8Array, view: DataView, payload: number): BitfieldFrame {
  if (payload < 4) throw new WireError(`bitfield truncated: ${payload} payload bytes`);
  const count = view.getUint32(HEADER_BYTES);
  if (count < 1 || count > MAX_CHUNKS) throw new WireError(`bitfield chunk count ${count} is out of range 1..${MAX_CHUNKS}`);
  const nbytes = Math.ceil(count / 8);
  expectPayload('bitfield', payload, 4 + nbytes);
  const bits = HEADER_BYTES + 4;
  if (!spareBitsClear(buf, count, bits)) {
    throw new WireError(`bitfield sets bits past chunk count ${count}`);
  }
  return { type: 'bitfield', have: unpackBits(buf, count, bits) };
}

/** Decodes one whole message. Throws WireError, and nothing else, for any input. */
export function decodeFrame(buf: Uint8Array): Frame {
  if (!(buf instanceof Uint8Array)) throw new WireError('a frame must be binary (Uint8Array)');
  const n = buf.byteLength;
  // First, so a hostile multi-megabyte message costs nothing beyond this comparison.
  if (n > MAX_FRAME_BYTES) throw new WireError(`frame of ${n} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
  if (n < HEADER_BYTES) throw new WireError(`truncated header: ${n} of ${HEADER_BYTES} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, n);
  const payload = n - HEADER_BYTES;
  const declared = view.getUint32(0);
  if (declared !== payload) throw new WireError(`length field says ${declared} payload bytes but the frame has ${payload}`);
  const code = buf[4]!;
  const type = TYPE_BY_CODE.get(code);
  if (type === undefined) throw new WireError(`unknown frame type ${code}`);
  switch (type) {
    case 'handshake':
      return decodeHandshake(buf, n);
    case 'bitfield':
      return decodeBitfield(buf, view, payload);
    case 'have':
    case 'request':
    case 'cancel':
      expectPayload(type, payload, 4);
      return { type, index: checkIndex(view.getUint32(HEADER_BYTES)) };
    case 'reject': {
      expectPayload(type, payload, 5);
      const index = checkIndex(view.getUint32(HEADER_BYTES));
      const reason = buf[HEADER_BYTES + 4]!;
      if (!REJECT_REASONS.has(reason)) throw new WireError(`unknown reject reason ${reason}`);
      return { type, index, reason: reason as RejectReason };
    }
    case 'piece': {
      if (payload < 12) throw new WireError(`piece header truncated: ${payload} payload bytes`);
      const index = view.getUint32(HEADER_BYTES);
      const offset = view.getUint32(HEADER_BYTES + 4);
      const chunkLength = view.getUint32(HEADER_BYTES + 8);
      checkPiece(index, offset, chunkLength, n - PIECE_HEADER_BYTES);
      return { type, index, offset, chunkLength, data: new Uint8Array(buf.buffer, buf.byteOffset + PIECE_HEADER_BYTES, n - PIECE_HEADER_BYTES) };
    }
    case 'choke':
    case 'unchoke':
    case 'keepalive':
      expectPayload(type, payload, 0);
      return { type };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Dispatch

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Builds a data-channel `onMessage` callback. Nothing may escape it: node-datachannel aborts the whole process
 * when a callback throws, so decode errors, text messages, handler exceptions and rejected handler promises all
 * go to `onError` (the caller typically drops the peer). Frames with no handler are ignored.
 */
export function createDispatcher(
  handlers: FrameHandlers,
  onError: (err: WireError) => void,
): (msg: Uint8Array | string | ArrayBuffer) => void {
  const report = (err: WireError): void => {
    try {
      onError(err);
    } catch {
      // Rethrowing would abort the process (see above) and there is nobody left to tell.
    }
  };
  return (msg) => {
    let frame: Frame;
    try {
      if (typeof msg === 'string') throw new WireError(`text message (${msg.length} chars) on a binary wire`);
      frame = decodeFrame(msg instanceof ArrayBuffer ? new Uint8Array(msg) : msg);
    } catch (err) {
      report(err instanceof WireError ? err : new WireError('undecodable message', { cause: err }));
      return;
    }
    const handler = handlers[frame.type] as ((f: Frame) => unknown) | undefined;
    if (typeof handler !== 'function') return;
    const failed = (err: unknown) => report(new WireError(`${frame.type} handler failed: ${describe(err)}`, { cause: err }));
    try {
      const result = handler(frame);
      // An async handler's rejection would otherwise become an unhandled rejection, which also kills Node.
      if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, failed);
      }
    } catch (err) {
      failed(err);
    }
  };
}
