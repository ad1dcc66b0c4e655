"""Train, validation and test splits of a task set: seeded, stratified by category (or difficulty) where the
family has one, and recorded by task id so a resumed or later run sees the same split."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from ..tasks import Problem


@dataclass(frozen=True)
class Splits:
    train: list[Problem]
    val: list[Problem]
    test: list[Problem]

    def ids(self) -> dict[str, list[str]]:
        return {name: [p.task.id for p in getattr(self, name)] for name in ("train", "val", "test")}


def category(task) -> str:
    """What a split is stratified by: a task's category (math's generator, HumanEval's none) or difficulty (SQL)."""
    return getattr(task, "difficulty", "") or getattr(task, "category", "") or "all"


def parse_sizes(text: str, total: int) -> tuple[int, int, int]:
    """`train:val:test` as counts (`30:30:30`) or fractions of the tasks (`0.5:0.25:0.25`).

    >>> parse_sizes("30:30:30", 90), parse_sizes("0.5:0.25:0.25", 164)
    ((30, 30, 30), (82, 41, 41))
    >>> parse_sizes("60:30:30", 90)
    Traceback (most recent call last):
    ValueError: the splits ask for 120 tasks and there are 90
    """
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"give the splits as train:val:test, e.g. 30:30:30 or 0.5:0.25:0.25, not {text!r}")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"the splits are three numbers, not {text!r}") from None
    if any(n < 0 for n in numbers):
        raise ValueError(f"a split cannot be negative ({text})")
    sizes = [round(n * total) if all(n <= 1 for n in numbers) and any(n < 1 for n in numbers) else int(n)
             for n in numbers]
    if sizes[0] < 1 or sizes[1] < 1:
        raise ValueError("the train and validation splits need at least one task each")
    if sum(sizes) > total:
        raise ValueError(f"the splits ask for {sum(sizes)} tasks and there are {total}")
    return sizes[0], sizes[1], sizes[2]


def split_tasks(problems: list[Problem], sizes: tuple[int, int, int], seed: int = 0) -> Splits:
    """Deal the tasks into train, validation and test: each category shuffled with `seed` and shared out so that
    every split holds each category in its share of the whole.

    >>> from looplab.tasks import load_tasks
    >>> _, problems = load_tasks("sql", None)
    >>> splits = split_tasks(problems, (30, 30, 30), seed=0)
    >>> [sorted(category(p.task) for p in splits.val).count(level) for level in ("easy", "medium", "hard")]
    [11, 12, 7]
    """
    by_category: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        by_category[category(problem.task)].append(problem)
    rng = random.Random(seed)
    names = sorted(by_category)
    for name in names:
        rng.shuffle(by_category[name])
    # each split takes every category in its share of what is left (largest remainders, so sizes are exact)
    left = {c: list(by_category[c]) for c in names}
    dealt: dict[str, list[Problem]] = {}
    for key, size in zip(("train", "val", "test"), sizes):
        remaining = sum(len(v) for v in left.values())
        exact = {c: len(left[c]) * size / remaining if remaining else 0 for c in names}
        take = {c: int(exact[c]) for c in names}
        for c in sorted(names, key=lambda c: (int(exact[c]) - exact[c], c)):
            if sum(take.values()) < size and take[c] < len(left[c]):
                take[c] += 1
        dealt[key] = [p for c in names for p in left[c][:take[c]]]
        left = {c: left[c][take[c]:] for c in names}
    return Splits(dealt["train"], dealt["val"], dealt["test"])
