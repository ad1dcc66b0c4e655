"""Export a graph for other tools: GraphML, GEXF (Gephi: one edge per relation, nodes coloured by community and
sized by degree), node-link JSON (networkx, d3), or two CSV files, nodes and edges with one relation per row
(Neo4j `LOAD CSV`, Cytoscape)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx

from ._graph import SEPARATOR

FORMATS = ("graphml", "gexf", "json", "csv")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def spreadsheet_safe(value):
    """A text cell as a spreadsheet shows it but never runs it: text that a spreadsheet would read as a
    formula gets a leading apostrophe (OWASP's advice for CSV injection); numbers and other text stay.

    >>> spreadsheet_safe("=1+2"), spreadsheet_safe("silk"), spreadsheet_safe(-1)
    ("'=1+2", 'silk', -1)
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _split(value) -> list[str]:
    return [part for part in str(value or "").split(SEPARATOR) if part]


# Community colours for Gephi (Tableau's ten), cycled: a graph opens coloured, not grey.
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _for_gephi(graph: nx.DiGraph) -> nx.MultiDiGraph:
    """The graph as Gephi reads it best: one edge per relation (parallel edges where two concepts are related
    several ways), each node coloured by its community and sized by its degree (GEXF's `viz`)."""
    out = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        community = data.get("community")
        r, g, b = PALETTE[int(community) % len(PALETTE)] if str(community).lstrip("-").isdigit() else (160, 160, 160)
        out.add_node(node, **data, viz={"color": {"r": r, "g": g, "b": b, "a": 1.0},
                                        "size": 4.0 + 2.0 * graph.degree(node) ** 0.5})
    for u, v, data in graph.edges(data=True):
        for relation in _split(data.get("relation")) or [""]:
            out.add_edge(u, v, **{**data, "relation": relation})
    return out


def export_graph(graph: nx.DiGraph, path: Path, fmt: str, raw_csv: bool = False) -> list[Path]:
    """Write `graph` as `fmt` to `path` (for csv, to PATH_nodes.csv and PATH_edges.csv); returns the files.
    CSV cells that a spreadsheet would run as formulas are written safe (`spreadsheet_safe`); `raw_csv` writes
    them as the model wrote them, for tools that load CSV as data (Neo4j, Cytoscape).

    >>> import tempfile
    >>> g = nx.DiGraph([("silk", "toughness", {"relation": "improves | enables"})])
    >>> [p.name for p in export_graph(g, Path(tempfile.mkdtemp()) / "g.csv", "csv")]
    ['g_nodes.csv', 'g_edges.csv']
    """
    if fmt == "graphml":
        nx.write_graphml(graph, path)
        return [path]
    if fmt == "gexf":
        nx.write_gexf(_for_gephi(graph), path)
        return [path]
    if fmt == "json":
        nodes = [{"id": n, **data} for n, data in graph.nodes(data=True)]
        links = [{"source": u, "target": v, **data} for u, v, data in graph.edges(data=True)]
        # networkx before 3.6 reads node-link data from "links" by default, 3.6 and later from "edges":
        # both keys, so every version reads the file with its defaults.
        data = {"directed": graph.is_directed(), "multigraph": False, "graph": dict(graph.graph), "nodes": nodes,
                "links": links, "edges": links}
        path.write_text(json.dumps(data, indent=1))
        return [path]
    if fmt == "csv":
        nodes_path = path.with_name(f"{path.stem}_nodes.csv")
        edges_path = path.with_name(f"{path.stem}_edges.csv")
        cell = (lambda v: v) if raw_csv else spreadsheet_safe
        with open(nodes_path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "type", "community", "aliases", "first_iteration", "degree"])
            for node, data in graph.nodes(data=True):
                writer.writerow([cell(node), cell(data.get("type", "")), data.get("community", ""),
                                 cell(";".join(_split(data.get("aliases")))), data.get("first_iteration", ""),
                                 graph.degree(node)])
        with open(edges_path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["source", "target", "relation", "first_iteration"])
            for u, v, data in graph.edges(data=True):
                for relation in _split(data.get("relation")) or [""]:
                    writer.writerow([cell(u), cell(v), cell(relation), data.get("first_iteration", "")])
        return [nodes_path, edges_path]
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
