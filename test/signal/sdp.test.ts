import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  acceptDescription, MAX_SDP_LINES, preferActiveSetup, validateCandidate, validateSdp, validateSignal,
} from '../../protocol/sdp.js';
import { BadRequestError, MAX_CANDIDATE_BYTES, MAX_SDP_BYTES, type SignalMessage } from '../../protocol/mod.js';
import { BROWSER_CANDIDATES, CHROME_OFFER, loud, realSdp, type RealSdp } from './samples.js';

const t = suite<{ real: RealSdp }>('signal: SDP and candidate validation (real node-datachannel samples)');

t.before(loud(async (ctx) => {
  ctx.real = await realSdp();
}));
t.after(({ real }) => real?.close());

/** asserts fn throws BadRequestError whose message matches `re` */
function rejects(fn: () => void, re: RegExp, label: string) {
  try {
    fn();
  } catch (e) {
    assert.instance(e, BadRequestError, `${label}: wrong error class: ${String(e)}`);
    assert.ok(re.test((e as Error).message), `${label}: message ${JSON.stringify((e as Error).message)} !~ ${re}`);
    return;
  }
  assert.unreachable(`${label}: accepted`);
}

const lines = (sdp: string) => sdp.split('\r\n');
const withoutLine = (sdp: string, prefix: string) => lines(sdp).filter((l) => !l.startsWith(prefix)).join('\r\n');
const replaceLine = (sdp: string, prefix: string, by: string) =>
  lines(sdp).map((l) => (l.startsWith(prefix) ? by : l)).join('\r\n');

t('real offer and answer from node-datachannel validate, as do a Chrome offer and LF-only line ends', ({ real }) => {
  assert.ok(real.offer.startsWith('v=0'));
  validateSdp(real.offer, 'offer');
  validateSdp(real.answer, 'answer');
  validateSdp(preferActiveSetup(real.offer), 'offer');
  validateSdp(CHROME_OFFER, 'offer');
  validateSdp(real.offer.replace(/\r\n/g, '\n'), 'offer');
  // a non-trickle SDP with candidates embedded
  const embedded = real.offer + real.candidates.map((c) => `${c.candidate}\r\n`).join('');
  validateSdp(embedded, 'offer');
});

t('signalling order: an answerer takes one offer, an offerer one answer, each a valid SDP', ({ real }) => {
  assert.is(acceptDescription('offer', real.offer, 'answerer', false), real.offer);
  assert.is(acceptDescription('answer', real.answer, 'offerer', false), real.answer);
  const refused = (f: () => unknown, why: RegExp) => assert.throws(f, (e: Error) => e instanceof BadRequestError && why.test(e.message));
  refused(() => acceptDescription('offer', real.offer, 'offerer', false), /unexpected offer/);
  refused(() => acceptDescription('answer', real.answer, 'answerer', false), /unexpected answer/);
  refused(() => acceptDescription('offer', real.offer, 'answerer', true), /unexpected offer/);
  refused(() => acceptDescription('answer', undefined, 'offerer', false), /invalid/);
});

t('real candidates (with a= prefix and mid) and browser-shaped candidates validate', ({ real }) => {
  assert.ok(real.candidates.length >= 2);
  for (const c of real.candidates) validateCandidate(c.candidate, c.mid);
  for (const c of BROWSER_CANDIDATES) validateCandidate(c);
  validateCandidate(BROWSER_CANDIDATES[0]!, 'data_0-x');
});

