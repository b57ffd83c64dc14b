/** bench/lib/plot.ts: a well-formed SVG string (checked without a parser). Pure. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { niceTicks, plotSvg } from '../../bench/lib/plot.js';

const series = [
  { name: 'server-first', points: [{ x: 3.1, y: 1.2, label: 'cap 1' }, { x: 2.5, y: 2.0, label: 'cap 2' }, { x: 3.5, y: 9.8, label: 'cap 10' }] },
  { name: 'swarm-aware', points: [{ x: 1.4, y: 1.05, label: 'cap 1' }, { x: 1.3, y: 1.1, label: 'cap 2' }] },
];

test('an SVG with axes, axis labels, legend, and one <circle> per point', () => {
  const svg = plotSvg({ title: 'cost <vs> time', xLabel: 'distribution time / D_p2p', yLabel: 'origin egress / F', series,
    refX: [{ at: 1, label: 'D_p2p' }], refY: [{ at: 1, label: 'egress = F' }], note: 'N=10 & co' });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.is((svg.match(/<svg/g) ?? []).length, 1);
  assert.ok(svg.includes('>distribution time / D_p2p</text>'), 'x axis label');
  assert.ok(svg.includes('>origin egress / F</text>'), 'y axis label');
  assert.is((svg.match(/<circle /g) ?? []).length, 5, 'one circle per point');
  assert.is((svg.match(/<\/circle>/g) ?? []).length, 5);
  for (const s of series) assert.ok(svg.includes(`>${s.name}</text>`), `legend names ${s.name}`);
  assert.ok(svg.includes('>cap 10</text>'), 'points are labelled');
  assert.ok(svg.includes('cost &lt;vs&gt; time') && svg.includes('N=10 &amp; co'), 'text is escaped');
  assert.not.ok(/&(?!(lt|gt|amp|quot|apos);)/.test(svg), 'no bare ampersand');
  // every opened <g> and <text> is closed
  assert.is((svg.match(/<g[ >]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
  assert.is((svg.match(/<text[ >]/g) ?? []).length, (svg.match(/<\/text>/g) ?? []).length);
  assert.not.ok(svg.includes('NaN') || svg.includes('undefined') || svg.includes('Infinity'));
});

test('non-finite points are left out; an empty plot still renders', () => {
  const svg = plotSvg({ xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: NaN, y: 1 }, { x: 1, y: 2 }] }] });
  assert.is((svg.match(/<circle /g) ?? []).length, 1);
  const empty = plotSvg({ xLabel: 'x', yLabel: 'y', series: [] });
  assert.ok(empty.includes('<svg') && !empty.includes('<circle') && !empty.includes('NaN'));
});

test('nice ticks start at 0 and cover the maximum', () => {
  assert.equal(niceTicks(10), [0, 2, 4, 6, 8, 10]);
  assert.equal(niceTicks(3.6), [0, 1, 2, 3, 4]);
  assert.equal(niceTicks(0.33), [0, 0.1, 0.2, 0.3, 0.4]);
  assert.equal(niceTicks(0), [0, 1]);
  for (const m of [0.07, 1, 1.05, 7.3, 42, 999]) {
    const t = niceTicks(m);
    assert.is(t[0], 0);
    assert.ok(t[t.length - 1]! >= m && t.length <= 12, `${m}: ${t}`);
  }
});

test.run();
