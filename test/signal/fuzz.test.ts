/**
 * Seeded fuzzing of the signalling edge. A failure prints the seed; rerun with SWITCHYARD_FUZZ_SEED=<seed>.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSignalRelay, type SignalRelay } from '../../actors/signal/mod.js';
import { validateCandidate, validateSdp, validateSignal } from '../../protocol/sdp.js';
import type { NatsConnection, Subscription } from '../../lib/nats.js';
import {
  BadRequestError, ErrorCodes, isValidId, MAX_SIGNAL_MESSAGE_BYTES, SignalMessage, validate,
} from '../../protocol/mod.js';
import { startEnv, waitFor, type TestEnv } from '../helpers/env.js';
import { BROWSER_CANDIDATES, CHROME_OFFER, loud, realSdp, type RealSdp } from './samples.js';

const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 0x5eed1234) >>> 0 || 1;

/** xorshift32: tiny, seeded, good enough to pick mutations */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const int = (n: number) => next() % Math.max(1, n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() / 0x100000000 < p };
}
type Rng = ReturnType<typeof prng>;

const ODD_CHARS = ['\0', '\r', '\n', '\t', '\x1b', '\x7f', '\x85', '\u00a0', 'é', '€', '😀', '\ud800', '\udc00',
  '\u2028', '\ufeff', '=', ':', ' ', 'a', 'v', 'm', '\\', '"', '{', '}'];

function randomChar(r: Rng): string {
  return r.chance(0.5) ? String.fromCharCode(0x20 + r.int(0x5f)) : r.pick(ODD_CHARS);
}
function randomString(r: Rng, max: number): string {
  let s = '';
  const n = r.int(max + 1);
  for (let i = 0; i < n; i++) s += randomChar(r);
  return s;
}
function randomLine(r: Rng): string {
  switch (r.int(6)) {
    case 0: return `a=x-${r.int(1000)}:${randomString(r, 20)}`;
    case 1: return `${String.fromCharCode(97 + r.int(26))}=${randomString(r, 30)}`;
    case 2: return r.pick(['m=audio 9 UDP/TLS/RTP/SAVPF 111', 'm=video 9 UDP/TLS/RTP/SAVPF 96', 'm=application 9 DTLS/SCTP 5000',
      'a=setup:actpass', 'a=setup:passive', 'a=setup:', 'v=0', 'a=ice-ufrag:ab', 'a=candidate:1 1 UDP 1 h 1 typ host']);
    case 3: return randomString(r, 40);
    case 4: return '';
    default: return `a=candidate:${r.int(9)} 1 ${r.pick(['UDP', 'tcp', 'sctp'])} ${r.int(1e9)} ${randomString(r, 8)} ${r.int(65536)} typ host`;
  }
}

/** 1–3 random mutations of a real SDP */
function mutateSdp(r: Rng, sdp: string): string {
  let s = sdp;
  const ops = 1 + r.int(3);
  for (let k = 0; k < ops; k++) {
    const lines = s.split('\r\n');
    switch (r.int(13)) {
      case 0: s = s.slice(0, r.int(s.length + 1)); break;
      case 1: lines.splice(r.int(lines.length + 1), 0, randomLine(r)); s = lines.join('\r\n'); break;
      case 2: { const i = r.int(s.length); s = s.slice(0, i) + randomChar(r) + s.slice(i + 1); break; }
      case 3: lines.splice(r.int(lines.length), 1); s = lines.join('\r\n'); break;
      case 4: { const i = r.int(lines.length); lines.splice(i, 0, lines[i] ?? ''); s = lines.join('\r\n'); break; }
      case 5: { const i = r.int(lines.length), j = r.int(lines.length); [lines[i], lines[j]] = [lines[j]!, lines[i]!]; s = lines.join('\r\n'); break; }
      case 6: { const i = r.int(s.length + 1); s = s.slice(0, i) + randomString(r, 12) + s.slice(i); break; }
      case 7: s = randomString(r, 200); break;
      case 8: s = s.repeat(1 + r.int(40)); break;
      case 9: s = s.replace(/\r\n/g, r.pick(['\n', '\r', '\n\r', ' '])); break;
      case 10: s = s.replace(/a=setup:\w+/, `a=setup:${r.pick(['actpass', 'active', 'passive', 'holdconn', ''])}`); break;
      case 11: s = s.replace('m=application', r.pick(['m=audio', 'm=video', 'm=text', 'm=application'])); break;
      default: s += Array.from({ length: r.int(120) }, () => `a=x:${r.int(100)}\r\n`).join(''); break;
    }
  }
  return s;
}

interface Ctx {
  real: RealSdp;
  env: TestEnv;
  relay: SignalRelay;
  nc: NatsConnection;
  forwarded: unknown[];
  tap: Subscription;
}

const t = suite<Ctx>(`signal fuzz (seed ${SEED})`);

