"""What every command shares: the consoles, exit codes, the argument types and groups, and loading tasks, models and
sandboxes from the flags."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..models import Budget, ModelError, OpenAIModel, Timeouts, load_model, parse_model_args
from ..runs import TRAJECTORY_FORMAT, RunError, RunStore, is_record_file
from ..sandbox import Limits, Sandbox, SandboxUnavailable
from ..solve import POLICIES, PolicyConfig, PolicyNameError, PromptError
from ..tasks import TaskError, load_tasks

console = Console(stderr=True)


out = Console(width=None if sys.stdout.isatty() else 160)  # tables; a pipe or file gets room for every column


class UsageError(Exception):
    """A flag or argument that cannot be used as given."""


USER_ERRORS = (ModelError, PolicyNameError, PromptError, RunError, SandboxUnavailable, TaskError, UsageError)
EXIT_INCOMPLETE = 1   # the run stopped early or tasks ended in errors; the record has the rest
EXIT_USAGE = 2        # a flag, file or directory that cannot be used as given
EXIT_INTERNAL = 70    # a fault of looplab's own
EXIT_INTERRUPTED = 130
TASKS_HELP = "humaneval (default) | sql[:library,shop,clinic] | math[:GENERATOR,...] (default generators: " \
             "gsm_symbolic, basic_arithmetic, fraction_simplification) | plan[:easy,medium,hard] (travel plans " \
             "checked against constraints) | retrieve[:easy,medium,hard] (search queries reformulated from " \
             "retrieval feedback) | FILE.jsonl (code tasks, see docs/families.md)"


class _Parser(argparse.ArgumentParser):
    """Bad arguments get one line, not the whole usage. Flags are never abbreviated: `solve --policy single`
    would otherwise read a file named "single" as --policy-config."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole(least: int):
    """An argparse type: a whole number of at least `least`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
        return value
    return parse


def _number(low: float, high: float = math.inf, *, low_open: bool = False):
    """An argparse type: a finite number in [low, high] (or (low, high] when `low_open`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            bounds = f"{'above' if low_open else 'at least'} {low:g}" + (f" and at most {high:g}" if high < math.inf else "")
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, not {text}")
        return value
    return parse


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="local",
                   help="local (default) | local:smollm2 | local:PATH.gguf | local+lora:DIR (a looplab train output) | "
                        "openai:NAME | scripted:FILE.json")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (or OPENAI_BASE_URL)")
    p.add_argument("--connect-timeout", type=_number(0, low_open=True), default=10.0,
                   help="seconds to connect to the server (default 10)")
    p.add_argument("--read-timeout", type=_number(0, low_open=True), default=300.0,
                   help="seconds the server may stay silent while answering (default 300)")
    p.add_argument("--call-timeout", type=_number(0, low_open=True), default=900.0,
                   help="seconds one call may take in all, retries included (default 900)")
    p.add_argument("-M", "--model-arg", action="append", metavar="KEY=VALUE",
                   help="a setting for the model, sent with every request to a server and applied to the embedded "
                        "model where llama.cpp has it (e.g. -M repeat_penalty=1.0; repeatable; part of the run's "
                        "identity)")
    p.add_argument("--model-args", metavar="JSON", help='model settings as one JSON object, e.g. \'{"top_k": 40}\'')
    p.add_argument("--threads", type=_whole(1),
                   help="threads of the embedded model (default: LOOPLAB_THREADS, else the cores not already busy by "
                        "the last minute's load; on 2 cores with another model generating, 1 thread ran 12x faster "
                        "than 2)")
    p.add_argument("--max-connections", type=_whole(1),
                   help="model requests in flight at once (default 1 for a local model, which answers one at a "
                        "time, 16 for an OpenAI-compatible server)")


def _add_sandbox_args(p: argparse.ArgumentParser, timeout: float) -> None:
    p.add_argument("--timeout", type=_number(0, 3600, low_open=True), default=timeout, help=f"wall-clock seconds per program (default {timeout})")
    p.add_argument("--max-sandboxes", type=_whole(1), default=os.cpu_count() or 1,
                   help=f"programs run at once, each in a sandbox started ahead of need (default: the number of "
                        f"cores, {os.cpu_count()})")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run generated code with resource limits only, without bubblewrap isolation")


def _limits(args) -> Limits:
    return Limits(timeout=args.timeout, cpu_seconds=max(1, int(args.timeout)))


