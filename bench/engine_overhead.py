"""Engine overhead per loop step: the solve engine (budget checks, recording every call, step and
feedback in SQLite, resume bookkeeping) vs the same loop written bare, both with the scripted model
and an in-process feedback function, so no model or sandbox time is in either figure.
Target: under 1 ms per step.
"""
import tempfile
import time
from pathlib import Path

from looplab.feedback import Feedback, HiddenScore
from looplab.models import ScriptedModel
from looplab.runs import RunStore
from looplab.sandbox import ExecResult
from looplab.solve import PolicyConfig, build_program, extract_code, solve_tasks
from looplab.solve._policies import first_messages, revision_messages
from looplab.solve._context import Attempt
from looplab.tasks import CodeTask, HiddenTest, Problem

TASKS = 200
ROUNDS = 3  # refine: 1 + 3 steps per task
PROMPT = 'def add(a, b):\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n'
REPLY = "```python\ndef add(a, b):\n    return a - b\n```"


class InProcessFeedback:
    def evaluate(self, task, candidate):
        namespace = {}
        exec(candidate, namespace)
        got = namespace[task.entry_point](1, 2)
        return Feedback(float(got == 3), got == 3, f"add(1, 2) should return 3, but returned {got}", {})


class InProcessScorer:
    RESULT = ExecResult("ok", 0, None, "", "", "", 0.0, "none")

    def score(self, hidden, candidate):
        return HiddenScore(True, self.RESULT)


def problems():
    return [Problem(CodeTask(f"add/{i}", PROMPT, "add", ()), HiddenTest("", "add")) for i in range(TASKS)]


def bare_loop(tasks, model, feedback) -> int:
    steps = 0
    for problem in tasks:
        task = problem.task
        reply = model.complete(first_messages(task), max_tokens=768).text
        code = extract_code(reply, "add")
        attempt = Attempt(0, code, build_program(task, code), feedback.evaluate(task, build_program(task, code)))
        steps += 1
        for _ in range(ROUNDS):
            reply = model.complete(revision_messages(task, attempt), max_tokens=768).text
            code = extract_code(reply, "add")
            attempt = Attempt(0, code, build_program(task, code), feedback.evaluate(task, build_program(task, code)))
            steps += 1
    return steps


def main() -> None:
    tasks = problems()
    start = time.perf_counter()
    steps = bare_loop(tasks, ScriptedModel([REPLY]), InProcessFeedback())
    bare = (time.perf_counter() - start) / steps
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run") as store:
        start = time.perf_counter()
        solve_tasks(tasks, PolicyConfig("refine", rounds=ROUNDS), model=ScriptedModel([REPLY]), store=store,
                    feedback=InProcessFeedback(), scorer=InProcessScorer())
        engine = (time.perf_counter() - start) / steps
        recorded = store.db.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
    assert recorded == steps
    print(f"steps                : {steps} ({TASKS} tasks x refine k={ROUNDS})")
    print(f"bare loop            : {bare * 1000:7.3f} ms/step")
    print(f"engine (recorded)    : {engine * 1000:7.3f} ms/step")
    print(f"engine overhead      : {(engine - bare) * 1000:7.3f} ms/step  (target < 1 ms)")
    print(f"ratio engine / bare  : {engine / bare:7.2f}x")


if __name__ == "__main__":
    main()
