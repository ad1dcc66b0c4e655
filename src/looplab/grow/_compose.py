"""Compositional reasoning over the grown graph, as in the paper: take a long path (or the path
between two chosen concepts), ask for each concept's building blocks, the synergy of each
neighbouring pair, the synergy at bridge nodes between communities, and a final synthesis."""
from __future__ import annotations

import difflib
import random
import re
from pathlib import Path

import networkx as nx

from ..models import Meter, Model
from ..runs import RunError, RunStore, TaskRecorder
from ._graph import SEPARATOR
from ._metrics import EXACT_LIMIT, undirected_view
from ._resolve import normalize_name

SYSTEM = "You are a creative materials scientist who composes ideas across fields. Be concrete and brief."
MAX_BRIDGES = 3


def find_concept(graph: nx.DiGraph, name: str) -> str:
    """A node by its name, a spelling of it, or one of its recorded aliases."""
    key = normalize_name(name)
    for node, aliases in graph.nodes(data="aliases", default=""):
        if key == normalize_name(node) or key in {normalize_name(a) for a in aliases.split(SEPARATOR) if a}:
            return node
    close = difflib.get_close_matches(name, list(graph), n=3)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise RunError(f"the graph has no concept named {name!r}{hint}")


def longest_shortest_path(graph: nx.DiGraph, seed: int = 0) -> list[str]:
    """The path between the two most distant concepts of the largest component: exact (by
    eccentricity) up to EXACT_LIMIT nodes, by a double sweep from a seeded node above it."""
    view = undirected_view(graph)
    if not len(view):
        raise RunError("the graph is empty")
    lcc = view.subgraph(max(nx.connected_components(view), key=len))
    if len(lcc) <= EXACT_LIMIT:
        eccentricity = nx.eccentricity(lcc)
        start = min(lcc, key=lambda n: (-eccentricity[n], n))
    else:
        start = random.Random(seed).choice(sorted(lcc))
        start = max(nx.single_source_shortest_path_length(lcc, start).items(), key=lambda kv: (kv[1], kv[0]))[0]
    lengths = nx.single_source_shortest_path_length(lcc, start)
    end = max(lengths, key=lambda n: (lengths[n], n))
    return nx.shortest_path(lcc, start, end)


def concept_path(graph: nx.DiGraph, source: str | None = None, target: str | None = None) -> list[str]:
    """The concepts to compose along: the shortest path from `source` to `target` (names as a user writes
    them, found as `find_concept` finds them), or with neither the graph's longest shortest path.

    >>> graph = nx.DiGraph([("silk", "toughness"), ("toughness", "bone")])
    >>> concept_path(graph, "Silk", "bone")
    ['silk', 'toughness', 'bone']
    """
    if (source is None) != (target is None):
        raise RunError("give both --from and --to, or neither (then the longest path is used)")
    if source is None:
        return longest_shortest_path(graph)
    a, b = find_concept(graph, source), find_concept(graph, target)
    try:
        return nx.shortest_path(graph.to_undirected(as_view=True), a, b)
    except nx.NetworkXNoPath:
        raise RunError(f"{a!r} and {b!r} are not connected in the graph") from None


def _relations(graph: nx.DiGraph, node: str, limit: int = 8) -> str:
    facts = [f"{node} {d['relation']} {v}" for _, v, d in graph.out_edges(node, data=True)]
    facts += [f"{u} {d['relation']} {node}" for u, _, d in graph.in_edges(node, data=True)]
    return "; ".join(facts[:limit]) or "no recorded relations"


def _edge_relation(graph: nx.DiGraph, a: str, b: str) -> str:
    if graph.has_edge(a, b):
        return f"{a} {graph.edges[a, b]['relation']} {b}"
    return f"{b} {graph.edges[b, a]['relation']} {a}"


def compose(store: RunStore, graph: nx.DiGraph, model: Model, path: list[str]) -> Path:
    """Ask for building blocks, synergies and a synthesis along `path`; write and return the report."""
    recorder = TaskRecorder(store, "compose", " -> ".join(path), model, Meter())

    def ask(prompt: str, tokens: int = 220) -> str:
        return recorder.generate([{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                                 max_tokens=tokens, stop_on_repeat=True).text.strip()

    blocks = {c: ask(f"Concept: {c}. In our knowledge graph: {_relations(graph, c)}.\n"
                     "State the key principles and building blocks of this concept in three or four sentences.")
              for c in path}
    synergies = [(a, b, ask(f"Two linked concepts: {_edge_relation(graph, a, b)}.\nBuilding blocks of {a}: {blocks[a]}\n"
                            f"Building blocks of {b}: {blocks[b]}\nWhat synergy emerges from combining them? "
                            "Answer in two or three sentences."))
                 for a, b in zip(path, path[1:])]
    community = dict(graph.nodes(data="community", default=0))
    view = graph.to_undirected(as_view=True)
    bridge_nodes = [c for c in path if len({community[m] for m in view[c]}) > 1][:MAX_BRIDGES]
    bridges = []
    for c in bridge_nodes:
        others = sorted({community[m] for m in view[c]} - {community[c]})
        sides = [min((m for m in view[c] if community[m] == k), key=str) for k in others[:2]]
        bridges.append((c, sides, ask(f"{c} connects otherwise separate clusters of ideas, through "
                                      f"{', '.join(sides)} (and its own cluster). What idea could cross between "
                                      "these clusters through it? Two or three sentences.")))
    chain = "\n".join(f"- {a} + {b}: {s}" for a, b, s in synergies)
    synthesis = ask(f"A chain of concepts: {' -> '.join(path)}.\nSynergies along it:\n{chain}\n"
                    "Compose these into one novel research idea that no single concept suggests: state the idea, "
                    "a testable hypothesis, and a first experiment.", tokens=450)
    lines = [f"# Compositional reasoning: {path[0]} → {path[-1]}", "",
             f"Path ({len(path)} concepts): {' → '.join(path)}", "", "## Building blocks", ""]
    lines += [f"### {c}\n\n{text}\n" for c, text in blocks.items()]
    lines += ["## Pairwise synergies along the path", ""]
    lines += [f"### {a} + {b}\n\n*{_edge_relation(graph, a, b)}*\n\n{text}\n" for a, b, text in synergies]
    lines += ["## Bridge synergies", ""]
    lines += [f"### {c} (between {', '.join(sides)})\n\n{text}\n" for c, sides, text in bridges] or ["None on this path.\n"]
    lines += ["## Synthesis", "", synthesis, ""]
    folder = store.dir / "compose"
    folder.mkdir(exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{path[0]}-to-{path[-1]}".lower()).strip("-")[:80]
    out = folder / f"{slug}.md"
    out.write_text("\n".join(lines))
    return out
