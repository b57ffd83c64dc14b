/**
 * The inspector page: one HTML document with its CSS, JS and the machines' SVG diagrams inline, nothing else (no
 * CDN, no font, no image; its Content-Security-Policy allows exactly these inline blocks and fetches to this
 * gateway). The script polls `/inspector/state` every 500 ms and
 * - highlights, in each diagram, the states clients' machines are in, with a count per state (the clicked client's
 *   own states stand out),
 * - lists every client as `<div class="client" data-peer data-state data-path>` (its latest download's state: the
 *   leaf name, e.g. `p2p`, and the dotted path, `active.p2p`), its links as `.link[data-peer][data-state]` and its
 *   timeline of transitions (`li[data-actor][data-to][data-event]`), newest first.
 * Every value is written with `textContent` or attributes, never parsed as HTML. `<body data-ready="1">` marks the
 * first rendered state, for tests.
 */
import { inlinePageCsp } from '../csp.js';
import type { Diagrams } from './diagram.js';

const CSS = `
:root { --bg:#f4f5f7; --card:#fff; --ink:#1f2933; --muted:#6b7785; --line:#e3e6ea; --on:#fde68a; --onk:#b45309;
  --sel:#93c5fd; --selk:#1d4ed8; --mono:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;
  --font:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 var(--font); }
header { display:flex; gap:14px; align-items:baseline; padding:14px 24px; background:#17202a; color:#fff; }
header h1 { margin:0; font-size:18px; }
header .note { color:#b8c2cc; font-size:13px; }
#conn.offline { color:#fca5a5; }
main { padding:16px 24px; display:grid; gap:16px; grid-template-columns:minmax(0,3fr) minmax(0,2fr); }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; min-width:0; }
.card h2 { margin:0 0 8px; font-size:13px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); }
.diagram svg { width:100%; height:auto; max-height:70vh; }
.diagram g.node.on path, .diagram g.node.on polygon, .diagram g.node.on ellipse { fill:var(--on); stroke:var(--onk); stroke-width:2; }
.diagram g.node.sel path, .diagram g.node.sel polygon, .diagram g.node.sel ellipse { fill:var(--sel); stroke:var(--selk); stroke-width:3; }
.diagram text.count { font:bold 13px var(--font); fill:var(--onk); }
.missing { color:var(--muted); font-style:italic; }
#clients { grid-column:1 / -1; display:grid; gap:12px; grid-template-columns:repeat(auto-fill,minmax(420px,1fr)); }
.client { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 12px; cursor:pointer; }
.client.selected { border-color:var(--selk); box-shadow:0 0 0 2px var(--sel); }
.client .head { display:flex; gap:8px; align-items:baseline; flex-wrap:wrap; }
.client .id { font-family:var(--mono); font-weight:650; }
.client .meta { color:var(--muted); font-size:12px; margin-left:auto; }
.state { font-family:var(--mono); padding:1px 8px; border-radius:999px; background:#e5e7eb; font-size:12.5px; }
.state.s-server, .state.s-resumeServer { background:#dbeafe; } .state.s-p2p, .state.s-peersOnly { background:#d1fae5; }
.state.s-complete { background:#bbf7d0; } .state.s-failed, .state.s-banned { background:#fecaca; }
.links { margin:6px 0; display:flex; flex-wrap:wrap; gap:4px; }
.link { font-family:var(--mono); font-size:11.5px; padding:1px 6px; border:1px solid var(--line); border-radius:6px; }
ol.timeline { margin:6px 0 0; padding:0; list-style:none; max-height:220px; overflow:auto; font-size:12px; }
ol.timeline li { display:grid; grid-template-columns:86px 70px 1fr; gap:6px; padding:2px 0; border-bottom:1px dashed var(--line); }
ol.timeline time, ol.timeline .m { color:var(--muted); font-family:var(--mono); }
ol.timeline .ev { color:var(--muted); font-family:var(--mono); }
.empty { color:var(--muted); font-style:italic; }
`;

