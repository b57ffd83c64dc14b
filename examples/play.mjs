// Play a video while it downloads: a local HTTP server for any player (ffplay, mpv, VLC, a browser).
//   node examples/play.mjs <videoId>        then: ffplay <printed playlist URL>
import { play } from 'switchyard';

const [videoId] = process.argv.slice(2);
if (!videoId) {
  console.error('usage: node examples/play.mjs <videoId>');
  process.exit(2);
}
const player = await play(videoId);
console.log(player.urls.playlist ?? player.urls.file);
player.download.on('state', ({ mode }) => console.error(`mode ${mode}`));
const result = await player.download.done;
console.error(`download ${result.status}; still serving (Ctrl-C stops)`);
process.once('SIGINT', () => player.stop().then(() => process.exit(0)));
process.once('SIGTERM', () => player.stop().then(() => process.exit(0)));
