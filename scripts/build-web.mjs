// Builds the browser peer: type-checks web/ (and every shared module it imports) against the DOM without Node's
// types (web/tsconfig.json), then bundles web/watch.ts with esbuild for the browser into dist/web/watch.js.
// The bundle holds everything the page runs (hls.js included): nothing is loaded from another site. A shared
// module that reaches for a Node built-in fails here (esbuild refuses Node modules for the browser platform).
// Usage: node scripts/build-web.mjs [--no-check]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildWeb({ check = true } = {}) {
  if (check) {
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'web', 'tsconfig.json')],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('web/ does not type-check (tsc -p web/tsconfig.json)');
  }
  const common = {
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  };
  // the watch page, hls.js included
  await build({ ...common, entryPoints: [join(root, 'web', 'watch.ts')], outfile: join(root, 'dist', 'web', 'watch.js') });
  // the library (`switchyard/browser`): the same engine and loader for an application's own page, which brings its
  // own hls.js (the loader needs only its types)
  await build({ ...common, entryPoints: [join(root, 'web', 'mod.ts')], outfile: join(root, 'dist', 'web', 'switchyard.js'),
    external: ['hls.js'] });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildWeb({ check: !process.argv.includes('--no-check') }).catch((err) => {
    console.error(`switchyard: web build failed: ${err.message}`);
    process.exit(1);
  });
}
