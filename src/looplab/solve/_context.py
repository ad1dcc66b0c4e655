from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..feedback import Feedback, FeedbackSource, all_passed, rank
from ..models import BudgetExceeded, Message, Model
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
class Request:
    """One proposal of a batch: what kind of attempt it makes, from which messages, how it is sampled."""

    kind: str
    messages: list[Message]
    temperature: float = 0.0
    sample: int = 0
    parent: int | None = None


@dataclass(frozen=True)
class Attempt:
    """A candidate and the feedback each source gave it, in ranking order (the first source decides)."""

    step: int
    candidate: str
    feedback: dict[str, Feedback]
    feedback_text: str   # what a model is shown about it
    kind: str = "attempt"
    reply: str = ""      # the model's whole reply the candidate came from

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


def _calls_model(source: FeedbackSource) -> bool:
    """A source whose `evaluate` is a coroutine asks a model (a judge, a simulated user)."""
    return inspect.iscoroutinefunction(source.evaluate)


class SolveContext:
    """What a policy works with: `messages` (the prompts for this task), `propose` and `ask` (the
    model, recorded and budgeted), `attempt` and `attempt_batch` (feedback from every source), and the
    `best` so far. Its methods are coroutines, so many tasks (and the samples inside one) can be in
    flight together; what a policy records does not depend on how many are.

    Sources that run programs are called in `executor` (the sandbox pool's threads); sources that ask a
    model are coroutines. Only visible feedback reaches a policy; the hidden score is applied by the
    engine afterwards.
    """

    def __init__(self, family: Family, task: Any, recorder: TaskRecorder, sources: dict[str, FeedbackSource],
                 max_tokens: int, prompts: Prompts, reference: str | None = None, executor: Executor | None = None):
        """`reference` (the family's reference answer) goes only to sources that `reads_reference`, such as a
        simulated user that must help without giving it away; it is not kept here."""
        self.family = family
        self.task = task
        self.recorder = recorder
        self.max_tokens = max_tokens
        self.executor = executor
        self.messages = Messages(prompts, family, task)
        self.sources = {name: source.bind(self, reference if source.reads_reference else None)
                        for name, source in sources.items()}
        self.attempts: list[Attempt] = []
        self.chosen: Attempt | None = None

    async def prepare(self) -> None:
        """Let each source that needs the model do its one-off work (write tests or properties) before the
        first candidate."""
        for source in self.sources.values():
            await source.prepare(self.task)

    async def propose(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0) -> Reply:
        completion = await self.recorder.agenerate(messages, temperature=temperature, max_tokens=self.max_tokens,
                                                   sample=sample, json_schema=self.family.voice.json_schema)
        return Reply(completion.text, completion.call)

    async def ask(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0,
                  max_tokens: int = NOTE_TOKENS, model: Model | None = None) -> Reply:
        """A short reply that is not a candidate: a reflection, a plan step, a judgement (by `model` when
        given, such as a judge's own)."""
        completion = await self.recorder.agenerate(messages, temperature=temperature, max_tokens=max_tokens,
                                                   sample=sample, min_reply=16, model=model)
        return Reply(completion.text.strip(), completion.call)

    def note(self, kind: str, text: str, *, parent: int | None = None, call: int | None = None) -> int:
        """Record a step that is not a candidate (a reflection, a strategy, a thought)."""
        return self.recorder.step(kind, text, parent=parent, call=call)

    async def run_blocking(self, function, *args):
        """A blocking function (a program in the sandbox) in the executor, so other loops keep going."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def attempt(self, kind: str, reply: Reply, *, parent: int | None = None) -> Attempt:
        """Take the candidate out of a reply, have every source judge it, and record both."""
        candidate = self.family.extract(self.task, reply.text)
        feedback = {name: await self._judge(source, candidate) for name, source in self.sources.items()}
        return self._record(kind, reply, candidate, feedback, parent)

    async def _judge(self, source: FeedbackSource, candidate: str) -> Feedback:
        if _calls_model(source):
            return await source.evaluate(self.task, candidate)
        if source.blocks:
            return await self.run_blocking(source.evaluate, self.task, candidate)
        return source.evaluate(self.task, candidate)

    async def attempt_batch(self, requests: list[Request]) -> list[Attempt]:
        """Several independent proposals in flight at once, judged, and recorded in the order asked.

        Programs of different candidates run side by side; a source that asks a model judges one
        candidate after another, so its calls keep their order. A proposal the budget refused is left
        out; after the others are recorded, the refusal (or the first error) is raised.
        """
        replies = await asyncio.gather(*(self.propose(r.messages, temperature=r.temperature, sample=r.sample)
                                         for r in requests), return_exceptions=True)
        made = [(r, reply) for r, reply in zip(requests, replies) if isinstance(reply, Reply)]
        candidates = [self.family.extract(self.task, reply.text) for _, reply in made]
        feedback: list[dict[str, Feedback]] = [{} for _ in made]
        try:
            for name, source in self.sources.items():
                if _calls_model(source):
                    for judged, candidate in zip(feedback, candidates):
                        judged[name] = await source.evaluate(self.task, candidate)
                else:
                    results = await asyncio.gather(*(self._judge(source, c) for c in candidates))
                    for judged, result in zip(feedback, results):
                        judged[name] = result
        except BudgetExceeded:  # a judge ran out of budget: what was fully judged is kept
            complete = [i for i, judged in enumerate(feedback) if len(judged) == len(self.sources)]
            made, candidates, feedback = ([made[i] for i in complete], [candidates[i] for i in complete],
                                          [feedback[i] for i in complete])
            self._record_all(made, candidates, feedback)
            raise
        attempts = self._record_all(made, candidates, feedback)
        errors = [reply for reply in replies if isinstance(reply, BaseException)]
        if errors:
            raise errors[0]
        return attempts

    def _record_all(self, made, candidates, feedback) -> list[Attempt]:
        return [self._record(request.kind, reply, candidate, judged, request.parent)
                for (request, reply), candidate, judged in zip(made, candidates, feedback)]

    def _record(self, kind: str, reply: Reply, candidate: str, feedback: dict[str, Feedback],
                parent: int | None) -> Attempt:
        step = self.recorder.step(kind, candidate, feedback, parent=parent, call=reply.call)
        attempt = Attempt(step, candidate, feedback, self._text(feedback), kind, reply.text)
        self.attempts.append(attempt)
        return attempt

    def _text(self, feedback: dict[str, Feedback]) -> str:
        """The deciding source's text, then each other source that did not pass, under its heading."""
        (_, first), *others = feedback.items()
        parts = [first.text]
        for name, f in others:
            if not f.passed:
                parts.append(f"{self.sources[name].heading or name + ':'}\n{f.text}")
        return "\n".join(parts)

    def choose(self, attempt: Attempt) -> None:
        """Make `attempt` the answer, in place of the best-ranked one (a policy that selects otherwise)."""
        self.chosen = attempt

    @property
    def answer(self) -> Attempt | None:
        """The attempt the task answers with: the one chosen, else the best."""
        return self.chosen or self.best

    @property
    def best(self) -> Attempt | None:
        """The attempt ranked highest; the earliest among equals."""
        best = None
        for attempt in self.attempts:
            if best is None or attempt.rank > best.rank:
                best = attempt
        return best
