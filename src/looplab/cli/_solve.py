"""solve, compare, analyze and demo: running policies over tasks, with progress, and their tables."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..models import Budget, Timeouts, default_connections
from ..runs import RunError, RunStore, require_loop
from ..solve import (EXTRA_SOURCES, POLICIES, PolicyConfig, Share, analyze, compare, deal, feedback_sources, parse_policies,
                     run_on_ray, run_policies)
from ..tasks import load_tasks
from ._common import (UsageError, _add_model_args, _add_run_dir, _add_sandbox_args, _add_task_args,
                      _budget, _finish, _limits, policy_from_file, _load_model, _load_tasks, _model_args, _number, _percent, _sandbox,
                      _whole, console, out)

COMPARE_ROUNDS = 8     # compare: rounds high enough that the token budget, not the count, ends a policy
COMPARE_SAMPLES = 64   # compare: best-of-n's samples, likewise
KNOBS = (f"A name shows its policy's knobs (k: rounds, n: samples). compare runs {COMPARE_ROUNDS} rounds unless "
         f"--rounds says otherwise, and best-of-n (the reference) draws up to {COMPARE_SAMPLES} samples whatever "
         "--n says, so that the token budget, not a count, ends each policy.")


def add_commands(sub) -> None:
    p = sub.add_parser("solve", help="solve tasks with a loop policy, recording every step", epilog=_policy_list(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_task_args(p)
    p.add_argument("--policy-config", type=Path, metavar="FILE",
                   help="the policy, its knobs and prompts from a file (best_policy.json from looplab optimize); "
                        "instead of --strategy and the knob flags")
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
    _add_run_dir(p, reads=True)
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("demo", help="single vs refine on the first HumanEval tasks with the embedded model")
    p.add_argument("--limit", type=_whole(1), default=10, help="the first N HumanEval tasks (default 10)")
    _add_run_dir(p, default="runs/demo")
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)


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


def _run(configs: list[PolicyConfig], family, problems, args, *, task_budget=Budget(), run_budget=Budget()) -> dict:
    """Runs the policies, here with a progress bar each or spread over a Ray cluster; returns the run's
    summary. Remembers in `args.incomplete` why the run did not finish cleanly, if it did not."""
    for config in configs:
        feedback_sources(family, config)  # a source the family cannot have fails before anything is recorded
    executor, judge = getattr(args, "executor", "local"), getattr(args, "judge_model", None)  # demo has neither
    if executor == "ray" and run_budget != Budget():
        raise UsageError("a run budget cannot be kept exactly across machines; with --executor ray give a "
                         "budget per task (--budget-tokens)")
    # The model is loaded (a server asked whether it answers) before the run directory is made.
    models = None if executor == "ray" and not args.model.startswith("openai:") else (
        _load_model(args), _load_model(args, judge) if judge else None)
    connections = args.max_connections or (default_connections(models[0]) if models else 1)
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
    line when a task finishes, at most every `every` seconds, and always when a policy's last task does; with
    `quiet`, none."""

    def __init__(self, every: float = PLAIN_EVERY, quiet: bool = False):
        self._last, self.every, self.quiet = 0.0, every, quiet

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
        if self.quiet or (now - self._last < self.every and bar["done"] < bar["total"]):
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
    plain = _PlainProgress(every=0.0 if args.verbose else PLAIN_EVERY, quiet=args.quiet)
    with (_BarProgress() if console.is_terminal and not (args.quiet or args.verbose) else plain) as progress:
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
    configs = [policy_from_file(args.policy_config)] if args.policy_config else _policy_configs(
        args.strategy, args, samples=args.n)
    if len(configs) != 1:
        raise UsageError(f"solve runs one policy, not {len(configs)} ({args.strategy}); compare several with "
                         f"looplab compare --policies {args.strategy}")
    [config] = configs
    family, problems = _load_tasks(args, _sandbox(args))
    summary = _run([config], family, problems, args, task_budget=_budget(args.budget_calls, args.budget_tokens),
                   run_budget=_budget(args.run_calls, args.run_tokens))
    _print_summary(summary, args.run_dir)
    return _finish(args)


def _policy_configs(spec: str, args, samples: int = COMPARE_SAMPLES) -> list[PolicyConfig]:
    """The policies `spec` names with the flags' knobs; the reference (best-of-n) draws `samples`, so that it
    samples until the budget ends and is one at every spend."""
    return parse_policies(spec, _config("single", args), reference_samples=samples,
                          sources=("tests",) if args.generated_tests else ())


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
    from ..report import write_comparison

    for name, missing in result.unfinished.items():
        console.print(Text(f"{name} has {missing} of {len(problems)} tasks unfinished; re-run to complete the "
                           "comparison", style="yellow"))
    csv_path, html_path = write_comparison(args.run_dir, result.rows, result.curves, result.reference,
                                           model=summary["model"], budget=budget, knobs=KNOBS)
    table = Table(title=f"{len(problems)} {family.name} tasks, budget {budget} tokens per task", caption=KNOBS)
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
    from ..report import write_analysis
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
        # headers wrap onto a second line rather than being cut; a policy's name is never broken
        table.add_column(column, justify="left" if column in ("policy", "worst category") else "right",
                         no_wrap=column == "policy", min_width=max(len(r["policy"]) for r in rows)
                         if column == "policy" else None)
    for r in rows:
        table.add_row(Text(r["policy"]), _percent(r["pass_at_1"]), str(r["revisions_after_failure"]), _percent(r["friction"]),
                      _percent(r["copy_back"]), str(r["wrong_to_right"]), str(r["right_to_wrong"]),
                      f"{r['wrong_to_right_deceived']}/{r['right_to_wrong_deceived']}",
                      str(r["passed_visible_failed_hidden"]),
                      "/".join(f"{100 * p:.0f}" for p in r["pass_at_1_by_attempts"][:5]),
                      f"{r['worst_category']} {_percent(r['category_pass_at_1'][r['worst_category']])}")
    out.print(table)
    measured = [r for r in rows if r.get("family_measures")]
    if measured:
        names = list(dict.fromkeys(k for r in measured for k in r["family_measures"]))
        table = Table(title=f"{family.name}'s own measures of the final answers (hidden scores)")
        table.add_column("measure")
        for r in measured:
            table.add_column(Text(r["policy"]), justify="right")
        for name in names:  # one row a measure: a family may have many, a comparison few policies
            table.add_row(name.replace("_", " "), *(f"{v:.3g}" if isinstance(v := r["family_measures"].get(name), float)
                                                    else str("-" if v is None else v) for r in measured))
        out.print(table)
    console.print(f"Wrote {csv_path} and {html_path}")
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
                  f"{_this_command()} show --run-dir {args.run_dir} HumanEval/0")
    return 0


def _this_command() -> str:
    """How to type this command again from here: `looplab` when that is what PATH finds, else its path
    (`make demo` runs `.venv/bin/looplab`, which is not on PATH)."""
    if sys.argv[0].endswith("__main__.py"):
        return "python -m looplab"
    found = shutil.which("looplab")
    if found and os.path.realpath(found) == os.path.realpath(sys.argv[0]):
        return "looplab"
    relative = os.path.relpath(sys.argv[0])
    return sys.argv[0] if relative.startswith("..") else relative
