import { resolve } from 'node:path';
import { createFsChunkStore } from './fs.js';
import { createGridFsChunkStore } from './gridfs.js';
import type { ChunkStore } from './types.js';

/**
 * Opens a store from a location string: `mongodb://…`/`mongodb+srv://…` selects GridFS, anything else
 * (optionally `fs:`-prefixed) is a directory for the filesystem store.
 */
export async function openChunkStore(location: string): Promise<ChunkStore> {
  if (/^mongodb(\+srv)?:\/\//.test(location)) return createGridFsChunkStore({ url: location });
  return createFsChunkStore({ root: resolve(location.replace(/^fs:/, '')) });
}
