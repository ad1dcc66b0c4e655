"""view, export and show: commands that read a record and run no model."""
from __future__ import annotations

import time
from pathlib import Path

from ..learn import FORMATS, SELECTIONS, export_training, train_split
from ..runs import RunError, RunStore, export_trajectories, show_task
from ._common import (UsageError, _add_run_dir, _add_sandbox_args, _load_tasks, _refuse_foreign_export, _sandbox, console,
                      out)


def add_commands(sub) -> None:
    p = sub.add_parser("view", help="a static site over run directories: policies, tasks, attempt trees, diffs, "
                                    "model calls, two runs side by side; grow iterations")
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="DIR", help="run directories (as --run-dir)")
    p.add_argument("--run-dir", action="append", type=Path, default=[], dest="more_run_dirs",
                   help="a run directory, or a folder of run directories (repeatable)")
    p.add_argument("--output", type=Path, help="where to write the site (default: DIR/view of the first run; a new "
                                               "or empty folder, or an earlier site)")

    p = sub.add_parser("export", help="a solve run as JSON lines: its trajectories (steps, feedback, calls, outcome), "
                                      "or training data in TRL's field names (sft, dpo, kto, revisions)")
    _add_run_dir(p, reads=True)
    p.add_argument("--format", choices=("trajectories",) + FORMATS, default="trajectories",
                   help="trajectories (default): one line per policy and task; sft: passing attempts as messages; "
                        "dpo: prompt, chosen, rejected; kto: prompt, completion, label; revisions: a failed "
                        "attempt, its feedback and the revision that passed")
    p.add_argument("--select", choices=SELECTIONS, default="visible",
                   help="what counts as passed for training data: visible (default: the feedback the loop saw) or "
                        "train-hidden (the hidden score, only on the tasks of the run's recorded train split)")
    p.add_argument("--tasks", help="with --select train-hidden: the run's tasks, when the record cannot name them "
                                   "(a JSONL file)")
    p.add_argument("--output", type=Path, help="the file to write (default: DIR/trajectories.jsonl or DIR/FORMAT.jsonl)")
    _add_sandbox_args(p, 10.0)

    p = sub.add_parser("show", help="print one task's attempts as a tree, with feedback and diffs, from a run record")
    _add_run_dir(p, reads=True)
    p.add_argument("task_id", help="e.g. HumanEval/10, shop/07 or gsm_symbolic/4")
    p.add_argument("--policy", help="only this policy (default: every policy that ran the task)")
    p.add_argument("--full", action="store_true", help="print whole candidates and feedback, not their first lines")


def cmd_view(args) -> int:
    from ..report import write_view

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


def cmd_export(args) -> int:
    out = args.output or Path(args.run_dir) / f"{args.format}.jsonl"
    _refuse_foreign_export(out)
    family = problems = None
    if args.format != "trajectories" and args.select == "train-hidden":
        with RunStore(args.run_dir, read_only=True) as store:
            train_split(store)  # a run with no train split is refused before its tasks load
            args.limit = args.ids = None
            family, problems = _load_tasks(args, _sandbox(args), recorded=store)
    try:
        if args.format == "trajectories":
            lines = export_trajectories(Path(args.run_dir), out)
        else:
            lines = export_training(Path(args.run_dir), out, args.format, args.select, family, problems)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror}") from None
    what = "trajectories (one per policy and task)" if args.format == "trajectories" else f"{args.format} rows"
    console.print(f"Wrote {out}: {lines} {what}")
    return 0


def cmd_show(args) -> int:
    task_id = args.task_id if not args.task_id.isdigit() else f"HumanEval/{args.task_id}"
    out.print(show_task(args.run_dir, task_id, policy=args.policy, full=args.full))
    return 0
