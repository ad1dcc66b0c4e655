"""Which task families exist, and how `--tasks` names them."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..sandbox import Sandbox
from ._code import CodeFamily, load_humaneval, load_jsonl
from ._family import Family, Problem, TaskError
from ._math import MathFamily, load_math
from ._plan import PlanFamily, load_plan
from ._retrieve import RetrieveFamily, load_retrieve
from ._sql import SqlFamily, load_sql


def _parts(argument: str) -> list[str] | None:
    return [a for a in argument.split(",") if a] or None


# name -> (argument after the colon, sandbox) -> the family and all its problems. One line per family.
FAMILIES: dict[str, Callable[[str, Sandbox], tuple[Family, list[Problem]]]] = {
    "humaneval": lambda argument, sandbox: (CodeFamily(sandbox), load_humaneval()),
    "sql": lambda argument, sandbox: (SqlFamily(), load_sql(_parts(argument))),
    "math": lambda argument, sandbox: (MathFamily(sandbox), load_math(_parts(argument))),
    "plan": lambda argument, sandbox: (PlanFamily(), load_plan(_parts(argument))),
    "retrieve": lambda argument, sandbox: (RetrieveFamily(), load_retrieve(_parts(argument))),
}


def load_tasks(spec: str, sandbox: Sandbox, *, limit: int | None = None,
               ids: list[str] | None = None) -> tuple[Family, list[Problem]]:
    """The family and problems `--tasks` names: `humaneval`, `sql[:DOMAIN,...]`, `math[:GENERATOR,...]`,
    `plan[:LEVEL,...]`, `retrieve[:LEVEL,...]` or a JSONL file of code tasks; then the tasks in `ids` (in that order) or the first `limit`.

    >>> family, problems = load_tasks("sql:shop", None, limit=2)
    >>> family.name, [p.task.id for p in problems]
    ('sql', ['shop/01', 'shop/02'])
    """
    if spec.endswith(".jsonl") or Path(spec).is_file():
        family, problems = CodeFamily(sandbox, name="code", label="visible tests"), load_jsonl(spec)
    else:
        name, _, argument = spec.partition(":")
        if name not in FAMILIES:
            raise TaskError(f"unknown --tasks {spec!r}: give one of {', '.join(FAMILIES)} or a .jsonl file")
        family, problems = FAMILIES[name](argument, sandbox)
    if limit is not None and limit < 1:
        raise TaskError(f"--limit must be at least 1, not {limit}")
    return family, select(problems, limit, ids or [])


def select(problems: list[Problem], limit: int | None, ids: list[str]) -> list[Problem]:
    """The tasks asked for: by id in the order given (`3` stands for the one id ending in `/3`), else
    the first `limit`, else all."""
    if not ids:
        return problems[:limit] if limit is not None else problems
    by_id = {p.task.id: p for p in problems}
    chosen = []
    for wanted in ids:
        matches = [by_id[wanted]] if wanted in by_id else [p for i, p in by_id.items() if i.endswith(f"/{wanted}")]
        if len(matches) != 1:
            reason = "is ambiguous" if matches else "is unknown"
            raise TaskError(f"task id {wanted!r} {reason} (the set runs from {problems[0].task.id} to "
                            f"{problems[-1].task.id})")
        chosen.append(matches[0])
    return chosen
