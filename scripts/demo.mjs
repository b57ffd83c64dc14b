// `npm run demo`: prepares a fresh clone (npm ci, Debian programs, compile), then runs `switchyard demo`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensure, root } from './ensure.mjs';

await ensure();
const r = spawnSync(process.execPath, [join(root, 'dist', 'client', 'cli.js'), 'demo', ...process.argv.slice(2)],
  { stdio: 'inherit' });
process.exit(r.status ?? 1);
