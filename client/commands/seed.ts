/** `switchyard seed <videoId> --file F`: serve a complete, verified file to the video's swarm until stopped (the library's `seed`). */
import { seed } from '../../api/seed.js';
import { createLogger } from '../../lib/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../../lib/metrics/mod.js';
import { BadRequestError, isValidId } from '../../protocol/mod.js';
import { waitForStop } from './common.js';

export async function seedCommand(videoId: string | undefined, flags: {
  file?: string; nats?: string; gateway?: string; label?: string; seconds?: string; 'up-rate'?: string; bind?: string; json?: boolean;
  /** serve the process metrics (heap, RSS, handles) for long-running seeders; 0 = a free port */
  'metrics-port'?: string;
}): Promise<number> {
  if (!videoId || !isValidId(videoId) || !flags.file) {
    throw new BadRequestError('usage: switchyard seed <videoId> --file FILE [--seconds S] [--up-rate BYTES_PER_S]');
  }
  const upRate = flags['up-rate'] ? Number(flags['up-rate']) : undefined;
  const s = await seed(videoId, { file: flags.file, logger: createLogger('seed'),
    ...(flags.gateway ? { gateway: flags.gateway } : {}), ...(flags.nats ? { nats: flags.nats } : {}),
    ...(flags.label ? { label: flags.label } : {}), ...(flags.bind ? { bind: flags.bind } : {}),
    ...(upRate !== undefined ? { uploadRate: upRate } : {}) });
  const metrics = flags['metrics-port'] === undefined ? null : await startMetricsServer({
    port: Number(flags['metrics-port']), registry: createMetricsRegistry({ role: 'seeder', worker: s.peerId }),
    gcBeforeScrape: process.env.SWITCHYARD_METRICS_GC === '1' });
  try {
    // a seeder whose file changes under it stops serving the changed chunks; its user must hear about it
    s.on('corrupt', ({ index, message }) => {
      process.stderr.write(`seed: ${message}\n`);
      if (flags.json) process.stdout.write(JSON.stringify({ event: 'corrupt', index, message }) + '\n');
    });
    process.stderr.write(`seeding ${s.held} of ${s.manifest.chunks.length} chunks of ${s.manifest.name} as ${s.peerId} (Ctrl-C stops)\n`);
    if (flags.json) {
      process.stdout.write(JSON.stringify({ event: 'seeding', peerId: s.peerId, chunks: s.held,
        ...(metrics ? { metrics: metrics.url } : {}) }) + '\n');
    }
    await waitForStop(flags.seconds ? Number(flags.seconds) * 1000 : undefined);
    const stats = s.stats();
    if (flags.json) process.stdout.write(JSON.stringify({ event: 'seeded', ...stats }) + '\n');
    else process.stderr.write(`uploaded ${stats.uploadedBytes} bytes to ${Object.keys(stats.uploadedByPeer).length} peers\n`);
    return 0;
  } finally {
    await metrics?.stop();
    await s.stop();
  }
}
