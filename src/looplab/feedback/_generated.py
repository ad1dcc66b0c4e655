"""Tests the model writes for a code task: `assert f(...) == value` lines, run like the task's examples."""
from __future__ import annotations

import ast
from typing import Any

from .._python import parse_python
from ._base import Feedback, FeedbackSource
from ._examples import Example, ExampleChecks

MAX_GENERATED_TESTS = 8
TESTER = "You are an expert Python tester."


def parse_generated_tests(code: str, entry_point: str, limit: int | None = MAX_GENERATED_TESTS) -> list[Example]:
    """Each `assert ENTRY(...) == EXPECTED` in the code (as `assert ... is True/False` too), in order,
    without duplicates; anything else is ignored.

    >>> [t.call for t in parse_generated_tests("assert f(1) == 2\\nprint(3)\\nassert not f(0)", "f")]
    ['f(1)', 'f(0)']
    """
    tests, seen = [], set()
    for line in code.splitlines():
        line = line.strip()
        if not line.startswith("assert "):
            continue
        try:
            node = parse_python(line).body[0]
        except SyntaxError:
            continue
        test = node.test
        if isinstance(test, ast.Call):  # assert f(x)  /  assert not f(x)
            call, expected = test, "True"
        elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Call):
            call, expected = test.operand, "False"
        elif (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is))
              and isinstance(test.left, ast.Call)):
            call, expected = test.left, ast.unparse(test.comparators[0])
        else:
            continue
        if not (isinstance(call.func, ast.Name) and call.func.id == entry_point):
            continue
        example = Example(ast.unparse(call), expected, line)
        if example.call not in seen:
            seen.add(example.call)
            tests.append(example)
    return tests[:limit]


class GeneratedTests(FeedbackSource):
    """Checks candidates against tests the model writes for the task (once per task; they may be
    wrong themselves). Needs a code task (`entry_point`). Bound to a task with `bind(ctx)`, so
    the call that writes the tests is recorded and charged like any other."""

    heading = "Tests written for this task (they may be wrong themselves):"

    def __init__(self, checks: ExampleChecks, ctx: Any = None):
        self.checks = checks
        self.ctx = ctx
        self.tests: list[Example] | None = None

    def bind(self, ctx: Any, reference: str | None = None) -> GeneratedTests:
        return GeneratedTests(self.checks, ctx)

    def messages(self, task: Any) -> list[dict]:
        entry = task.entry_point
        return [{"role": "system", "content": TESTER},
                {"role": "user", "content": f"{self.ctx.family.describe(task)}\n\nWrite 5 tests for `{entry}` as "
                                            f"assert statements, one per line, like `assert {entry}(...) == ...`, "
                                            "covering normal and edge cases. Work out each expected value carefully "
                                            "from the description. Reply with one ```python code block."}]

    async def prepare(self, task: Any) -> None:
        """Have the model write the tests, before the first candidate (once per task)."""
        if self.tests is None:
            reply = await self.ctx.ask(self.messages(task), max_tokens=self.ctx.max_tokens // 2)
            self.tests = parse_generated_tests(self.ctx.family.extract(task, reply.text), task.entry_point)
            self.ctx.note("generated-tests", "\n".join(f"assert {t.call} == {t.expected}" for t in self.tests),
                          call=reply.call)

    def evaluate(self, task: Any, candidate: str) -> Feedback:
        if self.tests is None:
            raise RuntimeError("the tests are written by prepare(task), before the first evaluate")
        if not self.tests:
            return Feedback(0.0, True, "No tests could be read from the reply.", {"total": 0, "passed": 0})
        return self.checks.evaluate(task, candidate, self.tests, label="generated tests")

    def audit(self, hidden: Any, answer: Feedback | None, passed_hidden: bool) -> dict | None:
        """For the scorer's record only, after the loop: how many of the tests the reference solution
        passes (`correct`), and whether "passes every generated test" agreed with the hidden verdict."""
        if not self.tests or answer is None:
            return None
        reference = getattr(hidden, "reference", "")
        on_reference = self.checks.evaluate(self.ctx.task, reference, self.tests) if reference else None
        return {"count": len(self.tests), "correct": on_reference.details["passed"] if on_reference else None,
                "verdict_agrees": answer.passed == passed_hidden}
