/** The dashboard's stylesheet, inlined into the page (no external assets). */
export const CSS = `
:root { --bg:#f4f5f7; --card:#fff; --ink:#1f2933; --muted:#6b7785; --line:#e3e6ea; --miss:#e5e7eb;
  --origin:#2563eb; --peer:#059669; --up:#d97706; --font:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  --mono:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,monospace; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 var(--font); }
header { display:flex; align-items:center; gap:14px; flex-wrap:wrap; padding:14px 24px; background:#17202a; color:#fff; }
header h1 { margin:0; font-size:18px; font-weight:650; letter-spacing:.2px; }
header .host { font-family:var(--mono); font-size:13px; color:#b8c2cc; }
header .spacer { flex:1; }
.badge { display:inline-flex; gap:6px; align-items:baseline; padding:3px 10px; border-radius:999px; background:#2b3844; font-size:12.5px; }
.badge b { font-weight:650; }
.conn::before { content:""; display:inline-block; width:8px; height:8px; border-radius:50%; background:#9ca3af; margin-right:2px; }
.conn.live::before { background:#22c55e; } .conn.polling::before { background:#f59e0b; } .conn.offline::before { background:#ef4444; }
main { padding:18px 24px 28px; display:grid; gap:16px; grid-template-columns: minmax(260px,1fr) minmax(260px,1fr) minmax(380px,1.6fr); }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; min-width:0; }
.card.wide { grid-column:1 / -1; }
.card h2 { margin:0 0 10px; font-size:13px; font-weight:650; text-transform:uppercase; letter-spacing:.6px; color:var(--muted);
  display:flex; align-items:center; gap:10px; }
.card h2 .aside { margin-left:auto; text-transform:none; letter-spacing:0; font-weight:500; }
.big { font-size:28px; font-weight:650; font-variant-numeric:tabular-nums; }
.big small { font-size:15px; color:var(--muted); font-weight:500; }
.meter { height:8px; border-radius:4px; background:var(--miss); overflow:hidden; margin:6px 0 12px; }
.meter > div { height:100%; background:var(--origin); width:0; }
.sub { font-size:12px; font-weight:650; color:var(--muted); margin:10px 0 4px; }
ul.list, ol.list { margin:0; padding:0; list-style:none; }
.list li { display:flex; gap:8px; align-items:baseline; padding:4px 0; border-bottom:1px dashed var(--line); font-size:13px; }
.list li:last-child { border-bottom:0; }
.list .k { color:var(--muted); font-variant-numeric:tabular-nums; min-width:26px; }
.list .id { font-family:var(--mono); }
.list .r { margin-left:auto; color:var(--muted); font-variant-numeric:tabular-nums; white-space:nowrap; }
.empty { color:var(--muted); font-style:italic; font-size:13px; }
.totals { display:grid; grid-template-columns:auto 1fr; gap:4px 14px; align-items:baseline; }
.totals dt { color:var(--muted); display:flex; align-items:center; gap:6px; }
.totals dd { margin:0; text-align:right; font-weight:650; font-variant-numeric:tabular-nums; }
.dot { width:10px; height:10px; border-radius:2px; display:inline-block; }
.dot.origin { background:var(--origin); } .dot.peer { background:var(--peer); } .dot.up { background:var(--up); } .dot.gw { background:#64748b; }
.stack { display:flex; height:12px; border-radius:6px; overflow:hidden; background:var(--miss); margin:12px 0 6px; }
.stack > div { height:100%; width:0; }
.stack .origin { background:var(--origin); } .stack .peer { background:var(--peer); }
.note { font-size:12px; color:var(--muted); }
#egress-chart { width:100%; height:auto; display:block; }
#egress-chart .grid { stroke:var(--line); stroke-width:1; }
#egress-chart .axis { fill:var(--muted); font:11px var(--font); }
#egress-chart .area { fill:rgba(37,99,235,.14); }
#egress-chart .line { fill:none; stroke:var(--origin); stroke-width:1.8; stroke-linejoin:round; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; font-size:11.5px; font-weight:650; color:var(--muted); text-transform:uppercase; letter-spacing:.4px;
  padding:6px 10px; border-bottom:1px solid var(--line); white-space:nowrap; }
td { padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:middle; }
tbody tr:last-child td { border-bottom:0; }
tbody tr:hover { background:#f8fafc; }
.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.id { font-family:var(--mono); font-size:12.5px; }
td.vid { color:var(--muted); max-width:180px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
tr.stale { opacity:.45; }
tr.stale td.id::after { content:" stale"; font-family:var(--font); font-size:11px; color:#b45309; }
.mode { display:inline-block; padding:2px 9px; border-radius:999px; color:#fff; background:var(--mode); font-size:12px; font-weight:600; }
.prog { display:flex; align-items:center; gap:8px; justify-content:flex-end; }
.prog .bar { width:64px; height:6px; border-radius:3px; background:var(--miss); overflow:hidden; }
.prog .bar > div { height:100%; background:var(--mode); width:0; }
svg.cm rect { fill:var(--miss); }
svg.cm rect.part { fill:var(--mode); opacity:.45; }
svg.cm rect.held { fill:var(--mode); }
.legend { display:flex; flex-wrap:wrap; gap:6px; text-transform:none; letter-spacing:0; font-weight:500; }
.legend .mode { font-size:11px; padding:1px 8px; }
.m-opening { --mode:#94a3b8; } .m-server { --mode:#2563eb; } .m-p2p { --mode:#059669; } .m-resumeServer { --mode:#7c3aed; }
.m-assembling { --mode:#d97706; } .m-complete { --mode:#475569; } .m-seeding { --mode:#0891b2; } .m-failed { --mode:#dc2626; }
.m-cancelled { --mode:#9ca3af; }
@media (max-width: 1100px) { main { grid-template-columns:1fr 1fr; } .card.chart { grid-column:1 / -1; } }
@media (max-width: 700px) { main { grid-template-columns:1fr; } }
`;
