from __future__ import annotations

from dataclasses import asdict, dataclass


# The knobs that appear in a policy's name (and so in its record), by strategy.
ROUNDS_ONLY = ("refine", "resample", "try-again", "reflexion")
N_AND_ROUNDS = ("iad", "evolve", "tree", "mcts")


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
        if self.strategy == "best-of-n":
            knobs = f"n={self.n}"
        elif self.strategy in ROUNDS_ONLY:
            knobs = f"k={self.rounds}"
        elif self.strategy in N_AND_ROUNDS:
            knobs = f"n={self.n},k={self.rounds}"
        else:
            knobs = ""
        name = f"{self.strategy}({knobs})" if knobs else self.strategy
        return name + ("+tests" if self.generated_tests else "")

    def as_dict(self) -> dict:
        return asdict(self)
