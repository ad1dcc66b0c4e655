"""Engine overhead per loop step: the solve engine (budget checks, recording every call, step and
feedback in SQLite, resume bookkeeping) vs the same loop written bare, both with the scripted model
and a family whose feedback and scorer run in-process, so no model or sandbox time is in either
figure. Target: under 1 ms per step.
"""
import sys
import tempfile
import time
from pathlib import Path

from looplab.feedback import Feedback, FeedbackSource
from looplab.models import ScriptedModel
from looplab.runs import RunStore
from looplab.solve import Messages, PolicyConfig, Prompts, solve_tasks
from looplab.tasks import CodeTask, HiddenTest, Problem, build_program, extract_code
from looplab.tasks._code import VOICE

TASKS = 200
ROUNDS = 3  # refine: 1 + 3 steps per task
PROMPT = 'def add(a, b):\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n'
REPLY = "```python\ndef add(a, b):\n    return a - b\n```"


class InProcessFeedback(FeedbackSource):
    def evaluate(self, task, candidate):
        namespace = {}
        exec(build_program(task, candidate), namespace)
        got = namespace[task.entry_point](1, 2)
        return Feedback(float(got == 3), got == 3, f"add(1, 2) should return 3, but returned {got}", {})


class InProcessFamily:
    """The code family's prompts and extraction, with in-process feedback and a scorer that runs nothing."""

    name = "bench"
    voice = VOICE

    def describe(self, task):
        return task.prompt

    def extract(self, task, reply):
        return extract_code(reply, task.entry_point)

    def show(self, candidate):
        return f"```python\n{candidate}\n```"

    def sources(self):
        return {"examples": InProcessFeedback()}

    def score(self, problem, candidate):
        return Feedback(1.0, True, "The hidden tests pass.")

    def reference(self, problem):
        return None

    def settings(self):
        return {}


def problems(count):
    return [Problem(CodeTask(f"add/{i}", PROMPT, "add", ()), HiddenTest("", "add")) for i in range(count)]


def bare_loop(tasks, model, family) -> int:
    steps = 0
    feedback = InProcessFeedback()
    for problem in tasks:
        messages = Messages(Prompts(), family, problem.task)
        code = family.extract(problem.task, model.complete(messages.first(), max_tokens=768).text)
        result = feedback.evaluate(problem.task, code)
        steps += 1
        for _ in range(ROUNDS):
            reply = model.complete(messages.revision(code, result.text), max_tokens=768).text
            code = family.extract(problem.task, reply)
            result = feedback.evaluate(problem.task, code)
            steps += 1
    return steps


def main(count: int = TASKS) -> None:
    tasks = problems(count)
    family = InProcessFamily()
    start = time.perf_counter()
    steps = bare_loop(tasks, ScriptedModel([REPLY]), family)
    bare = (time.perf_counter() - start) / steps
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run") as store:
        start = time.perf_counter()
        solve_tasks(tasks, family, PolicyConfig("refine", rounds=ROUNDS), model=ScriptedModel([REPLY]), store=store)
        engine = (time.perf_counter() - start) / steps
        recorded = sum(len(store.steps(name)) for name, _ in store.policies())
    assert recorded == steps, (recorded, steps)
    print(f"steps                : {steps} ({count} tasks x refine k={ROUNDS})")
    print(f"bare loop            : {bare * 1000:7.3f} ms/step")
    print(f"engine (recorded)    : {engine * 1000:7.3f} ms/step")
    print(f"engine overhead      : {(engine - bare) * 1000:7.3f} ms/step  (target < 1 ms)")
    print(f"ratio engine / bare  : {engine / bare:7.2f}x")


if __name__ == "__main__":
    main(5 if "--tiny" in sys.argv else TASKS)  # --tiny: a quick run that only checks the script works
