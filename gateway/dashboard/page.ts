/**
 * The dashboard page: one HTML document with its CSS and JS inline, and nothing else. No CDN, no web font, no
 * image: the gateway may run on a machine with no internet access, and the Content-Security-Policy (hashes of
 * exactly these inline blocks, `connect-src 'self'`) makes the browser refuse anything else.
 *
 * The script is vanilla JS: it listens to `/dashboard/events` (SSE) and falls back to polling
 * `/dashboard/state`; every value is written with `textContent` or SVG attributes, never parsed as HTML.
 * `data-testid` attributes name what tests read; `<body data-ready="1">` marks the first rendered state.
 */
import { inlinePageCsp } from '../csp.js';
import { bitMask } from '../../protocol/bitfield.js';
import { LIVE_CSS, LIVE_HTML, LIVE_JS } from './livepage.js';
import { CSS as BASE_CSS } from './style.js';

const CSS = BASE_CSS + LIVE_CSS;

const JS = `
'use strict';
const MODES = ['opening', 'server', 'p2p', 'resumeServer', 'assembling', 'complete', 'seeding', 'failed', 'cancelled'];
const SVGNS = 'http://www.w3.org/2000/svg';
const MAX_ROWS = 500;
const MAX_LIST = 50;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i];
}
function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
}
function shortId(id) { return id.length > 16 ? id.slice(0, 14) + '\\u2026' : id; }
function modeClass(mode) { return 'm-' + (MODES.includes(mode) ? mode : 'opening'); }
// the bit order comes from protocol/bitfield.ts itself, so the page cannot drift from what peers send
const bitMask = ${bitMask.toString()};
function bits(b64, count) {
  let raw = '';
  try { raw = atob(b64); } catch (e) { /* malformed: show nothing held */ }
  const out = new Array(count).fill(false);
  for (let i = 0; i < count && (i >> 3) < raw.length; i++) out[i] = (raw.charCodeAt(i >> 3) & bitMask(i)) !== 0;
  return out;
}
function bytesFrom(p) {
  let origin = 0, peers = 0;
  for (const k in p.bytesBySource) {
    if (k === 'origin') origin += p.bytesBySource[k];
    else if (k.startsWith('peer:')) peers += p.bytesBySource[k];
  }
  return { origin, peers };
}

let videoNames = new Map();
function videoLabel(id) { return videoNames.get(id) || shortId(id); }

/* ---- chunk map: one cell per chunk (per group of chunks when a video has very many) ---- */
const CELL = 7, GAP = 2, COLS = 40, MAX_CELLS = 400;
function chunkMap(p) {
  const have = bits(p.bitfield, p.chunkCount);
  const per = Math.ceil(p.chunkCount / MAX_CELLS);
  const cells = Math.ceil(p.chunkCount / per);
  const cols = Math.min(cells, COLS);
  const lines = Math.ceil(cells / cols);
  const map = svg('svg', { class: 'cm', width: cols * (CELL + GAP) - GAP, height: lines * (CELL + GAP) - GAP,
    role: 'img', 'aria-label': p.haveCount + ' of ' + p.chunkCount + ' chunks held',
    'data-testid': 'chunk-map', 'data-chunks': p.chunkCount, 'data-cells': cells, 'data-have': p.haveCount });
  for (let c = 0; c < cells; c++) {
    const from = c * per, to = Math.min(p.chunkCount, from + per);
    let held = 0;
    for (let i = from; i < to; i++) if (have[i]) held++;
    map.append(svg('rect', { x: (c % cols) * (CELL + GAP), y: Math.floor(c / cols) * (CELL + GAP), width: CELL, height: CELL,
      rx: 1.5, class: held === to - from ? 'held' : held > 0 ? 'part' : 'miss', 'data-testid': 'chunk-cell' }));
  }
  return map;
}

/* ---- peers table: rows keyed by video/peer, updated in place ---- */
const rows = new Map();
function newRow(p) {
  const tr = el('tr', { 'data-testid': 'peer-row', 'data-peer-id': p.peerId, 'data-video-id': p.videoId });
  const td = (testid, cls) => {
    const c = el('td', testid ? { 'data-testid': testid } : {});
    if (cls) c.className = cls;
    tr.append(c);
    return c;
  };
  const r = { tr, mapKey: '' };
  r.id = td('peer-id', 'id');
  r.id.textContent = p.peerId;
  r.video = td('peer-video', 'vid');
  r.pill = el('span', { class: 'mode', 'data-testid': 'mode' });
  td(null).append(r.pill);
  const prog = td('progress', 'num');
  const wrap = el('div', { class: 'prog' });
  r.fill = el('div');
  const bar = el('div', { class: 'bar' });
  bar.append(r.fill);
  r.pct = el('span');
  wrap.append(bar, r.pct);
  prog.append(wrap);
  r.map = td('chunks');
  r.origin = td('from-origin', 'num');
  r.peers = td('from-peers', 'num');
  r.up = td('uploaded', 'num');
  r.links = td('links', 'num');
  r.wait = td('wait', 'num');
  return r;
}
function updateRow(r, p, waitPos) {
  r.tr.className = modeClass(p.mode) + (p.stale ? ' stale' : '');
  r.tr.dataset.mode = p.mode;
  r.video.textContent = videoLabel(p.videoId);
  r.video.title = p.videoId;
  r.pill.textContent = p.mode;
  r.pill.title = p.state;
  const pct = p.chunkCount ? (100 * p.haveCount) / p.chunkCount : 0;
  r.fill.style.width = pct.toFixed(1) + '%';
  r.pct.textContent = Math.floor(pct) + '%';
  const key = p.chunkCount + '|' + p.bitfield;
  if (key !== r.mapKey) {
    r.mapKey = key;
    r.map.replaceChildren(chunkMap(p));
  }
  const b = bytesFrom(p);
  r.origin.textContent = fmtBytes(b.origin);
  r.origin.dataset.bytes = String(b.origin);
  r.peers.textContent = fmtBytes(b.peers);
  r.peers.dataset.bytes = String(b.peers);
  r.peers.title = Object.keys(p.bytesBySource).filter((k) => k.startsWith('peer:'))
    .map((k) => k.slice(5) + ': ' + fmtBytes(p.bytesBySource[k])).join('\\n');
  r.up.textContent = fmtBytes(p.uploadedBytes);
  r.up.dataset.bytes = String(p.uploadedBytes);
  r.links.textContent = String(p.links);
  // the origin's wait list is authoritative; a client's own report only while it is still looking for a slot
  const pos = waitPos.get(p.videoId + '/' + p.peerId) ?? (p.mode === 'p2p' || p.mode === 'opening' ? p.position : null);
  r.wait.textContent = pos === null ? '\\u2014' : '#' + pos;
}
function renderPeers(peers, waiting) {
  const waitPos = new Map(waiting.map((w, i) => [w.videoId + '/' + w.peerId, i + 1]));
  const body = $('peers-body');
  const seen = new Set();
  for (const p of peers.slice(0, MAX_ROWS)) {
    const key = p.videoId + '/' + p.peerId;
    seen.add(key);
    let r = rows.get(key);
    if (!r) { r = newRow(p); rows.set(key, r); }
    updateRow(r, p, waitPos);
    body.append(r.tr); // keeps the server's order (oldest session first)
  }
  for (const [key, r] of rows) if (!seen.has(key)) { r.tr.remove(); rows.delete(key); }
  $('peers-empty').hidden = peers.length > 0;
  const stale = peers.filter((p) => p.stale).length;
  $('peer-count').textContent = peers.length + ' reporting' +
    (stale ? ' (' + stale + ' stale)' : '') + (peers.length > MAX_ROWS ? ', first ' + MAX_ROWS + ' shown' : '');
}

/* ---- origin: slots and wait list ---- */
function listItem(testid, k, id, detail, right) {
  const li = el('li', { 'data-testid': testid, 'data-peer-id': id });
  li.append(el('span', { class: 'k' }, k), el('span', { class: 'id' }, id), el('span', { class: 'note' }, detail),
    el('span', { class: 'r' }, right));
  return li;
}
function renderOrigin(o, now) {
  const cap = o.capacity;
  $('capacity').textContent = cap === null ? '?' : String(cap);
  $('policy').textContent = o.policy || 'unknown';
  $('slots-used').textContent = String(o.slots.length);
  $('slots-cap').textContent = cap === null ? '?' : String(cap);
  $('slots-meter').style.width = cap ? Math.min(100, (100 * o.slots.length) / cap).toFixed(1) + '%' : '0%';
  const slots = $('slots');
  slots.replaceChildren(...o.slots.slice(0, MAX_LIST).map((s) => listItem('slot', '#' + s.slot, s.peerId,
    videoLabel(s.videoId), 'lease ' + fmtDuration(s.expiresAt - now))));
  const free = cap === null ? 0 : Math.max(0, cap - o.slots.length);
  if (free > 0) slots.append(el('li', { class: 'empty' }, free + (free === 1 ? ' slot free' : ' slots free')));
  if (o.slots.length > MAX_LIST) slots.append(el('li', { class: 'empty' }, '+ ' + (o.slots.length - MAX_LIST) + ' more'));
  const waiting = $('waiting');
  $('waiting-count').textContent = String(o.waiting.length);
  waiting.replaceChildren(...o.waiting.slice(0, MAX_LIST).map((w, i) => listItem('waiter', String(i + 1), w.peerId,
    videoLabel(w.videoId), 'waiting ' + fmtDuration(now - w.since))));
  if (o.waiting.length === 0) waiting.append(el('li', { class: 'empty' }, 'nobody waiting'));
  if (o.waiting.length > MAX_LIST) waiting.append(el('li', { class: 'empty' }, '+ ' + (o.waiting.length - MAX_LIST) + ' more'));
}

/* ---- bytes by source ---- */
function setBytes(id, n) {
  const e = $(id);
  e.textContent = fmtBytes(n);
  e.dataset.bytes = String(n);
}
function renderTotals(t, egressTotal) {
  setBytes('total-origin', t.origin);
  setBytes('total-peers', t.peers);
  setBytes('total-uploaded', t.uploaded);
  setBytes('egress-total', egressTotal);
  const all = t.origin + t.peers;
  $('stack-origin').style.width = all ? ((100 * t.origin) / all).toFixed(2) + '%' : '0%';
  $('stack-peer').style.width = all ? ((100 * t.peers) / all).toFixed(2) + '%' : '0%';
  $('p2p-share').textContent = all ? 'peers delivered ' + ((100 * t.peers) / all).toFixed(1) + '% of received bytes' : 'no bytes received yet';
}

/* ---- origin egress over time: inline SVG line chart ---- */
function niceMax(v) {
  if (v <= 0) return 1024;
  const p = Math.pow(2, Math.ceil(Math.log2(v)));
  return p * 0.75 >= v ? p * 0.75 : p;
}
function renderEgress(samples, now) {
  const W = 560, H = 170, L = 74, R = 10, T = 10, B = 24;
  const chart = $('egress-chart');
  chart.replaceChildren();
  const t0 = Math.min(samples.length ? samples[0].t : now, now - 60000);
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, s.bytesPerSec);
  const max = niceMax(peak);
  const x = (t) => L + ((t - t0) / Math.max(1, now - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  for (const f of [0, 0.5, 1]) {
    chart.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
    chart.append(svg('text', { class: 'axis', x: L - 8, y: y(max * f) + 4, 'text-anchor': 'end' }, fmtBytes(max * f) + '/s'));
  }
  chart.append(svg('text', { class: 'axis', x: L, y: H - 6 }, '\\u2212' + fmtDuration(now - t0)));
  chart.append(svg('text', { class: 'axis', x: W - R, y: H - 6, 'text-anchor': 'end' }, 'now'));
  if (samples.length >= 2) {
    const pts = samples.map((s) => x(s.t).toFixed(1) + ',' + y(s.bytesPerSec).toFixed(1));
    const base = y(0).toFixed(1);
    chart.append(svg('path', { class: 'area', d: 'M' + x(samples[0].t).toFixed(1) + ',' + base + ' L' + pts.join(' L') +
      ' L' + x(samples[samples.length - 1].t).toFixed(1) + ',' + base + ' Z' }));
    chart.append(svg('path', { class: 'line', d: 'M' + pts.join(' L'), 'data-testid': 'egress-line' }));
  } else {
    chart.append(svg('text', { class: 'axis', x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle' }, 'collecting samples\\u2026'));
  }
  const last = samples.length ? samples[samples.length - 1].bytesPerSec : 0;
  $('egress-now').textContent = 'now ' + fmtBytes(last) + '/s \\u00b7 peak ' + fmtBytes(peak) + '/s';
}

/* ---- catalog ---- */
function renderVideos(videos) {
  videoNames = new Map(videos.map((v) => [v.videoId, v.name]));
  const body = $('videos-body');
  body.replaceChildren(...videos.slice(0, MAX_ROWS).map((v) => {
    const tr = el('tr', { 'data-testid': 'video-row', 'data-video-id': v.videoId });
    tr.append(el('td', {}, v.name), el('td', { class: 'id' }, v.videoId), el('td', { class: 'num' }, fmtBytes(v.size)),
      el('td', { class: 'num' }, String(v.chunkCount)), el('td', { class: 'num' }, fmtBytes(v.chunkSize)),
      el('td', { class: 'num', 'data-testid': 'video-peers' }, String(v.peers)));
    return tr;
  }));
  $('videos-empty').hidden = videos.length > 0;
}

${LIVE_JS}
function render(s) {
  renderVideos(s.videos);
  renderOrigin(s.origin, s.at);
  renderTotals(s.totals, s.origin.egressTotal);
  renderEgress(s.origin.egress, s.at);
  renderPeers(s.peers, s.origin.waiting);
  renderLive(s.live || [], s.at);
  $('updated').textContent = new Date(s.at).toLocaleTimeString();
  document.body.dataset.ready = '1';
}

/* ---- transport: SSE, falling back to polling ---- */
function setConn(kind, text) {
  const c = $('conn');
  c.className = 'badge conn ' + kind;
  c.dataset.kind = kind;
  c.textContent = text;
}
let polling = false;
function poll() {
  polling = true;
  fetch('/dashboard/state', { cache: 'no-store' })
    .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then((s) => { render(s); setConn('polling', 'polling'); })
    .catch(() => setConn('offline', 'offline'))
    .finally(() => setTimeout(poll, 2000));
}
function connect() {
  if (!('EventSource' in window)) return poll();
  const es = new EventSource('/dashboard/events');
  let heard = false;
  const fallback = () => { es.close(); if (!polling) poll(); };
  // a proxy that buffers the stream would leave the page empty: poll if nothing arrives in time
  setTimeout(() => { if (!heard) fallback(); }, 5000);
  es.onmessage = (e) => {
    heard = true;
    setConn('live', 'live');
    render(JSON.parse(e.data));
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) fallback();
    else setConn('offline', 'reconnecting');
  };
}

$('host').textContent = location.host;
$('legend').append(...MODES.map((m) => el('span', { class: 'mode ' + modeClass(m) }, m)));
connect();
`;

