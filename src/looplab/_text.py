"""Readers of model text that run in time linear in their input, whatever the input (long runs of
whitespace, unclosed fences, many backticks): every reader of a reply goes through these or through a
regular expression with no two adjacent repeats that can match the same characters."""
from __future__ import annotations

import re

FENCE = "```"
_INFO_CHARS = 64  # an opening fence's info string ("python", "sql") is short; a longer one is not a fence
_INFO = re.compile(r"[\w+-]*")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """The Markdown code blocks in `text`, in order, as (info string, body). A block opens with ``` and an
    info string (possibly empty) on the rest of its line, and ends at the next ``` or at the end of the
    text (a reply cut at its token limit still yields its last block).

    >>> fenced_blocks("Here:\\n```python\\nx = 1\\n```\\nand ```sql\\nSELECT 1")
    [('python', 'x = 1\\n'), ('sql', 'SELECT 1')]
    """
    blocks, at = [], 0
    while (start := text.find(FENCE, at)) >= 0:
        info_start = start + len(FENCE)
        eol = text.find("\n", info_start, info_start + _INFO_CHARS + 1)
        info = text[info_start:eol].strip(" \t") if eol >= 0 else None
        if info is None or not _INFO.fullmatch(info):
            at = info_start  # ``` inside a line, or an opening fence with no line after it
            continue
        end = text.find(FENCE, eol + 1)
        blocks.append((info, text[eol + 1:] if end < 0 else text[eol + 1:end]))
        if end < 0:
            break
        at = end + len(FENCE)
    return blocks


def defines(code: str, name: str) -> bool:
    """Whether a line of `code` defines the function `name` (at any indentation).

    >>> defines("class A:\\n    def f(self):\\n        pass", "f"), defines("f = 1", "f")
    (True, False)
    """
    return re.search(rf"^[ \t]*def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M) is not None
