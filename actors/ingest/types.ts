import type { Manifest, StreamInfo } from '../../protocol/mod.js';

export interface IngestRequest {
  /** path readable by the ingest worker */
  path: string;
  /** display name; default the file's base name */
  name?: string;
  /** bytes per chunk; default 256 KiB */
  chunkSize?: number;
  /** package a video as HLS/CMAF for playing while it downloads (default true; false stores the file as is) */
  stream?: boolean;
  /** target segment length in seconds when packaging (default 2) */
  segmentSec?: number;
  /** where packaging writes its temp file (default the system temp dir; a worker uses its staging dir) */
  workDir?: string;
  /** the ffmpeg program packaging runs (default `ffmpeg` on PATH) */
  ffmpeg?: string;
  /**
   * the file is already single-file HLS/CMAF described by this table (a live recording): it is stored as it is,
   * streamable, without running ffmpeg
   */
  packaged?: StreamInfo;
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
