from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

from ..sandbox import ExecResult, Sandbox, checked_program, reported
from ._base import Feedback, FeedbackSource


@dataclass(frozen=True)
class Example:
    """One executable check: a call of the function under test and the value it should return.

    >>> Example("add(1, 2)", "3", ">>> add(1, 2)").expected
    '3'
    """

    call: str      # a Python expression that calls the function under test
    expected: str  # a Python expression for the value it should return
    line: str      # the text it came from

MAX_SHOWN = 300  # characters of a returned value shown back to the model

# Runs in the harness's trusted process, with the function a proxy to the candidate's process;
# reports one row per check.
_DRIVER = '''
import math as _math, traceback as _tb

def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return _math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
        except TypeError:
            return False
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b

for _i, (_call, _expected) in enumerate(%(checks)r):
    _row = {"i": _i}
    try:
        _got = eval(_call)
        _row["got"] = repr(_got)[:%(shown)d]
        _row["ok"] = bool(_same(_got, eval(_expected)))
    except Exception as _e:
        _row["ok"] = False
        _row["error"] = "".join(_tb.format_exception_only(type(_e), _e)).strip()[:%(shown)d]
    _report(_row)
'''


def _short_traceback(result: ExecResult, lines: int = 12) -> str:
    text = result.traceback or result.stderr.strip()
    return "\n".join(text.splitlines()[-lines:])


def _is_check(row: dict, total: int) -> bool:
    """A row as the driver writes it: which check, whether it held, and what came back or was raised."""
    i = row.get("i")
    return (type(i) is int and 0 <= i < total and isinstance(row.get("ok"), bool)
            and all(isinstance(row.get(k, ""), str) for k in ("got", "error")))


class ExampleChecks(FeedbackSource):
    """Feedback from the examples visible in a task (its docstring's, or a file's visible tests),
    run in the sandbox against `build(task, candidate)`, the program a candidate makes. The checks run
    in a process of their own, so a candidate cannot report a check it did not pass.

    The text names each failing call, the expected value and what came back (or the error), so
    a model can act on it. A task without examples still gets its code run: a crash or a missing
    function is feedback too. A task needs `entry_point` and `examples`.
    """

    def __init__(self, sandbox: Sandbox, build: Callable[[Any, str], str], label: str = "docstring examples"):
        self.sandbox = sandbox
        self.build = build
        self.label = label

    def program(self, task: Any, candidate: str, examples: Sequence[Example]) -> str:
        checks = [(e.call, e.expected) for e in examples]
        driver = _DRIVER % {"shown": MAX_SHOWN, "checks": checks}
        return checked_program(self.build(task, candidate), task.prompt, task.entry_point, driver)

    def evaluate(self, task: Any, candidate: str, examples: Sequence[Example] | None = None,
                 label: str | None = None) -> Feedback:
        """Checks `examples` (the task's own by default); `label` names them in the feedback text."""
        examples = task.examples if examples is None else examples
        label = label or self.label
        result = self.sandbox.run(self.program(task, candidate, examples))
        total = len(examples)
        rows, missing, seen = [], None, set()
        for row in reported(result.stdout):
            if isinstance(row.get("missing"), str):
                missing = row["missing"]
            elif _is_check(row, total) and row["i"] not in seen:  # a generated test may print a row of its own
                seen.add(row["i"])
                rows.append(row)
        passed = sum(1 for r in rows if r["ok"])
        details = {"total": total, "passed": passed, "run": result.kind, "checks": rows}
        if missing:
            text = f"The code does not define a function named `{missing}`."
            return Feedback(0.0, False, text, details)
        if len(rows) < total or (result.kind != "ok" and not rows):
            text = self._crash_text(examples, result, len(rows))
            if rows:
                text = self._check_text(examples, rows, label) + "\n" + text
            return Feedback(passed / total if total else 0.0, False, text, details)
        if total == 0:
            return Feedback(1.0, True, f"The code runs; there are no {label} to check.", details)
        return Feedback(passed / total, passed == total, self._check_text(examples, rows, label), details)

    @staticmethod
    def _check_text(examples: Sequence[Example], rows: list[dict], label: str) -> str:
        failed = [r for r in rows if not r["ok"]]
        lines = [f"{len(rows) - len(failed)} of {len(examples)} {label} pass."]
        for row in failed:
            example = examples[row["i"]]
            if "error" in row:
                lines.append(f"- {example.call} should return {example.expected}, but raised {row['error']}")
            else:
                lines.append(f"- {example.call} should return {example.expected}, but returned {row.get('got', '(nothing)')}")
        return "\n".join(lines)

    @staticmethod
    def _crash_text(examples: Sequence[Example], result: ExecResult, finished: int) -> str:
        if result.kind == "timeout":
            where = (f" while running {examples[finished].call}" if finished < len(examples) else "")
            return f"The program did not finish within the time limit{where}; look for an infinite loop."
        if result.kind == "memory":
            return "The program ran out of memory."
        if result.kind == "output_limit":
            return "The program printed too much output."
        return f"The program failed ({result.kind}):\n{_short_traceback(result)}"
