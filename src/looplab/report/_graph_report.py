"""`looplab graph report`: one HTML file that opens offline, with every metric over iterations,
the degree distribution and its power-law fit, the paper's Table 1 beside ours, hubs, bridges, and
an interactive view of the graph coloured by community."""
from __future__ import annotations

import csv
import html
import json
import math
import random
from collections import Counter
from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np

from ..grow import COLUMNS, load_graphml
from ..grow._metrics import undirected_view
from ._csp import csp_meta
from ._svg import line_chart, loglog_chart

# Table 1 of the paper (graph after ~1000 iterations), for comparison.
MAX_LEGEND = 12  # communities named in the legend, largest first
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
#view{border:1px solid #ccc;width:100%;height:720px}#info{min-height:40px;margin:6px 0}
#info ul{max-height:160px;overflow:auto;margin:4px 0}#legend i{display:inline-block;width:10px;height:10px;border-radius:5px}
#found button{margin:2px;font:inherit;font-size:12px}
"""

# The viewer draws with sigma.js (WebGL) on a graphology graph, bundled in the package so the page works
# offline: thousands of nodes pan and zoom at interactive rates, and labels are placed by sigma's grid so they
# do not collide (the biggest nodes first, more as one zooms in).
VENDOR = Path(__file__).parent / "vendor" / "sigma-graphology.min.js"

VIEWER = r"""
const data = JSON.parse(document.getElementById('graph-data').textContent);
const graph = new Graph({type: 'undirected'});
function colour(c) {  // a hue per community, as hex: sigma's WebGL programs read hex and rgb, not hsl
  const h = (c * 137.508) % 360 / 360, s = 0.65, l = 0.48;
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s, p = 2 * l - q;
  const channel = t => { t = (t + 1) % 1;
    const v = t < 1 / 6 ? p + (q - p) * 6 * t : t < 1 / 2 ? q : t < 2 / 3 ? p + (q - p) * (2 / 3 - t) * 6 : p;
    return Math.round(v * 255).toString(16).padStart(2, '0'); };
  return '#' + channel(h + 1 / 3) + channel(h) + channel(h - 1 / 3);
}
data.nodes.forEach(n => graph.addNode(String(n.i), {x: n.x, y: -n.y, size: 1.5 + Math.sqrt(n.d), label: n.id,
  color: colour(n.c), community: n.c, first: n.f}));
