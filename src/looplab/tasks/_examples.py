"""Turn the examples written in a docstring into executable checks.

HumanEval writes its examples in many styles: doctests (`>>> f(x)` then the value), `f(x) == y`,
`f(x) ➞ y`, `f(x) => y`, `f(x) -> y`, "Input: ... Output: ...", and "For x = ... the output should
be ...". Each becomes an Example: a call expression and the expected value's expression.
"""
from __future__ import annotations

import ast
import re

from .._python import parse_python
from ..feedback import Example


_SAFE_NODES = (ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.UnaryOp,
               ast.BinOp, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Load)
_ARROWS = ("==>", "==", "➞", "=>", "->", "→", "should return", "returns", "return", "is", "=", ":")
_WORD_VALUES = {"true": "True", "false": "False", "none": "None", "null": "None"}


def _parse(expr: str) -> ast.Expression | None:
    try:
        return parse_python(expr.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None


def _is_value(expr: str) -> bool:
    """A literal-like expression: constants, containers, arithmetic, True/False/None."""
    tree = _parse(expr)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
            continue
        if not isinstance(node, _SAFE_NODES):
            return False
    return True


def _calls(expr: str, name: str) -> bool:
    tree = _parse(expr)
    return tree is not None and any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name for n in ast.walk(tree))


def _value_prefix(text: str) -> str | None:
    """The longest prefix of `text` that is a value, cut at a word boundary."""
    text = text.strip()
    for end in range(len(text), 0, -1):
        if end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
            continue
        candidate = text[:end].strip().rstrip(".,;")
        candidate = _WORD_VALUES.get(candidate.lower(), candidate)
        if candidate and _is_value(candidate):
            return candidate
    return None


def _balanced_call(line: str, start: int) -> int | None:
    """Index just past the parenthesis that closes the call opening at line[start:]."""
    depth, quote = 0, ""
    for i in range(line.index("(", start), len(line)):
        ch = line[i]
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _as_arguments(text: str) -> str:
    """`a = [1], b = 2` or `a : [1]` become keyword arguments; anything else stays positional."""
    return re.sub(r"(?:(?<=^)|(?<=,))\s*([A-Za-z_]\w*)\s*[:=](?!=)\s*", r"\1=", text.strip())


def _docstring(prompt: str, entry_point: str) -> str:
    try:
        tree = parse_python(prompt + "\n    pass\n")
    except SyntaxError:
        return prompt
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            return ast.get_docstring(node) or ""
    return ""


def _doctests(lines: list[str]) -> list[Example]:
    found = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line.startswith(">>>"):
            i += 1
            continue
        call = line[3:].split("#")[0].strip()
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            call += " " + lines[i].strip()[3:].strip()
            i += 1
        output = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            output.append(lines[i].strip())
            i += 1
        tree = _parse(call)
        if tree is None or isinstance(tree.body, ast.Subscript):
            continue  # a mangled example such as `f(x) [1, 2]`
        body = tree.body
        if not output and isinstance(body, ast.Compare) and [type(o) for o in body.ops] == [ast.Eq]:
            call, expected = ast.unparse(body.left), ast.unparse(body.comparators[0])  # `>>> f(x) == y`
        else:
            expected = " ".join(output) if output else "None"
        if _is_value(expected):
            found.append(Example(call, expected, line))
    return found


def _inline(lines: list[str], name: str, alias: str | None = None) -> list[Example]:
    """`name(args) <arrow> value` anywhere in a line. With `alias`, a line that starts with a call
    of that other name counts too (two HumanEval docstrings call the function by a wrong name)."""
    found = []
    callee = re.escape(alias) if alias else re.escape(name)
    anchor = r"^(?:assert\s+)?" if alias else r"(?<![\w.])"
    for raw in lines:
        line = raw.strip()
        if line.startswith(">>>"):
            continue
        for match in re.finditer(rf"{anchor}({callee})\s*\(", line):
            end = _balanced_call(line, match.start(1))
            if end is None:
                continue
            call = name + line[match.end(1):end]
            arguments = _parse(call)
            if arguments is None or not all(_is_value(ast.unparse(a)) for a in arguments.body.args):
                continue  # `f(n) = ...` states a definition, not an example
            rest = line[end:].strip().lstrip("#").strip()
            for arrow in _ARROWS:
                if rest.lower().startswith(arrow):
                    rest = rest[len(arrow):]
                    break
            else:
                continue
            expected = _value_prefix(rest)
            if expected is not None and _parse(call) is not None:
                found.append(Example(call, expected, line))
    return found


def _input_output(text: str, name: str) -> list[Example]:
    found = []
    pattern = re.compile(r"Input:\s*(.+?)\s*Output:\s*(.+?)(?:\n\s*\n|\n\s*Explanation|\n\s*Example|\n\s*Input|$)",
                         re.S)
    for match in pattern.finditer(text):
        args = " ".join(match.group(1).split())
        expected = _value_prefix(" ".join(match.group(2).split()))
        call = f"{name}({_as_arguments(args)})"
        if expected is not None and _calls(call, name):
            found.append(Example(ast.unparse(_parse(call)), expected, match.group(0).strip()))
    pattern = re.compile(r"For\s+(.+?)\s*the (?:output|result) should be\s+(.+)", re.I)
    for line in text.splitlines():
        match = pattern.search(line)
        expected = _value_prefix(match.group(2)) if match else None
        if expected is None:
            continue
        pieces = match.group(1).split(",")
        for keep in range(len(pieces), 0, -1):  # drop trailing prose after the arguments
            call = f"{name}({_as_arguments(','.join(pieces[:keep]))})"
            if _calls(call, name):
                found.append(Example(ast.unparse(_parse(call)), expected, line.strip()))
                break
    return found


def extract_examples(prompt: str, entry_point: str) -> list[Example]:
    """Every example in the entry point's docstring that can be checked by running code."""
    doc = _docstring(prompt, entry_point)
    lines = doc.splitlines()
    examples = _doctests(lines) + _inline(lines, entry_point) + _input_output(doc, entry_point)
    if not examples:
        defined = set(re.findall(r"^\s*def\s+(\w+)", prompt, re.M))
        called = {m for m in re.findall(r"^\s*(?:assert\s+)?([A-Za-z_]\w*)\s*\(", doc, re.M)
                  if m not in defined}
        if len(called) == 1:
            examples = _inline(lines, entry_point, alias=called.pop())
    unique: dict[str, Example] = {}
    for example in examples:
        unique.setdefault(example.call, example)
    return list(unique.values())
