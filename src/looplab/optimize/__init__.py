"""optimize: a loop that improves a solve policy's prompts from feedback on a train split, proven on a test split."""
from ._loop import VARIANTS, Candidate, OptimizeResult, Optimizer, baselines_table, fenced_text, pareto_front, recorded_search, write_best
from ._split import Splits, category, parse_sizes, split_tasks

__all__ = ["VARIANTS", "Candidate", "baselines_table", "OptimizeResult", "Optimizer", "Splits", "category", "fenced_text", "pareto_front", "parse_sizes", "recorded_search",
           "split_tasks", "write_best"]