t.before(loud(async (ctx) => {
  ctx.real = await realSdp();
  ctx.env = await startEnv();
  ctx.relay = createSignalRelay({}, { nc: await ctx.env.connect('relay'), logger: ctx.env.logger.child('relay') });
  await ctx.relay.start();
  ctx.nc = await ctx.env.connect('fuzzer');
  ctx.forwarded = [];
  // watch everything the relay forwards to any peer
  ctx.tap = ctx.nc.subscribe('sy.peer.*.signal', {
    callback: (_err, m) => {
      ctx.forwarded.push({ to: m.subject.split('.')[2], body: JSON.parse(new TextDecoder().decode(m.data)) as unknown });
    },
  });
  await ctx.nc.flush();
}));

t.after(async (ctx) => {
  ctx.tap?.unsubscribe();
  await ctx.relay?.stop();
  await ctx.env?.close();
  ctx.real?.close();
});

t('5,000 mutated SDPs: validateSdp passes or throws BadRequestError, nothing else', ({ real }) => {
  const r = prng(SEED);
  const samples: Array<[string, 'offer' | 'answer']> = [[real.offer, 'offer'], [real.answer, 'answer'], [CHROME_OFFER, 'offer']];
  let passed = 0, rejected = 0;
  const started = performance.now();
  for (let i = 0; i < 5000; i++) {
    const [sample, sampleKind] = r.pick(samples);
    const kind = r.chance(0.9) ? sampleKind : (sampleKind === 'offer' ? 'answer' : 'offer');
    const input = mutateSdp(r, sample);
    try {
      validateSdp(input, kind);
      passed++;
      // whatever passes has the basic shape
      assert.ok(input.startsWith('v=0'), `case ${i}: passed without v=0`);
      assert.not.ok(/[\0\t\x7f]/.test(input), `case ${i}: passed with control characters`);
      assert.not.ok(/^m=(audio|video)/m.test(input), `case ${i}: passed with media`);
      assert.ok(Buffer.byteLength(input) <= 16 * 1024, `case ${i}: passed oversized`);
    } catch (e) {
      if (!(e instanceof BadRequestError)) {
        throw new Error(`case ${i} (seed ${SEED}): ${String(e)} for ${JSON.stringify(input.slice(0, 200))}`);
      }
      rejected++;
    }
  }
  const ms = performance.now() - started;
  assert.ok(passed > 50, `only ${passed} mutations passed: the mutator is too destructive to test acceptance`);
  assert.ok(rejected > 2500, `only ${rejected} mutations rejected`);
  assert.ok(ms < 10000, `5,000 validations took ${ms.toFixed(0)} ms`);
});

t('random candidates and signal messages: pass or BadRequestError', ({ real }) => {
  const r = prng(SEED ^ 0xa5a5a5a5);
  const good = [...real.candidates.map((c) => c.candidate), ...BROWSER_CANDIDATES];
  for (let i = 0; i < 2000; i++) {
    let c = r.pick(good);
    if (r.chance(0.8)) {
      const at = r.int(c.length + 1);
      c = r.chance(0.5) ? c.slice(0, at) + randomString(r, 8) + c.slice(at) : c.slice(0, at);
    }
    const mid = r.chance(0.3) ? undefined : r.chance(0.7) ? '0' : randomString(r, 40);
    try {
      validateCandidate(c, mid);
    } catch (e) {
      if (!(e instanceof BadRequestError)) throw new Error(`candidate case ${i}: ${String(e)}`);
    }
    const msg = {
      connId: 'c', videoId: 'v', kind: r.pick(['offer', 'answer', 'candidate', 'bye', 'toString', '__proto__']),
      ...(r.chance(0.5) ? { sdp: mutateSdp(r, real.offer) } : {}),
      ...(r.chance(0.5) ? { candidate: c } : {}),
      ...(r.chance(0.3) ? { mid } : {}),
      ...(r.chance(0.3) ? { reason: randomString(r, 30) } : {}),
    } as SignalMessage;
    try {
      validateSignal(msg);
    } catch (e) {
      if (!(e instanceof BadRequestError)) throw new Error(`signal case ${i}: ${String(e)}`);
    }
  }
});

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));
const TOKENS = ['A', 'B', 'C', 'peer_1', 'x'.repeat(64), 'x'.repeat(65), 'a~b', 'é', 'a+b', '-', '😀', '%00', 'A'];

