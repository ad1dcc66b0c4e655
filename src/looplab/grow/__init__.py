"""grow: agentic graph reasoning. A model reasons, its reasoning becomes a local graph, the local
graph merges into a global graph, and the next question comes from the evolving graph."""
from ._graph import load_graphml, merge_local, save_graphml
from ._loop import DEFAULT_TOPIC_FLOOR, NEXT_POLICIES, GrowConfig, GrowRun, IterationResult, iteration_scope
from ._metrics import COLUMNS, GrowthState, measure
from ._parse import GRAPH_SCHEMA, GraphParseError, LocalGraph, parse_graph
from ._resolve import DEFAULT_THRESHOLD, EntityResolver, Resolution, normalize_name

__all__ = ["COLUMNS", "DEFAULT_THRESHOLD", "DEFAULT_TOPIC_FLOOR", "GRAPH_SCHEMA", "EntityResolver", "GraphParseError", "GrowConfig", "iteration_scope",
           "GrowRun", "GrowthState", "IterationResult", "LocalGraph", "NEXT_POLICIES", "Resolution",
           "load_graphml", "measure", "merge_local", "normalize_name", "parse_graph", "save_graphml"]
