/**
 * On-disk state of one download: `<output>.part/` holds the manifest and every verified chunk as its own file,
 * so an interrupted download resumes without re-fetching what it already verified (chunks are re-hashed on
 * resume; a damaged file is dropped and fetched again). Chunk writes are atomic (temp + rename), and the output
 * file appears only complete (assembled into a temp file, then renamed).
 */
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkLength, decode, Manifest, MAX_MANIFEST_MESSAGE_BYTES, sha256Hex } from '../protocol/mod.js';

export interface PartialDownload {
  readonly dir: string;
  readonly manifest: Manifest;
  /** indexes of chunks present and verified on disk */
  have(): number[];
  hasChunk(index: number): boolean;
  /** verifies and stores one chunk; returns false (and stores nothing) when the bytes do not match */
  writeChunk(index: number, data: Uint8Array): Promise<boolean>;
  readChunk(index: number): Promise<Uint8Array>;
  /** writes the complete file to `outPath` atomically */
  assemble(outPath: string): Promise<void>;
  remove(): Promise<void>;
}

export const partialDirFor = (outPath: string) => `${outPath}.part`;

/** Reads the manifest a previous run saved, if any. */
export async function savedManifest(dir: string): Promise<Manifest | null> {
  try {
    return decode(Manifest, await readFile(join(dir, 'manifest.json')), { maxBytes: MAX_MANIFEST_MESSAGE_BYTES });
  } catch {
    return null;
  }
}

/** Scans `dir` for verified chunks of `manifest`; a foreign or damaged chunk file is deleted. */
export async function scanVerified(dir: string, manifest: Manifest): Promise<number[]> {
  const out: number[] = [];
  let names: string[] = [];
  try {
    names = await readdir(join(dir, 'chunks'));
  } catch {
    return out;
  }
  for (const name of names) {
    const index = Number(name);
    const p = join(dir, 'chunks', name);
    if (!/^\d+$/.test(name) || index >= manifest.chunks.length) {
      await rm(p, { force: true });
      continue;
    }
    const data = await readFile(p);
    if (data.byteLength === chunkLength(manifest, index) && sha256Hex(data) === manifest.chunks[index]) out.push(index);
    else await rm(p, { force: true });
  }
  return out.sort((a, b) => a - b);
}

export async function openPartial(dir: string, manifest: Manifest): Promise<PartialDownload> {
  const prev = await savedManifest(dir);
  if (prev && prev.rootHash !== manifest.rootHash) await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'chunks'), { recursive: true });
  if (!prev || prev.rootHash !== manifest.rootHash) {
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  }
  const have = new Set(await scanVerified(dir, manifest));
  const chunkPath = (i: number) => join(dir, 'chunks', String(i));
  return {
    dir,
    manifest,
    have: () => [...have].sort((a, b) => a - b),
    hasChunk: (i) => have.has(i),
    async writeChunk(index, data) {
      if (data.byteLength !== chunkLength(manifest, index) || sha256Hex(data) !== manifest.chunks[index]) return false;
      const tmp = `${chunkPath(index)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, data);
      await rename(tmp, chunkPath(index));
      have.add(index);
      return true;
    },
    async readChunk(index) {
      return new Uint8Array(await readFile(chunkPath(index)));
    },
    async assemble(outPath) {
      const tmp = `${outPath}.${process.pid}.tmp`;
      const out = await open(tmp, 'w');
      try {
        for (let i = 0; i < manifest.chunks.length; i++) await out.write(await readFile(chunkPath(i)));
        await out.sync();
        await out.close();
        await rename(tmp, outPath);
      } catch (err) {
        await out.close().catch(() => {});
        await rm(tmp, { force: true });
        throw err;
      }
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
