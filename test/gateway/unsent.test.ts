/**
 * The swarm-aware origin's decline names chunks it has sent to nobody yet (UNSENT_HEADER): the gateway's error
 * handler writes it from ChunkInSwarmError, and the client's fetch (client/http.ts) reads it back into the
 * failure the download machine sees, over a real listening fastify server. A malformed header is no hint at
 * all, never a failure of its own.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FetchFailure, fetchOriginChunk } from '../../client/http.js';
import { createErrorHandler } from '../../gateway/mod.js';
import { createLogger } from '../../lib/logger.js';
import { ChunkInSwarmError, MAX_UNSENT_HINT, parseUnsentHeader, UNSENT_HEADER } from '../../protocol/mod.js';

const t = suite<{ app: FastifyInstance; base: string }>('origin decline: the unsent hint (real fastify)');

t.before(async (ctx) => {
  const app = Fastify();
  app.setErrorHandler(createErrorHandler(createLogger('t', 'silent')));
  // chunk 1: hint [5, 9]; 2: nothing left; 3: no hint computed; 4: a garbled header
  app.get<{ Params: { index: string } }>('/videos/v/chunks/:index', async (request, reply) => {
    const index = Number(request.params.index);
    if (index === 1) throw new ChunkInSwarmError(index, [5, 9]);
    if (index === 2) throw new ChunkInSwarmError(index, []);
    if (index === 4) reply.header(UNSENT_HEADER, '7,../8');
    throw new ChunkInSwarmError(index);
  });
  ctx.base = await app.listen({ host: '127.0.0.1', port: 0 });
  ctx.app = app;
});
t.after(async ({ app }) => app.close());

async function declined(base: string, index: number): Promise<FetchFailure> {
  try {
    await fetchOriginChunk({ gateway: base, videoId: 'v', index, grant: 'g' });
  } catch (err) {
    assert.instance(err, FetchFailure);
    return err as FetchFailure;
  }
  throw new Error('the fetch did not fail');
}

t('a decline carries the chunks sent to nobody yet into the fetch failure', async ({ base }) => {
  const f = await declined(base, 1);
  assert.is(f.reason, 'declined');
  assert.is(f.status, 409);
  assert.is(f.code, 'chunk_in_swarm');
  assert.equal(f.unsent, [5, 9]);
});

t('"none": every chunk went out (an empty hint, which ends a turn); no header: no hint', async ({ base }) => {
  assert.equal((await declined(base, 2)).unsent, []);
  assert.is((await declined(base, 3)).unsent, undefined);
  const bad = await declined(base, 4);
  assert.is(bad.reason, 'declined', 'a garbled hint does not change the failure');
  assert.is(bad.unsent, undefined);
});

t('parseUnsentHeader: strict decimal indices below the count, bounded; anything else is no hint', () => {
  assert.equal(parseUnsentHeader('3, 17,40', 100), [3, 17, 40]);
  assert.equal(parseUnsentHeader('none', 100), []);
  assert.equal(parseUnsentHeader('3,3', 100), [3], 'duplicates once');
  for (const bad of [null, undefined, '', '3,,4', '-1', '1e3', '0x10', '3;4', '100', ' , ']) {
    assert.is(parseUnsentHeader(bad, 100), null, JSON.stringify(bad));
  }
  const many = Array.from({ length: MAX_UNSENT_HINT + 1 }, (_, i) => i).join(',');
  assert.is(parseUnsentHeader(many, 1000), null, 'more than MAX_UNSENT_HINT');
  assert.is(parseUnsentHeader('1'.repeat(5000), 1000), null, 'an oversized value is not scanned');
});

t.run();
