/**
 * The dashboard page's live section (issue 9): its markup and the script that renders the state's `live` list, one
 * block per stream (edge, window, bytes produced, the end; viewers, median latency behind the edge, bytes by
 * source) with a table of its viewers (playhead state, segment on screen, latency, stalls, verified/corrupt
 * segments, bytes from the origin's slot, its urgent share and peers, uploaded, links, slot). Inlined by page.ts
 * into its one script (it uses that script's helpers: `$`, `el`, `fmtBytes`, `fmtDuration`, `shortId`,
 * `videoLabel`, MAX_ROWS), so the page stays one document under one CSP hash. Values go through `textContent`.
 */

export const LIVE_JS = `
/* ---- live streams: a block per stream, a row per viewer ---- */
function fmtLatency(ms) { return ms === null ? '\\u2014' : (ms / 1000).toFixed(1) + ' s'; }
function liveCell(tr, testid, text, cls, bytes) {
  const c = el('td', { 'data-testid': testid }, text);
  if (cls) c.className = cls;
  if (bytes !== undefined) c.dataset.bytes = String(bytes);
  tr.append(c);
  return c;
}
function liveViewerRow(v) {
  const tr = el('tr', { 'data-testid': 'live-viewer-row', 'data-peer-id': v.peerId, 'data-state': v.state,
    'data-latency-ms': v.latencyMs === null ? '' : String(v.latencyMs) });
  tr.className = 'ls-' + v.state + (v.stale ? ' stale' : '');
  liveCell(tr, 'live-peer-id', v.peerId, 'id');
  const pill = el('span', { class: 'mode', 'data-testid': 'live-state' }, v.state);
  liveCell(tr, 'live-state-cell', undefined).append(pill);
  liveCell(tr, 'live-seq', v.seq === null ? '\\u2014' : '#' + v.seq, 'num');
  liveCell(tr, 'live-latency', fmtLatency(v.latencyMs), 'num');
  liveCell(tr, 'live-stalls', v.stalls + (v.stalledMs ? ' (' + (v.stalledMs / 1000).toFixed(1) + ' s)' : ''), 'num');
  liveCell(tr, 'live-verified', v.verified + (v.corrupt ? ' / ' + v.corrupt + ' corrupt' : ''), 'num' + (v.corrupt ? ' bad' : ''));
  liveCell(tr, 'live-origin', fmtBytes(v.bytesBySource.origin), 'num', v.bytesBySource.origin);
  liveCell(tr, 'live-urgent', fmtBytes(v.bytesBySource.urgent), 'num', v.bytesBySource.urgent);
  liveCell(tr, 'live-peers', fmtBytes(v.bytesBySource.peer), 'num', v.bytesBySource.peer);
  liveCell(tr, 'live-uploaded', fmtBytes(v.uploadedBytes), 'num', v.uploadedBytes);
  liveCell(tr, 'live-links', String(v.links), 'num');
  liveCell(tr, 'live-slot', v.admitted ? 'slot' : '\\u2014', 'num');
  return tr;
}
function liveFacts(s, now) {
  const facts = [];
  if (!s.known) facts.push('not in the live directory');
  else {
    facts.push(s.edgeSeq === null ? 'no segment yet' : 'edge #' + s.edgeSeq + (s.edgeAt ? ', ' + fmtDuration(now - s.edgeAt) + ' ago' : ''));
    facts.push(s.segments + ' segments (' + s.windowSec.toFixed(0) + ' s) in the window');
    facts.push(fmtBytes(s.producedBytes) + ' produced');
  }
  if (s.ended) facts.push(s.videoId ? 'ended \\u2192 video ' + videoLabel(s.videoId) : 'ended');
  return facts.join(' \\u00b7 ');
}
function liveStream(s, now) {
  const t = s.totals;
  const box = el('div', { class: 'lstream', 'data-testid': 'live-stream', 'data-stream-id': s.streamId,
    'data-viewers': String(t.viewers) });
  const head = el('div', { class: 'lhead' });
  head.append(el('span', { class: 'id', 'data-testid': 'live-stream-id' }, s.streamId),
    el('span', { class: 'badge2' + (s.ended ? '' : ' on') }, s.ended ? 'ended' : 'live'),
    el('span', { class: 'note', 'data-testid': 'live-facts' }, liveFacts(s, now)));
  const all = t.bytesBySource.origin + t.bytesBySource.urgent + t.bytesBySource.peer;
  const pct = (n) => (all ? ((100 * n) / all).toFixed(2) : '0') + '%';
  const sum = el('div', { class: 'lsum' });
  sum.append(el('span', { 'data-testid': 'live-viewers' }, t.viewers + (t.viewers === 1 ? ' viewer' : ' viewers')),
    el('span', { 'data-testid': 'live-p50', 'data-ms': t.latencyP50Ms === null ? '' : String(t.latencyP50Ms) },
      'p50 latency ' + fmtLatency(t.latencyP50Ms)),
    el('span', {}, t.stalls + ' stalls'),
    el('span', { 'data-testid': 'live-total-origin', 'data-bytes': String(t.bytesBySource.origin) }, 'origin ' + fmtBytes(t.bytesBySource.origin)),
    el('span', { 'data-testid': 'live-total-urgent', 'data-bytes': String(t.bytesBySource.urgent) }, 'urgent ' + fmtBytes(t.bytesBySource.urgent)),
    el('span', { 'data-testid': 'live-total-peers', 'data-bytes': String(t.bytesBySource.peer) }, 'peers ' + fmtBytes(t.bytesBySource.peer)),
    el('span', {}, all ? 'peers ' + ((100 * t.bytesBySource.peer) / all).toFixed(1) + '%' : 'no bytes yet'));
  const stack = el('div', { class: 'stack' });
  for (const [k, n] of [['origin', t.bytesBySource.origin], ['urgent', t.bytesBySource.urgent], ['peer', t.bytesBySource.peer]]) {
    const d = el('div', { class: k });
    d.style.width = pct(n);
    stack.append(d);
  }
  box.append(head, sum, stack);
  if (s.viewers.length === 0) {
    box.append(el('p', { class: 'empty' }, 'No viewer reporting.'));
    return box;
  }
  const table = el('table', {});
  const hr = el('tr', {});
  for (const [h, num] of [['Viewer'], ['State'], ['Segment', 1], ['Latency', 1], ['Stalls', 1], ['Verified', 1],
    ['From origin', 1], ['Urgent share', 1], ['From peers', 1], ['Uploaded', 1], ['Links', 1], ['Slot', 1]]) {
    hr.append(el('th', num ? { class: 'num' } : {}, h));
  }
  const thead = el('thead', {});
  thead.append(hr);
  const body = el('tbody', { 'data-testid': 'live-viewers-body' });
  body.append(...s.viewers.slice(0, MAX_ROWS).map(liveViewerRow));
  table.append(thead, body);
  box.append(table);
  return box;
}
function renderLive(streams, now) {
  $('live-streams').replaceChildren(...streams.map((s) => liveStream(s, now)));
  $('live-empty').hidden = streams.length > 0;
  const viewers = streams.reduce((n, s) => n + s.totals.viewers, 0);
  $('live-count').textContent = streams.length ? streams.length + (streams.length === 1 ? ' stream, ' : ' streams, ') +
    viewers + (viewers === 1 ? ' viewer' : ' viewers') : '';
}
`;

