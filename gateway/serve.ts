/**
 * Sending one stored chunk (or one byte range of it) as an HTTP response, shared by the routes that serve origin
 * bytes. The bytes go from the store to the socket as a stream, never gathered or copied by us, and the stored
 * object is checked before any of them leave: a size other than the one the manifest promises means a store bug
 * or tampering on disk, so the chunk is refused (ChunkCorruptError: a 500, logged as a server fault), never served.
 *
 * What a route decides stays in the route (grant, lease, headers, what to charge to whom); the sender owns the
 * order every route must keep: open → check → HEAD stops here → charge → wait for egress → send, and the rule
 * that makes it safe: an opened stream holds a file descriptor (or a GridFS cursor), so every path that does not hand
 * it to the reply destroys it.
 *
 * The fs store reads into buffers the sender lends and takes back once both the stream has closed and the
 * response is done with the bytes, so serving allocates nothing per chunk: a fresh 256 KiB buffer per response is
 * external memory V8 reclaims with full mark-compacts, which cost more than the read itself (bench/README.md).
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenBucket } from '../lib/tokenbucket.js';
import { ChunkCorruptError } from '../protocol/mod.js';
import type { ChunkReader, ChunkStore } from '../store/types.js';
import { awaitEgress } from './egress.js';
import { contentRange, type RangeResult } from './range.js';

export interface ChunkSenderInit {
  store: Pick<ChunkStore, 'open'>;
  /** origin egress cap (bandwidth emulation), when one is set */
  egress?: TokenBucket;
  /** bytes of idle read buffers kept for reuse (default 32 MiB); more are allocated when needed, then dropped */
  pooledBytes?: number;
}

/** One chunk to send, as the route decided it. */
export interface ChunkToSend {
  hash: string;
  /** the length the manifest (or the live announcement) gives; a stored object of another size is refused */
  size: number;
  /** what to send: the whole chunk or one slice (already parsed against `size`) */
  range: RangeResult;
  /** names the object in the corrupt error, e.g. "chunk <hash>" */
  label: string;
  /** the route's own headers (type, ETag, caching), set only once the chunk passed its check */
  headers: Record<string, string>;
  /** charges `bytes` before they leave; may throw (quota, urgent share) and then nothing is sent */
  charge(bytes: number): void;
  /** gives back what `charge` took when the client went away before the bytes could leave */
  refund(bytes: number): void;
  /** the response finished: every byte was handed to the socket */
  served(bytes: number): void;
}

export interface ChunkSender {
  /**
   * Sends the chunk on `reply`: status 200, or 206 with `Content-Range`; `Content-Length` always, plus the
   * route's headers. HEAD answers the same headers, reads nothing and charges nothing. A read error after the
   * first byte left destroys the connection (the client sees a short body, never a complete-looking one) and
   * counts nothing; before that it becomes an error response.
   */
  send(request: FastifyRequest, reply: FastifyReply, chunk: ChunkToSend): Promise<FastifyReply>;
}

export const CHUNK_SENDER_DEFAULTS = { pooledBytes: 32 * 1024 * 1024 } as const;

/** Smallest pooled buffer; sizes round up to powers of two, so a chunk size and its ranges share few classes. */
const MIN_CLASS = 64 * 1024;

interface BufferPool {
  take(n: number): Buffer;
  give(b: Buffer): void;
}

function createBufferPool(maxBytes: number): BufferPool {
  const free = new Map<number, Buffer[]>();
  let idle = 0;
  return {
    take(n) {
      let size = MIN_CLASS;
      while (size < n) size *= 2;
      const b = free.get(size)?.pop();
      if (b) {
        idle -= size;
        return b;
      }
      return Buffer.allocUnsafeSlow(size);
    },
    give(b) {
      if (idle + b.byteLength > maxBytes) return; // beyond the cap: left to the GC
      idle += b.byteLength;
      const list = free.get(b.byteLength);
      if (list) list.push(b);
      else free.set(b.byteLength, [b]);
    },
  };
}

export function createChunkSender(init: ChunkSenderInit): ChunkSender {
  const pool = createBufferPool(init.pooledBytes ?? CHUNK_SENDER_DEFAULTS.pooledBytes);
  return {
    async send(request, reply, chunk) {
      const { range, size } = chunk;
      const n = range.kind === 'full' ? size : range.end - range.start + 1;
      const head = request.method === 'HEAD';
      const buffer = head || n === 0 ? undefined : pool.take(n);
      let reader: ChunkReader;
      try {
        const slice = range.kind === 'partial' ? range : undefined;
        reader = await init.store.open(chunk.hash, slice, buffer ? { buffer } : {});
      } catch (err) {
        if (buffer) pool.give(buffer); // nothing read into it
        throw err;
      }
      const { stream } = reader;
      // The buffer returns to the pool when both the stream closed (no read in flight) and, once handed over, the
      // response closed (finished: every write completed; or aborted: the socket's writes were cancelled). A
      // response that closed before it got the stream never reports back: its buffer is left to the GC.
      let holders = 1;
      const release = () => {
        if (--holders === 0 && buffer) pool.give(buffer);
      };
      stream.once('close', release);
      let handedOver = false;
      try {
        if (reader.size !== size) {
          throw new ChunkCorruptError(`${chunk.label} has ${reader.size} bytes, manifest says ${size}`);
        }
        reply.headers(chunk.headers);
        if (range.kind === 'partial') reply.code(206).header('content-range', contentRange(range, size));
        // set by us, not derived from the body: a stream has no length, and HEAD must announce the GET's
        reply.header('content-length', n);
        if (head) {
          // fastify resumes a stream payload of a HEAD reply (reading the whole chunk) and announces an undefined
          // payload as content-length 0: an empty stream keeps our length and reads nothing
          return reply.send(Readable.from([]));
        }
        chunk.charge(n);
        if (!(await awaitEgress(reply, init.egress, n))) {
          chunk.refund(n);
          return reply;
        }
        // counted once the bytes are handed to the socket: what left the origin, not what was asked for. A read
        // error after the first byte destroys the response, which then never finishes; one before it turns the
        // response into an error answer, which finishes without the stream having ended.
        reply.raw.once('finish', () => {
          if (stream.readableEnded) chunk.served(n);
        });
        holders++;
        reply.raw.once('close', release);
        handedOver = true;
        return reply.send(stream);
      } finally {
        if (!handedOver) stream.destroy();
      }
    },
  };
}
