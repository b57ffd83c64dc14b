// Makes a fresh clone runnable: installs npm dependencies (npm ci), the Debian programs (infra/setup.sh, as
// root), and compiles the TypeScript. Used by `npm test` and `npm run demo` so that each works by itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`switchyard: ${what} failed (${cmd} ${args.join(' ')})`);
    process.exit(r.status ?? 1);
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export async function ensure({ quiet = false, browser = false } = {}) {
  const log = (m) => quiet || console.error(`switchyard: ${m}`);
  if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
    log('installing npm dependencies (npm ci)');
    run('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci');
  }
  // Debian programs: setup.sh installs as root, or names what is missing and exits non-zero.
  // the tests drive the dashboard in Debian's Chromium; the demo does not need it
  if (browser) process.env.SWITCHYARD_BROWSER = '1';
  run('bash', [join(root, 'infra', 'setup.sh')], 'system setup');
  const stamp = join(root, 'dist', '.build-stamp');
  const srcNewest = Math.max(
    ...['api', 'protocol', 'lib', 'store', 'infra', 'actors', 'machines', 'gateway', 'client', 'test', 'bench', 'web']
      .map((d) => join(root, d)).filter(existsSync).map(newestMtime),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
  );
  const bundled = existsSync(join(root, 'dist', 'web', 'watch.js'));
  if (!existsSync(stamp) || statSync(stamp).mtimeMs < srcNewest || !bundled) {
    log('compiling TypeScript');
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], 'tsc');
    // the browser peer bundles shared code too, so it is rebuilt whenever anything was
    log('bundling the browser peer (dist/web)');
    try {
      // imported here, not at the top: build-web needs esbuild, which a fresh clone has only after `npm ci` above
      const { buildWeb } = await import('./build-web.mjs');
      await buildWeb();
    } catch (err) {
      console.error(`switchyard: ${err.message}`);
      process.exit(1);
    }
    execFileSync('touch', [stamp]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await ensure();
