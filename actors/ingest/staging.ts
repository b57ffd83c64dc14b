/**
 * The ingest worker's rule for job paths: a job names an upload the gateway staged, so the worker reads (and
 * deletes) only files inside its own staging directory. A job is plain data on a subject; whoever can publish it
 * (a compromised service, a misrouted message) must not make the worker read /etc/passwd into the catalog or
 * delete a file elsewhere. The path is resolved with realpath, so `..` segments and symlinks, including a
 * symlink placed inside the staging area that points out of it, are judged by where they really lead.
 */
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { IngestError } from '../../protocol/mod.js';

export interface StagingArea {
  /**
   * Resolves a job's path to the real file it names, or throws IngestError when that is not a regular file
   * strictly inside the staging directory. The message never quotes the path (it may be an attacker's probe).
   */
  resolve(path: string): Promise<string>;
}

export function createStagingArea(stagingDir: string): StagingArea {
  if (!stagingDir || !isAbsolute(stagingDir)) throw new TypeError('stagingDir must be an absolute path');
  let root: Promise<string> | null = null;
  return {
    async resolve(path) {
      root ??= realpath(stagingDir).catch((err) => {
        root = null;
        throw err;
      });
      const base = await root;
      if (!isAbsolute(path)) throw new IngestError('the job path is not absolute; refused');
      // the link itself, before following it: a staged upload is never a symlink
      const own = await lstat(path).catch(() => null);
      if (!own) throw new IngestError('the staged upload does not exist');
      if (own.isSymbolicLink()) throw new IngestError('the job names a symbolic link, not a staged upload; refused');
      const real = await realpath(path).catch(() => null);
      if (!real) throw new IngestError('the staged upload does not exist');
      const rel = relative(base, real);
      if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        throw new IngestError('the job names a file outside the upload staging area; refused');
      }
      const st = await lstat(real);
      if (!st.isFile()) throw new IngestError('the staged upload is not a regular file');
      return real;
    },
  };
}
