/**
 * The watch page's HTML: a video element, the peer's status, and one script from this gateway (the bundled
 * browser peer, dist/web/watch.js). No inline script and no external asset; the Content-Security-Policy allows
 * exactly this gateway, the NATS WebSocket listener, and what hls.js needs (MediaSource blob: URLs).
 */
import { firstFrameChunks, startChunkPath, type Manifest, type WatchBoot } from '../../protocol/mod.js';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #111; color: #eee; }
main { max-width: 960px; margin: 0 auto; padding: 16px; }
video { width: 100%; background: #000; aspect-ratio: 16 / 9; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dt { color: #999; } dd { margin: 0; font-variant-numeric: tabular-nums; }
#error { color: #f77; min-height: 1.4em; }
`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside a `<script>` element: nothing in it may close the element or open a comment */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The page for one video (the id was validated by the route's schema; it is escaped anyway), with its boot data
 * (protocol/watch.ts) as inert JSON: a `type="application/json"` script is never run, so the CSP stays
 * `script-src 'self'`.
 */
export function watchPage(videoId: string, scriptPath: string, boot: WatchBoot = {}, preload: string[] = [],
  earlyPath = scriptPath.replace(/watch\.js$/, 'early.js')): string {
  const id = escapeHtml(videoId);
  const src = escapeHtml(scriptPath);
  const scripts = [src, ...preload.map(escapeHtml)].map((p) => `<link rel="modulepreload" href="${p}">`);
  // the chunks the first frame needs, fetched while the script loads (the page asks for the same URLs)
  const m = boot.manifest as Manifest | undefined;
  const chunks = boot.start && m?.stream ? firstFrameChunks(m.stream, m.chunkSize, boot.start.chunks)
    .map((i) => `<link rel="preload" as="fetch" crossorigin href="${escapeHtml(startChunkPath(m.videoId, i, boot.start!.grant))}">`) : [];
  const preloads = [...chunks, ...scripts].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard · ${id}</title>
<link rel="stylesheet" href="/watch/assets/watch.css">
${preloads}
<script type="application/json" id="sy-boot">${scriptJson(boot)}</script>
</head>
<body>
<main>
<h1>${id}</h1>
<video id="video" controls playsinline></video>
<script src="${escapeHtml(earlyPath)}" async></script>
<p id="error" role="alert"></p>
${boot.live ? liveStatus(id) : videoStatus(id)}
</main>
<script type="module" src="${src}"></script>
</body>
</html>
`;
}

function videoStatus(id: string): string {
  return `<dl id="status" data-video="${id}">
<dt>peer</dt><dd id="peer">starting…</dd>
<dt>mode</dt><dd id="mode">opening</dd>
<dt>downloaded</dt><dd id="progress">0</dd>
<dt>from origin</dt><dd id="origin">0</dd>
<dt>from peers</dt><dd id="peers-bytes">0</dd>
<dt>peers</dt><dd id="links">0</dd>
<dt>uploaded</dt><dd id="uploaded">0</dd>
<dt>in memory</dt><dd id="held">0</dd>
<dt>time</dt><dd id="time">0</dd>
</dl>`;
}

/** a live stream's figures (web/livepage.ts fills them in) */
function liveStatus(id: string): string {
  return `<dl id="status" data-video="${id}" data-live="true">
<dt>peer</dt><dd id="peer">starting…</dd>
<dt>mode</dt><dd id="mode">live</dd>
<dt>behind live</dt><dd id="latency">–</dd>
<dt>segments</dt><dd id="segments">0</dd>
<dt>from origin</dt><dd id="origin">0</dd>
<dt>urgent share</dt><dd id="urgent">0</dd>
<dt>from peers</dt><dd id="peers-bytes">0</dd>
<dt>peers</dt><dd id="links">0</dd>
<dt>uploaded</dt><dd id="uploaded">0</dd>
<dt>time</dt><dd id="time">0</dd>
</dl>`;
}

export const WATCH_CSS = STYLE;

/** Allows this gateway's script and style, the NATS WebSocket, and MediaSource blobs; nothing else. */
export function watchCsp(natsWsUrl: string | undefined): string {
  let ws = '';
  if (natsWsUrl) {
    try {
      ws = ` ${new URL(natsWsUrl).origin.replace(/^http/, 'ws')}`;
    } catch {
      ws = '';
    }
  }
  return [
    "default-src 'none'",
    // the protocol's schema checks compile validators at run time (TypeBox's TypeCompiler)
    "script-src 'self' 'unsafe-eval'",
    "style-src 'self'",
    `connect-src 'self'${ws}`,
    "media-src 'self' blob:",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
