/**
 * Chunk fetches from the origin's gateway. HTTP statuses become the download machine's failure reasons, so the
 * machine can tell "my slot is gone" (401/403 → denied) from "try again" (network, 5xx).
 */
import type { FetchFailureReason } from '../machines/download/types.js';

export class FetchFailure extends Error {
  constructor(readonly reason: FetchFailureReason, message: string, readonly status?: number) {
    super(message);
    this.name = 'FetchFailure';
  }
}

export async function fetchOriginChunk(args: {
  gateway: string;
  videoId: string;
  index: number;
  grant: string;
  signal?: AbortSignal;
}): Promise<Uint8Array> {
  const url = `${args.gateway.replace(/\/$/, '')}/videos/${args.videoId}/chunks/${args.index}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${args.grant}` }, ...(args.signal ? { signal: args.signal } : {}) });
  } catch (err) {
    if (args.signal?.aborted) throw err;
    throw new FetchFailure('network', `GET ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    let code = '';
    try {
      code = ((await res.json()) as { error?: { code?: string } }).error?.code ?? '';
    } catch {
      /* non-JSON error body */
    }
    const reason: FetchFailureReason = res.status === 401 || res.status === 403 ? 'denied'
      : res.status === 409 ? 'declined' : res.status === 404 ? 'missing' : 'network';
    throw new FetchFailure(reason, `origin answered ${res.status}${code ? ` ${code}` : ''} for chunk ${args.index}`, res.status);
  }
  return new Uint8Array(await res.arrayBuffer());
}