data.edges.forEach(([a, b]) => { if (!graph.hasEdge(String(a), String(b))) graph.addEdge(String(a), String(b), {size: 0.6}); });
let focus = null, until = data.lastIteration;
const renderer = new Sigma(graph, document.getElementById('view'), {
  // A small graph shows every label the grid has room for; a big one only those of nodes drawn large enough.
  defaultEdgeColor: '#c9c9c9', labelDensity: 0.3, labelGridCellSize: 120,
  labelRenderedSizeThreshold: data.nodes.length <= 300 ? 0 : 7,
  labelFont: 'system-ui, sans-serif', zIndex: true,
  defaultDrawNodeLabel(context, node, settings) {
    // sigma draws a label right of its node; one that would run past the canvas's right edge goes on the
    // node's left instead, so no label is cut at the edge
    if (!node.label) return;
    context.font = `${settings.labelWeight} ${settings.labelSize}px ${settings.labelFont}`;
    context.fillStyle = '#000';
    const width = context.measureText(node.label).width, room = context.canvas.width / (window.devicePixelRatio || 1);
    const right = node.x + node.size + 3;
    context.fillText(node.label, right + width > room ? Math.max(0, node.x - node.size - 3 - width) : right,
                     node.y + settings.labelSize / 3);
  },
  hideEdgesOnMove: data.edges.length > 5000,  // a big graph drags smoothly without its edges (half the drawing)
  nodeReducer(node, attrs) {
    const out = {...attrs};
    if (attrs.first > until) out.hidden = true;
    if (focus !== null && node !== focus && !graph.areNeighbors(node, focus)) { out.color = '#e2e2e2'; out.label = ''; out.zIndex = 0; }
    else if (focus !== null) { out.zIndex = 1; out.forceLabel = true; }
    return out;
  },
  edgeReducer(edge, attrs) {
    const out = {...attrs}, [a, b] = graph.extremities(edge);
    if (graph.getNodeAttribute(a, 'first') > until || graph.getNodeAttribute(b, 'first') > until) out.hidden = true;
    if (focus !== null) { if (a === focus || b === focus) { out.color = '#555'; out.size = 1.2; } else out.hidden = true; }
    return out;
  },
});
function show(node) {  // model-written names and relations go in as text, never as markup
  const info = document.getElementById('info');
  if (node === null) { info.replaceChildren('Click a concept for its relations; hover to see its neighbours.'); return; }
  const n = data.nodes[+node], name = document.createElement('b'), list = document.createElement('ul');
  name.textContent = n.id;
  for (const [relation, other] of n.r) { const li = document.createElement('li'); li.textContent = `${relation} → ${other}`; list.append(li); }
  info.replaceChildren(name, ` · degree ${n.d} · community ${n.c} · first seen in iteration ${n.f}` +
    (n.a ? ` · also written: ${n.a}` : ''), list);
}
let chosen = null;
renderer.on('enterNode', ({node}) => { focus = node; renderer.refresh(); });
renderer.on('leaveNode', () => { focus = chosen; renderer.refresh(); });
renderer.on('clickNode', ({node}) => { chosen = focus = node; show(node); renderer.refresh(); });
renderer.on('clickStage', () => { chosen = focus = null; show(null); renderer.refresh(); });
function goTo(node) {
  chosen = focus = node; show(node); renderer.refresh();
  const at = renderer.getNodeDisplayData(node);
  renderer.getCamera().animate({x: at.x, y: at.y, ratio: 0.25}, {duration: 400});
}
const search = document.getElementById('search'), found = document.getElementById('found');
search.addEventListener('input', () => {
  const q = search.value.trim().toLowerCase();
  const hits = q ? data.nodes.filter(n => n.id.toLowerCase().includes(q) || n.a.toLowerCase().includes(q)) : [];
  found.replaceChildren(q ? `${hits.length} found ` : '', ...hits.slice(0, 12).map(n => {
    const b = document.createElement('button'); b.textContent = n.id; b.addEventListener('click', () => goTo(String(n.i))); return b;
  }));
});
const slider = document.getElementById('until'), shown = document.getElementById('until-label');
slider.max = data.lastIteration;  // the range first: a value above the default maximum would be clipped
slider.value = data.lastIteration;
slider.addEventListener('input', () => {
  until = +slider.value;
  const visible = data.nodes.filter(n => n.f <= until).length;
  shown.textContent = `up to iteration ${until}: ${visible} of ${data.nodes.length} concepts`;
  renderer.refresh();
});
slider.dispatchEvent(new Event('input'));
const legend = document.getElementById('legend');
for (const [c, count] of data.communities) {
  const item = document.createElement('span'), swatch = document.createElement('i');
  swatch.style.background = colour(c); item.append(swatch, ` ${c} (${count}) `); legend.append(item);
}
show(null);
window.graphRenderer = renderer;  // for tests and benchmarks
"""


# Columns that say how a row was measured (the sampled sources' span, the iteration of the last power-law fit),
# not how the network grew: in metrics.csv, not charted.
NOT_CHARTED = {"iteration", "sampled_from", "powerlaw_fitted_at"}
# Each metric's chart title in words (any other column: its name with spaces).
CHART_TITLES = {"mean_degree": "mean degree", "self_loops": "self-loops", "avg_clustering": "mean clustering",
                "assortativity": "degree assortativity", "avg_shortest_path": "mean shortest path",
                "communities": "Louvain communities", "modularity": "Louvain modularity",
                "powerlaw_alpha": "power-law α", "powerlaw_xmin": "power-law x_min",
                "powerlaw_llr": "power law vs exponential: log-likelihood ratio", "powerlaw_p": "p of that ratio",
                "max_betweenness": "largest betweenness", "max_kcore": "largest k-core",
                "articulation_points": "articulation points", "bridge_nodes": "bridge nodes",
                "new_hubs": "new hubs", "newly_connected_pairs": "newly connected pairs",
                "merges": "names merged into a concept", "reused": "concepts reused", "parse_failures":
                "unreadable extractions", "truncated": "replies cut at the token limit",
                "topic_similarity": "new concepts' cosine with the topic"}


def _share_words(value) -> str:
    """A share as a sentence's start: "86%" (or "None" when unknown).

    >>> _share_words(0.857), _share_words(None)
    ('86%', 'None')
    """
    return "None" if value is None else f"{100 * value:.0f}%"


def _count_words(value, one: str, many: str) -> str:
    """ "1 reply was", "3 replies were", "no reply was".

    >>> _count_words(1, "reply was", "replies were"), _count_words(0, "reply was", "replies were")
    ('1 reply was', 'no reply was')
    """
    value = int(value or 0)
    return f"no {one}" if value == 0 else f"1 {one}" if value == 1 else f"{value} {many}"


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
    charts = "".join(line_chart(CHART_TITLES.get(c, c.replace("_", " ")), xs, [r[c] for r in rows])
                     for c in COLUMNS if c not in NOT_CHARTED)
    hubs = sorted(view, key=lambda n: (-degree[n], n))[:15]
    bridges = sorted((n for n in view if spread[n] > 1), key=lambda n: (-spread[n], -degree[n], n))[:15]

    def node_rows(nodes, extra):
        return "".join(f"<tr><td>{html.escape(n)}</td><td>{degree[n]}</td><td>{community[n]}</td>"
                       f"<td>{extra(n)}</td><td>{graph.nodes[n].get('first_iteration', '')}</td></tr>" for n in nodes)

    positions = _layout(view)
    ids = {n: i for i, n in enumerate(view)}
    first = {n: int(graph.nodes[n].get("first_iteration") or 0) for n in view}
    nodes_json = [{"i": ids[n], "id": n, "x": round(float(positions[n][0]), 4), "y": round(float(positions[n][1]), 4),
                   "c": int(community[n]), "d": degree[n], "a": graph.nodes[n].get("aliases", ""), "f": first[n],
                   "r": [[d.get("relation", ""), v] for _, v, d in graph.out_edges(n, data=True)]
                   + [[f"← {d.get('relation', '')}", u] for u, _, d in graph.in_edges(n, data=True)]}
                  for n in view]
    sizes = Counter(community[n] for n in view).most_common(MAX_LEGEND)
    data = json.dumps({"nodes": nodes_json, "edges": [[ids[u], ids[v]] for u, v in view.edges],
                       "communities": sizes,
                       # the slider runs over every iteration, also those that added no concept in view
                       "lastIteration": int(max([*xs, *first.values()], default=0))})
    # Inside <script>, no model-written string may read as markup.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    question = html.escape(str(summary.get("question", "")))
    vendor = VENDOR.read_text()
    page = f"""<!doctype html><html><head><meta charset="utf-8">{csp_meta(vendor, VIEWER)}<title>looplab graph report</title>
