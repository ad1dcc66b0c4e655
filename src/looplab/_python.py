"""Parsing Python source from many threads at once."""
from __future__ import annotations

import ast
import threading

# CPython 3.11's AST constructor keeps its recursion depth in state shared by all threads, so two parses at
# once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905). Candidates
# are parsed on the event loop while feedback parses in worker threads: one parse at a time.
_PARSE = threading.Lock()


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """`ast.parse`, safe to call from any thread. Source nested too deeply for the parser (model text can be)
    raises SyntaxError like any other source that does not parse.

    >>> parse_python("x = " + "-" * 100_000 + "1")
    Traceback (most recent call last):
    SyntaxError: too deeply nested to parse
    """
    with _PARSE:
        try:
            return ast.parse(source, mode=mode)
        except (RecursionError, MemoryError):
            raise SyntaxError("too deeply nested to parse") from None