const JS = `
'use strict';
const SVGNS = 'http://www.w3.org/2000/svg';
const ROOTS = { download: 'download', peerLink: 'peerLink' };
let selected = null;
const $ = (id) => document.getElementById(id);
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
const leaf = (path) => { const p = path.split(',')[0]; return p.slice(p.lastIndexOf('.') + 1); };
function clock(t) {
  const d = new Date(t);
  return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}
// state id (the <title> Graphviz gives each node) -> its group, per diagram
const diagrams = {};
for (const name of Object.keys(ROOTS)) {
  const nodes = new Map();
  const root = $('d-' + name);
  if (root) for (const g of root.querySelectorAll('g.node')) {
    const title = g.querySelector('title');
    if (title) nodes.set(title.textContent, g);
  }
  diagrams[name] = nodes;
}
function countLabel(g) {
  let t = g.querySelector('text.count');
  if (!t) {
    const box = g.getBBox();
    t = document.createElementNS(SVGNS, 'text');
    t.setAttribute('class', 'count');
    t.setAttribute('x', String(box.x + box.width - 2));
    t.setAttribute('y', String(box.y + 2));
    t.setAttribute('text-anchor', 'end');
    g.appendChild(t);
  }
  return t;
}
function highlight(name, actors) {
  const nodes = diagrams[name];
  const counts = new Map();
  for (const { a, sel } of actors) {
    for (const path of a.state.split(',')) {
      const id = ROOTS[name] + '.' + path;
      const c = counts.get(id) || { n: 0, sel: false };
      c.n++;
      c.sel = c.sel || sel;
      counts.set(id, c);
    }
  }
  for (const [id, g] of nodes) {
    const c = counts.get(id);
    g.classList.toggle('on', !!c);
    g.classList.toggle('sel', !!(c && c.sel));
    if (c || g.querySelector('text.count')) countLabel(g).textContent = c ? String(c.n) : '';
  }
}
function clientEl(c, now) {
  const dl = c.downloads[c.downloads.length - 1];
  const div = el('div', { class: 'client' + (c.peerId === selected ? ' selected' : ''), 'data-peer': c.peerId,
    'data-state': dl ? leaf(dl.state) : '', 'data-path': dl ? dl.state : '', 'data-video': dl ? dl.videoId : '',
    'data-links': String(c.links.length) });
  const head = el('div', { class: 'head' });
  head.append(el('span', { class: 'id' }, c.peerId));
  for (const d of c.downloads) {
    head.append(el('span', { class: 'state s-' + leaf(d.state), 'data-download': d.actorId, title: d.state + ' after ' + d.event },
      d.state));
  }
  const meta = 'heard ' + Math.max(0, Math.round((now - c.lastSeenAt) / 1000)) + ' s ago' +
    (c.dropped ? ' · ' + c.dropped + ' dropped' : '');
  head.append(el('span', { class: 'meta' }, meta));
  div.append(head);
  const links = el('div', { class: 'links' });
  for (const l of c.links) {
    links.append(el('span', { class: 'link state s-' + leaf(l.state), 'data-peer': l.actorId, 'data-state': l.state },
      l.actorId + ': ' + l.state));
  }
  if (c.links.length) div.append(links);
  const tl = el('ol', { class: 'timeline' });
  for (let i = c.timeline.length - 1; i >= 0; i--) {
    const x = c.timeline[i];
    const li = el('li', { 'data-actor': x.actor, 'data-id': x.actorId, 'data-to': x.to, 'data-event': x.event });
    li.append(el('time', {}, clock(x.t)), el('span', { class: 'm' }, x.actor === 'download' ? 'download' : x.actorId));
    const what = el('span');
    what.append(el('span', { class: 'from' }, x.from === null ? '·' : x.from), ' \\u2192 ', el('b', { class: 'to' }, x.to),
      ' ', el('span', { class: 'ev' }, x.event));
    li.append(what);
    tl.append(li);
  }
  div.append(tl);
  div.addEventListener('click', () => { selected = selected === c.peerId ? null : c.peerId; render(last); });
  return div;
}
let last = null;
function render(s) {
  if (!s) return;
  last = s;
  const box = $('clients');
  box.replaceChildren(...s.clients.map((c) => clientEl(c, s.at)));
  if (s.clients.length === 0) box.append(el('p', { class: 'empty' }, 'no client has reported a transition yet'));
  const all = (k) => s.clients.flatMap((c) => c[k].map((a) => ({ a, sel: c.peerId === selected })));
  highlight('download', all('downloads'));
  highlight('peerLink', all('links'));
  $('count').textContent = s.clients.length + ' clients';
  document.body.dataset.ready = '1';
}
async function poll() {
  try {
    const r = await fetch('/inspector/state', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
    $('conn').textContent = 'updated ' + clock(Date.now());
    $('conn').className = '';
  } catch (e) {
    $('conn').textContent = 'offline: ' + e.message;
    $('conn').className = 'offline';
  } finally {
    setTimeout(poll, 500);
  }
}
poll();
`;


function diagramCard(name: string, title: string, svg: string | null): string {
  const body = svg ?? `<p class="missing">docs/machines/${name}.svg is missing: run <code>npm run diagrams</code></p>`;
  return `<section class="card"><h2>${title}</h2><div class="diagram" id="d-${name}">${body}</div></section>`;
}

/** The page with these diagrams inlined, and the CSP that allows exactly its inline style and script. */
export function inspectorPage(diagrams: Diagrams): { html: string; csp: string } {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard inspector</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header><h1>Switchyard inspector</h1><span class="note" id="count"></span><span class="note" id="conn"></span></header>
<main>
${diagramCard('download', 'download machine', diagrams.download)}
${diagramCard('peerLink', 'peer link machine', diagrams.peerLink)}
<section id="clients"></section>
</main>
<script>${JS}</script>
</body>
</html>
`;
  const csp = inlinePageCsp(JS, CSS);
  return { html, csp };
}
