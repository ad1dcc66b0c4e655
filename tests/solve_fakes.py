"""Shared pieces of the solve tests: a tiny task, scripted replies, and a runner over a fresh run store."""
from looplab.models import ScriptedModel
from looplab.runs import RunStore
from looplab.solve import solve_tasks
from looplab.tasks import CodeFamily, CodeTask, HiddenTest, Problem, extract_examples

PROMPT = 'def add(a, b):\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    >>> add(2, 2)\n    4\n    """\n'
HIDDEN = "def check(f):\n    assert f(5, 7) == 12\n    assert f(-1, 1) == 0\n"
WRONG = "Here you go:\n```python\ndef add(a, b):\n    return a - b\n```"
OVERFIT = "```python\ndef add(a, b):\n    return {(1, 2): 3, (2, 2): 4}[(a, b)]\n```"
RIGHT = "```python\ndef add(a, b):\n    return a + b\n```"


def problems(count=1):
    return [Problem(CodeTask(f"add/{i}", PROMPT, "add", tuple(extract_examples(PROMPT, "add"))),
                    HiddenTest(HIDDEN, "add")) for i in range(count)]


class Counting(ScriptedModel):
    """Scripted replies that also remember every request."""

    def __init__(self, replies):
        super().__init__(replies)
        self.requests = []

    def complete(self, messages, **kwargs):
        self.requests.append((messages, kwargs))
        return super().complete(messages, **kwargs)


def solve(tmp_path, config, model, tasks=None, **kwargs):
    with RunStore(tmp_path / "run") as store:
        family = kwargs.pop("family", None) or CodeFamily(kwargs.pop("sandbox"))
        kwargs.pop("sandbox", None)
        report = solve_tasks(tasks or problems(), family, config, model=model, store=store, **kwargs)
        calls = sorted(store.calls(), key=lambda c: c.id)  # every policy's, in the order they were made
        return report, calls, store.outcomes(config.name), store.steps(config.name)


