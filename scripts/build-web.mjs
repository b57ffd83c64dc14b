// Builds the browser peer: type-checks web/ (and every shared module it imports) against the DOM without Node's
// types (web/tsconfig.json), then bundles web/watch.ts with esbuild for the browser into dist/web/watch.js.
// The bundle holds everything the page runs (hls.js included): nothing is loaded from another site. A shared
// module that reaches for a Node built-in fails here (esbuild refuses Node modules for the browser platform).
// Usage: node scripts/build-web.mjs [--no-check]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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
  // the watch page, hls.js included; the engine is a chunk of its own that the page imports once its first frame
  // is up (watch.js's start needs only the player), so chunks get content-hashed names next to it
  const out = join(root, 'dist', 'web');
  // chunk names change with their content: the last build's are gone with it
  for (const f of existsSync(out) ? readdirSync(out) : []) if (/^chunk-.*\.js(\.map)?$/.test(f)) rmSync(join(out, f));
  const watch = await build({ ...common, entryPoints: [join(root, 'web', 'watch.ts')], outdir: out,
    splitting: true, entryNames: '[name]', chunkNames: 'chunk-[hash]', metafile: true });
  // the page's first script: opens the player's MediaSource while the bundle loads (web/early.ts)
  await build({ ...common, entryPoints: [join(root, 'web', 'early.ts')], outfile: join(out, 'early.js'), format: 'iife' });
  // the chunks watch.js imports statically: the page preloads them with it (one round trip, not two). Not the
  // engine's (imported later): preloading those too was measured to delay watch.js itself as much as it saved
  const entry = Object.entries(watch.metafile.outputs).find(([file]) => file.endsWith('/watch.js'))?.[1];
  const preload = (entry?.imports ?? []).filter((i) => i.kind === 'import-statement').map((i) => basename(i.path));
  writeFileSync(join(out, 'watch.preload.json'), `${JSON.stringify(preload)}\n`);
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
