/**
 * Ingest as a scalable service: jobs go to the JetStream work-queue stream `SY_INGEST`; every worker pulls from
 * the shared durable consumer, so each job is done once however many workers run, and a job whose worker dies
 * is redelivered after the ack wait. The result goes back on `sy.ingest.done.<jobId>`.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import {
  AckPolicy, jetstream, jetstreamManager, RetentionPolicy, type ConsumerMessages, type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import {
  decode, encode, IngestDone, IngestError, IngestJob, MAX_MANIFEST_MESSAGE_BYTES, Streams, Subjects,
  TimeoutError, toSwitchyardError,
} from '../../protocol/mod.js';
import type { Logger } from '../../lib/logger.js';
import type { NatsConnection } from '../../lib/nats.js';
import type { ChunkStore } from '../../store/types.js';
import type { OriginClient } from '../origin/client.js';
import { ingestFile } from './ingest.js';
import { createStagingArea } from './staging.js';
import type { IngestResult, IngestSubmitter } from './types.js';

const DURABLE = 'ingest-workers';
/** a job not acked within this time is handed to another worker (we send `working()` while busy) */
const ACK_WAIT_MS = 60_000;

export async function ensureIngestStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(Streams.ingest);
  } catch {
    await jsm.streams.add({ name: Streams.ingest, subjects: [Subjects.ingestJob], retention: RetentionPolicy.Workqueue })
      .catch(async (err) => {
        // another worker created it first
        await jsm.streams.info(Streams.ingest).catch(() => Promise.reject(err));
      });
  }
  try {
    await jsm.consumers.info(Streams.ingest, DURABLE);
  } catch {
    await jsm.consumers.add(Streams.ingest, {
      durable_name: DURABLE, ack_policy: AckPolicy.Explicit, ack_wait: nanos(ACK_WAIT_MS), max_deliver: 3,
    }).catch(async (err) => {
      await jsm.consumers.info(Streams.ingest, DURABLE).catch(() => Promise.reject(err));
    });
  }
}

/** Jobs this worker finished (metrics): counts only grow. */
export interface IngestWorkerStats {
  /** published a manifest (`ok: true`) */
  done: number;
  /** answered `ok: false` (refused path, unreadable file, catalog refusal, ...) */
  failed: number;
  /** malformed job messages terminated without an answer */
  malformed: number;
  /** jobs being worked on now */
  running: number;
}

export interface IngestWorker {
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): IngestWorkerStats;
  /**
   * jobs waiting in `SY_INGEST` for any worker (the shared consumer's `num_pending`): the backlog operators scale
   * ingest workers by. One JetStream request; rejects when NATS does not answer.
   */
  backlog(): Promise<number>;
}

export interface IngestWorkerInit {
  concurrency?: number;
  /** the only directory jobs may name files in (the gateways' staging directory, same machine or volume) */
  stagingDir: string;
}

export function createIngestWorker(
  init: IngestWorkerInit,
  components: { nc: NatsConnection; store: ChunkStore; origin: Pick<OriginClient, 'publish'>; logger: Logger },
): IngestWorker {
  const { nc, logger } = components;
  const staging = createStagingArea(init.stagingDir);
  let messages: ConsumerMessages | null = null;
  let loop: Promise<void> | null = null;
  const counts: IngestWorkerStats = { done: 0, failed: 0, malformed: 0, running: 0 };
  let jsm: Promise<JetStreamManager> | null = null;
  return {
    async start() {
      await ensureIngestStream(nc);
      const consumer = await jetstream(nc).consumers.get(Streams.ingest, DURABLE);
      messages = await consumer.consume({ max_messages: init.concurrency ?? 1 });
      const msgs = messages;
      loop = (async () => {
        for await (const m of msgs) {
          let job: IngestJob;
          try {
            job = decode(IngestJob, m.data, { what: 'ingest job' });
          } catch (err) {
            logger.warn('malformed ingest job dropped', { err });
            counts.malformed++;
            m.term();
            continue;
          }
          const keepAlive = setInterval(() => m.working(), ACK_WAIT_MS / 3);
          let done: IngestDone;
          // set only once the path is known to be a staged upload: nothing outside staging is ever deleted
          let staged: string | null = null;
          counts.running++;
          try {
            staged = await staging.resolve(job.path);
            // packaging writes next to the staged upload: the worker's own disk, not the system temp dir
            const r = await ingestFile({ path: staged, name: job.name, workDir: init.stagingDir,
              ...(job.chunkSize ? { chunkSize: job.chunkSize } : {}), ...(job.stream === false ? { stream: false } : {}) },
              { store: components.store, publish: (mf) => components.origin.publish(mf), logger });
            done = { jobId: job.jobId, ok: true, manifest: r.manifest, warnings: r.warnings };
          } catch (err) {
            const se = toSwitchyardError(err);
            if (se.code === 'internal') logger.error('ingest failed', { jobId: job.jobId, err });
            else logger.warn('ingest job refused or failed', { jobId: job.jobId, code: se.code, message: se.message });
            done = { jobId: job.jobId, ok: false, error: { code: se.code, message: se.message } };
          } finally {
            clearInterval(keepAlive);
            counts.running--;
          }
          if (done.ok) counts.done++;
          else counts.failed++;
          // success or failure, the staged upload has had its one chance: a later retry would need a new upload
          if (staged && job.removeAfter) await rm(staged, { force: true }).catch(() => {});
          nc.publish(Subjects.ingestDone(job.jobId), encode(done));
          m.ack();
        }
      })();
    },
    async stop() {
      await messages?.close();
      await loop?.catch(() => {});
      messages = null;
    },
    stats: () => ({ ...counts }),
    async backlog() {
      jsm ??= jetstreamManager(nc).catch((err) => {
        jsm = null;
        throw err;
      });
      return (await (await jsm).consumers.info(Streams.ingest, DURABLE)).num_pending;
    },
  };
}

/** Client side of the work queue: publish a job, wait for its done notice. */
export function createIngestSubmitter(components: { nc: NatsConnection; logger: Logger }): IngestSubmitter {
  const { nc } = components;
  let ensured: Promise<void> | null = null;
  return {
    async submit(req, opts = {}): Promise<IngestResult> {
      ensured ??= ensureIngestStream(nc).catch((err) => {
        ensured = null;
        throw err;
      });
      await ensured;
      const jobId = `j${randomBytes(9).toString('base64url')}`;
      const sub = nc.subscribe(Subjects.ingestDone(jobId), { max: 1 });
      const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
      const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
      try {
        const job: IngestJob = { jobId, path: req.path, name: req.name ?? req.path.split('/').pop() ?? 'video',
          ...(req.chunkSize ? { chunkSize: req.chunkSize } : {}), ...(req.removeAfter ? { removeAfter: true } : {}),
          ...(req.stream === false ? { stream: false } : {}) };
        await jetstream(nc).publish(Subjects.ingestJob, encode(job));
        for await (const m of sub) {
          const done = decode(IngestDone, m.data, { maxBytes: MAX_MANIFEST_MESSAGE_BYTES, what: 'ingest result' });
          if (done.ok) return { manifest: done.manifest, warnings: done.warnings };
          throw new IngestError(done.error.message);
        }
        throw new TimeoutError(`ingest job ${jobId} did not finish within ${timeoutMs} ms (is an ingest worker running?)`);
      } finally {
        clearTimeout(timer);
        sub.unsubscribe();
      }
    },
  };
}
