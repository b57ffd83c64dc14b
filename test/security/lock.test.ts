/** The `.part` lock: a live holder is refused by name, a dead one is taken over, every exit path releases. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { acquirePartLock, lockPathFor } from '../../client/partlock.js';
import { LockedError } from '../../protocol/mod.js';

const tmp = mkdtempSync(join(tmpdir(), 'sy-lock-'));
let n = 0;
const partDir = () => join(tmp, `out${n++}.mp4.part`);
const owner = (pid: number, host = hostname()) => JSON.stringify({ pid, host, startedAt: new Date().toISOString() }) + '\n';

async function refusal(dir: string): Promise<LockedError> {
  try {
    await acquirePartLock(dir);
  } catch (err) {
    assert.instance(err, LockedError);
    return err as LockedError;
  }
  throw new Error('acquire should have been refused');
}

test('a held lock refuses a second taker with the holder pid; release frees it', async () => {
  const dir = partDir();
  const lock = await acquirePartLock(dir);
  const err = await refusal(dir);
  assert.is(err.code, 'locked');
  assert.match(err.message, `another switchyard get is using ${dir} (pid ${process.pid}`);
  await lock.release();
  assert.not.ok(existsSync(lockPathFor(dir)));
  const again = await acquirePartLock(dir);
  await again.release();
  await again.release(); // idempotent
});

test('a lock held by another live process is refused', async () => {
  const dir = partDir();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const content = owner(child.pid!);
    writeFileSync(lockPathFor(dir), content);
    assert.match((await refusal(dir)).message, `(pid ${child.pid}`);
    assert.is(readFileSync(lockPathFor(dir), 'utf8'), content, 'the live holder keeps its lock');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a stale lock (its pid is dead) is taken over', async () => {
  const dir = partDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(lockPathFor(dir), owner(dead));
  const lock = await acquirePartLock(dir);
  const now = JSON.parse(readFileSync(lockPathFor(dir), 'utf8')) as { pid: number };
  assert.is(now.pid, process.pid);
  await lock.release();
  assert.not.ok(existsSync(lockPathFor(dir)));
});

test('a lock from another host or an unreadable lock is never taken over', async () => {
  const dir = partDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(lockPathFor(dir), owner(dead, 'some-other-host'));
  assert.match((await refusal(dir)).message, 'on some-other-host');
  writeFileSync(lockPathFor(dir), 'garbage');
  assert.match((await refusal(dir)).message, 'is not a readable lock; remove it');
  assert.is(readFileSync(lockPathFor(dir), 'utf8'), 'garbage');
});

test('release never removes a lock someone else now holds', async () => {
  const dir = partDir();
  const lock = await acquirePartLock(dir);
  const other = owner(1);
  writeFileSync(lockPathFor(dir), other);
  await lock.release();
  assert.is(readFileSync(lockPathFor(dir), 'utf8'), other);
});

test('SIGINT to a process holding the lock releases it and still ends the process', async () => {
  const dir = partDir();
  const mod = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'client', 'partlock.js');
  const script = `import(${JSON.stringify(mod)}).then(async (m) => { await m.acquirePartLock(${JSON.stringify(dir)}); ` +
    `process.stdout.write('locked\\n'); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.on('data', (b: Buffer) => b.toString().includes('locked') && resolve()));
  assert.ok(existsSync(lockPathFor(dir)));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, sig) => resolve(sig)));
  child.kill('SIGINT');
  assert.is(await exited, 'SIGINT');
  assert.not.ok(existsSync(lockPathFor(dir)));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
