from __future__ import annotations

import re

from ..tasks import CodeTask

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(reply: str, entry_point: str) -> str:
    """The code in a model reply: the last fenced block defining the function, else the longest
    fenced block, else the whole reply."""
    blocks = [body for lang, body in _FENCE.findall(reply) if lang.lower() in ("", "python", "py", "python3")]
    defining = [b for b in blocks if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", b, re.M)]
    if defining:
        return defining[-1].strip("\n")
    if blocks:
        return max(blocks, key=len).strip("\n")
    return reply.strip("\n")


def build_program(task: CodeTask, code: str) -> str:
    """The program to run: the task's prompt (its imports and helpers) followed by the model's code.

    A reply that defines the function replaces the prompt's stub (a later `def` wins); a reply
    that is only an indented body continues the prompt's function.
    """
    prompt = task.prompt.rstrip() + "\n"
    if re.search(rf"^\s*def\s+{re.escape(task.entry_point)}\s*\(", code, re.M):
        return f"{prompt}\n\n{code}\n"
    return f"{prompt}{code}\n"
