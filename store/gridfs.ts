/**
 * MongoDB GridFS chunk store (production). One GridFS file per chunk, named by its hash, in bucket
 * `switchyard_chunks`. A unique index on `filename` makes concurrent puts of the same chunk safe: the loser's
 * upload fails with a duplicate-key error and is treated as success, since the content is identical by hash.
 */
import { GridFSBucket, MongoClient, type Db, type ObjectId } from 'mongodb';
import { BadRequestError, ChunkCorruptError, ChunkMissingError } from '../protocol/mod.js';
import { sha256Hex } from '../lib/hash.js';
import { HASH_PATTERN, type ChunkStore } from './types.js';

export interface GridFsChunkStoreInit {
  url: string;
  /** database name; default from the URL path, else `switchyard` */
  dbName?: string;
  bucketName?: string;
}

function check(hash: string): string {
  if (!HASH_PATTERN.test(hash)) throw new BadRequestError(`not a SHA-256 hex digest: ${JSON.stringify(hash)}`);
  return hash;
}

export async function createGridFsChunkStore(init: GridFsChunkStoreInit): Promise<ChunkStore> {
  const client = new MongoClient(init.url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const db: Db = init.dbName ? client.db(init.dbName) : client.db();
  const bucketName = init.bucketName ?? 'switchyard_chunks';
  const bucket = new GridFSBucket(db, { bucketName, chunkSizeBytes: 255 * 1024 });
  const files = db.collection(`${bucketName}.files`);
  await files.createIndex({ filename: 1 }, { unique: true });

  return {
    kind: 'gridfs',
    async put(hash, data) {
      check(hash);
      if (sha256Hex(data) !== hash) throw new ChunkCorruptError(`data does not hash to ${hash}`);
      if (await files.findOne({ filename: hash }, { projection: { _id: 1 } })) return;
      await new Promise<void>((resolve, reject) => {
        const up = bucket.openUploadStream(hash, { metadata: { sha256: hash, size: data.byteLength } });
        up.once('error', (err: Error & { code?: number }) => (err.code === 11000 ? resolve() : reject(err)));
        up.once('finish', () => resolve());
        up.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      });
    },
    async get(hash) {
      check(hash);
      const parts: Buffer[] = [];
      try {
        for await (const part of bucket.openDownloadStreamByName(hash)) parts.push(part as Buffer);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT' || /FileNotFound|file not found/i.test(String(err))) {
          throw new ChunkMissingError(hash);
        }
        throw err;
      }
      const buf = Buffer.concat(parts);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
    async open(hash, range) {
      check(hash);
      // the file document first: its length is the size to check before any byte flows, and a missing chunk
      // is known here rather than as a stream error after the response started
      const doc = await files.findOne<{ _id: ObjectId; length: number }>({ filename: hash },
        { projection: { _id: 1, length: 1 } });
      if (!doc) throw new ChunkMissingError(hash);
      // GridFS counts `end` exclusive; the driver refuses offsets past the file, so a range on a short file
      // (which the caller refuses by its size anyway) is clamped rather than thrown at open
      const stream = range
        ? bucket.openDownloadStream(doc._id,
          { start: Math.min(range.start, doc.length), end: Math.min(range.end + 1, doc.length) })
        : bucket.openDownloadStream(doc._id);
      return { size: doc.length, stream };
    },
    async has(hash) {
      check(hash);
      return (await files.findOne({ filename: hash }, { projection: { _id: 1 } })) !== null;
    },
    async delete(hash) {
      check(hash);
      for await (const f of bucket.find({ filename: hash })) await bucket.delete(f._id);
    },
    async close() {
      await client.close();
    },
  };
}
