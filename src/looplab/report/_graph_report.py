"""`looplab graph report`: one HTML file that opens offline, with every metric over iterations,
the degree distribution and its power-law fit, the paper's Table 1 beside ours, hubs, bridges, and
an interactive view of the graph coloured by community."""
from __future__ import annotations

import csv
import html
import json
import math
import random
from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np

from ..grow import COLUMNS, load_graphml
from ..grow._metrics import undirected_view
from ._svg import line_chart, loglog_chart

# Table 1 of the paper (graph after ~1000 iterations), for comparison.
PAPER = {"nodes": 3835, "edges": 11910, "mean_degree": 6.2, "avg_clustering": 0.136, "avg_shortest_path": 5.16,
         "diameter": 17, "modularity": 0.697, "powerlaw_alpha": 3.0, "powerlaw_xmin": 24, "powerlaw_llr": 15.7,
         "powerlaw_p": 0.025}
LABELS = {"nodes": "Nodes", "edges": "Edges", "mean_degree": "Mean degree", "avg_clustering": "Average clustering",
          "avg_shortest_path": "Average shortest path", "diameter": "Diameter", "modularity": "Modularity (Louvain)",
          "powerlaw_alpha": "Power-law α", "powerlaw_xmin": "Power-law x_min",
          "powerlaw_llr": "LLR power law vs exponential", "powerlaw_p": "p of the LLR"}

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:6px}
.chart text{font-size:10px;fill:#555}.chart .title{font-size:12px;fill:#222}
.grid{stroke:#eee}.line{fill:none;stroke:#2a6fdb;stroke-width:1.5}.dot{fill:#2a6fdb;opacity:.6}
.fit{fill:none;stroke:#d33;stroke-width:2}
#view{border:1px solid #ccc;width:100%;height:640px;cursor:grab}#info{min-height:40px;margin:6px 0}
"""

VIEWER = """
const data = JSON.parse(document.getElementById('graph-data').textContent);
const canvas = document.getElementById('view'), ctx = canvas.getContext('2d');
let scale = 1, ox = 0, oy = 0, match = null, chosen = null;
function colour(c) { return `hsl(${(c * 137.508) % 360},65%,50%)`; }
function fit() {
  canvas.width = canvas.clientWidth; canvas.height = canvas.clientHeight;
  scale = Math.min(canvas.width, canvas.height) / 2.2; ox = canvas.width / 2; oy = canvas.height / 2; draw();
}
function px(n) { return [ox + n.x * scale, oy + n.y * scale]; }
function draw() {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = 'rgba(120,120,120,0.18)'; ctx.lineWidth = 0.6; ctx.beginPath();
  for (const [a, b] of data.edges) { const p = px(data.nodes[a]), q = px(data.nodes[b]); ctx.moveTo(...p); ctx.lineTo(...q); }
  ctx.stroke();
  for (const n of data.nodes) {
    const [x, y] = px(n), hit = match && match.has(n.i);
    ctx.fillStyle = match && !hit ? 'rgba(200,200,200,0.5)' : colour(n.c);
    ctx.beginPath(); ctx.arc(x, y, (hit ? 3 : 1.5) + Math.sqrt(n.d), 0, 6.283); ctx.fill();
    if (hit || (scale > 800 && n.d > 2) || n.d > data.labelDegree) { ctx.fillStyle = '#111'; ctx.font = '11px sans-serif'; ctx.fillText(n.id, x + 4, y - 4); }
  }
}
function nearest(mx, my) {
  let best = null, dist = 1e9;
  for (const n of data.nodes) { const [x, y] = px(n), d = (x - mx) ** 2 + (y - my) ** 2; if (d < dist) { dist = d; best = n; } }
  return dist < 150 ? best : null;
}
let drag = null;
canvas.onmousedown = e => { drag = [e.offsetX, e.offsetY, ox, oy, false]; };
canvas.onmousemove = e => { if (drag) { ox = drag[2] + e.offsetX - drag[0]; oy = drag[3] + e.offsetY - drag[1]; drag[4] = true; draw(); } };
canvas.onmouseup = e => {
  if (drag && !drag[4]) {
    const n = nearest(e.offsetX, e.offsetY);
    if (n) {  // model-written names go in as text, never as markup
      const info = document.getElementById('info'), name = document.createElement('b'),
            relations = document.createElement('div');
      name.textContent = n.id;
      relations.textContent = n.r;
      info.replaceChildren(name, ` — degree ${n.d}, community ${n.c}` + (n.a ? `, also written: ${n.a}` : ''), relations);
    }
  }
  drag = null;
};
canvas.onwheel = e => { e.preventDefault(); const f = e.deltaY < 0 ? 1.2 : 1 / 1.2;
  ox = e.offsetX - (e.offsetX - ox) * f; oy = e.offsetY - (e.offsetY - oy) * f; scale *= f; draw(); };
document.getElementById('search').oninput = e => {
  const q = e.target.value.trim().toLowerCase();
  match = q ? new Set(data.nodes.filter(n => n.id.toLowerCase().includes(q) || n.a.toLowerCase().includes(q)).map(n => n.i)) : null;
  document.getElementById('found').textContent = match ? `${match.size} found` : '';
  draw();
};
window.onresize = fit; fit();
"""


def _clip(text: str, limit: int = 600) -> str:
    """At most `limit` characters, cut at a word boundary."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _read_metrics(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: (float(v) if v else math.nan) for k, v in row.items()} for row in csv.DictReader(f)]


def _degree_chart(view: nx.Graph, final: dict) -> str:
    degrees = np.array([d for _, d in view.degree() if d > 0])
    if not len(degrees):
        return ""
    values = np.unique(degrees)
    ccdf = [(int(v), float((degrees >= v).mean())) for v in values]
    series = [("degree", ccdf, "dots")]
    alpha, xmin = final.get("powerlaw_alpha"), final.get("powerlaw_xmin")
    if alpha and xmin and not math.isnan(alpha) and not math.isnan(xmin):
        at_xmin = float((degrees >= xmin).mean())
        xs = np.geomspace(xmin, degrees.max(), 30)
        series.append(("fit", [(float(x), at_xmin * (x / xmin) ** (1 - alpha)) for x in xs], "line"))
    return loglog_chart(f"Degree distribution (CCDF); power-law fit α={_number(alpha)}, x_min={_number(xmin)}",
                        series, x_label="degree k", y_label="P(K ≥ k)")


def _layout(view: nx.Graph, seed: int = 0) -> dict:
    names = list(view)
    index = {n: i for i, n in enumerate(names)}
    g = ig.Graph(n=len(names), edges=[(index[u], index[v]) for u, v in view.edges])
    ig.set_random_number_generator(random.Random(seed))
    try:
        coords = np.array(g.layout_fruchterman_reingold(niter=300).coords) if len(names) > 1 else np.zeros((1, 2))
    finally:
        ig.set_random_number_generator(random)
    coords -= coords.mean(axis=0)
    coords /= max(np.abs(coords).max(), 1e-9)
    return {n: coords[i] for i, n in enumerate(names)}


def graph_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    graph = load_graphml(run_dir / "graph.graphml")
    rows = _read_metrics(run_dir / "metrics.csv")
    final = rows[-1] if rows else {}
    summary_file = run_dir / "grow_summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    view = undirected_view(graph)
    community = dict(graph.nodes(data="community", default=0))
    degree = dict(view.degree())
    spread = {n: len({community[m] for m in view[n]}) for n in view}

    table = "".join(f"<tr><td>{LABELS[k]}</td><td>{_number(final.get(k))}</td><td>{_number(PAPER[k])}</td></tr>"
                    for k in PAPER)
    xs = [r["iteration"] for r in rows]
    charts = "".join(line_chart(c, xs, [r[c] for r in rows]) for c in COLUMNS if c != "iteration")
    hubs = sorted(view, key=lambda n: (-degree[n], n))[:15]
    bridges = sorted((n for n in view if spread[n] > 1), key=lambda n: (-spread[n], -degree[n], n))[:15]

    def node_rows(nodes, extra):
        return "".join(f"<tr><td>{html.escape(n)}</td><td>{degree[n]}</td><td>{community[n]}</td>"
                       f"<td>{extra(n)}</td><td>{graph.nodes[n].get('first_iteration', '')}</td></tr>" for n in nodes)

    positions = _layout(view)
    ids = {n: i for i, n in enumerate(view)}
    nodes_json = [{"i": ids[n], "id": n, "x": round(float(positions[n][0]), 4), "y": round(float(positions[n][1]), 4),
                   "c": int(community[n]), "d": degree[n], "a": graph.nodes[n].get("aliases", ""),
                   "r": _clip("; ".join(f"{d.get('relation', '')} → {v}" for _, v, d in graph.out_edges(n, data=True)))}
                  for n in view]
    label_degree = sorted(degree.values())[-min(25, len(degree))] if degree else 0
    data = json.dumps({"nodes": nodes_json, "edges": [[ids[u], ids[v]] for u, v in view.edges],
                       "labelDegree": label_degree})
    # Inside <script>, no model-written string may read as markup.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    question = html.escape(str(summary.get("question", "")))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>looplab graph report</title>
<style>{STYLE}</style></head><body>
<h1>Knowledge graph grown by looplab</h1>
<p>{question} {len(rows)} iterations recorded; {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges.
First-try parse rate {_number(summary.get('first_try_parse_rate'))}; {_number(summary.get('seconds_per_iteration'))} s per iteration.</p>
<h2>The final graph beside the paper's (Table 1, after ~1000 iterations)</h2>
<table><tr><th>metric</th><th>this run</th><th>paper</th></tr>{table}</table>
<h2>Degree distribution</h2>{_degree_chart(view, final)}
<h2>Every metric over iterations</h2><div class="charts">{charts}</div>
<h2>Top hubs</h2><table><tr><th>concept</th><th>degree</th><th>community</th><th>neighbour communities</th><th>first iteration</th></tr>
{node_rows(hubs, lambda n: spread[n])}</table>
<h2>Bridge nodes (neighbours in more than one community)</h2><table><tr><th>concept</th><th>degree</th><th>community</th><th>neighbour communities</th><th>first iteration</th></tr>
{node_rows(bridges, lambda n: spread[n])}</table>
<h2>The graph</h2><p>Coloured by Louvain community; drag to pan, scroll to zoom, click a node for its relations.
<input id="search" placeholder="search concepts" size="30"> <span id="found"></span></p>
<div id="info"></div><canvas id="view"></canvas>
<script type="application/json" id="graph-data">{data}</script>
<script>{VIEWER}</script></body></html>"""
    out = run_dir / "report.html"
    out.write_text(page)
    return out
