from __future__ import annotations

from dataclasses import dataclass

from ..sandbox import ExecResult, Sandbox
from ..tasks import HIDDEN_PASSED_MARK, HiddenTest


@dataclass(frozen=True)
class HiddenScore:
    passed: bool
    result: ExecResult


class HiddenScorer:
    """Runs a task's hidden test against a final answer, in the sandbox. For scoring only."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox

    def score(self, hidden: HiddenTest, candidate: str) -> HiddenScore:
        result = self.sandbox.run(hidden.program(candidate))
        return HiddenScore(result.kind == "ok" and HIDDEN_PASSED_MARK in result.stdout.splitlines(), result)
