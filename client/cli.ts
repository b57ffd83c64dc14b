#!/usr/bin/env node
/**
 * The `switchyard` command. Errors are parsed once here, at the edge: a SwitchyardError prints its message and
 * code and exits 1 (2 for usage errors), anything else prints a short message (stack with SWITCHYARD_LOG=debug).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOriginClient } from '../actors/origin/client.js';
import { connectAsPeer } from './credentials.js';
import { MACHINE_NAMES, MACHINES, machineToDot, machineToMermaid, type MachineName } from '../machines/graph.js';
import { BadRequestError, ErrorCodes, SwitchyardError } from '../protocol/mod.js';
import { getCommand } from './commands/get.js';
import { playCommand } from './commands/play.js';
import { liveCommand } from './commands/live.js';
import { ingestCommand } from './commands/ingest.js';
import { serveCommand } from './commands/serve.js';
import { seedCommand } from './commands/seed.js';
import { keysCommand, provisionCommand, workerCommand } from './commands/worker.js';
import { resolveConfig } from './config.js';
import { demoCommand } from './demo.js';

const USAGE = `switchyard — hybrid origin + peer-to-peer video delivery

usage:
  switchyard serve   [--capacity N] [--port P] [--nats URL] [--store DIR|mongodb://…] [--lease-ttl MS] [--idle-timeout MS] [--workers N]
                     [--origin-rate BYTES_PER_S] [--policy server-first|swarm-aware] [--urgent-share BYTES_PER_S]
                     [--egress-target E]  (swarm-aware: origin egress per video ≈ E × its size; 1 = cheapest)
                     [--nats-ws URL]
  switchyard ingest  <file> [--name NAME] [--chunk-size BYTES] [--segment SEC] [--no-stream] [--json] [--auth-dir DIR]
  switchyard list    [--json]
  switchyard get     <videoId> [-o FILE] [--parallel N] [--rate BYTES_PER_S] [--json] [--keep-partial]
                     [--seed [--seed-seconds S]] [--no-upload] [--up-rate BYTES_PER_S] [--bind ADDR|any] [--label L]
                     [--start-at EPOCH_MS]  (prepare, then start fetching at that time: a crowd starting together)
  switchyard play    <videoId> [--port N] [--host ADDR] [--out FILE] [get's --parallel, --rate, --json, --no-upload …]
                     serves the HLS playlist and the file (Range) to a local player while it downloads;
                     on a live stream id: joins at the live edge and serves a live playlist [--mode low|default|p2p]
  switchyard live    <file|loop:FILE|testsrc|rtmp://…|srt://…|udp://…|/dev/videoN> --name NAME [--dvr SEC]
                     [--segment SEC] [--bitrate KBIT_S] [--size WxH] [--duration SEC] [--no-record] [--json]
  switchyard worker  <origin|tracker|signal|ingest|gateway>... --nats URL[,URL…] [--auth-dir DIR] [--data-dir DIR]
                     [--store DIR|mongodb://…] [--capacity N] [--policy P] [--egress-target E] [--port P] [--name ID]
                     [--tracker-interval MS]
                     [--metrics-port P]  (Prometheus /metrics of the process; 0 = a free port, printed)
                     [--replicas N]  (JetStream replicas of a bucket this worker has to create or recreate)
                     gateway: [--peer-nats URL] [--nats-ws URL]  (what peers and browsers are told to connect to)
                     roles as one process joined to a NATS cluster (env SWITCHYARD_GRANT_SECRET, SWITCHYARD_ADMIN_TOKEN)
  switchyard provision --nats URL[,URL…] --replicas N   JetStream buckets and streams with N replicas (idempotent)
  switchyard keys    --auth-dir DIR   operator and service keys (made once) and DIR/nats-auth.conf for nats-server
  switchyard seed    <videoId> --file FILE [--seconds S] [--up-rate BYTES_PER_S] [--metrics-port P]
  switchyard machines [--machine download|peerLink] [--format dot|mermaid|svg] [-o FILE]
  switchyard machines --all --out-dir DIR   every machine as DIR/<name>.dot, .mmd and .svg (Graphviz dot)
  switchyard demo    [--clients N] [--capacity N] [--seconds S] [--kbps K] [--policy swarm-aware|server-first]
                     [--origin-mibps U_S] [--peer-up-mibps U_I] [--down-mibps D] [--hold]
common: --nats URL  --gateway URL  (default: .switchyard/local.json written by serve, then env SWITCHYARD_NATS /
        SWITCHYARD_GATEWAY, then nats://127.0.0.1:4222 and http://127.0.0.1:8080)
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      out: { type: 'string' },
      host: { type: 'string' },
      nats: { type: 'string' },
      gateway: { type: 'string' },
      store: { type: 'string' },
      name: { type: 'string' },
      'chunk-size': { type: 'string' },
      segment: { type: 'string' },
      'no-stream': { type: 'boolean' },
      parallel: { type: 'string' },
      rate: { type: 'string' },
      label: { type: 'string' },
      'auth-dir': { type: 'string' },
      json: { type: 'boolean' },
      'keep-partial': { type: 'boolean' },
      seed: { type: 'boolean' },
      'seed-seconds': { type: 'string' },
      'no-upload': { type: 'boolean' },
      'up-rate': { type: 'string' },
      bind: { type: 'string' },
      file: { type: 'string' },
      capacity: { type: 'string' },
      port: { type: 'string' },
      'lease-ttl': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'nats-ws': { type: 'string' },
      'data-dir': { type: 'string' },
      workers: { type: 'string' },
      'origin-rate': { type: 'string' },
      'urgent-share': { type: 'string' },
      'egress-target': { type: 'string' },
      'start-at': { type: 'string' },
      'tracker-interval': { type: 'string' },
      replicas: { type: 'string' },
      'metrics-port': { type: 'string' },
      'peer-nats': { type: 'string' },
      format: { type: 'string' },
      machine: { type: 'string' },
      all: { type: 'boolean' },
      'out-dir': { type: 'string' },
      clients: { type: 'string' },
      policy: { type: 'string' },
      'origin-mibps': { type: 'string' },
      'peer-up-mibps': { type: 'string' },
      'down-mibps': { type: 'string' },
      hold: { type: 'boolean' },
      seconds: { type: 'string' },
      kbps: { type: 'string' },
      mode: { type: 'string' },
      dvr: { type: 'string' },
      bitrate: { type: 'string' },
      size: { type: 'string' },
      duration: { type: 'string' },
      'no-record': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE);
    return cmd || values.help ? 0 : 2;
  }
  switch (cmd) {
    case 'get':
      return getCommand(rest[0], values);
    case 'play':
      return playCommand(rest[0], values);
    case 'live':
      return liveCommand(rest[0], values);
    case 'ingest':
      return ingestCommand(rest[0], values);
    case 'seed':
      return seedCommand(rest[0], values);
    case 'serve':
      return serveCommand(values);
    case 'worker':
      return workerCommand(rest, values);
    case 'provision':
      return provisionCommand(values);
    case 'keys':
      return keysCommand(values);
    case 'demo':
      return demoCommand(values);
    case 'list': {
      const cfg = resolveConfig(values);
      const peer = await connectAsPeer({ gateway: cfg.gateway, ...(cfg.natsExplicit ? { nats: cfg.nats } : {}),
        ...(cfg.apiKey ? { apiKey: cfg.apiKey } : {}) });
      try {
        const videos = await createOriginClient(peer.nc).list();
        if (values.json) process.stdout.write(JSON.stringify(videos) + '\n');
        else for (const v of videos) process.stdout.write(`${v.videoId}  ${v.size.toString().padStart(12)}  ${v.mime.padEnd(24)} ${v.name}\n`);
        return 0;
      } finally {
        await peer.close();
      }
    }
    case 'machines': {
      if (values.all) {
        const dir = values['out-dir'];
        if (!dir) throw new BadRequestError('--all writes files: give --out-dir DIR');
        mkdirSync(dir, { recursive: true });
        for (const name of MACHINE_NAMES) {
          const dot = machineToDot(MACHINES[name]);
          writeFileSync(join(dir, `${name}.dot`), dot);
          writeFileSync(join(dir, `${name}.mmd`), machineToMermaid(MACHINES[name]));
          writeFileSync(join(dir, `${name}.svg`), renderSvg(dot));
          process.stdout.write(`${join(dir, name)}.{dot,mmd,svg}\n`);
        }
        return 0;
      }
      const name = (values.machine ?? 'download') as MachineName;
      if (!MACHINE_NAMES.includes(name)) throw new BadRequestError(`--machine is one of ${MACHINE_NAMES.join(', ')}`);
      if (values.format && !['dot', 'mermaid', 'svg'].includes(values.format)) {
        throw new BadRequestError('--format is dot, mermaid or svg');
      }
      const machine = MACHINES[name];
      const text = values.format === 'mermaid' ? machineToMermaid(machine)
        : values.format === 'svg' ? renderSvg(machineToDot(machine)) : machineToDot(machine);
      if (values.output) writeFileSync(values.output, text);
      else process.stdout.write(text);
      return 0;
    }
    default:
      process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
      return 2;
  }
}

/** DOT → SVG with Debian's Graphviz (`dot`; infra/setup.sh installs it). */
function renderSvg(dot: string): string {
  const r = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    throw new Error(`graphviz dot failed (is graphviz installed?): ${r.error?.message ?? r.stderr.trim()}`);
  }
  return r.stdout;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof SwitchyardError) {
      process.stderr.write(`switchyard: ${err.message} (${err.code})\n`);
      process.exit(err.code === ErrorCodes.badRequest ? 2 : 1);
    }
    const e = err as Error & { code?: string };
    if (typeof e?.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`switchyard: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`switchyard: ${e?.message ?? String(err)}\n`);
    if (process.env.SWITCHYARD_LOG === 'debug') process.stderr.write(`${e?.stack ?? ''}\n`);
    process.exit(1);
  },
);
