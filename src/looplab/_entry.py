"""The `looplab` console script: Ctrl-C at any moment, even while the command's modules are still being
imported, ends with exit status 130 and no traceback, within moments."""
import atexit
import os
import signal
import sys


def main() -> None:
    try:
        from .cli import EXIT_INTERRUPTED, main as command

        code = command()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    if code == EXIT_INTERRUPTED:
        # The record is closed and consistent here. What is left are worker threads in the middle of a model
        # call or a program (the interpreter would wait for each to finish: up to a minute for a local model's
        # reply); their work is redone on resume. So run the exit handlers (sandboxes and their control groups
        # are stopped there) and leave without waiting for them.
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        os._exit(code)
    # The command is done and its record closed: a Ctrl-C in the moments the interpreter takes to shut down
    # would only turn the exit status into "killed by SIGINT" (-2) after a run that finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)