const HTML_BODY = `
<header>
  <h1>Switchyard</h1>
  <span class="host">gateway <span id="host"></span></span>
  <span class="spacer"></span>
  <span class="badge">policy <b id="policy" data-testid="policy">?</b></span>
  <span class="badge">capacity <b id="capacity" data-testid="capacity">?</b></span>
  <span class="badge">updated <b id="updated">&mdash;</b></span>
  <span class="badge conn" id="conn" data-testid="conn">connecting</span>
</header>
<main>
  <section class="card" data-testid="origin-panel">
    <h2>Origin slots</h2>
    <div class="big"><span id="slots-used" data-testid="slots-used">0</span> <small>of <span id="slots-cap" data-testid="slots-capacity">?</span> in use</small></div>
    <div class="meter"><div id="slots-meter"></div></div>
    <ul class="list" id="slots" data-testid="slots"></ul>
    <div class="sub">Wait list (<span id="waiting-count" data-testid="waiting-count">0</span>), longest waiting first</div>
    <ol class="list" id="waiting" data-testid="waiting"></ol>
  </section>
  <section class="card" data-testid="totals-panel">
    <h2>Bytes by source</h2>
    <dl class="totals">
      <dt><span class="dot origin"></span>from origin</dt><dd id="total-origin" data-testid="total-origin">0 B</dd>
      <dt><span class="dot peer"></span>from peers</dt><dd id="total-peers" data-testid="total-peers">0 B</dd>
      <dt><span class="dot up"></span>uploaded by peers</dt><dd id="total-uploaded" data-testid="total-uploaded">0 B</dd>
      <dt><span class="dot gw"></span>served by this gateway</dt><dd id="egress-total" data-testid="egress-total">0 B</dd>
    </dl>
    <div class="stack"><div class="origin" id="stack-origin"></div><div class="peer" id="stack-peer"></div></div>
    <div class="note" id="p2p-share" data-testid="p2p-share"></div>
  </section>
  <section class="card chart" data-testid="egress-panel">
    <h2>Origin egress <span class="aside note" id="egress-now"></span></h2>
    <svg id="egress-chart" data-testid="egress-chart" viewBox="0 0 560 170" role="img" aria-label="origin egress over time"></svg>
  </section>
  <section class="card wide" data-testid="peers-panel">
    <h2>Clients <span class="note" id="peer-count" data-testid="peer-count"></span><span class="aside legend" id="legend"></span></h2>
    <table>
      <thead><tr><th>Peer</th><th>Video</th><th>Mode</th><th class="num">Progress</th><th>Chunks</th>
        <th class="num">From origin</th><th class="num">From peers</th><th class="num">Uploaded</th><th class="num">Links</th>
        <th class="num">Wait</th></tr></thead>
      <tbody id="peers-body" data-testid="peers"></tbody>
    </table>
    <p class="empty" id="peers-empty">No client telemetry yet.</p>
  </section>${LIVE_HTML}
  <section class="card wide" data-testid="videos-panel">
    <h2>Catalog</h2>
    <table>
      <thead><tr><th>Name</th><th>Video id</th><th class="num">Size</th><th class="num">Chunks</th><th class="num">Chunk size</th>
        <th class="num">Clients</th></tr></thead>
      <tbody id="videos-body"></tbody>
    </table>
    <p class="empty" id="videos-empty">No videos yet.</p>
  </section>
</main>
`;


export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard dashboard</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>${HTML_BODY}<script>${JS}</script>
</body>
</html>
`;

/** Allows exactly the inline style and script above, fetches to this gateway, and nothing else. */
export const DASHBOARD_CSP = inlinePageCsp(JS, CSS);
