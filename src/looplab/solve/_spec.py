"""One spec per policy: the function, the knobs that name it, the templates it reads and how its answer is
chosen, registered once with `@policy(...)`. The engine, the config's name, `compare` and the command line's
help all read the spec, so adding a policy is one function and its registration."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

KNOB_LETTERS = {"n": "n", "rounds": "k"}  # how a knob appears in a policy's name: refine(k=3)
ANSWER_RULES = ("rank", "agreement")


@dataclass(frozen=True)
class PolicySpec:
    """What the rest of looplab needs to know about a policy.

    `knobs`: the config fields that change what it does, in the order its name shows them (`n`, `rounds`);
    `templates`: the `Prompts` fields it reads (only these are part of its identity); `answer`: "rank" (the
    best attempt by its feedback) or "agreement" (the candidate the most others agree with, as CodeT);
    `reference`: the baseline every other policy is compared with at equal tokens (best-of-N), which the
    command line lets sample until the budget ends; `samples`: it uses the config's temperature (a greedy
    policy does not); `batches`: it uses the config's batch; `help`: one line for `--help`.
    """

    name: str
    run: Callable[..., Awaitable[None]]
    knobs: tuple[str, ...] = ()
    templates: tuple[str, ...] = ("system", "first")
    answer: str = "rank"
    reference: bool = False
    samples: bool = True
    batches: bool = False
    help: str = ""

    def __post_init__(self):
        if self.answer not in ANSWER_RULES:
            raise ValueError(f"a policy's answer rule is one of {', '.join(ANSWER_RULES)}, not {self.answer!r}")
        unknown = [k for k in self.knobs if k not in KNOB_LETTERS]
        if unknown:
            raise ValueError(f"a policy is named by the knobs {', '.join(KNOB_LETTERS)}, not {unknown[0]!r}")


POLICIES: dict[str, PolicySpec] = {}  # by name, in the order they were registered


def policy(name: str, **spec) -> Callable:
    """Register the decorated `async def run(ctx, cfg)` as the policy `name` (see PolicySpec for the fields).

    >>> @policy("twice-demo", templates=("system", "first"), help="two greedy attempts")
    ... async def twice(ctx, cfg):
    ...     for _ in range(2):
    ...         await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))
    >>> POLICIES.pop("twice-demo").help
    'two greedy attempts'
    """
    def register(run: Callable) -> Callable:
        if name in POLICIES:
            raise ValueError(f"a policy named {name!r} is registered already")
        POLICIES[name] = PolicySpec(name, run, **spec)
        return run
    return register
