"""grow at scale: merge + entity resolution + every metric per iteration, at the paper's size (~3.6k nodes,
~12k edges) and at ten times it (~40k / ~120k), against a naive all-pairs similarity merge in the same run.

A synthetic generator stands in for the model: each iteration emits a local graph of 10-20 edges whose
concepts are drawn with preferential attachment from the graph so far (plus new concepts), some written as
spelling variants (plural, capitals, hyphens) the resolver has to fold back. The graph is grown to the size
without timing; growing 40k nodes through the embedder would take most of the run, so the warm-up indexes
each new name with a random unit vector (the search costs the same whatever the vectors hold), and only the
timed iterations embed their names. Target: at most 0.5 s per iteration at 3.6k nodes, 1 s at 40k.

    python bench/grow_scale.py [--nodes 3600,40000] [--tiny]
"""
import argparse
import random
import statistics
import time
from collections import defaultdict

import networkx as nx
import numpy as np

from looplab.grow import EntityResolver, LocalGraph, measure, merge_local
from looplab.grow._metrics import communities, state_of
from looplab.grow._resolve import Resolution, normalize_name
from looplab.models import MiniLMEmbedder

MEASURED = 20  # the last iterations, timed in full
ADJECTIVES = ["porous", "hierarchical", "mineralized", "fibrous", "layered", "graded", "self-healing", "auxetic",
              "bioinspired", "nanostructured", "cellular", "helical", "crosslinked", "amorphous", "crystalline",
              "hydrated", "twisted", "lamellar", "composite", "adaptive"]
NOUNS = ["chitin", "collagen", "silk", "nacre", "bone", "keratin", "cellulose", "lignin", "enamel", "scaffold",
         "hydrogel", "fiber", "matrix", "interface", "lattice", "foam", "membrane", "shell", "coating", "network",
         "protein", "polymer", "ceramic", "crystal", "tendon", "cartilage", "sponge", "wood", "bamboo", "coral"]
SUFFIXES = ["", " toughness", " stiffness", " assembly", " fracture", " design", " model", " growth", " adhesion",
            " transport", " damping", " folding", " signalling", " synthesis", " printing", " failure"]


def variant(name: str, rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.4:
        return name + "s"
    if choice < 0.7:
        return name.title()
    return name.replace(" ", "-", 1)


class Generator:
    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        names = [f"{a} {n}{s}" for a in ADJECTIVES for n in NOUNS for s in SUFFIXES]
        self.rng.shuffle(names)
        # A serial number keeps near-identical combinations apart (different numbers never merge by
        # embedding), so the graph reaches any size; spelling variants still merge by name.
        self.fresh = (f"{names[i % len(names)]} {i}" for i in range(10 ** 9))
        self.ends: list[str] = []  # each node once per edge end (and once on arrival): sampling it is by degree + 1

    def local(self) -> LocalGraph:
        rng = self.rng
        picked = []
        for _ in range(rng.randint(6, 12)):
            if self.ends and rng.random() < 0.6:  # preferential attachment to existing concepts
                name = rng.choice(self.ends)
                picked.append(variant(name, rng) if rng.random() < 0.2 else name)
            else:
                picked.append(next(self.fresh))
        picked = list(dict.fromkeys(picked))
        edges = {(rng.choice(picked), rng.choice(picked), rng.choice(["enables", "improves", "is part of"]))
                 for _ in range(rng.randint(10, 20))}
        return LocalGraph({n: "" for n in picked}, sorted(edges))

    def merged(self, added: list[str], local: LocalGraph, node_of: dict) -> None:
        self.ends += added
        for u, v, _ in local.edges:
            if node_of[u] != node_of[v]:
                self.ends += [node_of[u], node_of[v]]


def naive_merge(names: list[str], embedder) -> None:
    """The baseline: embed every concept again and compare all pairs."""
    vectors = embedder.embed(names)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    _ = similarity >= 0.78


def warm_up(nodes: int, resolver: EntityResolver, generator: Generator) -> tuple[nx.DiGraph, int]:
    """Grow the graph to `nodes` untimed, resolving by name only and indexing random vectors."""
    graph, iteration = nx.DiGraph(), 0
    rng = np.random.default_rng(0)
    dim = len(resolver.embedder.embed(["x"])[0])
    while graph.number_of_nodes() < nodes:
        iteration += 1
        local = generator.local()
        resolutions = []
        for name in local.nodes:
            node = resolver.key_to_node.get(normalize_name(name))
            if node is None:
                vector = rng.standard_normal(dim).astype(np.float32)
                resolver.add(name, vector / np.linalg.norm(vector))
                node = name
            resolutions.append(Resolution(name, node, "new" if name == node else "name", 1.0))
        added = merge_local(graph, local, resolutions, iteration)
        generator.merged(added, local, {r.name: r.node for r in resolutions})
    return graph, iteration


def at_size(nodes: int, measured: int, embedder) -> dict:
    resolver = EntityResolver(embedder)
    generator = Generator()
    start = time.perf_counter()
    graph, iteration = warm_up(nodes, resolver, generator)
    built = time.perf_counter() - start
    state = state_of(graph, communities(graph))  # as a running loop has it: the last partition
    split = defaultdict(list)
    for iteration in range(iteration + 1, iteration + measured + 1):
        local = generator.local()
        t0 = time.perf_counter()
        resolutions, _ = resolver.resolve(list(local.nodes))
        added = merge_local(graph, local, resolutions, iteration)
        t1 = time.perf_counter()
        row, state, _ = measure(graph, iteration, state, timings=(timing := {}))
        t2 = time.perf_counter()
        generator.merged(added, local, {r.name: r.node for r in resolutions})
        split["merge + resolution"].append(t1 - t0)
        for name, seconds in timing.items():
            split[name].append(seconds)
        split["total"].append(t2 - t0)
        split["slowest total"].append(t2 - t0)
    names = list(graph)
    t0 = time.perf_counter()
    naive_merge(names[:2000], embedder)  # all pairs of 2,000 names already costs far more than a merge
    naive = time.perf_counter() - t0
    return {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), "built": built, "row": row,
            "split": {k: (max if k == "slowest total" else statistics.median)(v) for k, v in split.items()}, "naive": naive, "naive_names": min(2000, len(names))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="3600,40000", help="comma-separated graph sizes (default 3600,40000)")
    parser.add_argument("--tiny", action="store_true", help="a quick run that only checks the script works")
    args = parser.parse_args()
    sizes, measured = ([300], 3) if args.tiny else ([int(s) for s in args.nodes.split(",")], MEASURED)
    embedder = MiniLMEmbedder()
    for nodes in sizes:
        r = at_size(nodes, measured, embedder)
        row = r["row"]
        print(f"\ngraph of {r['nodes']} nodes, {r['edges']} edges (grown untimed in {r['built']:.0f} s): modularity "
              f"{row['modularity']:.3f}, power-law alpha {row['powerlaw_alpha']:.2f}, "
              f"max betweenness {row['max_betweenness']:.4f}")
        print(f"per iteration, median of {measured} (milliseconds):")
        for name, seconds in sorted(r["split"].items(), key=lambda kv: (kv[0].endswith("total"), -kv[1])):
            print(f"  {name:22s} {seconds * 1000:8.1f}")
        print(f"naive all-pairs merge of {r['naive_names']} names (re-embed, compare all pairs): "
              f"{r['naive'] * 1000:.0f} ms = {r['naive'] / r['split']['merge + resolution']:.0f}x the incremental merge")


if __name__ == "__main__":
    main()