<style>{STYLE}</style></head><body>
<h1>Knowledge graph grown by looplab</h1>
<p>Grown from the question "{question}" over {len(rows)} iterations: {graph.number_of_nodes()} concepts and
{graph.number_of_edges()} relations. {_share_words(summary.get('first_try_parse_rate'))} of the model's graphs
could be read at the first try, {_count_words(summary.get('truncated_replies'), 'reply was', 'replies were')} cut at
the token limit, and an iteration took {_number(summary.get('seconds_per_iteration'))} s.</p>
<h2>The final graph beside the paper's</h2>
<p>The paper is Buehler, "Agentic Deep Graph Reasoning Yields Self-Organizing Knowledge Networks" (2025); its
Table 1 gives its graph after about 1,000 iterations.</p>
<table><tr><th>metric</th><th>this run</th><th>paper</th></tr>{table}</table>
<h2>Degree distribution</h2>{_degree_chart(view, final)}
<h2>Every metric over iterations</h2><div class="charts">{charts}</div>
<h2>Top hubs</h2><table><tr><th>concept</th><th>degree</th><th>community</th><th>neighbour communities</th><th>first iteration</th></tr>
{node_rows(hubs, lambda n: spread[n])}</table>
<h2>Bridge nodes (neighbours in more than one community)</h2><table><tr><th>concept</th><th>degree</th><th>community</th><th>neighbour communities</th><th>first iteration</th></tr>
{node_rows(bridges, lambda n: spread[n])}</table>
<h2>The graph</h2><p>Coloured by Louvain community (the largest: <span id="legend"></span>); drag to pan, scroll
to zoom; labels show by size and zoom.</p>
<p><input id="search" placeholder="search concepts" size="30"> <span id="found"></span></p>
<p><input id="until" type="range" min="0" step="1"> <span id="until-label"></span></p>
<div id="info"></div><div id="view"></div>
<script type="application/json" id="graph-data">{data}</script>
<script>{vendor}</script>
<script>{VIEWER}</script></body></html>"""
    out = run_dir / "report.html"
    out.write_text(page)
    return out
