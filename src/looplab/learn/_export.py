"""Training data from recorded loops, in the field names TRL's trainers read (conversational form):

- `sft`: `{"messages": [...the call's messages, {"role": "assistant", "content": reply}]}`, one per attempt
  that passed;
- `dpo`: `{"prompt": [...], "chosen": [assistant], "rejected": [assistant]}`, a passing and a failing attempt
  sent the same prompt (best-of-N's samples, say);
- `kto`: `{"prompt": [...], "completion": [assistant], "label": passed}`, every attempt;
- `revisions`: an attempt that failed, its feedback, and the revision that then passed, as one conversation
  (`messages`, the feedback text apart in `feedback`), what LeTI and ILF train on.

Each row is a join of a step with the call that produced it (never guessed from text): the calls a judge, a
simulated user or a test writer made are never the policy's, and a greedy call a second policy reused appears
once. Each row carries its provenance (run, policy, task, step and call ids). "Passed" is the visible feedback
by default (every source that judged the attempt passed it: what a user would have); the hidden score may
select rows only on tasks of the run's recorded train split, and is refused otherwise.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

from ..runs import AttemptRecord, RunError, RunStore, require_loop

FORMATS = ("sft", "dpo", "kto", "revisions")
SELECTIONS = ("visible", "train-hidden")


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _prompt(attempt: AttemptRecord) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in attempt.call.messages]


def _provenance(store: RunStore, attempt: AttemptRecord, *more: AttemptRecord) -> dict:
    steps = [attempt, *more]
    return {"run": str(store.dir), "family": store.meta("family"), "policy": attempt.step.policy,
            "task_id": attempt.step.task_id,
            "steps": [a.step.step for a in steps], "call_ids": [a.call.id for a in steps]}


def train_split(store: RunStore) -> set[str]:
    """The tasks of the run's recorded train split, whose hidden scores may select training data; a RunError when
    the run marks none (its hidden scores are then the score of what is trained)."""
    train = set((store.meta("splits") or {}).get("train", []))
    if not train:
        raise RunError(f"{store.dir} marks no train split, so its hidden scores may not select training data (they "
                       "score what is trained); use --select visible")
    return train


def training_rows(store: RunStore, form: str, select: str = "visible", hidden=None) -> Iterator[dict]:
    """The rows of `form` (one of FORMATS) from every solve policy of the run. `hidden(attempt) -> bool` scores an
    attempt's candidate by the family's hidden scorer; it is needed (and used) only with `select="train-hidden"`.

    >>> import tempfile
    >>> from looplab.models import ScriptedModel
    >>> from looplab.solve import PolicyConfig, solve_tasks
    >>> from looplab.tasks import load_tasks
    >>> family, problems = load_tasks("sql:shop", None, ids=["shop/01"])
    >>> replies = ["```sql\\nSELECT COUNT(*) FROM order\\n```", "```sql\\nSELECT COUNT(*) FROM orders\\n```"]
    >>> with RunStore(tempfile.mkdtemp()) as store:
    ...     _ = solve_tasks(problems, family, PolicyConfig("refine", rounds=1), model=ScriptedModel(replies), store=store)
    ...     [row] = training_rows(store, "revisions")
    >>> [m["role"] for m in row["messages"]], row["provenance"]["steps"]
    (['system', 'user', 'assistant', 'user', 'assistant'], [0, 1])
    """
    if form not in FORMATS:
        raise RunError(f"--format is one of trajectories, {', '.join(FORMATS)}, not {form!r}")
    if select not in SELECTIONS:
        raise RunError(f"--select is one of {', '.join(SELECTIONS)}, not {select!r}")
    require_loop(store, "solve", "a training export")
    train = train_split(store) if select == "train-hidden" else None
    if train is not None and hidden is None:
        raise ValueError("select='train-hidden' needs hidden(attempt), the family's scorer on an attempt")

    def passed(attempt: AttemptRecord) -> bool:
        return hidden(attempt) if train is not None else all(f.passed for f in attempt.feedback.values())
    seen: set[str] = set()

    def fresh(*parts) -> bool:
        key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
        if key in seen:
            return False
        seen.add(key)
        return True

    for policy, _ in store.policies():
        by_task: dict[str, list[AttemptRecord]] = {}
        for attempt in store.attempts(policy):
            if attempt.call is not None and (train is None or attempt.step.task_id in train):
                by_task.setdefault(attempt.step.task_id, []).append(attempt)
        for task_id, attempts in by_task.items():
            verdict = {a.step.step: passed(a) for a in attempts}
            yield from _rows(store, form, attempts, verdict, fresh)


def _rows(store, form, attempts, verdict, fresh) -> Iterator[dict]:
    if form == "sft":
        for a in attempts:
            if verdict[a.step.step] and fresh(_prompt(a), a.call.response):
                yield {"messages": _prompt(a) + _assistant(a.call.response), "provenance": _provenance(store, a)}
    elif form == "kto":
        for a in attempts:
            if fresh(_prompt(a), a.call.response):
                yield {"prompt": _prompt(a), "completion": _assistant(a.call.response), "label": verdict[a.step.step],
                       "provenance": _provenance(store, a)}
    elif form == "dpo":
        by_prompt: dict[str, list[AttemptRecord]] = {}
        for a in attempts:
            by_prompt.setdefault(json.dumps(_prompt(a)), []).append(a)
        for group in by_prompt.values():
            good = [a for a in group if verdict[a.step.step]]
            bad = [a for a in group if not verdict[a.step.step]]
            for chosen, rejected in zip(good, bad):  # each attempt in one pair at most
                if chosen.call.response != rejected.call.response and fresh(_prompt(chosen), chosen.call.response,
                                                                             rejected.call.response):
                    yield {"prompt": _prompt(chosen), "chosen": _assistant(chosen.call.response),
                           "rejected": _assistant(rejected.call.response),
                           "provenance": _provenance(store, chosen, rejected)}
    else:  # revisions: a failed attempt, its feedback, and the revision of it that passed
        by_step = {a.step.step: a for a in attempts}
        for a in attempts:
            parent = by_step.get(a.step.parent)
            if parent is None or verdict[parent.step.step] or not verdict[a.step.step]:
                continue
            if fresh(_prompt(a), a.call.response):
                feedback = "\n".join(f.text for f in parent.feedback.values() if not f.passed)
                yield {"messages": _prompt(a) + _assistant(a.call.response), "feedback": feedback,
                       "provenance": _provenance(store, parent, a)}


def export_training(run_dir: Path, out: Path, form: str, select: str = "visible", family=None,
                    problems=None) -> int:
    """Write `training_rows` of the run in `run_dir` to `out`, one JSON line each; returns the rows. With
    `select="train-hidden"`, `family` and its `problems` score each train-split attempt's candidate."""
    with RunStore(run_dir, read_only=True) as store:
        hidden = None
        if select == "train-hidden":
            train_split(store)  # refused before anything is scored or written
            if family is None:
                raise ValueError("select='train-hidden' needs the run's family and problems to score with")
            by_id = {p.task.id: p for p in problems}
            hidden = lambda a: family.score(by_id[a.step.task_id], a.step.candidate).passed  # noqa: E731
        rows = list(training_rows(store, form, select, hidden))
    with open(out, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return len(rows)
