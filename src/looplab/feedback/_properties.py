"""Property-based tests (after PGS): the model writes properties of the function from its specification,
hypothesis searches for an input that breaks one, and the feedback is the shrunk counterexample and the
property it violates. The properties run in the sandbox's checking process with the function a proxy to the
candidate's process, like the task's examples, so a candidate cannot report a property it did not keep.
"""
from __future__ import annotations

import re
from typing import Any

from .._text import fenced_blocks
from ..sandbox import checked_program, reported
from ._base import Feedback, FeedbackSource
from ._examples import ExampleChecks, _short_traceback

MAX_EXAMPLES = 50   # inputs hypothesis tries per property
MAX_PROPERTIES = 5
SHOWN = 400         # characters of a counterexample or an error shown back to the model
TESTER = "You are an expert Python tester who writes property-based tests with hypothesis."

# Runs in the harness's trusted process after the task's prompt, with the function a proxy. Derandomized, so a
# candidate gets the same verdict every time; no example database, so nothing is written or read between runs.
_DRIVER = '''
import traceback as _tb
import hypothesis as _hyp
from hypothesis import HealthCheck as _HealthCheck, settings as _settings
from hypothesis.errors import HypothesisException as _HypothesisException

_space = dict(globals())
try:
    exec(compile(%(properties)r, "/sandbox/properties.py", "exec"), _space)
except Exception as _e:
    _report({"unusable": "".join(_tb.format_exception_only(type(_e), _e)).strip()[:%(shown)d]})
else:
    _names = [_n for _n, _f in _space.items() if _n.startswith("test") and callable(_f)
              and hasattr(_f, "hypothesis")][:%(limit)d]
    for _name in _names:
        _row = {"name": _name}
        _test = _settings(max_examples=%(examples)d, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(_HealthCheck), print_blob=False)(_space[_name])
        try:
            _test()
            _row["ok"] = True
        except _HypothesisException as _e:  # the property itself is malformed: it judges nothing
            _row["ok"] = None
            _row["error"] = "".join(_tb.format_exception_only(type(_e), _e)).strip()[:%(shown)d]
        except Exception as _e:
            _row["ok"] = False
            _row["error"] = (type(_e).__name__ + (": %%s" %% _e if str(_e) else ""))[:%(shown)d]
            _notes = [_n for _n in getattr(_e, "__notes__", []) if _n.startswith(("Falsifying", "Failing"))]
            _row["example"] = " ".join(" ".join(_notes).split())[:%(shown)d]
        _report(_row)
'''

def property_code(reply: str) -> str:
    """The Python code of a reply: its first fenced block (to the end of the reply when a reply cut at its token
    limit never closed it), or the whole reply when it has none.

    >>> property_code("Here:\\n```python\\n@given(st.integers())\\ndef test_a(x): pass\\n```")
    '@given(st.integers())\\ndef test_a(x): pass\\n'
    >>> property_code("```python\\ndef test_a(x):\\n    pass")
    'def test_a(x):\\n    pass'
    """
    blocks = [body for lang, body in fenced_blocks(reply) if lang in ("", "python", "py")]
    return blocks[0] if blocks else reply


def _is_row(row: dict) -> bool:
    """A row as the driver writes it; the properties run in the same process and may print one of their own."""
    if "missing" in row or "unusable" in row:
        return isinstance(row.get("missing", row.get("unusable")), str)
    return (isinstance(row.get("name"), str) and row.get("ok") in (True, False, None)
            and all(isinstance(row.get(k, ""), str) for k in ("error", "example")))