export const LIVE_HTML = `
  <section class="card wide" data-testid="live-panel">
    <h2>Live streams <span class="note" id="live-count" data-testid="live-count"></span></h2>
    <div id="live-streams" data-testid="live-streams"></div>
    <p class="empty" id="live-empty">No live stream.</p>
  </section>`;

/** The section's styles, appended to the page's stylesheet. */
export const LIVE_CSS = `
.lstream { border-top:1px solid var(--line); padding:10px 0 6px; }
.lstream:first-child { border-top:0; padding-top:0; }
.lhead { display:flex; gap:10px; align-items:baseline; flex-wrap:wrap; }
.lhead .id { font-family:var(--mono); font-weight:650; }
.badge2 { font-size:11px; padding:1px 8px; border-radius:999px; background:var(--miss); color:var(--muted); font-weight:600; }
.badge2.on { background:#dc2626; color:#fff; }
.lsum { display:flex; gap:16px; flex-wrap:wrap; font-size:13px; margin-top:4px; font-variant-numeric:tabular-nums; }
.lstream .stack { margin:8px 0; height:8px; }
.stack .urgent { background:#7c3aed; }
td.bad { color:#dc2626; }
.ls-joining { --mode:#94a3b8; } .ls-playing { --mode:#059669; } .ls-stalled { --mode:#d97706; } .ls-ended { --mode:#475569; }
`;
