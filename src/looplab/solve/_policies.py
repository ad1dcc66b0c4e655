"""Solve policies. Each takes a task and a SolveContext and spends model calls on attempts;
the engine then takes the best attempt by visible score as the answer."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from ..models import Message
from ..tasks import CodeTask
from ._context import Attempt, SolveContext

SYSTEM = ("You are an expert Python programmer. Complete the function the user gives you. Reply with the "
          "complete function, including the imports it needs, in one ```python code block and nothing else.")


def first_messages(task: CodeTask) -> list[Message]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task.prompt}]


def revision_messages(task: CodeTask, attempt: Attempt) -> list[Message]:
    # Only the latest attempt and its feedback: short prompts keep a small model on track.
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": task.prompt},
            {"role": "assistant", "content": f"```python\n{attempt.code}\n```"},
            {"role": "user", "content": f"I ran your function and it is not right yet.\n{attempt.feedback.text}\n\n"
                                        "Fix the function. Reply with the complete corrected function in one "
                                        "```python code block."}]


@dataclass(frozen=True)
class PolicyConfig:
    strategy: str = "single"
    n: int = 4                  # best-of-n: samples
    rounds: int = 3             # refine: revisions after the first attempt
    temperature: float = 0.8    # sampling temperature: best-of-n after the first sample; refine once stuck
    max_tokens: int = 768       # per model reply

    @property
    def name(self) -> str:
        if self.strategy == "best-of-n":
            return f"best-of-n(n={self.n})"
        if self.strategy == "refine":
            return f"refine(k={self.rounds})"
        return self.strategy

    def as_dict(self) -> dict:
        return asdict(self)


def single(task: CodeTask, ctx: SolveContext, cfg: PolicyConfig) -> None:
    """One greedy attempt."""
    ctx.attempt("initial", ctx.propose(first_messages(task)))


def best_of_n(task: CodeTask, ctx: SolveContext, cfg: PolicyConfig) -> None:
    """Up to n samples (the first greedy); stops early once one passes every visible example."""
    for i in range(cfg.n):
        temperature = 0.0 if i == 0 else cfg.temperature
        attempt = ctx.attempt("sample", ctx.propose(first_messages(task), temperature=temperature, sample=i))
        if attempt.feedback.passed:
            return


def refine(task: CodeTask, ctx: SolveContext, cfg: PolicyConfig) -> None:
    """A greedy attempt, then up to k revisions, each shown the feedback on the one before.

    Revisions are greedy until one merely repeats earlier code (small models often ignore
    feedback); from then on they are sampled at `temperature` so the remaining rounds explore.
    """
    attempt = ctx.attempt("initial", ctx.propose(first_messages(task)))
    seen = {attempt.code}
    temperature = 0.0
    for round_ in range(cfg.rounds):
        if attempt.feedback.passed:
            return
        reply = ctx.propose(revision_messages(task, attempt), temperature=temperature, sample=round_)
        attempt = ctx.attempt("revision", reply, parent=attempt.step)
        if attempt.code in seen:
            temperature = cfg.temperature
        seen.add(attempt.code)


POLICIES: dict[str, Callable[[CodeTask, SolveContext, PolicyConfig], None]] = {
    "single": single, "best-of-n": best_of_n, "refine": refine}
