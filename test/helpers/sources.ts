/**
 * The repository's TypeScript sources as text, for tests that check rules over the code itself (portability,
 * import cycles). Located from the compiled helper's own path, so they work from any working directory.
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers/sources.js → the repository root */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every `.ts` file (not `.d.ts`) under `dir`, recursively. */
export function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.isFile() && p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Comments may name Buffer or node:crypto to explain their absence; only code counts. */
export function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The module specifiers a source imports or re-exports (static, dynamic, require), type-only ones included. */
export function specifiers(code: string): string[] {
  const out: string[] = [];
  const rx = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;
  for (let m = rx.exec(code); m; m = rx.exec(code)) out.push(m[1]!);
  return out;
}
