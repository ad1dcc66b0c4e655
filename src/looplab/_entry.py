"""The `looplab` console script: Ctrl-C at any moment, even while the command's modules are still being
imported, ends with exit status 130 and no traceback, within moments."""
import atexit
import os
import signal
import sys


def main() -> None:
    # The last exit handler to run (they run last registered first): from there on the interpreter tears down
    # its modules, with Python's own Ctrl-C handler gone, so a Ctrl-C would kill it by SIGINT after a command
    # that had ended with its own status
    atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
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
    # ends it at once with the command's own status, rather than as "killed by SIGINT" (-2) after a run that
    # finished.
    signal.signal(signal.SIGINT, lambda *_: os._exit(code))
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