def _sandbox(args) -> Sandbox:
    return Sandbox(_limits(args), unsafe_no_sandbox=args.unsafe_no_sandbox, pool=args.max_sandboxes)


def _add_run_dir(p: argparse.ArgumentParser, default: str | None = None, *, reads: bool = False) -> None:
    """`reads`: a command that reads a record (and may write its pages or files there) rather than running a loop."""
    p.add_argument("--run-dir", required=default is None, default=default,
                   help="the run directory whose record is read" if reads else
                   "the run directory: where the record goes (the same DIR again resumes)"
                   + (f" (default {default})" if default else ""))


def _names(text: str) -> list[str]:
    """A comma-separated list as typed: names stripped, empty ones dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _percent(share: float | None) -> str:
    """A share as a whole percentage; "-" where there was nothing to count."""
    return "-" if share is None else f"{100 * share:.0f}%"


def _add_task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tasks", help=TASKS_HELP + "; commands that read a record default to its tasks")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--limit", type=_whole(1), help="the first N tasks")
    which.add_argument("--ids", help="comma-separated task ids, e.g. HumanEval/0,HumanEval/7, shop/03, or 0,7")


def _load_tasks(args, sandbox: Sandbox, recorded: RunStore | None = None):
    """The tasks the flags name; reading a record (`recorded`), the record's own unless the flags narrow them."""
    ids = _names(args.ids) if getattr(args, "ids", None) else None
    if getattr(args, "ids", None) is not None and not ids:
        raise UsageError("--ids names no task")
    spec = args.tasks
    if recorded is not None:
        family, finished = recorded.recorded_tasks()
        if spec is None and family is None:
            raise UsageError(f"{recorded.dir} holds tasks from a file; give it with --tasks FILE.jsonl")
        spec = spec or family
        if ids is None and args.limit is None and finished:
            ids = finished
    return load_tasks(spec or "humaneval", sandbox, limit=args.limit, ids=ids)


def _model_args(args) -> dict:
    return parse_model_args(getattr(args, "model_arg", None), getattr(args, "model_args", None))


def _load_model(args, spec: str | None = None):
    """The model `--model` (or `spec`, a judge's, which takes no -M) names; an OpenAI-compatible server is
    asked first whether it answers at all."""
    timeouts = Timeouts(args.connect_timeout, args.read_timeout, args.call_timeout)
    with console.status("loading the model"):
        model = load_model(spec or args.model, base_url=args.base_url, timeouts=timeouts,
                           model_args=None if spec else _model_args(args), threads=args.threads)
        if isinstance(model, OpenAIModel):
            model.check()
    return model


def _finish(args) -> int:
    """Exit status 0 when every task finished cleanly; 1, with the reason, when the run stopped early or
    tasks ended in errors (the record keeps them; the same command resumes)."""
    if getattr(args, "incomplete", ""):
        console.print(Text(f"The run is not complete: {args.incomplete}. The same command resumes it.", style="red"))
        return EXIT_INCOMPLETE
    return 0


def _budget(calls: int | None, tokens: int | None) -> Budget:
    for flag, value in (("calls", calls), ("tokens", tokens)):
        if value is not None and value < 1:
            raise UsageError(f"a {flag} budget must be at least 1, not {value}")
    return Budget(calls, tokens)


def _refuse_record_file(path: Path) -> None:
    if is_record_file(path):
        raise UsageError(f"{path} would overwrite a file of a run's record; write the output to another name")


def _refuse_foreign_export(path: Path) -> None:
    """An export overwrites only an export: a file whose first line is not a row looplab writes (a trajectory, or
    a training row with its provenance) is the user's."""
    _refuse_record_file(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        first = f.readline(1 << 20)
    try:
        row = json.loads(first)
    except ValueError:
        row = None
    if not (isinstance(row, dict) and (row.get("format") == TRAJECTORY_FORMAT or "provenance" in row)):
        raise UsageError(f"{path} exists and is not a looplab export; write the output to another name")


def policy_from_file(path: Path) -> PolicyConfig:
    """A policy configuration written by `optimize` (best_policy.json) or `PolicyConfig.as_dict`."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON; give a best_policy.json that looplab optimize wrote") from None
    data = data.get("policy", data) if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("strategy") not in POLICIES:
        raise UsageError(f"{path} holds no policy configuration (a best_policy.json that looplab optimize wrote)")
    try:
        return PolicyConfig.from_dict(data)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path} holds a policy that cannot be used: {e}") from None
