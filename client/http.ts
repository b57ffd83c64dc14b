/**
 * Chunk fetches from the origin's gateway. HTTP statuses become the download machine's failure reasons, so the
 * machine can tell "my slot is gone" (401/403 → denied) from "try again" (network, 5xx).
 */
import type { FetchFailureReason } from '../machines/download/types.js';
import { parseUnsentHeader, startChunkPath, UNSENT_HEADER } from '../protocol/mod.js';

export class FetchFailure extends Error {
  constructor(
    readonly reason: FetchFailureReason, message: string, readonly status?: number, readonly code?: string,
    /** `declined`: chunks the gateway says it has sent to nobody yet (its UNSENT_HEADER; empty: none left) */
    readonly unsent?: readonly number[],
  ) {
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
  /** `urgent`: the urgent route, under an urgent grant (no slot); default the slot route */
  route?: 'chunks' | 'urgent';
  /** the grant as `?grant=` instead of a header (a URL the page preloaded: protocol/watch.ts startChunkPath) */
  grantInQuery?: boolean;
}): Promise<Uint8Array> {
  const route = args.route ?? 'chunks';
  const base = args.gateway.replace(/\/$/, '');
  const url = args.grantInQuery && route === 'urgent' ? `${base}${startChunkPath(args.videoId, args.index, args.grant)}`
    : `${base}/videos/${args.videoId}/${route}/${args.index}`;
  let res: Response;
  try {
    res = await fetch(url, { ...(args.grantInQuery ? {} : { headers: { authorization: `Bearer ${args.grant}` } }),
      ...(args.signal ? { signal: args.signal } : {}) });
  } catch (err) {
    if (args.signal?.aborted) throw err;
    // no answer at all: the gateway is down or restarting, an outage to wait out rather than a bad chunk
    throw new FetchFailure('unavailable', `GET ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    let code = '';
    try {
      code = ((await res.json()) as { error?: { code?: string } }).error?.code ?? '';
    } catch {
      /* non-JSON error body */
    }
    // 502/503/504: the gateway cannot reach NATS (lease check) or its upstream: an outage, not this chunk's
    // fault; but a 503 chunk_missing is the store's fault and counts against the chunk like any bad answer
    const outage = res.status === 502 || res.status === 504 || (res.status === 503 && code !== 'chunk_missing');
    // on the urgent route a 429 is the reserved share (or the grant's budget) saying no for now: not worth a retry
    const reason: FetchFailureReason = route === 'urgent' && res.status === 429 ? 'refused'
      : res.status === 401 || res.status === 403 ? 'denied' : res.status === 409 ? 'declined' : res.status === 404 ? 'missing' : outage ? 'unavailable' : 'network';
    // the header names chunk indices; the machine drops any past the manifest's end
    const unsent = reason === 'declined' ? parseUnsentHeader(res.headers.get(UNSENT_HEADER), Number.MAX_SAFE_INTEGER) : null;
    throw new FetchFailure(reason, `origin answered ${res.status}${code ? ` ${code}` : ''} for chunk ${args.index}`,
      res.status, code || undefined, unsent ?? undefined);
  }
  return new Uint8Array(await res.arrayBuffer());
}
