"""Parse a model's graph JSON robustly and keep only what is valid, saying why the rest went."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Caps in the schema end a small model's repetition loops: constrained decoding closes the list.
MAX_NODES = 24
MAX_EDGES = 36

GRAPH_SCHEMA = {
    "type": "object",
    "properties": {
        "nodes": {"type": "array", "maxItems": MAX_NODES, "items": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
            "required": ["id"]}},
        "edges": {"type": "array", "maxItems": MAX_EDGES, "items": {
            "type": "object",
            "properties": {"source": {"type": "string"}, "target": {"type": "string"},
                           "relation": {"type": "string"}},
            "required": ["source", "target", "relation"]}},
    },
    "required": ["nodes", "edges"],
}

MAX_NAME = 120  # longer "concepts" are sentences, not names


class GraphParseError(ValueError):
    """Nothing usable could be read from the reply."""


@dataclass
class LocalGraph:
    nodes: dict[str, str] = field(default_factory=dict)          # name -> type ("" if none)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (source, target, relation)
    dropped: list[str] = field(default_factory=list)              # why each dropped item went

    def as_dict(self) -> dict:
        return {"nodes": [{"id": n, "type": t} for n, t in self.nodes.items()],
                "edges": [{"source": s, "target": t, "relation": r} for s, t, r in self.edges],
                "dropped": self.dropped}


def _json_candidates(text: str):
    """JSON objects in a reply: fenced blocks first, then each balanced {...} span."""
    for block in re.findall(r"```(?:json)?\s*\n(.*?)```", text, re.S):
        yield block
    depth, start, quote, escaped = 0, None, False, False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                yield text[start:i + 1]


def _salvage(text: str) -> dict | None:
    """The complete `{...}` node and edge objects of a reply whose JSON as a whole is broken,
    typically cut off at the token limit after the model began repeating itself."""
    nodes, edges = [], []
    for chunk in re.findall(r"\{[^{}]*\}", text):
        try:
            item = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(item, dict) and "id" in item:
            nodes.append(item)
        elif isinstance(item, dict) and {"source", "target", "relation"} <= item.keys():
            edges.append(item)
    return {"nodes": nodes, "edges": edges} if nodes or edges else None


def _clean_name(value) -> str | None:
    """A name or relation as the graph keeps it: control characters (which GraphML cannot hold) as
    spaces, whitespace collapsed, at most MAX_NAME characters; None when nothing is left."""
    if not isinstance(value, str):
        return None
    name = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return name if 0 < len(name) <= MAX_NAME else None


def parse_graph(text: str) -> LocalGraph:
    """Read `{"nodes": [...], "edges": [...]}` from a reply; raise GraphParseError if none is there."""
    data, errors = None, []
    for candidate in _json_candidates(text):
        try:
            value = json.loads(candidate)
        except ValueError as e:
            errors.append(str(e))
            continue
        if isinstance(value, dict) and ("nodes" in value or "edges" in value):
            data = value
            break
        errors.append("a JSON object without 'nodes' or 'edges'")
    salvaged = False
    if data is None:
        data = _salvage(text)
        salvaged = data is not None
    if data is None:
        reason = errors[0] if errors else "no JSON object found"
        raise GraphParseError(f"could not read a graph from the reply: {reason}")
    graph = LocalGraph()
    if salvaged:
        graph.dropped.append("the JSON was cut off or broken; kept its complete node and edge objects")
    nodes = data.get("nodes", [])
    edges = data.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise GraphParseError("'nodes' and 'edges' must be lists")
    for item in nodes:
        raw = item.get("id") if isinstance(item, dict) else item
        name = _clean_name(raw)
        if name is None:
            graph.dropped.append(f"node {json.dumps(item)[:80]}: no usable id")
            continue
        kind = item.get("type", "") if isinstance(item, dict) else ""
        graph.nodes.setdefault(name, kind if isinstance(kind, str) else "")
    seen = set()
    for item in edges:
        if not isinstance(item, dict):
            graph.dropped.append(f"edge {json.dumps(item)[:80]}: not an object")
            continue
        source, target = _clean_name(item.get("source")), _clean_name(item.get("target"))
        relation = _clean_name(item.get("relation"))
        if source is None or target is None or relation is None:
            graph.dropped.append(f"edge {json.dumps(item)[:80]}: needs source, target and relation as text")
            continue
        for name in (source, target):  # an edge names its concepts even when the node list forgot them
            graph.nodes.setdefault(name, "")
        if (source, target, relation) not in seen:
            seen.add((source, target, relation))
            graph.edges.append((source, target, relation))
    linked = {name for edge in graph.edges for name in edge[:2]}
    for name in [n for n in graph.nodes if n not in linked]:
        del graph.nodes[name]  # a concept with no relation would only add an isolated node
        graph.dropped.append(f"node {name!r}: no edge links it")
    if not graph.nodes:
        raise GraphParseError("the graph has no valid edges between concepts")
    return graph
