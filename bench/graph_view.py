"""The graph viewer at the paper's scale: `looplab graph report` on a synthetic graph of 4,000 concepts and
about 12,000 relations (preferential attachment, as grown graphs are), opened in headless Chromium at 1400 x 900:
the page's load time, and frames per second while the camera pans and zooms, against the same on a
100-node graph measured in the same run. Chromium runs without a GPU here (software WebGL), so these are
floors for a desktop browser.
"""
import asyncio
import csv
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx

from looplab.grow import COLUMNS
from looplab.report import graph_report
from looplab.report._browser import CHROMIUM, browse

PAN = """(async () => {
  const camera = window.graphRenderer.getCamera(), start = performance.now();
  let frames = 0;
  await new Promise(done => {
    function frame(t) {
      frames++;
      camera.setState({x: 0.5 + 0.25 * Math.sin(t / 400), y: 0.5 + 0.25 * Math.cos(t / 500),
                       ratio: 0.6 + 0.4 * Math.sin(t / 700)});
      if (t - start < %d) requestAnimationFrame(frame); else done();
    }
    requestAnimationFrame(frame);
  });
  return frames / ((performance.now() - start) / 1000);
})()"""


def synthetic_run(run_dir: Path, nodes: int, seed: int = 0) -> None:
    """A grow run directory holding a graph like a grown one: names, relations, communities, iterations."""
    undirected = nx.barabasi_albert_graph(nodes, 3, seed=seed)
    communities = nx.community.louvain_communities(undirected, seed=seed)
    graph = nx.DiGraph()
    for community, members in enumerate(communities):
        for n in members:
            graph.add_node(f"concept {n}", community=community, first_iteration=1 + n // 4, aliases="")
    for u, v in undirected.edges:
        graph.add_edge(f"concept {u}", f"concept {v}", relation="relates to")
    run_dir.mkdir(parents=True)
    nx.write_graphml(graph, run_dir / "graph.graphml")
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for iteration in (1, 2):
            writer.writerow({c: iteration if c == "iteration" else 0 for c in COLUMNS})


def measure(report: Path, seconds: float) -> tuple[float, float]:
    async def scenario(page):
        start = time.perf_counter()
        await page.open(report.as_uri())
        await page.wait_for("window.graphRenderer !== undefined", 60)
        loaded = time.perf_counter() - start
        fps = await page.js(PAN % int(seconds * 1000))
        if page.errors:
            raise RuntimeError(f"the page reported errors: {page.errors}")
        return loaded, fps
    return asyncio.run(browse(scenario))


def main(tiny: bool) -> None:
    if CHROMIUM is None:
        raise SystemExit("needs Debian's chromium (make setup installs it)")
    big, seconds = (400, 1.0) if tiny else (4000, 5.0)
    with tempfile.TemporaryDirectory() as tmp:
        figures = {}
        for nodes in (100, big):
            run_dir = Path(tmp) / str(nodes)
            synthetic_run(run_dir, nodes)
            start = time.perf_counter()
            report = graph_report(run_dir)
            built = time.perf_counter() - start
            edges = nx.read_graphml(run_dir / "graph.graphml").number_of_edges()
            loaded, fps = measure(report, seconds)
            figures[nodes] = fps
            print(f"{nodes:>5} nodes, {edges:>6} edges: report built in {built:5.1f} s "
                  f"({report.stat().st_size / 1e6:.1f} MB), page ready in {loaded:4.1f} s, {fps:5.1f} frames/s panning")
    print(f"frames per second at {big} nodes against 100 nodes: {figures[big] / figures[100]:.2f}x")


if __name__ == "__main__":
    main("--tiny" in sys.argv)  # --tiny: a quick run that only checks the script works
