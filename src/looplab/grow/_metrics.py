"""Network metrics of the growing graph, one row per iteration.

All metrics read the undirected simple view (self-loops dropped) except `edges` and `self_loops`.
Path metrics use the largest connected component. Exact up to EXACT_LIMIT nodes; above it,
path lengths come from PATH_SOURCES breadth-first searches from seeded random sources (every
reachable target of each: tens of thousands of pairs, more than the paper's 1000), the diameter
is the largest distance those searches and a double sweep find (a lower bound, usually exact on
such graphs), and betweenness is estimated from BETWEENNESS_SOURCES seeded sources, scaled as
networkx does for its `k`. Communities are Louvain (igraph's multilevel) with a fixed seed.
"""
from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass, field

import igraph as ig
import networkx as nx
import numpy as np

COLUMNS = ["iteration", "nodes", "edges", "mean_degree", "self_loops", "density", "avg_clustering",
           "transitivity", "assortativity", "avg_shortest_path", "diameter", "modularity", "communities",
           "powerlaw_alpha", "powerlaw_xmin", "powerlaw_llr", "powerlaw_p", "max_betweenness", "max_kcore",
           "articulation_points", "bridge_nodes", "new_hubs", "newly_connected_pairs", "merges", "reused",
           "parse_failures", "truncated", "topic_similarity"]
EXACT_LIMIT = 1000
PATH_SOURCES = 64
BETWEENNESS_SOURCES = 256
HUB_DEGREE = 5


@dataclass
class GrowthState:
    """What the next row needs from the graph before it: to count new hubs and newly connected pairs."""

    hubs: set = field(default_factory=set)
    nodes: set = field(default_factory=set)
    connected_pairs: int = 0


def undirected_view(graph: nx.DiGraph) -> nx.Graph:
    view = nx.Graph(graph)
    view.remove_edges_from(list(nx.selfloop_edges(view)))
    return view


def _to_igraph(view: nx.Graph) -> tuple[ig.Graph, list]:
    names = list(view.nodes)
    index = {n: i for i, n in enumerate(names)}
    return ig.Graph(n=len(names), edges=[(index[u], index[v]) for u, v in view.edges]), names


def louvain(g: ig.Graph, seed: int) -> list[int]:
    if g.ecount() == 0:
        return list(range(g.vcount()))
    ig.set_random_number_generator(random.Random(seed))
    try:
        return g.community_multilevel().membership
    finally:
        ig.set_random_number_generator(random)


def communities(graph: nx.DiGraph, seed: int = 0) -> dict:
    """Each node's Louvain community, as `measure` computes it."""
    g, names = _to_igraph(undirected_view(graph))
    return dict(zip(names, louvain(g, seed)))


def _path_metrics(lcc: ig.Graph, seed: int) -> tuple[float, int]:
    n = lcc.vcount()
    if n < 2:
        return math.nan, 0
    if n <= EXACT_LIMIT:
        return lcc.average_path_length(directed=False), lcc.diameter(directed=False)
    sources = random.Random(seed).sample(range(n), PATH_SOURCES)
    dist = np.array(lcc.distances(source=sources), dtype=float)
    mean = dist[dist > 0].mean()
    far = int(np.unravel_index(np.argmax(dist), dist.shape)[1])
    sweep = max(lcc.distances(source=[far])[0])  # double sweep from the farthest node found
    return float(mean), int(max(dist.max(), sweep))


def _max_betweenness(g: ig.Graph, seed: int) -> float:
    n = g.vcount()
    if n < 3:
        return 0.0
    if n <= EXACT_LIMIT:
        raw = g.betweenness(directed=False)
    else:
        sources = random.Random(seed).sample(range(n), BETWEENNESS_SOURCES)
        raw = [b * n / BETWEENNESS_SOURCES for b in g.betweenness(directed=False, sources=sources)]
    return max(raw) * 2 / ((n - 1) * (n - 2))


def _power_law(degrees: list[int]) -> tuple[float, float, float, float]:
    import powerlaw

    positive = [d for d in degrees if d > 0]
    if len(positive) < 10 or len(set(positive)) < 3:
        return math.nan, math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                fit = powerlaw.Fit(positive, discrete=True, verbose=False)
                llr, p = fit.distribution_compare("power_law", "exponential", normalized_ratio=False)
            except (ValueError, ZeroDivisionError, FloatingPointError):  # too few points above x_min
                return math.nan, math.nan, math.nan, math.nan
    return float(fit.power_law.alpha), float(fit.power_law.xmin), float(llr), float(p)


def measure(graph: nx.DiGraph, iteration: int, before: GrowthState, *, merges: int = 0, reused: int = 0,
            parse_failures: int = 0, truncated: int = 0, topic_similarity: float = math.nan,
            seed: int = 0) -> tuple[dict, GrowthState, dict]:
    """The metrics row for `graph`, the state the next iteration compares against, and each
    node's community (saved with the graph so a reader can recompute modularity)."""
    view = undirected_view(graph)
    g, names = _to_igraph(view)
    n = g.vcount()
    components = g.connected_components()
    lcc = components.giant() if n else g
    membership = louvain(g, seed)
    community = dict(zip(names, membership))
    degrees = g.degree()
    bridge_nodes = sum(1 for v in range(n) if len({membership[u] for u in g.neighbors(v)}) > 1)
    hubs = {names[v] for v in range(n) if degrees[v] > HUB_DEGREE}
    old = before.nodes
    pairs_among_old = sum(math.comb(sum(1 for v in c if names[v] in old), 2) for c in components)
    avg_path, diameter = _path_metrics(lcc, seed)
    alpha, xmin, llr, p = _power_law(degrees)
    assortativity = g.assortativity_degree(directed=False) if g.ecount() else math.nan
    row = {
        "iteration": iteration, "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
        "mean_degree": 2 * graph.number_of_edges() / n if n else 0.0,
        "self_loops": nx.number_of_selfloops(graph), "density": nx.density(view),
        "avg_clustering": g.transitivity_avglocal_undirected(mode="zero") if n else 0.0,
        "transitivity": g.transitivity_undirected() if n else 0.0,
        "assortativity": assortativity, "avg_shortest_path": avg_path, "diameter": diameter,
        "modularity": g.modularity(membership) if g.ecount() else 0.0, "communities": len(set(membership)),
        "powerlaw_alpha": alpha, "powerlaw_xmin": xmin, "powerlaw_llr": llr, "powerlaw_p": p,
        "max_betweenness": _max_betweenness(g, seed), "max_kcore": max(g.coreness(), default=0),
        "articulation_points": len(g.articulation_points()), "bridge_nodes": bridge_nodes,
        "new_hubs": len(hubs - before.hubs), "newly_connected_pairs": pairs_among_old - before.connected_pairs,
        "merges": merges, "reused": reused, "parse_failures": parse_failures, "truncated": truncated,
        "topic_similarity": topic_similarity,
    }
    after = GrowthState(hubs, set(names), sum(math.comb(len(c), 2) for c in components))
    return row, after, community


def state_of(graph: nx.DiGraph) -> GrowthState:
    """The GrowthState of a graph, for resuming without re-measuring every iteration."""
    view = undirected_view(graph)
    return GrowthState({v for v, d in view.degree() if d > HUB_DEGREE}, set(view.nodes),
                       sum(math.comb(len(c), 2) for c in nx.connected_components(view)))
