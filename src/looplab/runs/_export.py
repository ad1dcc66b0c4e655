"""The trajectory export: one JSON line per policy and task of a solve run, in a format of its own (documented
here and in docs/record.md), not the record's column names, for tools outside looplab (pandas, DuckDB, training)."""
from __future__ import annotations

import json
from pathlib import Path

from ._loops import loop_part, register_loop_part
from ._store import RunStore

FORMAT = "looplab.trajectory/1"

# One line:
# {"format": FORMAT, "run", "model", "family", "policy", "config": the policy's recorded settings, "task_id",
#  "outcome": {"status", "answer", "passed_visible", "visible_score", "tokens", "calls", "seconds", "error"},
#  "hidden": {"passed", "details"}  (the scorer's verdict on the answer: never seen by the loop),
#  "steps": [{"step", "kind", "parent", "candidate", "call", "tokens_so_far", "calls_so_far",
#             "feedback": {source: {"score", "passed", "text", "details", "calls"}}}],
#  "calls": [{"id", "seq", "model", "messages", "params", "response", "finish_reason", "prompt_tokens",
#             "completion_tokens", "latency"}]}
# A step's "call" and a feedback's "calls" are ids in "calls"; a step without feedback is a note (a plan, a
# reflection, generated tests), a step with feedback an attempt.


def trajectories(store: RunStore):
    """The export's lines of a solve run, as dicts, policy by policy and task by task (see FORMAT).

    >>> import tempfile
    >>> from looplab.models import ScriptedModel
    >>> from looplab.solve import PolicyConfig, solve_tasks
    >>> from looplab.tasks import load_tasks
    >>> family, problems = load_tasks("sql:shop", None, limit=1)
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     _ = solve_tasks(problems, family, PolicyConfig("single"), model=ScriptedModel(["SELECT 1"]), store=store)
    ...     [line] = trajectories(store)
    >>> line["format"], line["task_id"], [s["kind"] for s in line["steps"]], line["outcome"]["status"]
    ('looplab.trajectory/1', 'shop/01', ['initial'], 'done')
    """
    return loop_part(store, "export", "looplab export")(store)


def _solve_lines(store: RunStore):
    for policy, config in store.policies():
        for task_id, outcome in sorted(store.outcomes(policy).items()):
            yield {
                "format": FORMAT, "run": str(store.dir), "model": store.meta("model"), "family": store.meta("family"),
                "policy": policy, "config": config, "task_id": task_id,
                "outcome": {key: getattr(outcome, key) for key in ("status", "answer", "passed_visible",
                                                                   "visible_score", "tokens", "calls", "seconds",
                                                                   "error")},
                "hidden": {"passed": outcome.passed_hidden, "details": outcome.hidden_result},
                "steps": [{"step": s.step, "kind": s.kind, "parent": s.parent, "candidate": s.candidate,
                           "call": s.call_id, "tokens_so_far": s.tokens, "calls_so_far": s.calls,
                           "feedback": {name: {"score": f.score, "passed": f.passed, "text": f.text,
                                               "details": f.details, "calls": list(f.calls)}
                                        for name, f in s.feedback.items()}}
                          for s in store.steps(policy, task_id)],
                "calls": [{key: getattr(c, key) for key in ("id", "seq", "model", "messages", "params", "response",
                                                            "finish_reason", "prompt_tokens", "completion_tokens",
                                                            "latency")}
                          for c in store.calls(policy, task_id)]}


register_loop_part("solve", "export", _solve_lines)


def export_trajectories(run_dir: Path, out: Path) -> int:
    """Write `trajectories(store)` of the run in `run_dir` to `out`, one JSON line each; returns the lines."""
    lines = 0
    with RunStore(run_dir, read_only=True) as store:
        rows = trajectories(store)  # a grow run is refused before the file is opened
        with open(out, "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
                lines += 1
    return lines
