"""optimize: a loop that improves a solve policy's prompts from feedback on a train split, proven on a test split."""
from ._loop import Candidate, OptimizeResult, Optimizer, fenced_text, write_best
from ._split import Splits, category, parse_sizes, split_tasks

__all__ = ["Candidate", "OptimizeResult", "Optimizer", "Splits", "category", "fenced_text", "parse_sizes",
           "split_tasks", "write_best"]
