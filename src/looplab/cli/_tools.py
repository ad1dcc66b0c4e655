"""exec and models: the sandbox on one file, and which model backends are usable here."""
from __future__ import annotations

import time
from pathlib import Path

from rich.table import Table

from ..models import load_model, probe_backends
from ._common import UsageError, _add_sandbox_args, _sandbox, console, out

MAX_STDIN = 16 << 20  # bytes `exec --stdin` passes on; a program's input, not a data set


def add_commands(sub) -> None:
    p = sub.add_parser("exec", help="run a Python file in the sandbox and print the result as JSON")
    p.add_argument("file", type=Path)
    p.add_argument("--stdin", type=Path, help="file to feed on standard input")
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("models", help="which model backends are usable here, with a quick check of the embedded model")
    p.add_argument("--no-check", action="store_true", help="skip loading the embedded model")


def cmd_exec(args) -> int:
    try:
        code = args.file.read_bytes().decode("utf-8")
        stdin = b""
        if args.stdin:
            with open(args.stdin, "rb") as f:
                stdin = f.read(MAX_STDIN + 1)
    except OSError as e:
        raise UsageError(f"cannot read {e.filename}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{args.file} is not UTF-8 text; give a Python source file") from None
    if len(stdin) > MAX_STDIN:
        raise UsageError(f"--stdin {args.stdin} holds more than {MAX_STDIN >> 20} MB; give a smaller file")
    result = _sandbox(args).run(code, filename=args.file.name or "main.py",
                                stdin=stdin.decode("utf-8", "surrogateescape"))
    print(result.to_json())
    return 0 if result.ok else 1


def cmd_models(args) -> int:
    backends = probe_backends()
    table = Table(title="looplab model backends")
    for column in ("model", "usable", "notes"):
        table.add_column(column)
    for b in backends:
        table.add_row(f"{b.spec} ({b.title})" if b.title else b.spec, "yes" if b.usable else "no", b.note)
    out.print(table)
    if backends[0].usable and not args.no_check:
        with console.status("assembling and loading the embedded model"):
            start = time.monotonic()
            model = load_model("local")
            loaded = time.monotonic() - start
            reply = model.complete([{"role": "user", "content": "Write a Python one-liner that reverses a string s."}],
                                   max_tokens=48)
        speed = reply.usage.completion_tokens / reply.latency if reply.latency else 0.0
        out.print(f"Embedded model check: loaded in {loaded:.1f} s, {reply.usage.completion_tokens} tokens "
                        f"at {speed:.1f} tokens/s.\nReply: {reply.text.strip()[:200]}")
    return 0
