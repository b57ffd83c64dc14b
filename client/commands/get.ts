/**
 * `switchyard get <videoId>`: download and verify a video, resuming from `<output>.part/` when present (the
 * library's `download`; the directory is locked for the whole run, client/partlock.ts). `--seed` stays in the
 * swarm after completion until Ctrl-C or `--seed-seconds`.
 */
import { download } from '../../api/download.js';
import { BadRequestError, isValidId } from '../../protocol/mod.js';
import { waitForStop } from './common.js';
import { downloadOptions, emitterFor, presentDownload, reportDownload, type SessionFlags } from './session.js';

export interface GetFlags extends SessionFlags {
  /** stay in the swarm after completion, serving chunks, until Ctrl-C (or --seed-seconds) */
  seed?: boolean;
  'seed-seconds'?: string;
}

export async function getCommand(videoId: string | undefined, flags: GetFlags): Promise<number> {
  if (!videoId || !isValidId(videoId)) throw new BadRequestError('usage: switchyard get <videoId> [-o file]');
  const json = flags.json === true;
  const emit = emitterFor(json);
  const seed = flags.seed === true;
  const d = await download(videoId, { ...downloadOptions('get', flags), seed });
  try {
    const result = await presentDownload(d, json, emit);
    if (result.status === 'complete' && seed) {
      if (!json) process.stderr.write(`seeding ${d.outPath} to the swarm (Ctrl-C stops)\n`);
      emit({ event: 'seeding', at: Date.now() });
      await waitForStop(flags['seed-seconds'] ? Number(flags['seed-seconds']) * 1000 : undefined);
      const stats = d.node.swarm.stats();
      emit({ event: 'seeded', uploadedBytes: stats.uploadedBytes, uploadedByPeer: stats.uploadedByPeer });
    }
    await d.close();
    return reportDownload('get', d, result, json);
  } finally {
    await d.close();
  }
}
