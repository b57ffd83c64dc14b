/**
 * One process at a time per download directory. Two `switchyard get` runs sharing `<output>.part/` (the same
 * video twice, or two videos with the same name) would rewrite each other's manifest and chunk files between
 * verification and assembly, so every run takes this lock before it opens the directory.
 *
 * The lock is a file next to the directory (`<output>.part.lock`), not inside it: the directory is deleted after
 * completion and on a fresh start while the lock must still be held. It records the owner's pid, host and start
 * time. It is published with link(2), which fails with EEXIST exactly like O_EXCL but makes the file appear with
 * its whole content, so a reader never mistakes a lock being written for a damaged one. A lock whose owner
 * process is gone (crash, SIGKILL, power loss) is taken over; one owned by a live process (or by another host,
 * whose processes we cannot see) is refused with a LockedError.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { LockedError } from '../protocol/mod.js';

export interface PartLock {
  readonly path: string;
  /** Removes the lock if it is still ours; idempotent. */
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  host: string;
  startedAt: string;
}

export const lockPathFor = (partDir: string) => `${partDir}.lock`;

function parseOwner(raw: string): Owner | null {
  try {
    const o = JSON.parse(raw) as Partial<Owner> | null;
    if (o && Number.isInteger(o.pid) && (o.pid as number) > 0 && typeof o.host === 'string') return o as Owner;
  } catch {
    /* damaged: handled by the caller */
  }
  return null;
}

/** Signal 0 checks existence only; EPERM means the pid exists but belongs to another user. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Moves a stale lock aside, then checks that what moved is still the dead owner's file. Between our read and the
 * rename another starter may have taken the stale lock over already; then we moved its live lock and put it
 * back. (A third starter creating a lock in that instant could still slip in; that needs a dead owner and three
 * simultaneous starts, and the assembled file's root check would still refuse any mixed result.)
 */
async function takeOver(path: string, staleRaw: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== staleRaw) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}

function heldError(partDir: string, path: string, raw: string): LockedError {
  const o = parseOwner(raw);
  if (!o) return new LockedError(`${path} is not a readable lock; remove it if no switchyard get is using ${partDir}`);
  const where = o.host === hostname() ? '' : ` on ${o.host}`;
  // the pid may in rare cases have been reused by an unrelated process: say how to recover by hand
  return new LockedError(`another switchyard get is using ${partDir} (pid ${o.pid}${where}, since ${o.startedAt}); ` +
    `if that process is not a switchyard get, remove ${path}`);
}

/** Takes the lock of `partDir` or throws LockedError naming the holder. */
export async function acquirePartLock(partDir: string): Promise<PartLock> {
  const path = lockPathFor(partDir);
  const me: Owner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  // the random nonce makes our content unique, so release never removes a lock that a later owner wrote
  const raw = JSON.stringify({ ...me, nonce: randomBytes(8).toString('hex') }) + '\n';
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(tmp, raw, { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, path);
        return held(path, raw);
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
      }
      let current: string;
      try {
        current = await readFile(path, 'utf8');
      } catch (err) {
        if (errno(err) === 'ENOENT') continue; // released between our link and our read
        throw err;
      }
      const owner = parseOwner(current);
      if (!owner || owner.host !== me.host || pidAlive(owner.pid)) throw heldError(partDir, path, current);
      await takeOver(path, current);
    }
    throw new LockedError(`the lock ${path} keeps changing hands; is another switchyard get starting on ${partDir}?`);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function held(path: string, raw: string): PartLock {
  let released = false;
  const releaseSync = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', releaseSync);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    try {
      if (readFileSync(path, 'utf8') === raw) unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  // A signal that nobody else handles would end the process without running `finally` blocks: release, then
  // re-raise it so the process still ends the way the signal asks. When the command has its own handler (the
  // running download cancels on SIGINT), that one runs and the normal exit path releases the lock.
  function onSignal(sig: NodeJS.Signals) {
    if (process.listenerCount(sig) > 1) return;
    releaseSync();
    process.kill(process.pid, sig);
  }
  process.on('exit', releaseSync);
  // prepended, so this handler sees the command's `once` handlers still registered when it runs
  for (const s of SIGNALS) process.prependListener(s, onSignal);
  return {
    path,
    release: async () => releaseSync(),
  };
}
