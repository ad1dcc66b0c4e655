"""optimize: improve a solve policy's prompts from feedback on a train split, proven on a test split."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table
from rich.text import Text

from ..models import Budget
from ..optimize import VARIANTS, Optimizer, baselines_table, parse_sizes, split_tasks, write_best
from ..runs import RunStore
from ..solve import POLICIES, PolicyConfig
from ..tasks import load_tasks
from ._common import (TASKS_HELP, UsageError, _add_model_args, _add_run_dir, _add_sandbox_args, _load_model, _names, _number,
                      _sandbox, _whole, console, out)


def add_commands(sub) -> None:
    p = sub.add_parser("optimize", help="improve a policy's prompts from feedback on a train split (reflective "
                                        "mutation, a Pareto pool), proven once on a test split")
    p.add_argument("--tasks", default="humaneval", help=TASKS_HELP)
    p.add_argument("--policy", default="single", help=f"the policy whose prompts are optimized, one of "
                                                      f"{', '.join(POLICIES)} (default single)")
    p.add_argument("--splits", required=True, metavar="TRAIN:VAL:TEST",
                   help="task counts (30:30:30) or fractions (0.5:0.25:0.25), seeded and stratified by difficulty "
                        "or category; the search never sees the test split")
    p.add_argument("--budget-calls", type=_whole(1), required=True,
                   help="metric calls for the search: one task run by one candidate (the reflector's calls are "
                        "counted apart); the search stops before a call it cannot pay")
    p.add_argument("--budget-tokens", type=_whole(1), help="token budget per task run")
    p.add_argument("--reflect-model", help="the model that proposes new prompts, in --model's form (default: the "
                                           "model under test)")
    p.add_argument("--minibatch", type=_whole(1), default=3, help="train tasks the parent fails that a proposal is "
                                                                   "written from and first tried on (default 3)")
    p.add_argument("--no-demonstrations", action="store_true",
                   help="change the prompts' texts only: no round offers worked examples of solved train tasks")
    p.add_argument("--baselines", type=_baselines, default=[], metavar="NAMES",
                   help="after the search, run these at the same metric-call budget, each in RUN/baseline-NAME, "
                        "and pair each one's best with the seed on the test split: " +
                        "; ".join(f"{k}: {v}" for k, v in VARIANTS.items() if k != "search") + " (or all)")
    p.add_argument("--tune", type=lambda text: tuple(_names(text)), default=(),
                   metavar="KNOBS", help="numeric knobs a round may move a step, as the texts are rewritten: rounds "
                                         "(0 to 8) and n (1 to 16), those the policy reads (e.g. --tune rounds)")
    p.add_argument("--seed", type=_whole(0), default=0, help="for the splits and the search's choices (default 0)")
    p.add_argument("--rounds", type=_whole(0), default=3, help="the policy's rounds (default 3)")
    p.add_argument("--n", type=_whole(1), default=4, help="the policy's n (default 4)")
    p.add_argument("--temperature", type=_number(0, 2), default=0.8, help="whenever the policy samples (default 0.8)")
    p.add_argument("--max-tokens", type=_whole(16), default=768, help="per reply (default 768)")
    _add_run_dir(p)
    _add_model_args(p)
    _add_sandbox_args(p, 10.0)


def _baselines(text: str) -> list[str]:
    names = _names(text)
    known = [k for k in VARIANTS if k != "search"]
    if names == ["all"]:
        return known
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown baseline {unknown[0] if unknown else text!r}; choose from "
                                         f"{', '.join(known)} or all")
    return names


def cmd_optimize(args) -> int:
    if args.policy not in POLICIES:
        raise UsageError(f"unknown policy {args.policy!r}; choose from {', '.join(POLICIES)}")
    family, problems = load_tasks(args.tasks, _sandbox(args))
    try:
        sizes = parse_sizes(args.splits, len(problems))
    except ValueError as e:
        raise UsageError(str(e)) from None
    splits = split_tasks(problems, sizes, args.seed)
    base = PolicyConfig(args.policy, n=args.n, rounds=args.rounds, temperature=args.temperature,
                        max_tokens=args.max_tokens)
    model = _load_model(args)
    reflector = _load_model(args, args.reflect_model) if args.reflect_model else model
    def search(run_dir, variant):
        with RunStore(run_dir) as store:
            optimizer = Optimizer(store, family, splits, base, model=model, reflector=reflector,
                                  budget_calls=args.budget_calls, task_budget=Budget(tokens=args.budget_tokens),
                                  minibatch=args.minibatch, seed=args.seed, max_connections=args.max_connections,
                                  demonstrations=not args.no_demonstrations, variant=variant,
                                  say=lambda line: args.quiet or console.print(Text(f"{variant}: {line}"), soft_wrap=True),
                                  tune=args.tune)
            with console.status(f"{variant}: {base.name}'s prompts, {len(splits.train)} train, {len(splits.val)} "
                                f"validation, {len(splits.test)} test tasks, {args.budget_calls} metric calls"):
                result = optimizer.run()
            return result, optimizer.best_config(result)

    result, best = search(args.run_dir, "search")
    write_best(Path(args.run_dir) / "best_policy.json", best, result, splits)
    table = Table(title=f"candidates: validation split ({len(splits.val)} tasks), hidden pass rate")
    for column in ("id", "parent", "changed", "validation", "Pareto"):
        table.add_column(column, justify="right")
    for c in result.candidates:
        changed = next((k for k, v in c["texts"].items() if v != result.candidates[0]["texts"][k]), "-")
        table.add_row(str(c["id"]), "-" if c["parent"] is None else str(c["parent"]), changed,
                      f"{100 * c['val']:.1f}%", "yes" if c["pareto"] else "")
    out.print(table)
    console.print("Proposals: " + (", ".join(f"{k} {v}" for k, v in sorted(result.proposals.items())) or "none")
                  + f"; {result.metric_calls} metric calls of {args.budget_calls}, {result.reflector_calls} "
                    "reflector calls")
    if result.test:
        t = result.test
        out.print(Text(f"Test split ({t['tasks']} tasks, never seen by the search): seed {100 * t['seed']:.1f}%, best "
                       f"(candidate {result.best}) {100 * t['best']:.1f}%; best won {t['won']}, lost {t['lost']} "
                       f"(sign test p {t['p']:.2f})"))
    if args.baselines:
        baselines = {name: search(Path(args.run_dir) / f"baseline-{name}", name)[0] for name in args.baselines}
        rows = baselines_table(result, baselines)
        (Path(args.run_dir) / "baselines.json").write_text(json.dumps(rows, indent=2))
        _print_baselines(rows, len(splits.test))
    console.print(f"Wrote {Path(args.run_dir) / 'best_policy.json'}; use it with looplab solve --policy-config FILE")
    return 0


def _print_baselines(rows: list[dict], test_tasks: int) -> None:
    """Every search's best on the test split, each paired with its seed, at the same metric-call budget."""
    table = Table(title=f"test split ({test_tasks} tasks, never seen by any search): each search's best against "
                        "the seed, at the same metric-call budget")
    for column in ("search", "best (validation)", "test pass@1", "won/lost vs seed (p)", "metric calls",
                   "reflector calls", "proposals refused"):
        table.add_column(column, justify="right")
    if rows[0]["seed"] is not None:
        table.add_row("seed", "", f"{100 * rows[0]['seed']:.1f}%", "reference", "", "", "")
    for r in rows:
        tested = r["test"] is not None
        table.add_row(r["search"], f"candidate {r['best']} ({100 * r['validation']:.1f}%)",
                      f"{100 * r['test']:.1f}%" if tested else "-",
                      f"{r['won']}/{r['lost']} ({r['p']:.2f})" if tested else "-", str(r["metric_calls"]),
                      str(r["reflector_calls"]), str(r["refused"]) if r["search"] != "gepa" else "(gepa checks none)")
    out.print(table)
