"""Policies compared at equal cost, read off their recorded trajectories.

Every attempt is recorded with the tokens its task had spent when it was made. A policy stopped
at a per-task cap c would have answered with the best attempt made within c tokens (the same
rule the engine uses for the final answer), so one run at budget B gives each policy's whole
pass@1-against-tokens curve for every c <= B. Those answers are scored with the hidden tests
here, after the loops have finished; nothing of it goes back into a loop.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from math import comb
from typing import Callable

from ..feedback import agreement_choice, pass_pattern, rank
from ..models import Budget, Meter, Model
from ..runs import HiddenCache, RunStore
from ..tasks import Family, Problem
from ._config import PolicyConfig
from ._engine import SolveReport, TaskOutcome, solve_tasks
from ._spec import POLICIES, PolicySpec

CURVE_POINTS = 60
# Source names of records made before sources had names of their own.
LEGACY_SOURCES = ["visible", "generated"]


@dataclass(frozen=True)
class Point:
    tokens: int               # spent by the task when this attempt was made
    rank: tuple[float, ...]   # the ranking rule's key
    candidate: str
    pattern: tuple[bool, ...] = ()  # the checks it passed, for selection by agreement


@dataclass
class Trajectory:
    points: list[Point]        # attempts in order
    spent: list[int]           # tokens spent at each recorded step, attempts or not, ascending
    total: int                 # tokens the task spent in all
    by_agreement: bool = False  # the policy chose its answer by agreement (codet), not by rank

    def answer_at(self, cap: int) -> Point | None:
        if self.by_agreement:
            made = [p for p in self.points if p.tokens <= cap]
            return made[agreement_choice([p.pattern for p in made])] if made else None
        best = None
        for point in self.points:
            if point.tokens <= cap and (best is None or point.rank > best.rank):
                best = point
        return best

    def spent_at(self, cap: int) -> int:
        if self.total <= cap:
            return self.total
        i = bisect_right(self.spent, cap)
        return self.spent[i - 1] if i else 0


def _spec_of(store: RunStore, policy: str) -> PolicySpec:
    """The spec of a recorded policy (a plain ranking one when its strategy is not registered here)."""
    strategy = dict(store.policies()).get(policy, {}).get("strategy")
    return POLICIES.get(strategy) or PolicySpec(str(strategy), run=None)


def ranking_order(store: RunStore, policy: str) -> list[str]:
    """The feedback sources a policy ranked its attempts by, deciding source first."""
    config = dict(store.policies()).get(policy, {})
    return config.get("sources", LEGACY_SOURCES)


def trajectories(store: RunStore, policy: str) -> dict[str, Trajectory]:
    order = ranking_order(store, policy)
    by_agreement = _spec_of(store, policy).answer == "agreement"
    totals = {task_id: o.tokens for task_id, o in store.outcomes(policy).items()}
    out = {task_id: Trajectory([], [], total, by_agreement) for task_id, total in totals.items()}
    for step in store.steps(policy):
        path = out.get(step.task_id)
        if path is None:
            continue  # an unfinished task has no outcome yet
        path.spent.append(step.tokens)
        if step.is_attempt:
            pattern = pass_pattern([(step.feedback[name].passed, step.feedback[name].details)
                                    for name in order if name in step.feedback])
            path.points.append(Point(step.tokens, rank(step.feedback, order), step.candidate, pattern))
    return out


@dataclass
class Curve:
    policy: str
    caps: list[int]
    mean_tokens: list[float]   # mean tokens spent per task under each cap
    pass_at_1: list[float]     # hidden pass@1 under each cap
    passed: list[frozenset[str]]  # ids of the tasks passed under each cap


def curve(store: RunStore, policy: str, problems: list[Problem], budget: int, hidden: HiddenCache) -> Curve:
    paths = trajectories(store, policy)
    caps = sorted({round(budget * i / CURVE_POINTS) for i in range(CURVE_POINTS + 1)})
    mean_tokens, pass_at_1, passed_ids = [], [], []
    for cap in caps:
        spent, passed = 0, set()
        for problem in problems:
            path = paths.get(problem.task.id)
            if path is None:
                continue
            spent += path.spent_at(cap)
            answer = path.answer_at(cap)
            if answer and hidden.passed(problem, answer.candidate):
                passed.add(problem.task.id)
        mean_tokens.append(spent / len(problems))
        pass_at_1.append(len(passed) / len(problems))
        passed_ids.append(frozenset(passed))
    return Curve(policy, caps, mean_tokens, pass_at_1, passed_ids)


@dataclass(frozen=True)
class Paired:
    """A policy's final answers against the reference's answers at the same mean spend, task by task."""
    reference_pass_at_1: float
    wins: int        # tasks the policy passes and the reference does not
    losses: int      # the reverse
    p_value: float   # exact two-sided sign test on wins against losses


def against_reference(policy: Curve, reference: Curve) -> Paired:
    """Compare with the reference at its best cap spending no more tokens per task on average than the policy.

    A difference of a few tasks is often sampling noise; the sign test says how often a split at least this
    uneven would arise if neither was better on the tasks where they disagree."""
    spend = policy.mean_tokens[-1]
    # The best the reference reached by then (a larger cap can pick a visibly better answer that fails).
    # Cap 0 spends nothing, so some cap is always within the spend.
    best = max((i for i, t in enumerate(reference.mean_tokens) if t <= spend + 1e-9),
               key=lambda i: reference.pass_at_1[i])
    theirs, mine = reference.passed[best], policy.passed[-1]
    wins, losses = len(mine - theirs), len(theirs - mine)
    return Paired(reference.pass_at_1[best], wins, losses, sign_test(wins, losses))


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test.

    >>> round(sign_test(9, 7), 2)
    0.8
    """
    n = wins + losses
    tail = sum(comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def audit_stats(store: RunStore, policy: str) -> dict:
    """How a policy's generated tests relate to the hidden ones (scorer's record): the share of generated
    tests the reference solution passes, and how often "passes every generated test" agreed with the
    hidden verdict on the answer. None when the policy wrote no tests."""
    stats = []
    for outcome in store.outcomes(policy).values():
        result = outcome.hidden_result
        audit = result.get("audits", {}).get("tests") or result.get("generated_tests")  # older records
        if audit:
            stats.append(audit)
    judged = [s for s in stats if s["correct"] is not None]
    tests = sum(s["count"] for s in judged)
    return {"generated_tests_correct": round(sum(s["correct"] for s in judged) / tests, 4) if tests else None,
            "generated_verdict_agreement":
                round(sum(s["verdict_agrees"] for s in stats) / len(stats), 4) if stats else None}


@dataclass
class Comparison:
    rows: list[dict]           # one per policy: pass@1, spend, pairing with best-of-N
    curves: list[Curve]
    reference: str | None      # the best-of-N policy every other is paired with
    unfinished: dict[str, int] = field(default_factory=dict)  # policy -> tasks not finished


def run_policies(problems: list[Problem], family: Family, configs: list[PolicyConfig], *, model: Model,
                 store: RunStore, task_budget: Budget = Budget(), run_budget: Budget = Budget(),
                 judge_model: Model | None = None, max_connections: int | None = None, on_start: Callable[[str, int], None] | None = None,
                 on_task: Callable[[TaskOutcome | None], None] | None = None) -> list[SolveReport]:
    """Each policy over the same tasks, one after another, under one run budget; stops early when
    a policy stops (budget spent, server unreachable)."""
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"a policy is named twice: {', '.join(names)}")
    run_meter = Meter(run_budget)
    run_meter.tokens, run_meter.calls = store.used()
    reports = []
    for config in configs:
        if on_start:
            on_start(config.name, len(problems))
        report = solve_tasks(problems, family, config, model=model, store=store, task_budget=task_budget,
                             run_meter=run_meter, judge_model=judge_model, max_connections=max_connections,
                             on_task=on_task)
        reports.append(report)
        if report.stopped:
            break
    return reports


