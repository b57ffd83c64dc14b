/**
 * A small scatter/line plot as an SVG string, no dependencies: axes from 0 with "nice" ticks, axis labels, a
 * title, a legend, one polyline and one labelled <circle> per point for each series, and optional dashed
 * reference lines (e.g. x = 1: the D_p2p bound; y = 1: origin egress = F). Pure.
 */

export interface PlotPoint {
  x: number;
  y: number;
  /** drawn next to the point */
  label?: string;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  color?: string;
  /** a curve (e.g. a bound): a dashed line through the points, no markers or labels */
  curve?: boolean;
}

export interface PlotOptions {
  title?: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  width?: number;
  height?: number;
  /** dashed vertical reference lines */
  refX?: Array<{ at: number; label: string }>;
  /** dashed horizontal reference lines */
  refY?: Array<{ at: number; label: string }>;
  /** a line of small print under the plot (parameters, commit) */
  note?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Tick step of 1, 2 or 5 × 10^k giving about `count` intervals over [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let i = 0; i * step < max + step * 1e-9 || ticks.length < 2; i++) ticks.push(round(i * step));
  if (ticks[ticks.length - 1]! < max) ticks.push(round(ticks.length * step));
  return ticks;
}

const round = (v: number) => Number(v.toPrecision(12));
const fmt = (v: number) => (Math.abs(v) >= 1000 || v === 0 ? String(round(v)) : String(Number(v.toPrecision(4))));
const n1 = (v: number) => (Math.round(v * 10) / 10).toString();

export function plotSvg(o: PlotOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 480;
  const m = { left: 72, right: 170, top: o.title ? 44 : 20, bottom: o.note ? 74 : 58 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const finite = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const maxX = Math.max(0, ...finite.map((p) => p.x), ...(o.refX ?? []).map((r) => r.at));
  const maxY = Math.max(0, ...finite.map((p) => p.y), ...(o.refY ?? []).map((r) => r.at));
  const xt = niceTicks(maxX * 1.05);
  const yt = niceTicks(maxY * 1.05);
  const xMax = xt[xt.length - 1]!;
  const yMax = yt[yt.length - 1]!;
  const sx = (x: number) => m.left + (x / xMax) * pw;
  const sy = (y: number) => m.top + ph - (y / yMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  if (o.title) {
    out.push(`<text x="${n1(m.left + pw / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">` +
      `${escapeXml(o.title)}</text>`);
  }
  // grid and ticks
  out.push('<g class="ticks" stroke="#e5e5e5">');
  for (const t of xt) out.push(`<line x1="${n1(sx(t))}" y1="${m.top}" x2="${n1(sx(t))}" y2="${m.top + ph}"/>`);
  for (const t of yt) out.push(`<line x1="${m.left}" y1="${n1(sy(t))}" x2="${m.left + pw}" y2="${n1(sy(t))}"/>`);
  out.push('</g>');
  out.push('<g class="tick-labels" fill="#333">');
  for (const t of xt) out.push(`<text x="${n1(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  for (const t of yt) out.push(`<text x="${m.left - 6}" y="${n1(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  out.push('</g>');
  // axes
  out.push(`<g class="axes" stroke="#000"><line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/>` +
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/></g>`);
  out.push(`<text class="x-label" x="${n1(m.left + pw / 2)}" y="${m.top + ph + 38}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text class="y-label" x="18" y="${n1(m.top + ph / 2)}" text-anchor="middle" ` +
    `transform="rotate(-90 18 ${n1(m.top + ph / 2)})">${escapeXml(o.yLabel)}</text>`);
  // reference lines
  for (const r of o.refX ?? []) {
    if (!(r.at >= 0 && r.at <= xMax)) continue;
    out.push(`<line x1="${n1(sx(r.at))}" y1="${m.top}" x2="${n1(sx(r.at))}" y2="${m.top + ph}" stroke="#777" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${n1(sx(r.at) + 4)}" y="${m.top + 12}" fill="#555" font-size="11">${escapeXml(r.label)}</text>`);
  }
  for (const r of o.refY ?? []) {
    if (!(r.at >= 0 && r.at <= yMax)) continue;
    out.push(`<line x1="${m.left}" y1="${n1(sy(r.at))}" x2="${m.left + pw}" y2="${n1(sy(r.at))}" stroke="#777" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${m.left + pw - 4}" y="${n1(sy(r.at) - 4)}" text-anchor="end" fill="#555" font-size="11">${escapeXml(r.label)}</text>`);
  }
  // series
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" stroke-opacity="0.6"` +
        `${s.curve ? ' stroke-dasharray="6 3"' : ''} points="` +
        `${pts.map((p) => `${n1(sx(p.x))},${n1(sy(p.y))}`).join(' ')}"/>`);
    }
    for (const p of s.curve ? [] : pts) {
      out.push(`<circle cx="${n1(sx(p.x))}" cy="${n1(sy(p.y))}" r="4.5" fill="${color}"><title>${escapeXml(
        `${s.name}${p.label ? ` ${p.label}` : ''}: x=${fmt(p.x)}, y=${fmt(p.y)}`)}</title></circle>`);
      if (p.label) {
        // alternate series put their labels above-right / below-right, so two clusters overlap less
        const dy = i % 2 === 0 ? -6 : 15;
        out.push(`<text x="${n1(sx(p.x) + 7)}" y="${n1(sy(p.y) + dy)}" fill="${color}" font-size="11">${escapeXml(p.label)}</text>`);
      }
    }
    out.push('</g>');
  });
  // legend (squares, so every <circle> is a data point)
  const lx = m.left + pw + 16;
  out.push('<g class="legend">');
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const y = m.top + 8 + i * 20;
    out.push(`<rect x="${lx}" y="${y - 9}" width="10" height="10" fill="${color}"/>` +
      `<text x="${lx + 16}" y="${y}">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
  if (o.note) out.push(`<text x="${m.left}" y="${H - 10}" fill="#555" font-size="10">${escapeXml(o.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
