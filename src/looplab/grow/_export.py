"""Export a graph for other tools: GraphML, GEXF (Gephi), node-link JSON (networkx, d3), or two CSV
files, nodes and edges with one relation per row (Neo4j `LOAD CSV`, Cytoscape)."""
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
        nx.write_gexf(graph, path)
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
