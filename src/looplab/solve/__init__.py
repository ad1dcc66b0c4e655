"""Inference-time loops with verifiers, over any task family."""
from ._analyze import analyze
from ._compare import (Comparison, Curve, Paired, against_reference, compare, curve, run_policies,
                       sign_test, trajectories)
from ._config import PolicyConfig
from ._context import Attempt, Reply, Request, SolveContext
from ._engine import (EXTRA_SOURCES, POLICIES, SolveReport, TaskOutcome, feedback_sources, solve_tasks,
                      solve_tasks_async)
from ._names import PolicyNameError, parse_policies
from ._prompts import Messages, PromptError, Prompts
from ._spec import PolicySpec, policy
from ._ray import Share, deal, run_on_ray

__all__ = ["EXTRA_SOURCES", "POLICIES", "Attempt", "Comparison", "Curve", "Messages", "Paired",
           "PolicyConfig", "PolicyNameError", "PolicySpec", "PromptError", "Prompts", "Reply", "Request", "Share", "SolveContext", "SolveReport", "TaskOutcome", "against_reference",
           "analyze", "compare", "curve", "deal", "feedback_sources", "parse_policies", "policy", "run_on_ray", "run_policies", "sign_test", "solve_tasks", "solve_tasks_async",
           "trajectories"]
