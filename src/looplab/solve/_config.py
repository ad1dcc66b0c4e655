from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PolicyConfig:
    """A policy and its knobs. `n` and `rounds` mean, per strategy:
    best-of-n: n samples · refine, resample, try-again, reflexion: rounds after the first attempt ·
    iad: n candidates per round, rounds of refinement · evolve: population n, rounds generations ·
    tree: n strategies, rounds = refinement depth · mcts: n children per expansion, rounds iterations.
    A task's token budget may end any of them sooner."""

    strategy: str = "single"
    n: int = 4
    rounds: int = 3
    temperature: float = 0.8     # whenever a policy samples rather than decodes greedily
    max_tokens: int = 768        # per code reply
    generated_tests: bool = False  # also check candidates against tests the model writes

    @property
    def name(self) -> str:
        knobs = {"best-of-n": f"n={self.n}", "refine": f"k={self.rounds}", "resample": f"k={self.rounds}", "try-again": f"k={self.rounds}",
                 "reflexion": f"k={self.rounds}", "iad": f"n={self.n},k={self.rounds}",
                 "evolve": f"n={self.n},k={self.rounds}", "tree": f"n={self.n},k={self.rounds}",
                 "mcts": f"n={self.n},k={self.rounds}"}.get(self.strategy)
        name = f"{self.strategy}({knobs})" if knobs else self.strategy
        return name + ("+tests" if self.generated_tests else "")

    def as_dict(self) -> dict:
        return asdict(self)
