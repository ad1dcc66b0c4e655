"""Policies named the way the command line names them: `STRATEGY[+SOURCE...]`, comma-separated."""
from __future__ import annotations

from dataclasses import replace

from ._config import PolicyConfig
from ._engine import EXTRA_SOURCES
from ._spec import POLICIES


class PolicyNameError(ValueError):
    """A policy list that names an unknown strategy or source, nothing, or one policy twice."""


def parse_policies(spec: str, base: PolicyConfig = PolicyConfig(), *, reference_samples: int | None = None,
                   sources: tuple[str, ...] = ()) -> list[PolicyConfig]:
    """The policies `spec` names (comma-separated, each `STRATEGY[+SOURCE...]`), with the knobs of `base`.
    `sources` are added to every policy (`--generated-tests` adds "tests"); the reference policy (best-of-n)
    draws `reference_samples` when given, so that it samples until any budget ends.

    >>> [c.name for c in parse_policies("single, refine+judge", PolicyConfig(rounds=2))]
    ['single', 'refine(k=2)+judge']
    >>> parse_policies("refine+oracle")
    Traceback (most recent call last):
    looplab.solve._names.PolicyNameError: unknown feedback source +oracle; choose from +tests, +properties, +judge, +deceptive-judge, +user
    """
    configs = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        strategy, *extra = item.split("+")
        if strategy not in POLICIES:
            raise PolicyNameError(f"unknown policy {strategy!r}; choose from {', '.join(POLICIES)}")
        unknown = [e for e in extra if e not in EXTRA_SOURCES]
        if unknown:
            raise PolicyNameError(f"unknown feedback source +{unknown[0]}; choose from "
                                  f"{', '.join('+' + e for e in EXTRA_SOURCES)}")
        extra += [s for s in sources if s not in extra]
        n = reference_samples if POLICIES[strategy].reference and reference_samples else base.n
        configs.append(replace(base, strategy=strategy, n=n, extra_sources=tuple(extra)))
    if not configs:
        raise PolicyNameError("the list of policies names no policy")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise PolicyNameError(f"a policy is named twice: {', '.join(names)}")
    return configs
