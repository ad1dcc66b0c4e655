from __future__ import annotations

from dataclasses import dataclass

from ..feedback import ExampleChecks, Feedback
from ..models import Message
from ..runs import TaskRecorder
from ..tasks import CodeTask, Example
from ._code import build_program, extract_code
from ._prompts import tests_messages
from ._tests import parse_generated_tests

NOTE_TOKENS = 256  # replies that are not code (reflections, strategies, critiques) are short


@dataclass(frozen=True)
class Attempt:
    step: int
    code: str                         # what the model wrote
    program: str                      # what runs: prompt + code
    feedback: Feedback                # visible examples
    generated: Feedback | None = None  # the model's own tests, when the policy asked for them

    @property
    def passed(self) -> bool:
        """Every visible example passes, and every generated test when there are any."""
        return self.feedback.passed and (self.generated is None or self.generated.passed)

    @property
    def rank(self) -> tuple[float, float]:
        """Visible score first; generated tests (which may be wrong) only break ties."""
        return self.feedback.score, self.generated.score if self.generated else 0.0

    @property
    def feedback_text(self) -> str:
        if self.generated is None or self.generated.passed:
            return self.feedback.text
        return (f"{self.feedback.text}\nTests written for this task (they may be wrong themselves):\n"
                f"{self.generated.text}")


class SolveContext:
    """What a policy works with: propose (the model), attempt (visible feedback), and the best so far.

    Only visible feedback reaches a policy, plus tests the model writes itself when the policy asks
    for them; the hidden test is applied by the engine afterwards.
    """

    def __init__(self, task: CodeTask, recorder: TaskRecorder, feedback: ExampleChecks, max_tokens: int,
                 generated_tests: bool = False):
        self.task = task
        self.recorder = recorder
        self.feedback = feedback
        self.max_tokens = max_tokens
        self.use_generated_tests = generated_tests
        self.tests: list[Example] | None = None
        self.attempts: list[Attempt] = []

    def propose(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0) -> str:
        return self.recorder.generate(messages, temperature=temperature, max_tokens=self.max_tokens,
                                      sample=sample).text

    def ask(self, messages: list[Message], *, temperature: float = 0.0, sample: int = 0,
            max_tokens: int = NOTE_TOKENS) -> str:
        """A short reply that is not code: a reflection, a plan step, a judgement."""
        return self.recorder.generate(messages, temperature=temperature, max_tokens=max_tokens, sample=sample,
                                      min_reply=16).text.strip()

    def note(self, kind: str, text: str, *, parent: int | None = None) -> int:
        """Record a step that is not a candidate (a reflection, a strategy, a thought)."""
        return self.recorder.step(kind, text, None, parent=parent)

    def attempt(self, kind: str, reply: str, *, parent: int | None = None) -> Attempt:
        code = extract_code(reply, self.task.entry_point)
        program = build_program(self.task, code)
        feedback = self.feedback.evaluate(self.task, program)
        generated = None
        if self.use_generated_tests:
            tests = self.generated_tests()
            if tests:
                generated = self.feedback.evaluate(self.task, program, tests, label="generated tests")
        step = self.recorder.step(kind, code, feedback, parent=parent)
        if generated is not None:
            self.recorder.record_feedback(step, generated, source="generated")
        attempt = Attempt(step, code, program, feedback, generated)
        self.attempts.append(attempt)
        return attempt

    def generated_tests(self) -> list[Example]:
        """Asks the model once per task for tests of its own; they may be wrong."""
        if self.tests is None:
            reply = self.ask(tests_messages(self.task), max_tokens=self.max_tokens // 2)
            self.tests = parse_generated_tests(reply, self.task.entry_point)
            self.note("generated-tests", "\n".join(f"assert {t.call} == {t.expected}" for t in self.tests))
        return self.tests

    @property
    def best(self) -> Attempt | None:
        """The attempt ranked highest; the earliest among equals."""
        best = None
        for attempt in self.attempts:
            if best is None or attempt.rank > best.rank:
                best = attempt
        return best
