"""Math word problems and exercises from reasoning-gym's seeded generators. The answer is read from
the reply's `Answer:` line; the hidden score is the generator's own scorer. Visible feedback on its
own is only a format check: whether an answer could be read at all."""
from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass, field
from typing import Any

from ..feedback import Feedback, FeedbackSource
from ._family import HiddenScore, Problem, TaskError, Voice

DEFAULT_GENERATORS = ("gsm_symbolic", "basic_arithmetic", "fraction_simplification")
PER_GENERATOR = 100
SEED = 1

VOICE = Voice(
    system=("You are a careful mathematician. Work the problem out step by step, briefly, then end with one "
            "line `Answer: <final answer>` that holds only the final answer."),
    noun="answer", checked="I checked your answer", block=", ending with the line `Answer: <final answer>`",
    thinker="You are a careful mathematician. Answer briefly, in plain sentences.")


@dataclass(frozen=True)
class MathTask:
    id: str
    question: str
    category: str    # the generator


@dataclass(frozen=True)
class MathHidden:
    entry: dict = field(repr=False)   # the generator's item, answer included
    dataset: Any = field(repr=False)  # scores an answer against it


_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=]\s*(.+)", re.I)
_FRACTION = re.compile(r"\\d?frac\{([^{}]*)\}\{([^{}]*)\}")


def _boxed(text: str) -> str | None:
    """The contents of the last \\boxed{...}, nested braces included."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    return None


def extract_answer(reply: str) -> str:
    """The final answer in a reply: the last `Answer: ...` line, else the last \\boxed{...}; "" if neither.
    LaTeX fractions become a/b and thousands separators go.

    >>> extract_answer("3 + 4 = 7\\nAnswer: **7**."), extract_answer("so \\\\boxed{\\\\frac{3}{4}}"), extract_answer("none")
    ('7', '3/4', '')
    """
    lines = _ANSWER.findall(reply)
    answer = lines[-1] if lines else _boxed(reply)
    if answer is None:
        return ""
    answer = _boxed(answer) or answer
    answer = _FRACTION.sub(r"\1/\2", answer).replace("\\(", "").replace("\\)", "")
    answer = answer.strip().strip("*`$ ").rstrip(".").strip()
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", answer)  # 1,234 -> 1234


class AnswerFormat:
    """Passes when an answer could be read from the reply; it says nothing about whether it is right."""

    def evaluate(self, task: MathTask, candidate: str) -> Feedback:
        if candidate:
            return Feedback(1.0, True, f"Your final answer reads: {candidate}")
        return Feedback(0.0, False, "I could not find your final answer. End your reply with one line "
                                    "`Answer: <final answer>`.")


class MathFamily:
    """reasoning-gym generators (gsm_symbolic and others), scored by each generator's own scorer."""

    name = "math"
    voice = VOICE

    def describe(self, task: MathTask) -> str:
        return task.question

    def extract(self, task: MathTask, reply: str) -> str:
        return extract_answer(reply)

    def show(self, candidate: str) -> str:
        return f"Answer: {candidate}" if candidate else "(no final answer given)"

    def sources(self) -> dict[str, FeedbackSource]:
        return {"format": AnswerFormat()}

    def score(self, problem: Problem, candidate: str) -> HiddenScore:
        hidden: MathHidden = problem.hidden
        score = float(hidden.dataset.score_answer(candidate or None, hidden.entry))
        return HiddenScore(score >= 1.0, {"score": score})

    def reference(self, problem: Problem) -> str | None:
        return str(problem.hidden.entry["answer"])

    def settings(self) -> dict:
        return {"reasoning_gym": importlib.metadata.version("reasoning-gym")}


def load_math(generators: list[str] | None = None, count: int = PER_GENERATOR) -> list[Problem]:
    """`count` seeded problems from each generator, taken in turn (one of each, then the next of each),
    so the first N tasks mix the generators evenly."""
    try:
        import reasoning_gym
    except ImportError:
        raise TaskError("the math family needs reasoning-gym: pip install reasoning-gym==0.1.25") from None
    datasets = {}
    for name in generators or DEFAULT_GENERATORS:
        try:
            datasets[name] = reasoning_gym.create_dataset(name, seed=SEED, size=count)
        except Exception as e:  # reasoning-gym raises several kinds for an unknown name
            raise TaskError(f"reasoning-gym has no generator {name!r} ({e})") from None
    problems = []
    for i in range(count):
        for name, dataset in datasets.items():
            entry = dataset[i]
            problems.append(Problem(MathTask(f"{name}/{i}", entry["question"], name), MathHidden(entry, dataset)))
    return problems
