import type { Manifest } from '../../protocol/mod.js';

export interface IngestRequest {
  /** path readable by the ingest worker */
  path: string;
  /** display name; default the file's base name */
  name?: string;
  /** bytes per chunk; default 256 KiB */
  chunkSize?: number;
  /** delete the file after ingesting (staged uploads) */
  removeAfter?: boolean;
}

export interface IngestResult {
  manifest: Manifest;
  /** non-fatal problems, e.g. "ffprobe could not read the file: stored as a plain file" */
  warnings: string[];
}

/** Submits ingest work to the JetStream work queue and waits for the worker's result. */
export interface IngestSubmitter {
  submit(req: IngestRequest, opts?: { timeoutMs?: number }): Promise<IngestResult>;
}