function randomBody(r: Rng, real: RealSdp): Uint8Array {
  const enc = new TextEncoder();
  const base: Record<string, unknown> = { connId: `c${r.int(100)}`, videoId: 'v1', kind: 'bye' };
  switch (r.int(12)) { // 9..11: valid bodies, so that some traffic passes
    case 0: return new Uint8Array(Array.from({ length: r.int(300) }, () => r.int(256)));
    case 1: return enc.encode(JSON.stringify({ ...base, kind: 'offer', sdp: real.offer }).slice(0, r.int(400)));
    case 2: return enc.encode(JSON.stringify({ ...base, kind: 'bye', reason: 'x'.repeat(MAX_SIGNAL_MESSAGE_BYTES) }));
    case 3: return enc.encode(JSON.stringify({ ...base, kind: r.pick(['offer', 'answer']), sdp: mutateSdp(r, r.chance(0.5) ? real.offer : real.answer) }));
    case 4: return enc.encode(JSON.stringify({ ...base, kind: 'candidate', candidate: r.pick(real.candidates).candidate + randomString(r, 6), mid: '0' }));
    case 5: return enc.encode(JSON.stringify({ ...base, from: r.pick(TOKENS) }));
    case 6: return enc.encode(JSON.stringify({ ...base, kind: r.pick(['bye', 'offer', 1, null, {}, []]), [r.pick(['sdp', 'candidate', 'mid', 'reason', 'x'])]: r.pick([1, null, 'x', {}, [], true]) }));
    case 7: return enc.encode(r.pick(['null', '1', '"s"', '[]', '{}', 'true', '{"__proto__":{"kind":"bye"}}', '']));
    case 8: return enc.encode(JSON.stringify({ ...base, reason: randomString(r, 50) }));
    default: return enc.encode(JSON.stringify(r.chance(0.5) ? { ...base, kind: 'offer', sdp: real.offer } : base));
  }
}

function heapAfterGc(): number {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    gc();
  } catch { /* measure without a forced collection */ }
  return process.memoryUsage().heapUsed;
}

t('500 random messages to the relay over NATS: every reply is an ack or a typed error; the relay survives', async (ctx) => {
  const r = prng(SEED ^ 0x3c3c3c3c);
  const heapBefore = heapAfterGc();
  const statsBefore = ctx.relay.stats();
  let acks = 0, errors = 0;
  const total = 500;
  for (let batch = 0; batch < total; batch += 25) {
    await Promise.all(Array.from({ length: 25 }, async (_, k) => {
      const i = batch + k;
      const subject = `sy.signal.${r.pick(TOKENS)}.${r.pick(TOKENS)}`;
      const body = randomBody(r, ctx.real);
      const reply = await ctx.nc.request(subject, body, { timeout: 5000 });
      const v = JSON.parse(new TextDecoder().decode(reply.data)) as Record<string, unknown>;
      if (v.delivered === true && Object.keys(v).length === 1) {
        acks++;
        return;
      }
      const e = v.error as { code?: unknown; message?: unknown } | undefined;
      assert.ok(e && typeof e.code === 'string' && KNOWN_CODES.has(e.code) && e.code !== 'internal' &&
        typeof e.message === 'string', `case ${i} on ${subject}: unexpected reply ${JSON.stringify(v).slice(0, 300)}`);
      errors++;
    }));
  }
  assert.is(acks + errors, total);
  assert.ok(acks > 20 && errors > 200, `acks ${acks}, errors ${errors}`);
  const stats = ctx.relay.stats();
  assert.is(stats.relayed - statsBefore.relayed, acks);
  assert.is(stats.rejected - statsBefore.rejected, errors);

  // the relay still answers and delivers a valid message
  ctx.forwarded.length = 0;
  const final = { connId: 'final', videoId: 'v1', kind: 'offer', sdp: ctx.real.offer };
  const reply = await ctx.nc.request('sy.signal.A.B', new TextEncoder().encode(JSON.stringify(final)), { timeout: 5000 });
  assert.equal(JSON.parse(new TextDecoder().decode(reply.data)), { delivered: true });
  await waitFor(() => ctx.forwarded.some((f) => (f as { body: { connId: string } }).body.connId === 'final'), 'final message');

  const growthMb = (heapAfterGc() - heapBefore) / 1024 / 1024;
  assert.ok(growthMb < 64, `heap grew by ${growthMb.toFixed(1)} MiB`);
});

t('everything the relay forwarded was valid, addressed by the subject, and stamped with a valid sender', async (ctx) => {
  // replay a burst of valid and invalid traffic, then inspect what reached peers
  const r = prng(SEED ^ 0x0f0f0f0f);
  ctx.forwarded.length = 0;
  let acked = 0;
  for (let i = 0; i < 200; i++) {
    const subject = `sy.signal.${r.pick(TOKENS)}.${r.pick(TOKENS)}`;
    const reply = await ctx.nc.request(subject, randomBody(r, ctx.real), { timeout: 5000 });
    if ((JSON.parse(new TextDecoder().decode(reply.data)) as { delivered?: boolean }).delivered) acked++;
  }
  await ctx.nc.flush();
  await waitFor(() => ctx.forwarded.length >= acked, 'forwarded messages');
  assert.is(ctx.forwarded.length, acked);
  for (const f of ctx.forwarded as Array<{ to: string; body: Record<string, unknown> }>) {
    const { from, ...rest } = f.body;
    assert.ok(isValidId(from) && isValidId(f.to) && from !== f.to, JSON.stringify(f).slice(0, 200));
    validateSignal(validate(SignalMessage, rest));
  }
});

t.run();
