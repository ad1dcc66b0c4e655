from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Feedback:
    """A judgement of one candidate: a score in [0, 1], whether it passed, and text a model can read."""

    score: float
    passed: bool
    text: str
    details: dict[str, Any] = field(default_factory=dict)


class FeedbackSource(Protocol):
    def evaluate(self, task: Any, candidate: str) -> Feedback: ...
