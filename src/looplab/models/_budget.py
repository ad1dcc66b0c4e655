from __future__ import annotations

from dataclasses import dataclass

from ._base import BudgetExceeded, Usage


@dataclass(frozen=True)
class Budget:
    """Limits on model use; None means unlimited."""

    calls: int | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Reservation:
    """What one call holds of every budget above it until it returns."""

    tokens: int   # the prompt plus `allowed`
    allowed: int  # completion tokens the call may use


class Meter:
    """Counts calls and tokens against a budget, and against its parent's (a task inside a run).

    Every call reserves before it is sent: `reserve` refuses a call that could push any level over its
    budget, counting the calls still in flight at their largest possible cost, and `settle` replaces the
    reservation by what the call used when it returns. So however many calls run at once, no budget is
    ever overshot.
    """

    def __init__(self, budget: Budget = Budget(), parent: Meter | None = None):
        self.budget = budget
        self.parent = parent
        self.calls = 0
        self.tokens = 0
        self.reserved_calls = 0
        self.reserved_tokens = 0

    def _chain(self):
        meter: Meter | None = self
        while meter is not None:
            yield meter
            meter = meter.parent

    def reserve(self, prompt_tokens: int, max_tokens: int, min_reply: int = 1) -> Reservation:
        """`min_reply`: refuse when less room than this is left (a cut-off reply would be wasted)."""
        allowed = max_tokens
        for meter in self._chain():
            b = meter.budget
            if b.calls is not None and meter.calls + meter.reserved_calls >= b.calls:
                raise BudgetExceeded(f"call budget of {b.calls} reached", meter)
            if b.tokens is not None:
                room = b.tokens - meter.tokens - meter.reserved_tokens - prompt_tokens
                if room < min_reply:
                    raise BudgetExceeded(
                        f"token budget of {b.tokens} reached ({meter.tokens} used, {meter.reserved_tokens} held by "
                        f"calls in flight, next prompt ~{prompt_tokens})", meter)
                allowed = min(allowed, room)
        reservation = Reservation(prompt_tokens + allowed, allowed)
        for meter in self._chain():
            meter.reserved_calls += 1
            meter.reserved_tokens += reservation.tokens
        return reservation

    def settle(self, reservation: Reservation, usage: Usage | None) -> None:
        """Release a reservation and charge what the call used (nothing when it failed)."""
        for meter in self._chain():
            meter.reserved_calls -= 1
            meter.reserved_tokens -= reservation.tokens
            if usage is not None:
                meter.calls += 1
                meter.tokens += usage.total_tokens
