from __future__ import annotations

from dataclasses import dataclass, replace

from ._base import BudgetExceeded, Completion, Usage

# No tokenizer looplab knows spends more than this many characters on one token (long runs of spaces
# are the longest tokens); a reply longer than its token limit allows was not decoded within the limit.
MAX_CHARS_PER_TOKEN = 32


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


def within_reservation(completion: Completion, reservation: Reservation) -> tuple[Completion, dict | None]:
    """The completion as it may be charged and kept: never more tokens than the call reserved, never more
    text than its token limit allows. A server that ignores `max_tokens` (or a usage estimate above it)
    gets its reply cut to the share of the text that fits, finished for reason "length"; the second value
    says what came back, for the record (None when the reply fit).

    >>> reply = Completion("word " * 100, Usage(10, 100), 0.1)
    >>> cut, violation = within_reservation(reply, Reservation(tokens=60, allowed=50))
    >>> len(cut.text), cut.usage, cut.finish_reason, violation
    (250, Usage(prompt_tokens=10, completion_tokens=50), 'length', {'completion_tokens': 100, 'characters': 500})
    """
    usage, text, allowed = completion.usage, completion.text, reservation.allowed
    prompt_room = reservation.tokens - allowed
    if usage.completion_tokens <= allowed and len(text) <= allowed * MAX_CHARS_PER_TOKEN \
            and usage.prompt_tokens <= prompt_room:
        return completion, None
    violation = {"completion_tokens": usage.completion_tokens, "characters": len(text)}
    if usage.prompt_tokens > prompt_room:
        violation["prompt_tokens"] = usage.prompt_tokens
    keep = min(len(text), allowed * MAX_CHARS_PER_TOKEN)
    if usage.completion_tokens > allowed:
        keep = min(keep, len(text) * allowed // usage.completion_tokens)
    cut = len(text) > keep
    charged = Usage(min(usage.prompt_tokens, prompt_room), min(usage.completion_tokens, allowed))
    return replace(completion, text=text[:keep], usage=charged,
                   finish_reason="length" if cut else completion.finish_reason), violation
