from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ..feedback import ExampleChecks, HiddenScorer
from ..models import Budget, BudgetExceeded, Meter, Model, ModelError, ModelUnavailable
from ..runs import RunStore, TaskRecorder
from ..tasks import Problem
from ._config import PolicyConfig
from ._context import SolveContext
from ._policies import best_of_n, evolve, iad, reflexion, refine, resample, single, try_again
from ._search import mcts, tree

POLICIES: dict[str, Callable[..., None]] = {
    "single": single, "best-of-n": best_of_n, "refine": refine, "resample": resample, "try-again": try_again,
    "reflexion": reflexion, "iad": iad, "evolve": evolve, "tree": tree, "mcts": mcts}

# Stop the run after this many tasks in a row found the model server unreachable.
MAX_UNAVAILABLE_IN_A_ROW = 3


@dataclass
class TaskOutcome:
    task_id: str
    status: str           # "done", "error" (recorded, final) or "unavailable" (retried on resume)
    passed_visible: bool
    passed_hidden: bool
    tokens: int
    calls: int
    seconds: float
    error: str | None = None


@dataclass
class SolveReport:
    policy: str
    outcomes: list[TaskOutcome] = field(default_factory=list)
    skipped: int = 0               # finished in an earlier run
    stopped: str | None = None     # why the run stopped before the last task, if it did


def solve_tasks(problems: list[Problem], config: PolicyConfig, *, model: Model, store: RunStore,
                feedback: ExampleChecks, scorer: HiddenScorer, task_budget: Budget = Budget(),
                run_meter: Meter | None = None,
                on_task: Callable[[TaskOutcome | None], None] | None = None) -> SolveReport:
    """Run one policy over tasks, recording everything; tasks finished earlier are skipped."""
    if config.strategy not in POLICIES:
        raise ValueError(f"unknown strategy {config.strategy!r}; choose from {', '.join(POLICIES)}")
    policy = POLICIES[config.strategy]
    # The budget is part of the settings: a resumed policy must keep spending under the same one.
    store.register_policy(config.name, {**config.as_dict(), "budget_calls": task_budget.calls,
                                        "budget_tokens": task_budget.tokens})
    done = store.finished(config.name)
    report = SolveReport(config.name)
    unavailable_in_a_row = 0
    for problem in problems:
        task = problem.task
        if task.id in done:
            report.skipped += 1
            if on_task:
                on_task(None)
            continue
        store.start_task(config.name, task.id)
        meter = Meter(task_budget, parent=run_meter)
        recorder = TaskRecorder(store, config.name, task.id, model, meter)
        ctx = SolveContext(task, recorder, feedback, config.max_tokens, config.generated_tests)
        start = time.monotonic()
        status, error = "done", None
        try:
            policy(task, ctx, config)
        except BudgetExceeded as e:
            if run_meter is not None and e.meter is run_meter:
                report.stopped = f"the run budget is spent ({e}); raise it and re-run to continue"
                break
        except ModelUnavailable as e:
            status, error = "unavailable", str(e)
        except ModelError as e:
            status, error = "error", str(e)
        best = ctx.best
        seconds = time.monotonic() - start + recorder.reused_seconds
        if status == "unavailable":
            unavailable_in_a_row += 1
            outcome = TaskOutcome(task.id, status, False, False, meter.tokens, meter.calls, seconds, error)
            report.outcomes.append(outcome)
            if on_task:
                on_task(outcome)
            if unavailable_in_a_row >= MAX_UNAVAILABLE_IN_A_ROW:
                report.stopped = f"the model is unreachable ({error}); fix it and re-run to resume"
                break
            continue
        unavailable_in_a_row = 0
        hidden = scorer.score(problem.hidden, best.program) if best else None
        hidden_result = ({"kind": hidden.result.kind, "traceback": hidden.result.traceback[-2000:]}
                         if hidden else {"kind": "no-answer"})
        if ctx.tests and best:
            hidden_result["generated_tests"] = _generated_agreement(problem, ctx, feedback, hidden)
        outcome = TaskOutcome(task.id, status, bool(best and best.feedback.passed), bool(hidden and hidden.passed),
                              meter.tokens, meter.calls, seconds, error)
        store.finish_task(config.name, task.id, status=status, answer=best.program if best else None,
                          passed_visible=outcome.passed_visible,
                          visible_score=best.feedback.score if best else 0.0,
                          passed_hidden=outcome.passed_hidden, hidden_result=hidden_result,
                          tokens=meter.tokens, calls=meter.calls, seconds=round(seconds, 3), error=error)
        report.outcomes.append(outcome)
        if on_task:
            on_task(outcome)
    store.write_summary()
    return report


def _generated_agreement(problem: Problem, ctx: SolveContext, feedback: ExampleChecks, hidden) -> dict:
    """For the scorer's record only (after the policy has finished): how the model's own tests
    relate to the hidden ones. `correct`: tests the reference solution passes; `verdict_agrees`:
    whether "passes every generated test" and "passes the hidden test" agree on the answer."""
    best = ctx.best
    on_reference = feedback.evaluate(ctx.task, problem.hidden.reference, ctx.tests) if problem.hidden.reference else None
    return {"count": len(ctx.tests),
            "correct": on_reference.details["passed"] if on_reference else None,
            "verdict_agrees": best.generated.passed == bool(hidden and hidden.passed)}
