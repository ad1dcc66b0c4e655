"""grow: agentic graph reasoning. A model reasons, its reasoning becomes a local graph, the local
graph merges into a global graph, and the next question comes from the evolving graph."""
from ._compose import compose, concept_path, find_concept, longest_shortest_path
from ._export import export_graph
from ._extract import MODES as EXTRACT_MODES, Extraction, extract
from ._graph import load_graphml, merge_local, save_graphml
from ._loop import DEFAULT_TOPIC_FLOOR, NEXT_POLICIES, GrowConfig, GrowRun, IterationResult, iteration_scope, unmerge
from ._metrics import COLUMNS, GrowthState, measure
from ._mine import DEFAULT_JUDGE_THRESHOLD, judge_agreement, load_judge_labels, load_mine, run_mine
from ._parse import GRAPH_SCHEMA, GraphParseError, LocalGraph, parse_graph
from ._prompts import FIELDS as GROW_PROMPT_FIELDS, GrowPrompts
from ._resolve import DEFAULT_THRESHOLD, EntityResolver, Resolution, normalize_name

__all__ = ["COLUMNS", "DEFAULT_JUDGE_THRESHOLD", "DEFAULT_THRESHOLD", "DEFAULT_TOPIC_FLOOR", "EXTRACT_MODES",
           "GRAPH_SCHEMA", "GROW_PROMPT_FIELDS", "EntityResolver", "Extraction", "GraphParseError", "GrowConfig", "GrowPrompts", "GrowRun",
           "GrowthState", "IterationResult", "LocalGraph", "NEXT_POLICIES", "Resolution", "compose", "concept_path", "export_graph",
           "extract", "find_concept", "iteration_scope", "judge_agreement", "load_graphml", "load_judge_labels",
           "load_mine", "longest_shortest_path", "measure", "merge_local", "normalize_name", "parse_graph", "run_mine",
           "save_graphml", "unmerge"]
