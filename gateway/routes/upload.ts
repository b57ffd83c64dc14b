/**
 * Upload for ingest: an admin streams a file as the raw request body; it goes straight to a unique file in the
 * staging directory (never into memory, uploads may be GiBs) and then to the ingest work queue, whose worker
 * chunks, stores and publishes it and removes the staged file.
 *
 * The admin check runs in `onRequest`, before a single body byte is read, so an anonymous client cannot make
 * the gateway write to disk. Rejections that leave body bytes unread set `Connection: close`: otherwise Node
 * would read and discard the rest of a possibly huge body just to keep the connection alive.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, finished, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { IngestSubmitter } from '../../actors/ingest/types.js';
import type { Logger } from '../../lib/logger.js';
import {
  BadRequestError, Manifest, SwitchyardError, toSwitchyardError, TooLargeError, UnauthorizedError,
} from '../../protocol/mod.js';
import { requireAdmin } from '../auth.js';
import { withStatus } from '../errors.js';
import { errorResponses, rawBody, Tags, UploadHeaders, UploadQuery } from '../schemas.js';

export interface UploadRoutesOptions {
  adminToken?: string;
  stagingDir: string;
  maxUploadBytes: number;
  ingest: IngestSubmitter;
  logger: Logger;
}

const UploadResult = Type.Object({
  manifest: Manifest,
  warnings: Type.Array(Type.String()),
}, { description: 'the ingested video\'s manifest and non-fatal ingest warnings' });

function closeAfter(reply: FastifyReply, err: Error): Error {
  reply.header('connection', 'close');
  return err;
}

/**
 * Writes `src` to `path`, failing with TooLargeError past `max` bytes. The request is piped, not pipelined:
 * `pipeline` would destroy the request on error, which destroys the socket, and the client would see a reset
 * instead of our 413.
 */
async function stage(src: Readable, path: string, max: number): Promise<number> {
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.byteLength;
      if (received > max) cb(new TooLargeError(`upload exceeds the limit of ${max} bytes`));
      else cb(null, chunk);
    },
  });
  // pipe() does not forward a client abort; without this the write below would wait forever.
  const stopWatching = finished(src, (err) => {
    if (err) limiter.destroy(new BadRequestError('upload interrupted by the client', { cause: err }));
  });
  src.pipe(limiter);
  try {
    await pipeline(limiter, createWriteStream(path, { flags: 'wx' }));
  } finally {
    src.unpipe(limiter);
    stopWatching();
  }
  return received;
}

export const uploadRoutes: FastifyPluginAsync<UploadRoutesOptions> = async (app, opts) => {
  // Only raw bytes are accepted here (415 for anything else); the parser hands over the stream unread.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.addHook('onRequest', async (request, reply) => {
    if (!opts.adminToken) {
      throw closeAfter(reply, withStatus(new UnauthorizedError('uploads are disabled on this gateway (no admin token configured)'), 403));
    }
    try {
      requireAdmin(request.headers, opts.adminToken);
    } catch (err) {
      throw closeAfter(reply, err as Error);
    }
  });

  app.post<{ Querystring: { name: string; chunkSize?: number; stream?: boolean }; Body: Readable | undefined }>('/videos', {
    schema: {
      tags: [Tags.ingest],
      summary: 'Upload a file for ingest (admin)',
      description: 'Send the file as the raw `application/octet-stream` body. Answers when the video is ' +
        'chunked, stored and published.',
      security: [{ admin: [] }, { adminHeader: [] }],
      querystring: UploadQuery,
      headers: UploadHeaders,
      ...rawBody('the file, as raw bytes'),
      response: { 201: UploadResult, ...errorResponses(400, 401, 403, 413, 415, 422, 503, 504) },
    },
  }, async (request, reply) => {
    const max = opts.maxUploadBytes;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      throw closeAfter(reply, new TooLargeError(`upload of ${declared} bytes exceeds the limit of ${max} bytes`));
    }
    const src = request.body;
    if (!src) throw new BadRequestError('empty body: send the file as application/octet-stream');

    const id = randomUUID();
    const part = join(opts.stagingDir, `upload-${id}.part`);
    let size: number;
    try {
      size = await stage(src, part, max);
    } catch (err) {
      await rm(part, { force: true });
      if (err instanceof TooLargeError) throw closeAfter(reply, err);
      throw err;
    }
    if (size === 0) {
      await rm(part, { force: true });
      throw new BadRequestError('empty body: send the file as application/octet-stream');
    }
    // `.part` marks files still being written, so an operator can tell abandoned uploads from queued ones.
    const staged = join(opts.stagingDir, `upload-${id}`);
    await rename(part, staged);

    const { name, chunkSize, stream } = request.query;
    try {
      const result = await opts.ingest.submit({ path: staged, name, ...(chunkSize ? { chunkSize } : {}),
        ...(stream === false ? { stream: false } : {}), removeAfter: true });
      return reply.code(201).send({ manifest: result.manifest, warnings: result.warnings });
    } catch (err) {
      const se = toSwitchyardError(err);
      opts.logger.warn('ingest of upload failed', { code: se.code, message: se.message, size });
      // Worker messages may quote the staging path (possibly resolved through symlinks): clients have no
      // business knowing it.
      const hidden = se.message.replace(new RegExp(`\\S*upload-${id}`, 'g'), 'the upload');
      throw hidden !== se.message ? new SwitchyardError(se.code, hidden) : se;
    } finally {
      // On every outcome: the worker removes it after its attempt, but a timeout, a lost worker or a client that
      // went away must not leave it behind. A job still queued after a timeout then fails cleanly ("does not
      // exist") instead of ingesting an upload nobody waits for.
      await rm(staged, { force: true }).catch(() => {});
    }
  });
};
