/**
 * The machine diagrams the inspector page draws: the SVGs `npm run diagrams` renders with Graphviz into
 * docs/machines/ (never edited by hand; test/scale/machines.test.ts keeps them current). They are read once when
 * the page is built and inlined, so the page has no external asset and the browser can style the nodes: Graphviz
 * names every state node with a `<title>` holding the state's id (`download.active.p2p`), which the page's script
 * uses to highlight the states clients are in.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InspectActor } from '../../protocol/mod.js';

/** compiled to dist/gateway/inspector/: the repository's docs are three levels up */
const DIAGRAM_DIR = new URL('../../../docs/machines/', import.meta.url);

/** Diagram files are named after the machine (machines/graph.ts MACHINES), which is the inspect actor's name. */
export type Diagrams = Record<InspectActor, string | null>;

/**
 * An SVG document as an inline `<svg>` element: without its XML prolog, doctype and comments (Graphviz's notes), and
 * with its fixed size in points replaced by the viewBox alone, so the page can scale it. Null when it is not one.
 */
export function inlineSvg(text: string): string | null {
  const start = text.indexOf('<svg');
  const end = text.lastIndexOf('</svg>');
  if (start < 0 || end < start) return null;
  return text.slice(start, end + '</svg>'.length)
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/^<svg([^>]*?)\swidth="[^"]*"\s+height="[^"]*"/, '<svg$1')
    // scripts have no place in a diagram, whatever the file says (the page's CSP would refuse them anyway)
    .replace(/<script[\s\S]*?<\/script>/gi, '');
}

/** Reads docs/machines/<name>.svg for every inspected machine; a missing or unreadable file is null (the page says so). */
export function loadDiagrams(dir: URL = DIAGRAM_DIR): Diagrams {
  const read = (name: string) => {
    try {
      return inlineSvg(readFileSync(fileURLToPath(new URL(`${name}.svg`, dir)), 'utf8'));
    } catch {
      return null;
    }
  };
  return { download: read('download'), peerLink: read('peerLink') };
}
