/**
 * Reading and damaging a `.part` directory from outside the client that writes it (client/partial.ts: chunks in
 * place in `data`, their indexes appended to the `have` journal once written).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** How many distinct chunks the journal of `partDir` names: what its client has verified and written so far. */
export function chunksOnDisk(partDir: string): number {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(partDir, 'have'));
  } catch {
    return 0;
  }
  const seen = new Set<number>();
  for (let o = 0; o + 4 <= bytes.length; o += 4) seen.add(bytes.readUInt32LE(o));
  return seen.size;
}

/** Overwrites chunk `index` in place in `partDir/data` with `bytes` (a disk changing under a running client). */
export function overwriteChunk(partDir: string, chunkSize: number, index: number, bytes: Uint8Array): void {
  const fd = openSync(join(partDir, 'data'), 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.byteLength, index * chunkSize);
  } finally {
    closeSync(fd);
  }
}
