/**
 * Metrics of one tracker worker: requests by verb (`tracker.served`, this worker's), and the swarms as the
 * `sy_swarm` bucket holds them (the same for every worker: take max, not sum). The tracker exposes swarms only
 * per video, so this collector keeps its own small view of the bucket from a KV watch: per entry only what the
 * gauges need (video, last seen, reports), never bitfields.
 *
 * A peer reported by two distinct members is left out of every listing (banned in the swarm); one report hides it
 * from its reporter only. Reports are what the tracker accepted (members with link evidence), so this is the
 * cluster's count of corrupt-chunk verdicts still in force, not of report requests (see
 * `switchyard_tracker_requests_total{verb="report"}` for those).
 */
import { Kvm, type KvWatchEntry } from '@nats-io/kv';
import type { Registry } from 'prom-client';
import type { Tracker } from '../../actors/tracker/tracker.js';
import { Buckets } from '../../protocol/mod.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { NatsConnection } from '../nats.js';
import { counterFrom, gaugeFrom, samplesOf } from './registry.js';

export interface TrackerMetricsComponents {
  /** a service connection allowed to read `sy_swarm` (the tracker's own will do) */
  nc: NatsConnection;
  clock: Clock;
  logger: Logger;
}

export interface TrackerMetrics {
  /** ends the bucket watch */
  stop(): Promise<void>;
}

/** a peer is stale after this many announce intervals without news (the tracker's rule) */
const STALE_FACTOR = 3;
/** reporters needed to ban a peer from everyone's listings (the tracker's rule) */
const BAN_REPORTS = 2;

interface View {
  videoId: string;
  lastSeen: number;
  reports: number;
}

/** Registers the tracker's metrics on `registry` and starts watching `sy_swarm`. */
export async function trackerMetrics(
  tracker: Pick<Tracker, 'served' | 'intervalMs'>, registry: Registry, c: TrackerMetricsComponents,
): Promise<TrackerMetrics> {
  const kv = await new Kvm(c.nc).create(Buckets.swarm, { history: 1 });
  const entries = new Map<string, View>();
  const watcher = await kv.watch({ key: '>' });
  const apply = (e: KvWatchEntry) => {
    if (e.operation !== 'PUT') {
      entries.delete(e.key);
      return;
    }
    try {
      const v = e.json<{ videoId?: unknown; lastSeen?: unknown; reports?: unknown }>();
      if (typeof v.videoId !== 'string' || typeof v.lastSeen !== 'number') throw new TypeError('not a swarm entry');
      entries.set(e.key, { videoId: v.videoId, lastSeen: v.lastSeen, reports: Array.isArray(v.reports) ? v.reports.length : 0 });
    } catch (err) {
      entries.delete(e.key);
      c.logger.debug('swarm entry not counted', { key: e.key, err });
    }
  };
  const loop = (async () => {
    for await (const e of watcher) apply(e);
  })().catch((err) => c.logger.warn('swarm metrics watch ended', { err }));

  /** fresh members per video, and the reported/banned among all entries, in one pass per scrape */
  const tally = () => {
    const cutoff = c.clock.now() - STALE_FACTOR * tracker.intervalMs;
    const videos = new Set<string>();
    let fresh = 0;
    let reported = 0;
    let banned = 0;
    for (const v of entries.values()) {
      if (v.lastSeen >= cutoff) {
        fresh++;
        videos.add(v.videoId);
      }
      if (v.reports > 0) reported++;
      if (v.reports >= BAN_REPORTS) banned++;
    }
    return { swarms: videos.size, fresh, entries: entries.size, reported, banned };
  };

  counterFrom({ registry, name: 'switchyard_tracker_requests_total', labelNames: ['verb'],
    help: 'Requests this tracker worker answered, by verb (announce, have, leave, report), refused ones included.' },
  () => samplesOf('verb', tracker.served));
  gaugeFrom({ registry, name: 'switchyard_tracker_swarms', help: 'Videos with at least one fresh peer (sy_swarm).' },
    () => tally().swarms);
  gaugeFrom({ registry, name: 'switchyard_tracker_peers', labelNames: ['state'],
    help: 'Swarm members in sy_swarm: fresh (announced within 3 intervals) or stale (not swept yet).' },
  () => {
    const t = tally();
    return [[{ state: 'fresh' }, t.fresh], [{ state: 'stale' }, t.entries - t.fresh]] as const;
  });
  gaugeFrom({ registry, name: 'switchyard_tracker_reported_peers',
    help: 'Swarm members with at least one accepted corrupt-chunk report.' }, () => tally().reported);
  gaugeFrom({ registry, name: 'switchyard_tracker_banned_peers',
    help: 'Swarm members reported by two distinct members: left out of every listing.' }, () => tally().banned);

  return {
    async stop() {
      watcher.stop();
      await loop;
      entries.clear();
    },
  };
}