class PropertyTests(FeedbackSource):
    """Checks candidates against properties the model writes for the task (once per task; they may be wrong
    themselves). A property that hypothesis rejects as malformed judges nothing and is reported as unusable.
    Needs a code task (`entry_point`, `prompt`). Bound to a task with `bind(ctx)`, so the call that writes
    the properties is recorded and charged like any other."""

    heading = "Property-based tests written for this task (they may be wrong themselves):"

    def __init__(self, checks: ExampleChecks, ctx: Any = None):
        self.checks = checks
        self.ctx = ctx
        self.properties: str | None = None

    def bind(self, ctx: Any, reference: str | None = None) -> PropertyTests:
        return PropertyTests(self.checks, ctx)

    def messages(self, task: Any) -> list[dict]:
        entry = task.entry_point
        return [{"role": "system", "content": TESTER},
                {"role": "user", "content": f"{self.ctx.family.describe(task)}\n\nWrite 3 property-based tests for "
                                            f"`{entry}` with hypothesis. Each is a function named `test_...` decorated "
                                            "with `@given(...)` (strategies from `hypothesis.strategies as st`) that "
                                            f"calls `{entry}` and asserts a property every correct answer has for "
                                            "every valid input: a relation between input and output (its type, "
                                            "length, order, bounds, an invariant, agreement with a simpler way to "
                                            "compute it), not one fixed input and its output. Generate only inputs "
                                            "the description allows. Start with `from hypothesis import given` and "
                                            "`import hypothesis.strategies as st`; do not define "
                                            f"`{entry}`. Reply with one ```python code block."}]

    async def prepare(self, task: Any) -> None:
        """Have the model write the properties, before the first candidate (once per task)."""
        if self.properties is None:
            reply = await self.ctx.ask(self.messages(task), max_tokens=self.ctx.max_tokens // 2)
            self.properties = property_code(reply.text)
            self.ctx.note("properties", self.properties, call=reply.call)

    def program(self, task: Any, candidate: str) -> str:
        driver = _DRIVER % {"properties": self.properties, "shown": SHOWN, "limit": MAX_PROPERTIES,
                            "examples": MAX_EXAMPLES}
        return checked_program(self.checks.build(task, candidate), task.prompt, task.entry_point, driver)

    def evaluate(self, task: Any, candidate: str) -> Feedback:
        if self.properties is None:
            raise RuntimeError("the properties are written by prepare(task), before the first evaluate")
        result = self.checks.sandbox.run(self.program(task, candidate))
        rows = [r for r in reported(result.stdout) if _is_row(r)]
        if any("missing" in r for r in rows):
            return Feedback(0.0, False, f"The code does not define a function named `{task.entry_point}`.",
                            {"total": 0, "passed": 0, "run": result.kind})
        if any("unusable" in r for r in rows):
            return Feedback(0.0, True, "The properties could not be run, so they judge nothing.",
                            {"total": 0, "passed": 0, "run": result.kind, "unusable": next(r["unusable"] for r in rows if "unusable" in r)})
        checks = [r for r in rows if r.get("ok") is not None]
        details = {"total": len(checks), "passed": sum(1 for r in checks if r["ok"]), "run": result.kind,
                   "checks": rows}
        if result.kind != "ok" and not rows:
            why = ("did not finish within the time limit; look for an infinite loop" if result.kind == "timeout"
                   else f"failed ({result.kind}):\n{_short_traceback(result)}")
            return Feedback(0.0, False, f"The program {why}", details)
        if not checks:
            return Feedback(0.0, True, "No usable property was written, so none judges the code.", details)
        failed = [r for r in checks if not r["ok"]]
        lines = [f"{len(checks) - len(failed)} of {len(checks)} properties hold."]
        for row in failed:
            example = row.get("example") or "(no counterexample was shrunk)"
            example = example.split(": ", 1)[-1] if example.startswith(("Falsifying", "Failing")) else example
            example = re.sub(r",?\s*\)$", ")", re.sub(r"\(\s+", "(", example))
            lines.append(f"- {row['name']} fails on {example}: {row.get('error', '')}")
        unusable = sum(1 for r in rows if r.get("ok") is None)
        if unusable:
            lines.append(f"({unusable} malformed {'property was' if unusable == 1 else 'properties were'} skipped.)")
        if result.kind == "timeout":
            lines.append("The properties did not finish within the time limit; look for an infinite loop.")
        passed = not failed and result.kind == "ok"
        return Feedback(details["passed"] / len(checks), passed, "\n".join(lines), details)
