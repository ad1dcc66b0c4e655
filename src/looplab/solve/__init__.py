"""Inference-time loops with verifiers over code tasks."""
from ._code import build_program, extract_code
from ._compare import Curve, HiddenCache, Paired, against_reference, curve, trajectories
from ._config import PolicyConfig
from ._context import Attempt, SolveContext
from ._engine import POLICIES, SolveReport, TaskOutcome, solve_tasks
from ._tests import parse_generated_tests

__all__ = ["POLICIES", "Attempt", "Curve", "HiddenCache", "Paired", "PolicyConfig", "SolveContext", "SolveReport",
           "TaskOutcome", "against_reference", "build_program", "curve", "extract_code", "parse_generated_tests",
           "solve_tasks", "trajectories"]
