from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..feedback import Feedback, FeedbackSource, all_passed, rank
from ..models import Message, Model
from ..runs import TaskRecorder
from ..tasks import Family
from ._prompts import Messages, Prompts

NOTE_TOKENS = 256  # replies that are not candidates (reflections, strategies, critiques) are short


@dataclass(frozen=True)
class Reply:
    """A model reply and the id of the recorded call that produced it."""

    text: str
    call: int | None


@dataclass(frozen=True)
class Attempt:
    """A candidate and the feedback each source gave it, in ranking order (the first source decides)."""

    step: int
    candidate: str
    feedback: dict[str, Feedback]
    feedback_text: str   # what a model is shown about it

    @property
    def passed(self) -> bool:
        """Every source passed it: nothing left to fix."""
        return all_passed(self.feedback)

    @property
    def rank(self) -> tuple[float, ...]:
        return rank(self.feedback, list(self.feedback))

    @property
    def score(self) -> float:
        """The deciding source's score."""
        return self.rank[0]

    @property
    def deciding(self) -> Feedback:
        """The deciding source's feedback."""
        return next(iter(self.feedback.values()))


class SolveContext:
    """What a policy works with: `messages` (the prompts for this task), `propose` and `ask` (the
    model, recorded and budgeted), `attempt` (feedback from every source), and the `best` so far.

    Only visible feedback reaches a policy; the hidden score is applied by the engine afterwards.
    """

    def __init__(self, family: Family, task: Any, recorder: TaskRecorder, sources: dict[str, FeedbackSource],
                 max_tokens: int, prompts: Prompts, reference: str | None = None):
        """`reference` (the family's reference answer) goes only to sources bound with `for_problem`, such as a
        simulated user that must help without giving it away; it is not kept here."""
        self.family = family
        self.task = task
        self.recorder = recorder
        self.max_tokens = max_tokens
        self.messages = Messages(prompts, family, task)
        self.sources = {name: source.for_task(self) if hasattr(source, "for_task") else
                        source.for_problem(self, reference) if hasattr(source, "for_problem") else source
                        for name, source in sources.items()}
        self.attempts: list[Attempt] = []
        self.chosen: Attempt | None = None

    def prepare(self) -> None:
        """Let each source that needs the model do its one-off work (write tests or properties) before the
        first candidate."""
        for source in self.sources.values():
            if hasattr(source, "prepare"):
                source.prepare(self.task)

    def choose(self, attempt: Attempt) -> None:
        """Make `attempt` the answer, in place of the best-ranked one (a policy that selects otherwise)."""
        self.chosen = attempt

    @property
    def answer(self) -> Attempt | None:
        """The attempt the task answers with: the one chosen, else the best."""
        return self.chosen or self.best

    def propose(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0) -> Reply:
        text = self.recorder.generate(messages, temperature=temperature, max_tokens=self.max_tokens,
                                      sample=sample).text
        return Reply(text, self.recorder.last_call)

    def ask(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0,
            max_tokens: int = NOTE_TOKENS, model: Model | None = None) -> Reply:
        """A short reply that is not a candidate: a reflection, a plan step, a judgement (by `model` when
        given, such as a judge's own)."""
        text = self.recorder.generate(messages, temperature=temperature, max_tokens=max_tokens, sample=sample,
                                      min_reply=16, model=model).text.strip()
        return Reply(text, self.recorder.last_call)

    def note(self, kind: str, text: str, *, parent: int | None = None, call: int | None = None) -> int:
        """Record a step that is not a candidate (a reflection, a strategy, a thought)."""
        return self.recorder.step(kind, text, parent=parent, call=call)

    def attempt(self, kind: str, reply: Reply, *, parent: int | None = None) -> Attempt:
        """Take the candidate out of a reply, have every source judge it, and record both."""
        candidate = self.family.extract(self.task, reply.text)
        feedback = {name: source.evaluate(self.task, candidate) for name, source in self.sources.items()}
        step = self.recorder.step(kind, candidate, feedback, parent=parent, call=reply.call)
        attempt = Attempt(step, candidate, feedback, self._text(feedback))
        self.attempts.append(attempt)
        return attempt

    def _text(self, feedback: dict[str, Feedback]) -> str:
        """The deciding source's text, then each other source that did not pass, under its heading."""
        (_, first), *others = feedback.items()
        parts = [first.text]
        for name, f in others:
            if not f.passed:
                parts.append(f"{getattr(self.sources[name], 'heading', name + ':')}\n{f.text}")
        return "\n".join(parts)

    @property
    def best(self) -> Attempt | None:
        """The attempt ranked highest; the earliest among equals."""
        best = None
        for attempt in self.attempts:
            if best is None or attempt.rank > best.rank:
                best = attempt
        return best
