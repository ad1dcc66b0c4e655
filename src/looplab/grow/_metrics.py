"""Network metrics of the growing graph, one row per iteration.

All metrics read the undirected simple view (self-loops dropped) except `edges` and `self_loops`.
Path metrics use the largest connected component. Exact up to EXACT_LIMIT nodes; above it,
path lengths come from PATH_SOURCES breadth-first searches from seeded random sources (every
reachable target of each: tens of thousands of pairs, more than the paper's 1000), the diameter
is the largest distance those searches and a double sweep find (a lower bound, usually exact on
such graphs), and betweenness is estimated from BETWEENNESS_SOURCES seeded sources, scaled as
networkx does for its `k`. Communities are Louvain (igraph's multilevel) with a fixed seed.

Above LARGE_LIMIT nodes (ten times the paper's graph is about 40k) three things change, so an iteration
stays near a second: communities are updated from the previous iteration's partition (Leiden on the
modularity objective, one pass an iteration, new nodes starting alone) instead of found from scratch; the
path and betweenness samples are spread over the last WINDOW iterations, each drawing 1/WINDOW of the
sources on its own graph (the column `sampled_from` names the window's first iteration; a graph grows by a
few dozen edges an iteration, so the window's graphs differ by well under 1%); and the power-law fit, which
does not add up that way, is refit every WINDOW iterations (`powerlaw_fitted_at`) on a seeded sample of
POWERLAW_SAMPLE degrees, the paper graph's size. Below it every metric is computed on the iteration's own
graph, as before.
"""
from __future__ import annotations

import math
import random
import warnings
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

import igraph as ig
import networkx as nx
import numpy as np

COLUMNS = ["iteration", "nodes", "edges", "mean_degree", "self_loops", "density", "avg_clustering",
           "transitivity", "assortativity", "avg_shortest_path", "diameter", "modularity", "communities",
           "powerlaw_alpha", "powerlaw_xmin", "powerlaw_llr", "powerlaw_p", "max_betweenness", "max_kcore",
           "articulation_points", "bridge_nodes", "new_hubs", "newly_connected_pairs", "merges", "reused",
           "parse_failures", "truncated", "topic_similarity", "sampled_from", "powerlaw_fitted_at"]
EXACT_LIMIT = 1000
PATH_SOURCES = 64
BETWEENNESS_SOURCES = 256
HUB_DEGREE = 5
LARGE_LIMIT = 10_000
WINDOW = 16
POWERLAW_SAMPLE = 4000


@dataclass
class Sample:
    """One iteration's share of the sampled metrics on a large graph: betweenness summed over its sources
    (a node's index is its place in the graph's insertion order, which only grows), and its distances."""

    iteration: int
    betweenness: np.ndarray
    distance_sum: float
    pairs: int
    farthest: int       # the largest distance found, a double sweep included


@dataclass
class GrowthState:
    """What the next row needs from the graph before it: to count new hubs and newly connected pairs and,
    on a large graph, the partition to update, the window of samples and the last power-law fit."""

    hubs: set = field(default_factory=set)
    nodes: set = field(default_factory=set)
    connected_pairs: int = 0
    community: dict = field(default_factory=dict)
    samples: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    powerlaw: tuple = ()  # (iteration, alpha, xmin, llr, p)


def undirected_view(graph: nx.DiGraph) -> nx.Graph:
    view = nx.Graph(graph)
    view.remove_edges_from(list(nx.selfloop_edges(view)))
    return view


def simple_igraph(graph: nx.DiGraph) -> tuple[ig.Graph, list]:
    """The undirected simple graph (self-loops and repeated pairs dropped) of `graph`, built straight from
    its edges: no networkx copy. Vertex i is the graph's i-th node."""
    names = list(graph)
    index = {n: i for i, n in enumerate(names)}
    g = ig.Graph(n=len(names), edges=[(index[u], index[v]) for u, v in graph.edges if u != v])
    g.simplify(multiple=True, loops=True)
    return g, names


@contextmanager
def _seeded_igraph(seed: int):
    """igraph's random choices drawn from `seed` (it keeps one generator for the process), restored after."""
    ig.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        ig.set_random_number_generator(random)


