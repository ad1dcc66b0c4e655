"""Turning a text into a local graph, in three modes (after FinReflectKG):

- `single`: one call writes nodes and edges (one retry with the parse error as feedback);
- `multi`: one call lists the concepts, a second writes only relations among them (the schema lets an edge
  name nothing else);
- `reflect`: `single`, then the rules' findings (what was dropped and why) go back to the model, which
  critiques and fixes its graph; the fix is kept when it holds at least as many valid edges.

Every mode ends in `parse_graph`'s rules. A reply cut at its token limit counts as a failure and as truncated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from ..models import Completion
from ._prompts import GrowPrompts
from ._parse import GRAPH_SCHEMA, MAX_EDGES, MAX_NODES, GraphParseError, LocalGraph, parse_graph

MODES = ("single", "multi", "reflect")

# generate(messages, max_tokens, json_schema) -> Completion: the recorded model call of the caller.
Generate = Callable[[list[dict], int, dict | None], Completion]

ENTITY_SCHEMA = {"type": "object", "properties": {"concepts": {"type": "array", "maxItems": MAX_NODES,
                                                               "items": {"type": "string"}}},
                 "required": ["concepts"]}


def relation_schema(concepts: list[str]) -> dict:
    """Edges whose ends can only be the listed concepts (a grammar in llama.cpp enforces it while decoding)."""
    name = {"type": "string", "enum": concepts}
    return {"type": "object", "properties": {"edges": {"type": "array", "maxItems": MAX_EDGES, "items": {
        "type": "object", "properties": {"source": name, "target": name, "relation": {"type": "string"}},
        "required": ["source", "target", "relation"]}}}, "required": ["edges"]}


@dataclass
class Extraction:
    graph: LocalGraph | None
    failures: int = 0      # replies that could not be used whole (unreadable, or cut at the token limit)
    truncated: int = 0     # replies cut at the token limit
    reason: str | None = None  # why no graph came out, when none did


def extract(text: str, generate: Generate, mode: str = "single", max_tokens: int = 800,
            prompts: GrowPrompts = GrowPrompts()) -> Extraction:
    if mode not in MODES:
        raise ValueError(f"unknown extraction mode {mode!r}; choose from {', '.join(MODES)}")
    if mode == "multi":
        return _multi(text, generate, max_tokens, prompts)
    found = _single(text, generate, max_tokens, prompts)
    if mode == "reflect" and found.graph is not None:
        return _reflect(text, generate, max_tokens, prompts, found)
    return found


def _read(reply: Completion, text: str, out: Extraction) -> LocalGraph:
    """The graph of a reply by the rules; a reply cut at its limit keeps its complete items and counts."""
    graph = parse_graph(reply.text, text)
    if reply.finish_reason == "length":
        out.truncated += 1
        out.failures += 1
        graph.dropped.append("the reply hit the token limit; only its complete items were kept")
    return graph


def _single(text: str, generate: Generate, max_tokens: int, prompts: GrowPrompts) -> Extraction:
    out = Extraction(None)
    messages = prompts.extract_messages(text)
    for _ in range(2):  # one retry with the parse error as feedback
        reply = generate(messages, max_tokens, GRAPH_SCHEMA)
        try:
            out.graph = _read(reply, text, out)
            return out
        except GraphParseError as e:
            out.failures += 1
            out.truncated += reply.finish_reason == "length"
            out.reason = str(e)
            messages = prompts.retry_messages(text, reply.text, out.reason)
    return out


def _multi(text: str, generate: Generate, max_tokens: int, prompts: GrowPrompts) -> Extraction:
    out = Extraction(None)
    reply = generate(prompts.concept_messages(text), max_tokens // 2, ENTITY_SCHEMA)
    out.truncated += reply.finish_reason == "length"
    try:
        listed = json.loads(reply.text).get("concepts", [])
    except (ValueError, AttributeError):
        listed = []
    concepts = list(dict.fromkeys(c.strip() for c in listed if isinstance(c, str) and c.strip()))
    if len(concepts) < 2:
        out.failures += 1
        out.reason = "fewer than two concepts were listed"
        return out
    reply = generate(prompts.relation_messages(text, concepts), max_tokens, relation_schema(concepts))
    try:
        out.graph = _read(reply, text, out)
    except GraphParseError as e:
        out.failures += 1
        out.truncated += reply.finish_reason == "length"
        out.reason = str(e)
    return out


def _reflect(text: str, generate: Generate, max_tokens: int, prompts: GrowPrompts, first: Extraction) -> Extraction:
    graph = first.graph
    findings = graph.dropped or ["no rule was broken"]
    reply = generate(prompts.reflect_messages(text, json.dumps(graph.as_dict()), findings), max_tokens, GRAPH_SCHEMA)
    try:
        fixed = _read(reply, text, first)
    except GraphParseError:
        first.failures += 1
        return first
    if len(fixed.edges) >= len(graph.edges):
        first.graph = fixed
    return first
