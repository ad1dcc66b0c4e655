from __future__ import annotations

from dataclasses import dataclass

from ..feedback import Feedback, FeedbackSource
from ..models import Message
from ..runs import TaskRecorder
from ..tasks import CodeTask
from ._code import build_program, extract_code


@dataclass(frozen=True)
class Attempt:
    step: int
    code: str       # what the model wrote
    program: str    # what runs: prompt + code
    feedback: Feedback


class SolveContext:
    """What a policy works with: propose (the model), attempt (visible feedback), and the best so far.

    Only visible feedback reaches a policy; the hidden test is applied by the engine afterwards.
    """

    def __init__(self, task: CodeTask, recorder: TaskRecorder, feedback: FeedbackSource, max_tokens: int):
        self.task = task
        self.recorder = recorder
        self.feedback = feedback
        self.max_tokens = max_tokens
        self.attempts: list[Attempt] = []

    def propose(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0) -> str:
        return self.recorder.generate(messages, temperature=temperature, max_tokens=self.max_tokens,
                                      sample=sample).text

    def attempt(self, kind: str, reply: str, *, parent: int | None = None) -> Attempt:
        code = extract_code(reply, self.task.entry_point)
        program = build_program(self.task, code)
        feedback = self.feedback.evaluate(self.task, program)
        step = self.recorder.step(kind, code, feedback, parent=parent)
        attempt = Attempt(step, code, program, feedback)
        self.attempts.append(attempt)
        return attempt

    @property
    def best(self) -> Attempt | None:
        """The attempt with the highest visible score; the earliest among equals."""
        best = None
        for attempt in self.attempts:
            if best is None or attempt.feedback.score > best.feedback.score:
                best = attempt
        return best