def compare(store: RunStore, family: Family, problems: list[Problem], policies: list[str],
            budget_tokens: int) -> Comparison:
    """Pass@1 at equal token budget, read from the record: each policy's curve, and its final answers
    paired task by task with best-of-N at the same mean spend (wins, losses, sign test).

    >>> import tempfile
    >>> from looplab.models import ScriptedModel
    >>> from looplab.tasks import load_tasks
    >>> family, problems = load_tasks("sql:shop", None, limit=2)
    >>> configs = [PolicyConfig("single"), PolicyConfig("best-of-n", n=2)]
    >>> model = ScriptedModel(["```sql\\nSELECT COUNT(*) FROM orders\\n```"])
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     _ = run_policies(problems, family, configs, model=model, store=store, task_budget=Budget(tokens=3000))
    ...     result = compare(store, family, problems, [c.name for c in configs], 3000)
    >>> [(row["policy"], row["tasks"]) for row in result.rows], result.reference
    ([('single', 2), ('best-of-n(n=2)', 2)], 'best-of-n(n=2)')
    """
    hidden = HiddenCache(store, family)
    summary = store.summary()
    curves = [curve(store, name, problems, budget_tokens, hidden) for name in policies]
    reference = next((c for c in curves if _spec_of(store, c.policy).reference), None)
    rows, unfinished = [], {}
    for name, c in zip(policies, curves):
        s = summary.get(name, {"tasks": 0, "tokens": 0, "calls": 0, "wall_seconds": 0.0})
        if s["tasks"] < len(problems):
            unfinished[name] = len(problems) - s["tasks"]
        row = {"policy": name, "tasks": s["tasks"], "pass_at_1": c.pass_at_1[-1],
               "mean_tokens": round(s["tokens"] / s["tasks"], 1) if s["tasks"] else 0.0,
               "mean_calls": round(s["calls"] / s["tasks"], 2) if s["tasks"] else 0.0,
               "wall_seconds": s["wall_seconds"], **audit_stats(store, name)}
        if reference:
            paired = against_reference(c, reference)
            row |= {"best_of_n_at_equal_tokens": paired.reference_pass_at_1, "wins_vs_best_of_n": paired.wins,
                    "losses_vs_best_of_n": paired.losses, "sign_test_p": float(f"{paired.p_value:.3g}")}
        rows.append(row)
    return Comparison(rows, curves, reference.policy if reference else None, unfinished)
