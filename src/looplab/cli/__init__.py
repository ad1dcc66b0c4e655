"""The `looplab` command: it parses, calls the library and prints; one module per group of commands."""
from __future__ import annotations

import argparse
import importlib.metadata
import sqlite3

from rich.text import Text

from ..runs import terminal_safe
from . import _grow, _learn, _optimize, _records, _solve, _tools
from ._common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, USER_ERRORS, _Parser, console

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_USAGE", "main"]

COMMANDS = {"solve": _solve.cmd_solve, "compare": _solve.cmd_compare, "analyze": _solve.cmd_analyze,
            "demo": _solve.cmd_demo, "show": _records.cmd_show, "view": _records.cmd_view,
            "export": _records.cmd_export, "exec": _tools.cmd_exec, "models": _tools.cmd_models,
            "grow": _grow.cmd_grow, "graph": _grow.cmd_graph, "optimize": _optimize.cmd_optimize,
            "train": _learn.cmd_train, "cycle": _learn.cmd_cycle}


def _parser() -> _Parser:
    parser = _Parser(prog="looplab", description="Feedback loops around language models.")
    parser.add_argument("--version", action="version", version=f"looplab {importlib.metadata.version('looplab')}")
    _add_output_flags(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    for group in (_solve, _optimize, _learn, _records, _tools, _grow):
        group.add_commands(sub)
    return parser


class _CommandParser(_Parser):
    """A command's parser (graph's commands inherit it): the output flags work after the command's name too, as
    users write them; SUPPRESS keeps the top-level value when they are not repeated there."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _add_output_flags(self, argparse.SUPPRESS)


def _add_output_flags(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--debug", action="store_true", default=default, help="show the traceback of any error")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true", default=default, help="no progress, only the results")
    loud.add_argument("-v", "--verbose", action="store_true", default=default,
                      help="a progress line for every task as it finishes")


def main(argv: list[str] | None = None) -> int:
    """The command line. Errors a user can cause end in one sentence and exit status 2; `--debug` shows
    the traceback of any error instead."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as e:
        if args.debug:
            raise
        console.print(Text.assemble(("error: ", "red"), terminal_safe(str(e))))
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print(Text("interrupted; run the same command again to resume where it stopped", style="yellow"))
        return EXIT_INTERRUPTED
    except sqlite3.DatabaseError as e:  # a run.sqlite damaged past what opening it could see
        if args.debug:
            raise
        console.print(Text.assemble(("error: ", "red"), f"the run database is damaged ({e}); use another --run-dir"))
        return EXIT_USAGE
    except Exception as e:  # a fault of looplab's own: say so in one sentence, keep the traceback for --debug
        if args.debug:
            raise
        console.print(Text.assemble(("internal error: ", "red"), terminal_safe(f"{type(e).__name__}: {e}"),
                                    "; re-run with --debug to see where it happened, and report it"))
        return EXIT_INTERNAL

