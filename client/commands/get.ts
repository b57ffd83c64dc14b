/**
 * `switchyard get <videoId>`: download and verify a video, resuming from `<output>.part/` when present. The
 * directory is locked for the whole run (client/partlock.ts), so two runs can never share it.
 */
import { BadRequestError, isValidId } from '../../protocol/mod.js';
import { waitForStop } from './common.js';
import { openSession, type SessionFlags } from './session.js';

export interface GetFlags extends SessionFlags {
  /** stay in the swarm after completion, serving chunks, until Ctrl-C (or --seed-seconds) */
  seed?: boolean;
  'seed-seconds'?: string;
}

export async function getCommand(videoId: string | undefined, flags: GetFlags): Promise<number> {
  if (!videoId || !isValidId(videoId)) throw new BadRequestError('usage: switchyard get <videoId> [-o file]');
  const session = await openSession('get', videoId, flags);
  const { emit, json, node, partial, outPath } = session;
  try {
    const seed = flags.seed === true;
    const result = await session.download({ staying: seed }).done;
    if (result.status === 'complete' && seed) {
      if (!json) process.stderr.write(`seeding ${outPath} to the swarm (Ctrl-C stops)\n`);
      emit({ event: 'seeding', at: Date.now() });
      await waitForStop(flags['seed-seconds'] ? Number(flags['seed-seconds']) * 1000 : undefined);
      emit({ event: 'seeded', uploadedBytes: node.swarm.stats().uploadedBytes, uploadedByPeer: node.swarm.stats().uploadedByPeer });
      if (flags['keep-partial'] !== true) await partial.remove();
    }
    await session.close();
    return session.report(result);
  } finally {
    await session.close();
  }
}
