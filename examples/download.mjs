// Download a video with the Node library and print what happens. Run after `npm run build` (or `npm test`):
//   node examples/download.mjs <videoId> [output]
// It finds the system like the CLI does (SWITCHYARD_GATEWAY, then .switchyard/local.json written by `serve`).
import { download } from 'switchyard';

const [videoId, output] = process.argv.slice(2);
if (!videoId) {
  console.error('usage: node examples/download.mjs <videoId> [output]');
  process.exit(2);
}
const d = await download(videoId, { ...(output ? { output } : {}) });
console.log(`downloading ${d.manifest.name} (${d.manifest.size} bytes) as ${d.peerId} to ${d.outPath}`);
d.on('state', ({ mode, state }) => console.log(`mode ${mode} (${state})`));
let shown = -1;
d.on('progress', ({ haveCount, chunkCount }) => {
  const pct = Math.floor((100 * haveCount) / chunkCount);
  if (pct >= shown + 25) {
    shown = pct;
    console.log(`${pct} %`);
  }
});
const result = await d.done;
await d.close();
console.log(JSON.stringify({ status: result.status, bytesBySource: result.bytesBySource, outPath: d.outPath }));
process.exit(result.status === 'complete' ? 0 : 1);
