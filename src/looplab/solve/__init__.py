"""Inference-time loops with verifiers over code tasks."""
from ._code import build_program, extract_code
from ._context import Attempt, SolveContext
from ._engine import SolveReport, TaskOutcome, solve_tasks
from ._policies import POLICIES, PolicyConfig

__all__ = ["POLICIES", "Attempt", "PolicyConfig", "SolveContext", "SolveReport", "TaskOutcome",
           "build_program", "extract_code", "solve_tasks"]
