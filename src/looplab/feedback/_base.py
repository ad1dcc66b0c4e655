from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Feedback:
    """A judgement of one candidate: a score in [0, 1], whether it passed, text a model can read, details for
    the record, and the ids of the model calls the judgement made (a judge's, a simulated user's), so the
    record tells their words from the policy's.

    >>> Feedback(0.5, False, "1 of 2 examples pass.").passed
    False
    """

    score: float
    passed: bool
    text: str
    details: dict[str, Any] = field(default_factory=dict)
    calls: tuple[int, ...] = ()


class FeedbackSource:
    """What judges a candidate: `evaluate(task, candidate) -> Feedback`, plus hooks with defaults that a
    source overrides when it needs them. `evaluate` may block (run a program: it runs in a worker thread), or
    be a coroutine when it calls the model (through the context it was bound to).

    - `bind(ctx, reference)`: the source for one task, with `ctx` (the task's recorded, budgeted calls) and,
      for a source that `reads_reference`, the task's reference answer; by default the source itself.
    - `prepare(task)`: one-off work before the first candidate (writing tests); by default nothing.
    - `audit(hidden, answer, passed_hidden)`: a note for the scorer's record after the loop, judging the
      source itself against the hidden material; by default none.
    - `heading`: the line its text appears under when it is not the deciding source.
    - `reads_reference`: it needs the task's reference answer (a simulated user); policies never see it.
    - `judges_with_a_model`: it calls a judge model, whose name the record keeps.
    - `blocks`: `evaluate` may block (by default); a source that only reads the candidate says False and is
      judged on the event loop, without a worker thread's round trip.
    """

    heading = ""
    reads_reference = False
    judges_with_a_model = False
    blocks = True

    def evaluate(self, task: Any, candidate: str) -> Feedback:
        raise NotImplementedError

    def bind(self, ctx: Any, reference: str | None = None) -> FeedbackSource:
        return self

    async def prepare(self, task: Any) -> None:
        return None

    def audit(self, hidden: Any, answer: Feedback | None, passed_hidden: bool) -> dict | None:
        return None


class Reward(FeedbackSource):
    """A plain function `reward(task, candidate)` returning a float in [0, 1] or `(float, text)`,
    used as a feedback source (as DSPy takes a reward function). It passes at a score of 1.

    >>> Reward(lambda task, candidate: 1.0 if candidate == "42" else 0.0).evaluate(None, "42").passed
    True
    """

    def __init__(self, reward: Callable[[Any, str], float | tuple[float, str]]):
        self.reward = reward

    def evaluate(self, task: Any, candidate: str) -> Feedback:
        value = self.reward(task, candidate)
        score, text = value if isinstance(value, tuple) else (value, "")
        score = float(score)
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"a reward must lie in [0, 1]; got {score}")
        return Feedback(score, score >= 1.0, text or f"Score {score:.2f}.")


def as_source(source: FeedbackSource | Callable) -> FeedbackSource:
    """A feedback source as it is, or a reward function wrapped as one; anything else is refused."""
    if isinstance(source, FeedbackSource):
        return source
    if not callable(source):
        raise TypeError(f"a feedback source is a FeedbackSource or a function reward(task, candidate), not "
                        f"{type(source).__name__}")
    return Reward(source)


# The one ranking rule across sources ------------------------------------------------------------

def rank(feedback: Mapping[str, Feedback], order: Sequence[str]) -> tuple[float, ...]:
    """How good a candidate is: the scores of the sources in `order`; the first source decides and each
    later one only breaks ties (tests a model wrote itself may be wrong, so they never outvote the
    task's own examples). A source that did not judge the candidate counts 0.

    >>> rank({"examples": Feedback(1.0, True, ""), "generated-tests": Feedback(0.5, False, "")},
    ...      ["examples", "generated-tests"])
    (1.0, 0.5)
    """
    return tuple(feedback[name].score if name in feedback else 0.0 for name in order)


def all_passed(feedback: Mapping[str, Feedback]) -> bool:
    """A candidate is done when every source that judged it passed it."""
    return bool(feedback) and all(f.passed for f in feedback.values())


def pass_pattern(verdicts: Sequence[tuple[bool, Mapping[str, Any]]]) -> tuple[bool, ...]:
    """Which checks a candidate passed, over every source in order: each check a source reports in
    `details["checks"]` (examples, generated tests, properties), or the source's verdict when it reports none.

    >>> pass_pattern([(False, {"checks": [{"ok": True}, {"ok": False}]}), (True, {})])
    (True, False, True)
    """
    pattern: list[bool] = []
    for passed, details in verdicts:
        checks = details.get("checks")
        if checks:
            pattern.extend(row.get("ok") is True for row in checks)
        else:
            pattern.append(bool(passed))
    return tuple(pattern)


def agreement_choice(patterns: Sequence[tuple[bool, ...]]) -> int:
    """CodeT's dual agreement: candidates that pass exactly the same checks form a consensus set, scored by
    its size times the number of checks they pass; the answer is the earliest candidate of the best set.
    Checks a model wrote may be wrong; a wrong check is unlikely to be agreed on by many candidates.

    >>> agreement_choice([(True, False), (True, True), (True, False), (True, False)])
    0
    """
    if not patterns:
        raise ValueError("no candidates to choose from")
    groups: dict[tuple[bool, ...], list[int]] = {}
    for i, pattern in enumerate(patterns):
        groups.setdefault(pattern, []).append(i)
    best = max(groups.items(), key=lambda item: (len(item[1]) * sum(item[0]), -item[1][0]))
    return best[1][0]
