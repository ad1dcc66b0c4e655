"""The global knowledge graph: merging local graphs into it, saving and loading it."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import networkx as nx

from ..runs import RunError
from ._parse import LocalGraph
from ._resolve import Resolution

SEPARATOR = " | "  # joins several relations (or aliases) in one GraphML attribute


def merge_local(graph: nx.DiGraph, local: LocalGraph, resolutions: list[Resolution], iteration: int) -> list[str]:
    """Add a local graph through its resolutions; returns the nodes that are new.

    A relation already on an edge is not added twice; a new relation between the same two
    concepts joins the edge's list.
    """
    node_of = {r.name: r.node for r in resolutions}
    added = []
    for name, kind in local.nodes.items():
        node = node_of[name]
        if node not in graph:
            graph.add_node(node, type=kind, aliases="", first_iteration=iteration)
            added.append(node)
        elif name != node:
            aliases = [a for a in graph.nodes[node]["aliases"].split(SEPARATOR) if a]
            if name not in aliases:
                graph.nodes[node]["aliases"] = SEPARATOR.join(aliases + [name])
        if kind and not graph.nodes[node]["type"]:
            graph.nodes[node]["type"] = kind
    for source, target, relation in local.edges:
        u, v = node_of[source], node_of[target]
        if u == v:  # the two names were resolved to one concept: an edge between them says nothing
            continue
        if graph.has_edge(u, v):
            relations = graph.edges[u, v]["relation"].split(SEPARATOR)
            if relation not in relations:
                graph.edges[u, v]["relation"] = SEPARATOR.join(relations + [relation])
        else:
            graph.add_edge(u, v, relation=relation, first_iteration=iteration)
    return added


def save_graphml(graph: nx.DiGraph, path: Path, community: dict | None = None) -> None:
    """Write atomically; `community` (node -> id) is stored as a node attribute."""
    out = graph.copy()
    if community is not None:
        nx.set_node_attributes(out, {n: int(c) for n, c in community.items()}, "community")
    partial = path.with_suffix(".partial")
    nx.write_graphml(out, partial)
    partial.replace(path)


def load_graphml(path: Path) -> nx.DiGraph:
    """The graph saved at `path`; a file that is not a readable GraphML graph raises RunError."""
    try:
        return nx.read_graphml(path)
    except (ElementTree.ParseError, nx.NetworkXError, KeyError, ValueError, TypeError, OSError) as e:
        raise RunError(f"{path} is not a readable GraphML graph ({type(e).__name__}: {str(e)[:120]})") from None
