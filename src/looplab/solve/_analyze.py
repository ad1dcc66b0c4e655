"""What feedback did in a recorded run, per policy and feedback source, from the record alone.

Every attempt of a policy is scored by the hidden test here, after the loops (the verdicts are cached
in the run like compare's); nothing of it goes back into a loop. For each policy:

- friction: of the revisions made after feedback named a failure (a source failed the parent), the
  share whose candidate still fails what was named, and the share that came back unchanged (copy-back);
- flips between a parent and its child attempt, by the hidden verdict: right to wrong, wrong to right,
  apart for children of feedback that was honest and of feedback a deceptive judge gave, and the flip
  rate: of the right parents that were revised, the share whose revision is wrong;
- pass@1 by task category (mean and spread), and pass@1 had the policy stopped after k attempts;
- the visible-to-hidden gap: answers that pass every visible check and fail the hidden test;
- simulated users' replies withheld because they gave the answer away.
"""
from __future__ import annotations

import statistics
from collections import defaultdict

from ..feedback import rank
from ..runs import HiddenCache, RunStore, Step
from ..tasks import Family, Problem
from ._compare import ranking_order

MAX_ROUNDS_SHOWN = 8


def _category(task) -> str:
    return getattr(task, "category", "") or getattr(task, "difficulty", "") or "all"


def analyze(store: RunStore, family: Family, problems: list[Problem]) -> list[dict]:
    """One row per policy of the run, over the tasks in `problems`.

    >>> import tempfile
    >>> from looplab.models import ScriptedModel
    >>> from looplab.solve import PolicyConfig, solve_tasks
    >>> from looplab.tasks import load_tasks
    >>> family, problems = load_tasks("sql:shop", None, limit=2)
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     _ = solve_tasks(problems, family, PolicyConfig("single"), model=ScriptedModel(["SELECT 1"]), store=store)
    ...     rows = analyze(store, family, problems)
    >>> [(row["policy"], row["tasks"]) for row in rows]
    [('single', 2)]
    """
    hidden = HiddenCache(store, family)
    by_id = {p.task.id: p for p in problems}
    rows = []
    for policy, _ in store.policies():
        order = ranking_order(store, policy)
        outcomes = {t: o for t, o in store.outcomes(policy).items() if t in by_id}
        if not outcomes:
            continue
        attempts: dict[str, list[Step]] = defaultdict(list)
        for step in store.steps(policy):
            if step.task_id in outcomes and step.is_attempt:
                attempts[step.task_id].append(step)
        revisions = still_failing = copied = 0
        flips = {"honest": [0, 0, 0], "deceived": [0, 0, 0]}  # right to wrong, wrong to right, right parents
        for task_id, steps in attempts.items():
            problem = by_id[task_id]
            by_step = {s.step: s for s in steps}
            for step in steps:
                parent = by_step.get(step.parent)
                if parent is None:
                    continue
                failed = [name for name, f in parent.feedback.items() if not f.passed]
                if failed:  # the feedback named a failure: does the child still fail what was named?
                    revisions += 1
                    still_failing += any(not step.feedback.get(name, parent.feedback[name]).passed for name in failed)
                    copied += step.candidate == parent.candidate
                was = hidden.passed(problem, parent.candidate)
                now = hidden.passed(problem, step.candidate)
                heard = "deceived" if any(f.details.get("deceptive") for f in parent.feedback.values()) else "honest"
                flips[heard][0] += was and not now
                flips[heard][1] += now and not was
                flips[heard][2] += was
        # pass@1 had the policy stopped after k attempts: the best of the first k by the ranking rule
        by_round = []
        for k in range(1, MAX_ROUNDS_SHOWN + 1):
            passed = 0
            for task_id in outcomes:
                first = attempts.get(task_id, [])[:k]
                if first:
                    best = max(first, key=lambda s: rank(s.feedback, order))  # max keeps the earliest among equals
                    passed += hidden.passed(by_id[task_id], best.candidate)
            by_round.append(passed / len(outcomes))
        categories: dict[str, list[int]] = defaultdict(list)
        for task_id, outcome in outcomes.items():
            categories[_category(by_id[task_id].task)].append(outcome.passed_hidden)
        rates = {c: sum(v) / len(v) for c, v in sorted(categories.items())}
        gap = sum(1 for o in outcomes.values() if o.passed_visible and not o.passed_hidden)
        leaked = sum(1 for steps in attempts.values() for s in steps for f in s.feedback.values()
                     if f.details.get("leak"))
        rows.append({
            "policy": policy, "family": family.name, "deciding_source": order[0], "tasks": len(outcomes),
            "pass_at_1": sum(o.passed_hidden for o in outcomes.values()) / len(outcomes),
            "revisions_after_failure": revisions,
            "friction": round(still_failing / revisions, 4) if revisions else None,
            "copy_back": round(copied / revisions, 4) if revisions else None,
            "right_to_wrong": flips["honest"][0], "wrong_to_right": flips["honest"][1],
            "right_to_wrong_deceived": flips["deceived"][0], "wrong_to_right_deceived": flips["deceived"][1],
            # of the right answers that were revised after such feedback, the share the revision made wrong
            "flip_rate": round(flips["honest"][0] / flips["honest"][2], 4) if flips["honest"][2] else None,
            "flip_rate_deceived": round(flips["deceived"][0] / flips["deceived"][2], 4) if flips["deceived"][2] else None,
            "passed_visible_failed_hidden": gap,
            "category_pass_at_1": rates,
            "category_spread": round(statistics.pstdev(rates.values()), 4) if len(rates) > 1 else 0.0,
            "worst_category": min(rates, key=rates.get),
            "pass_at_1_by_attempts": [round(p, 4) for p in by_round],
            "leaks_withheld": leaked,
            **({"family_measures": family.measures([o.hidden_result for o in outcomes.values()])}
               if hasattr(family, "measures") else {}),
        })
    return rows
