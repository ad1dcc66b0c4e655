"""Export a graph for other tools: GraphML, node-link JSON, or a CSV edge list (Gephi, Cytoscape)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx


def export_graph(graph: nx.DiGraph, path: Path, fmt: str) -> None:
    if fmt == "graphml":
        nx.write_graphml(graph, path)
    elif fmt == "json":
        path.write_text(json.dumps(nx.node_link_data(graph, edges="edges"), indent=1))
    elif fmt == "csv":
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["source", "target", "relation", "first_iteration"])
            for u, v, data in graph.edges(data=True):
                writer.writerow([u, v, data.get("relation", ""), data.get("first_iteration", "")])
    else:
        raise ValueError(f"unknown format {fmt!r}")