t('SDP rejections, one per rule', ({ real }) => {
  const o = real.offer;
  rejects(() => validateSdp(o + 'a=x:' + 'y'.repeat(MAX_SDP_BYTES) + '\r\n', 'offer'), /longer than/, 'too long');
  // multi-byte characters count as bytes, not UTF-16 units
  rejects(() => validateSdp(o + 'a=x:' + 'é'.repeat(MAX_SDP_BYTES / 2) + '\r\n', 'offer'), /longer than/, 'too long in bytes');
  rejects(() => validateSdp('', 'offer'), /empty/, 'empty');
  rejects(() => validateSdp(o.replace('v=0', 'v=1'), 'offer'), /v=0/, 'v=1');
  rejects(() => validateSdp('\r\n' + o, 'offer'), /v=0/, 'leading blank line');
  rejects(() => validateSdp(o.slice(5), 'offer'), /v=0/, 'no v line');
  rejects(() => validateSdp(o.replace('s=-', 's=\0'), 'offer'), /control character U\+0000/, 'NUL');
  rejects(() => validateSdp(o.replace('s=-', 's=\t'), 'offer'), /control character U\+0009/, 'TAB');
  rejects(() => validateSdp(o.replace('s=-', 's=\x1b[31m'), 'offer'), /control character U\+001b/, 'ESC');
  rejects(() => validateSdp(o.replace('s=-', 's=\x7f'), 'offer'), /control character U\+007f/, 'DEL');
  rejects(() => validateSdp(o.replace('s=-', 's=\x85'), 'offer'), /control character U\+0085/, 'C1 NEL');
  rejects(() => validateSdp(o.replace('s=-', 's=\ud800'), 'offer'), /surrogate/, 'lone surrogate');
  rejects(() => validateSdp(o.replace('s=-\r\n', 's=-\rt=1\r\n'), 'offer'), /bare CR/, 'bare CR');
  rejects(() => validateSdp(o.replace('s=-', 'S=-'), 'offer'), /not "<letter>=<value>"/, 'upper-case type');
  rejects(() => validateSdp(o.replace('s=-\r\n', 's=-\r\n\r\n'), 'offer'), /not "<letter>=<value>"/, 'empty line');
  rejects(() => validateSdp(o.replace('s=-\r\n', 's=-\r\nhello\r\n'), 'offer'), /not "<letter>=<value>"/, 'garbage line');
  rejects(() => validateSdp(o.replace('s=-', 's=\u2028'), 'offer'), /not "<letter>=<value>"/, 'unicode line separator');
  rejects(() => validateSdp(o.replace('s=-\r\n', 's=-\r\nv=0\r\n'), 'offer'), /second "v="/, 'second v');
  rejects(() => validateSdp(withoutLine(o, 'o='), 'offer'), /"o="/, 'missing o');
  rejects(() => validateSdp(withoutLine(o, 's='), 'offer'), /"s="/, 'missing s');
  rejects(() => validateSdp(withoutLine(o, 't='), 'offer'), /"t="/, 'missing t');
  rejects(() => validateSdp(withoutLine(o, 'm='), 'offer'), /m=application/, 'no m=application');
  rejects(() => validateSdp(o + 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n', 'offer'), /other than m=application/, 'audio');
  rejects(() => validateSdp(replaceLine(o, 'm=', 'm=video 9 UDP/TLS/RTP/SAVPF 96'), 'offer'), /other than m=application/, 'video');
  rejects(() => validateSdp(withoutLine(o, 'a=ice-ufrag'), 'offer'), /ice-ufrag/, 'no ufrag');
  rejects(() => validateSdp(withoutLine(o, 'a=ice-pwd'), 'offer'), /ice-pwd/, 'no pwd');
  rejects(() => validateSdp(withoutLine(o, 'a=fingerprint'), 'offer'), /fingerprint/, 'no fingerprint');
  rejects(() => validateSdp(withoutLine(o, 'a=setup'), 'offer'), /a=setup/, 'no setup');
  rejects(() => validateSdp(replaceLine(o, 'a=ice-ufrag', 'a=ice-ufrag:a b'), 'offer'), /ice-ufrag/, 'bad ufrag');
  rejects(() => validateSdp(replaceLine(o, 'a=ice-pwd', 'a=ice-pwd:short'), 'offer'), /ice-pwd/, 'short pwd');
  rejects(() => validateSdp(replaceLine(o, 'a=fingerprint', 'a=fingerprint:sha-256 zz'), 'offer'), /fingerprint/, 'bad fingerprint');
  rejects(() => validateSdp(replaceLine(o, 'a=setup', 'a=setup:sideways'), 'offer'), /a=setup/, 'bad setup');
  rejects(() => validateSdp(real.answer.replace('a=setup:active', 'a=setup:actpass'), 'answer'), /not allowed in an answer/, 'actpass answer');
  rejects(() => validateSdp(o + 'a=candidate:garbage\r\n', 'offer'), /candidate line/, 'embedded bad candidate');
  const many = o + Array.from({ length: MAX_SDP_LINES }, (_, i) => `a=x-${i}:1\r\n`).join('');
  rejects(() => validateSdp(many, 'offer'), /more than 100 lines/, 'too many lines');
  rejects(() => validateSdp(42 as unknown as string, 'offer'), /not a string/, 'not a string');
  rejects(() => validateSdp(o, 'pranswer' as 'offer'), /unknown kind/, 'bad kind');
});

t('candidate rejections', ({ real }) => {
  const c = real.candidates[0]!.candidate;
  rejects(() => validateCandidate(c + ' x'.repeat(MAX_CANDIDATE_BYTES)), /longer than/, 'too long');
  rejects(() => validateCandidate(c + '\0'), /control character/, 'NUL');
  rejects(() => validateCandidate(c + '\r\na=setup:active'), /control character/, 'CRLF injection');
  rejects(() => validateCandidate(c.replace(/ typ /, '\ttyp ')), /control character/, 'TAB');
  rejects(() => validateCandidate(''), /not an ICE candidate/, 'empty');
  rejects(() => validateCandidate('candidate:1 1 SCTP 2114977791 127.0.0.1 34059 typ host'), /not an ICE candidate/, 'bad transport');
  rejects(() => validateCandidate('candidate:1 1 UDP 2114977791 127.0.0.1 port typ host'), /not an ICE candidate/, 'bad port');
  rejects(() => validateCandidate('candidate:1 1 UDP 2114977791 127.0.0.1 34059'), /not an ICE candidate/, 'no typ');
  rejects(() => validateCandidate('b=candidate:1 1 UDP 2114977791 127.0.0.1 34059 typ host'), /not an ICE candidate/, 'bad prefix');
  rejects(() => validateCandidate(c, ''), /bad mid/, 'empty mid');
  rejects(() => validateCandidate(c, 'a.b'), /bad mid/, 'dotted mid');
  rejects(() => validateCandidate(c, 'x'.repeat(33)), /bad mid/, 'long mid');
});

t('validateSignal: kind-specific fields', ({ real }) => {
  const base = { connId: 'c1', videoId: 'v1' };
  const cand = real.candidates[0]!;
  validateSignal({ ...base, kind: 'offer', sdp: real.offer });
  validateSignal({ ...base, kind: 'answer', sdp: real.answer });
  validateSignal({ ...base, kind: 'candidate', candidate: cand.candidate, mid: cand.mid });
  validateSignal({ ...base, kind: 'candidate', candidate: cand.candidate });
  validateSignal({ ...base, kind: 'bye' });
  validateSignal({ ...base, kind: 'bye', reason: 'timeout after 5 s' });
  const bad: Array<[SignalMessage, RegExp, string]> = [
    [{ ...base, kind: 'offer' }, /without "sdp"/, 'offer without sdp'],
    [{ ...base, kind: 'answer' }, /without "sdp"/, 'answer without sdp'],
    [{ ...base, kind: 'offer', sdp: 'hello' }, /offer sdp/, 'garbage sdp'],
    [{ ...base, kind: 'answer', sdp: real.offer }, /not allowed in an answer/, 'offer as answer'],
    [{ ...base, kind: 'offer', sdp: real.offer, candidate: cand.candidate }, /"candidate" is not allowed in a offer/, 'offer+candidate'],
    [{ ...base, kind: 'offer', sdp: real.offer, reason: 'x' }, /"reason" is not allowed/, 'offer+reason'],
    [{ ...base, kind: 'candidate' }, /without "candidate"/, 'candidate without candidate'],
    [{ ...base, kind: 'candidate', candidate: cand.candidate, sdp: real.offer }, /"sdp" is not allowed in a candidate/, 'candidate+sdp'],
    [{ ...base, kind: 'candidate', candidate: 'candidate:\0' }, /control character/, 'candidate NUL'],
    [{ ...base, kind: 'bye', sdp: real.offer }, /"sdp" is not allowed in a bye/, 'bye+sdp'],
    [{ ...base, kind: 'bye', mid: '0' }, /"mid" is not allowed in a bye/, 'bye+mid'],
    [{ ...base, kind: 'bye', reason: 'a\nb' }, /control characters/, 'bye reason newline'],
    [{ ...base, kind: 'hello' as 'bye' }, /unknown kind/, 'unknown kind'],
    [{ ...base, kind: 'constructor' as 'bye' }, /unknown kind/, 'prototype kind'],
  ];
  for (const [m, re, label] of bad) rejects(() => validateSignal(m), re, label);
});

t('preferActiveSetup rewrites actpass to active only in the a=setup line', ({ real }) => {
  assert.ok(real.offer.includes('a=setup:actpass\r\n'));
  const out = preferActiveSetup(real.offer);
  assert.not.ok(out.includes('a=setup:actpass'));
  assert.ok(out.includes('a=setup:active\r\n'));
  assert.is(out, real.offer.replace('a=setup:actpass\r\n', 'a=setup:active\r\n'));
  // other occurrences of "actpass" are left alone; LF line ends and a last line without an end work
  const tricky = 'v=0\no=x 1 1 IN IP4 127.0.0.1\ns=actpass\na=x-note:a=setup:actpass\na=setup:actpassive\na=setup:actpass';
  assert.is(preferActiveSetup(tricky),
    'v=0\no=x 1 1 IN IP4 127.0.0.1\ns=actpass\na=x-note:a=setup:actpass\na=setup:actpassive\na=setup:active');
  // an answer (active/passive) is unchanged, and so is an already-active offer
  assert.is(preferActiveSetup(real.answer), real.answer);
  assert.is(preferActiveSetup(out), out);
});

t.run();