def louvain(g: ig.Graph, seed: int) -> list[int]:
    if g.ecount() == 0:
        return list(range(g.vcount()))
    with _seeded_igraph(seed):
        return g.community_multilevel().membership


def updated_partition(g: ig.Graph, names: list, previous: dict, seed: int) -> list[int]:
    """The previous iteration's communities improved for this graph (its new nodes start alone)."""
    ids: dict = {}
    initial = [ids.setdefault(("old", previous[n]) if n in previous else ("new", n), len(ids)) for n in names]
    with _seeded_igraph(seed):
        return g.community_leiden(objective_function="modularity", initial_membership=initial,
                                  n_iterations=1).membership


def communities(graph: nx.DiGraph, seed: int = 0) -> dict:
    """Each node's Louvain community, as `measure` computes it from scratch."""
    g, names = simple_igraph(graph)
    return dict(zip(names, louvain(g, seed)))


def sample(g: ig.Graph, iteration: int, seed: int, lcc: ig.Graph | None = None) -> Sample:
    """This iteration's share of the path and betweenness sources, drawn from the iteration's own seed."""
    n = g.vcount()
    rng = random.Random(seed * 1_000_003 + iteration)
    sources = rng.sample(range(n), min(n, BETWEENNESS_SOURCES // WINDOW))
    betweenness = np.array(g.betweenness(directed=False, sources=sources))
    if lcc is None:
        lcc = g.connected_components().giant()
    dist, farthest = _distances(lcc, rng.sample(range(lcc.vcount()), min(lcc.vcount(), PATH_SOURCES // WINDOW)))
    return Sample(iteration, betweenness, float(dist.sum()), int((dist > 0).sum()), farthest)


def _distances(lcc: ig.Graph, sources: list[int]) -> tuple[np.ndarray, int]:
    """Distances from `sources` in a connected graph, and the largest distance they and a double sweep (from
    the farthest node they reach) find."""
    dist = np.array(lcc.distances(source=sources), dtype=float)
    far = int(np.unravel_index(np.argmax(dist), dist.shape)[1])
    return dist, int(max(dist.max(), max(lcc.distances(source=[far])[0])))


def _windowed(samples: deque, n: int) -> tuple[float, int, float]:
    """Mean path length, diameter and the largest normalized betweenness over the window's samples."""
    total = np.zeros(n)
    for s in samples:
        total[:len(s.betweenness)] += s.betweenness
    sources = sum(min(len(s.betweenness), BETWEENNESS_SOURCES // WINDOW) for s in samples)
    top = float(total.max()) * n / sources * 2 / ((n - 1) * (n - 2))
    pairs = sum(s.pairs for s in samples)
    return sum(s.distance_sum for s in samples) / pairs, max(s.farthest for s in samples), top


def _path_metrics(lcc: ig.Graph, seed: int) -> tuple[float, int]:
    n = lcc.vcount()
    if n < 2:
        return math.nan, 0
    if n <= EXACT_LIMIT:
        return lcc.average_path_length(directed=False), lcc.diameter(directed=False)
    dist, farthest = _distances(lcc, random.Random(seed).sample(range(n), PATH_SOURCES))
    return float(dist[dist > 0].mean()), farthest


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
            seed: int = 0, timings: dict | None = None) -> tuple[dict, GrowthState, dict]:
    """The metrics row for `graph`, the state the next iteration compares against, and each
    node's community (saved with the graph so a reader can recompute modularity). `timings`, when
    given, receives the seconds each part took."""
    clock = _Clock(timings)
    g, names = simple_igraph(graph)
    n = g.vcount()
    large = n > LARGE_LIMIT
    clock("graph")
    components = g.connected_components()
    lcc = components.giant() if n else g
    membership = updated_partition(g, names, before.community, seed) if large and before.community \
        else louvain(g, seed)
    community = dict(zip(names, membership))
    clock("communities")
    degrees = g.degree()
    bridge_nodes = _bridge_nodes(g, membership)
    hubs = {names[v] for v in np.flatnonzero(np.array(degrees) > HUB_DEGREE)}
    old = np.fromiter((name in before.nodes for name in names), dtype=bool, count=n)
    per_component = np.bincount(np.array(components.membership, dtype=np.int64), weights=old,
                                minlength=len(components)) if n else np.zeros(0)
    pairs_among_old = int(sum(math.comb(int(k), 2) for k in per_component))
    clock("hubs, bridges, pairs")
    samples = deque(before.samples, maxlen=WINDOW)
    if large:
        samples.append(sample(g, iteration, seed, lcc))
        avg_path, diameter, max_betweenness = _windowed(samples, n)
        sampled_from = samples[0].iteration
    else:
        samples.clear()
        avg_path, diameter = _path_metrics(lcc, seed)
        max_betweenness, sampled_from = _max_betweenness(g, seed), iteration
    clock("paths, betweenness")
    powerlaw = before.powerlaw
    if not large:
        powerlaw = (iteration, *_power_law(degrees))
    elif not powerlaw or iteration - powerlaw[0] >= WINDOW:
        powerlaw = (iteration, *_power_law(random.Random(seed * 1_000_003 + iteration).sample(degrees, min(n, POWERLAW_SAMPLE))))
    clock("power law")
    row = {
        "iteration": iteration, "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
        "mean_degree": 2 * graph.number_of_edges() / n if n else 0.0,
        "self_loops": nx.number_of_selfloops(graph), "density": 2 * g.ecount() / (n * (n - 1)) if n > 1 else 0.0,
        "avg_clustering": g.transitivity_avglocal_undirected(mode="zero") if n else 0.0,
        "transitivity": g.transitivity_undirected() if n else 0.0,
        "assortativity": g.assortativity_degree(directed=False) if g.ecount() else math.nan,
        "avg_shortest_path": avg_path, "diameter": diameter,
        "modularity": g.modularity(membership) if g.ecount() else 0.0, "communities": len(set(membership)),
        "powerlaw_alpha": powerlaw[1], "powerlaw_xmin": powerlaw[2], "powerlaw_llr": powerlaw[3],
        "powerlaw_p": powerlaw[4], "max_betweenness": max_betweenness, "max_kcore": max(g.coreness(), default=0),
        "articulation_points": len(g.articulation_points()), "bridge_nodes": bridge_nodes,
        "new_hubs": len(hubs - before.hubs), "newly_connected_pairs": pairs_among_old - before.connected_pairs,
        "merges": merges, "reused": reused, "parse_failures": parse_failures, "truncated": truncated,
        "topic_similarity": topic_similarity, "sampled_from": sampled_from, "powerlaw_fitted_at": powerlaw[0],
    }
    clock("the rest")
    after = GrowthState(hubs, set(names), sum(math.comb(len(c), 2) for c in components), community, samples,
                        powerlaw)
    return row, after, community


def _bridge_nodes(g: ig.Graph, membership: list[int]) -> int:
    """How many nodes have neighbours in more than one community."""
    if not g.ecount():
        return 0
    edges = np.array(g.get_edgelist(), dtype=np.int64)
    node, neighbour = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
    kinds = max(membership) + 1
    distinct = np.unique(node * kinds + np.asarray(membership, dtype=np.int64)[neighbour])  # (node, community)
    return int((np.bincount(distinct // kinds) > 1).sum())


class _Clock:
    """Adds the seconds since the last call under a name, when asked to keep time."""

    def __init__(self, timings: dict | None):
        self.timings, self.last = timings, time.perf_counter()

    def __call__(self, name: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
            self.last = now


def state_of(graph: nx.DiGraph, community: dict | None = None, samples: list[Sample] = (),
             powerlaw: tuple = ()) -> GrowthState:
    """The GrowthState of a graph, for resuming without re-measuring every iteration; on a large graph also
    the partition it was saved with, the window's samples and the last power-law fit (from its row)."""
    g, names = simple_igraph(graph)
    return GrowthState({names[v] for v, d in enumerate(g.degree()) if d > HUB_DEGREE}, set(names),
                       sum(math.comb(len(c), 2) for c in g.connected_components()), dict(community or {}),
                       deque(samples, maxlen=WINDOW), powerlaw)
