from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache, cached_property

from ._prompts import Prompts
from ._spec import KNOB_LETTERS, POLICIES


@dataclass(frozen=True)
class PolicyConfig:
    """A policy and its knobs. `n` and `rounds` mean, per strategy:
    best-of-n, codet: n samples · refine, resample, try-again, reflexion: rounds after the first attempt ·
    iad: n candidates per round, rounds of refinement · evolve: population n, rounds generations ·
    tree: n strategies, rounds = refinement depth · mcts: n children per expansion, rounds iterations.
    A task's token budget may end any of them sooner. `batch`: how many independent proposals best-of-n,
    codet, iad and evolve send at once (1: one after another, stopping at the first that passes). `extra_sources` name feedback sources added
    after the family's own (see `EXTRA_SOURCES`); `prompts` are the templates the policy sends.

    >>> PolicyConfig("refine", rounds=3, extra_sources=("tests",)).name
    'refine(k=3)+tests'
    """

    strategy: str = "single"
    n: int = 4
    rounds: int = 3
    temperature: float = 0.8     # whenever a policy samples rather than decodes greedily
    max_tokens: int = 768        # per proposal
    batch: int = 1               # independent proposals in flight at once (best-of-n, codet, iad, evolve)
    extra_sources: tuple[str, ...] = ()
    prompts: Prompts = field(default_factory=Prompts)

    def __post_init__(self):
        for knob, value, least in (("n", self.n, 1), ("rounds", self.rounds, 0), ("max_tokens", self.max_tokens, 16),
                                   ("batch", self.batch, 1)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{knob} must be a whole number of at least {least}, not {value!r}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must lie between 0 and 2, not {self.temperature}")

    @classmethod
    def from_dict(cls, data: dict) -> PolicyConfig:
        """The config a record holds (`as_dict`, with what the engine added beside it, such as its sources).

        >>> config = PolicyConfig("refine", rounds=2, prompts=Prompts(first="{task}\\nThink first."))
        >>> PolicyConfig.from_dict(config.as_dict()) == config
        True
        """
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        fields["extra_sources"] = tuple(fields.get("extra_sources", ()))
        fields["prompts"] = Prompts(**fields.get("prompts", {}))
        return cls(**fields)

    def settings(self) -> dict:
        """What changes the calls this policy makes: its strategy, the knobs its spec names, the temperature when
        it samples, the batch when it batches, its token limit, its extra sources and the templates it reads.
        A resumed policy must keep these; the others it never uses.

        >>> PolicyConfig("single", temperature=0.3).settings() == PolicyConfig("single").settings()
        True
        """
        spec = POLICIES.get(self.strategy)
        out: dict = {"strategy": self.strategy, **{k: getattr(self, k) for k in (spec.knobs if spec else ())}}
        if spec is None or spec.samples:
            out["temperature"] = self.temperature
        if spec is None or spec.batches:
            out["batch"] = self.batch
        return {**out, "max_tokens": self.max_tokens, "extra_sources": list(self.extra_sources),
                "prompts": self.templates}

    @property
    def templates(self) -> dict[str, str]:
        """The templates this policy reads, by name (see `PolicySpec.templates`)."""
        spec = POLICIES.get(self.strategy)
        names = spec.templates if spec else tuple(self.prompts.__dataclass_fields__)
        return {name: getattr(self.prompts, name) for name in names}

    @cached_property  # read for every recorded row: computed once per configuration (it is frozen)
    def name(self) -> str:
        """The policy's name in the record: strategy, the knobs its spec names it by, extra sources, and a
        digest of the templates it reads when they are not the defaults (so two prompt variants never share
        a record, and a template it never reads does not make a new one)."""
        spec = POLICIES.get(self.strategy)
        knobs = ",".join(f"{KNOB_LETTERS[k]}={getattr(self, k)}" for k in (spec.knobs if spec else ()))
        if self.batch != 1:  # batches change where a policy can stop, so they are part of its identity
            knobs += f",batch={self.batch}" if knobs else f"batch={self.batch}"
        name = f"{self.strategy}({knobs})" if knobs else self.strategy
        name += "".join(f"+{source}" for source in self.extra_sources)
        if self.templates != _default_templates(self.strategy):
            name += f"@{self.prompts.identity(self.templates)}"
        return name

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def _default_templates(strategy: str) -> dict[str, str]:
    return PolicyConfig(strategy).templates
