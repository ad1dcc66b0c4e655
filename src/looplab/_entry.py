"""The `looplab` console script: Ctrl-C at any moment, even while the command's modules are still being
imported, ends with exit status 130 and no traceback."""
import sys


def main() -> None:
    try:
        from .cli import main as command

        sys.exit(command())
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
