"""Tests the model writes for a task: `assert f(...) == value` lines, turned into checks."""
from __future__ import annotations

import ast

from ..tasks import Example
from ._code import extract_code

MAX_GENERATED_TESTS = 8


def parse_generated_tests(reply: str, entry_point: str) -> list[Example]:
    """Each `assert ENTRY(...) == EXPECTED` in the reply (as `assert ... is True/False` too), in order,
    without duplicates; anything else is ignored."""
    tests, seen = [], set()
    for line in extract_code(reply, entry_point).splitlines():
        line = line.strip()
        if not line.startswith("assert "):
            continue
        try:
            node = ast.parse(line).body[0]
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
    return tests[:MAX_GENERATED_TESTS]
