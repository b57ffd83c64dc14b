/** Reading the gateway's /inspector page from a test: what its DOM shows, through page.evaluate. */
import type { Page } from 'playwright-core';

export interface Seen {
  clients: Array<{ peer: string; state: string; path: string }>;
  /** diagram nodes highlighted, by state id */
  on: string[];
  /** `to event` of each client's timeline entries */
  timelines: Record<string, string[]>;
}

/**
 * The little of the DOM the in-page function below uses: the project compiles without lib.dom, and the function
 * runs in Chromium (page.evaluate serialises it), so it reaches the document through globalThis.
 */
interface DomEl {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelectorAll(selector: string): Iterable<DomEl>;
}

export async function readInspector(page: Page): Promise<Seen> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: DomEl }).document;
    const els = [...doc.querySelectorAll('.client')];
    const clients = els.map((e) => ({ peer: e.dataset.peer ?? '', state: e.dataset.state ?? '', path: e.dataset.path ?? '' }));
    const on = [...doc.querySelectorAll('#d-download g.node.on > title')].map((t) => t.textContent ?? '');
    const timelines: Record<string, string[]> = {};
    for (const e of els) {
      timelines[e.dataset.peer ?? ''] = [...e.querySelectorAll('ol.timeline li[data-actor="download"]')]
        .map((li) => `${li.dataset.to} ${li.dataset.event}`);
    }
    return { clients, on, timelines };
  });
}

