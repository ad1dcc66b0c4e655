from __future__ import annotations

from dataclasses import dataclass

from ._base import BudgetExceeded, Usage


@dataclass(frozen=True)
class Budget:
    """Limits on model use; None means unlimited."""

    calls: int | None = None
    tokens: int | None = None


class Meter:
    """Counts calls and tokens against a budget, and against its parent's (a task inside a run).

    `reserve` runs before every call: it refuses a call that could push any level over its
    budget and otherwise returns how many completion tokens the call may use.
    """

    def __init__(self, budget: Budget = Budget(), parent: Meter | None = None):
        self.budget = budget
        self.parent = parent
        self.calls = 0
        self.tokens = 0

    def reserve(self, prompt_tokens: int, max_tokens: int, min_reply: int = 1) -> int:
        """`min_reply`: refuse when less room than this is left (a cut-off reply would be wasted)."""
        allowed = max_tokens
        meter: Meter | None = self
        while meter is not None:
            b = meter.budget
            if b.calls is not None and meter.calls >= b.calls:
                raise BudgetExceeded(f"call budget of {b.calls} reached", meter)
            if b.tokens is not None:
                room = b.tokens - meter.tokens - prompt_tokens
                if room < min_reply:
                    raise BudgetExceeded(
                        f"token budget of {b.tokens} reached ({meter.tokens} used, next prompt ~{prompt_tokens})",
                        meter)
                allowed = min(allowed, room)
            meter = meter.parent
        return allowed

    def charge(self, usage: Usage) -> None:
        meter: Meter | None = self
        while meter is not None:
            meter.calls += 1
            meter.tokens += usage.total_tokens
            meter = meter.parent
