"""Parse a model's graph JSON robustly and keep only what is valid, saying why the rest went."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .._text import fenced_blocks

# Caps in the schema end a small model's repetition loops: constrained decoding closes the list. They fit
# the extraction's token limit (800): 12 nodes of ~12 tokens and 16 edges of ~25 tokens take ~550, so a
# reply that repeats itself is closed by the schema before the limit cuts it off.
MAX_NODES = 12
MAX_EDGES = 16

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

MAX_NAME = 60          # longer "concepts" are sentences, not names
MAX_NAME_WORDS = 6
MAX_RELATION_WORDS = 6  # a relation is a short verb phrase
# The prompt's worked example (from another field): its concepts in a reply were copied, not extracted.
EXAMPLE_NAMES = {"volcanic ash", "fertile soil", "potassium", "crop yields"}


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
    for info, block in fenced_blocks(text):
        if info in ("", "json"):
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


def _clean_name(value, words: int = MAX_NAME_WORDS) -> str | None:
    """A name or relation as the graph keeps it: control characters (which GraphML cannot hold) as
    spaces, whitespace collapsed, at most MAX_NAME characters and `words` words (longer is a sentence);
    None when nothing is left."""
    if not isinstance(value, str):
        return None
    name = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return name if 0 < len(name) <= MAX_NAME and len(name.split()) <= words else None


def _relation(value) -> str | None:
    """A relation in the graph's vocabulary: a short verb phrase, lower case, without end punctuation.

    >>> _relation("  Is Used In. "), _relation("is a material that the text says is used in many devices")
    ('is used in', None)
    """
    name = _clean_name(value, MAX_RELATION_WORDS)
    return name.lower().strip(" .,;:!") or None if name else None


def parse_graph(text: str, source: str | None = None) -> LocalGraph:
    """Read `{"nodes": [...], "edges": [...]}` from a reply; raise GraphParseError if none is there.

    Rules every graph keeps (each break is dropped and said in `dropped`): names of at most MAX_NAME_WORDS
    words, relations of at most MAX_RELATION_WORDS in lower case, no edge from a concept to itself, and, when
    the `source` text is given, none of the prompt example's concepts unless the source names them."""
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
    copied = {n for n in EXAMPLE_NAMES if source is not None and n not in source.lower()}
    for item in nodes:
        raw = item.get("id") if isinstance(item, dict) else item
        name = _clean_name(raw)
        if name is None:
            graph.dropped.append(f"node {json.dumps(item)[:80]}: no usable id (a name, at most "
                                 f"{MAX_NAME_WORDS} words)")
            continue
        if name.lower() in copied:
            graph.dropped.append(f"node {name!r}: copied from the prompt's example")
            continue
        kind = item.get("type", "") if isinstance(item, dict) else ""
        graph.nodes.setdefault(name, kind if isinstance(kind, str) else "")
    seen = set()
    for item in edges:
        if not isinstance(item, dict):
            graph.dropped.append(f"edge {json.dumps(item)[:80]}: not an object")
            continue
        head, tail = _clean_name(item.get("source")), _clean_name(item.get("target"))
        relation = _relation(item.get("relation"))
        if head is None or tail is None or relation is None:
            graph.dropped.append(f"edge {json.dumps(item)[:80]}: needs source and target names and a short "
                                 "relation")
            continue
        if head.lower() in copied or tail.lower() in copied:
            graph.dropped.append(f"edge {json.dumps(item)[:80]}: a concept copied from the prompt's example")
            continue
        if head.lower() == tail.lower():
            graph.dropped.append(f"edge {json.dumps(item)[:80]}: links a concept to itself")
            continue
        for name in (head, tail):  # an edge names its concepts even when the node list forgot them
            graph.nodes.setdefault(name, "")
        if (head.lower(), tail.lower(), relation) not in seen:
            seen.add((head.lower(), tail.lower(), relation))
            graph.edges.append((head, tail, relation))
    linked = {name for edge in graph.edges for name in edge[:2]}
    for name in [n for n in graph.nodes if n not in linked]:
        del graph.nodes[name]  # a concept with no relation would only add an isolated node
        graph.dropped.append(f"node {name!r}: no edge links it")
    if not graph.nodes:
        raise GraphParseError("the graph has no valid edges between concepts")
    return graph
