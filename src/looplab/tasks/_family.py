"""What every task family provides, and the shapes the engine sees."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..feedback import Feedback, FeedbackSource


class TaskError(Exception):
    """A task set cannot be loaded, or a task id is unknown."""


@dataclass(frozen=True)
class Problem:
    """A task the loop may see, and apart from it the hidden material only the scorer reads."""

    task: Any
    hidden: Any = field(repr=False)


@dataclass(frozen=True)
class Voice:
    """The words a family's prompts use, so one set of policy prompts fits every family.

    >>> Voice(system="Reply with one SQL query.", noun="query", checked="I ran your query").noun
    'query'
    """

    system: str             # the system prompt for proposals: what to write and in which form
    noun: str               # what a candidate is called: "function", "query", "answer"
    checked: str            # how feedback is introduced: "I ran your function"
    block: str = ""         # how a reply must be shaped, appended to "Reply with the complete ..."
    thinker: str = "You are an expert problem solver. Answer briefly, in plain sentences."
    json_schema: dict | None = field(default=None, compare=False)  # a candidate's shape, for backends that
    # constrain decoding to it (a reply is then always parseable)


class Family(Protocol):
    """A kind of task. The engine and the policies reach a task only through these methods."""

    name: str
    voice: Voice

    def describe(self, task: Any) -> str:
        """The task as the model reads it."""

    def extract(self, task: Any, reply: str) -> str:
        """The candidate in a model reply."""

    def show(self, candidate: str) -> str:
        """A candidate as it appears inside a prompt (a fenced block for code)."""

    def sources(self) -> dict[str, FeedbackSource]:
        """The visible feedback sources, by name; the first decides, the others break ties."""

    def score(self, problem: Problem, candidate: str) -> Feedback:
        """The hidden verdict on a final answer, in the shape every source gives (score, passed, text,
        details): kept apart in the record and never shown to a loop; an optimizer reads it on its train
        split only."""

    def reference(self, problem: Problem) -> str | None:
        """A correct answer, for a simulated user who must help without giving it away; never for a policy."""

    def settings(self) -> dict:
        """What a resumed run must share with the recorded one (sandbox, database versions)."""

    # A family may also define `measures(details: list[dict]) -> dict`: its own measures over the hidden
    # details of scored answers (plan: delivery and constraint pass rates; retrieve: mean nDCG@10), which
    # `looplab analyze` prints per policy.
