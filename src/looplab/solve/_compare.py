"""Policies compared at equal cost, read off their recorded trajectories.

Every attempt is recorded with the tokens its task had spent when it was made. A policy stopped
at a per-task cap c would have answered with the best attempt made within c tokens (the same
rule the engine uses for the final answer), so one run at budget B gives each policy's whole
pass@1-against-tokens curve for every c <= B. Those answers are scored with the hidden tests
here, after the loops have finished; nothing of it goes back into a loop.
"""
from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass
from math import comb

from ..feedback import HiddenScorer
from ..runs import RunStore
from ..tasks import Problem
from ._code import build_program

CURVE_POINTS = 60


@dataclass(frozen=True)
class Point:
    tokens: int                # spent by the task when this attempt was made
    rank: tuple[float, float]  # visible score, then generated-test score
    code: str


@dataclass
class Trajectory:
    points: list[Point]        # attempts in order
    spent: list[int]           # tokens spent at each recorded step, attempts or not, ascending
    total: int                 # tokens the task spent in all

    def answer_at(self, cap: int) -> Point | None:
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


def trajectories(store: RunStore, policy: str) -> dict[str, Trajectory]:
    rows = store.db.execute(
        "SELECT s.task_id, s.step, s.tokens, s.candidate, v.score AS visible, g.score AS generated FROM steps s"
        " LEFT JOIN feedback v ON v.policy = s.policy AND v.task_id = s.task_id AND v.step = s.step"
        "  AND v.source = 'visible'"
        " LEFT JOIN feedback g ON g.policy = s.policy AND g.task_id = s.task_id AND g.step = s.step"
        "  AND g.source = 'generated'"
        " WHERE s.policy = ? ORDER BY s.task_id, s.step", (policy,)).fetchall()
    totals = dict(store.db.execute("SELECT task_id, tokens FROM outcomes WHERE policy = ?", (policy,)).fetchall())
    out: dict[str, Trajectory] = {}
    for row in rows:
        if row["task_id"] not in totals:
            continue  # an unfinished task has no outcome yet
        t = out.setdefault(row["task_id"], Trajectory([], [], totals[row["task_id"]]))
        t.spent.append(row["tokens"])
        if row["visible"] is not None:
            t.points.append(Point(row["tokens"], (row["visible"], row["generated"] or 0.0), row["candidate"]))
    for task_id, total in totals.items():
        out.setdefault(task_id, Trajectory([], [], total))
    return out


class HiddenCache:
    """Hidden-test verdicts per program, kept in the run so a re-run of `compare` scores nothing twice."""

    def __init__(self, store: RunStore, scorer: HiddenScorer):
        self.store, self.scorer = store, scorer

    def passed(self, problem: Problem, code: str) -> bool:
        program = build_program(problem.task, code)
        digest = hashlib.sha256(program.encode()).hexdigest()
        verdict = self.store.hidden_verdict(digest)
        if verdict is None:
            verdict = self.scorer.score(problem.hidden, program).passed
            self.store.add_hidden_verdict(digest, verdict)
        return verdict


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
            if answer and hidden.passed(problem, answer.code):
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
    n = wins + losses
    tail = sum(comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)
