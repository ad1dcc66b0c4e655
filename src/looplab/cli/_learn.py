"""train: a LoRA adapter on an export, for the embedded model or any local GGUF, run in every loop afterwards."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..learn import METHODS, CycleSettings, TrainSettings, require_learn_extra, run_cycle, train
from ..models import gguf_file, load_model
from ..optimize import split_tasks
from ..solve import POLICIES
from ..tasks import load_tasks
from ._common import (TASKS_HELP, UsageError, _add_run_dir, _add_sandbox_args, _names, _number, _percent, _sandbox,
                      _whole, console, out)


def _add_training_args(p) -> None:
    p.add_argument("--base", default="local", help="the model to adapt: local (default, the embedded model), "
                                                   "local:smollm2 or local:PATH.gguf")
    p.add_argument("--lora-r", type=_whole(1), default=16, help="the adapter's rank (default 16; alpha is twice it)")
    p.add_argument("--epochs", type=_number(0, low_open=True), default=1.0, help="passes over the data (default 1)")
    p.add_argument("--lr", type=_number(0, 1, low_open=True), default=2e-4, help="learning rate (default 2e-4)")
    p.add_argument("--max-length", type=_whole(16), default=512, help="tokens per example (default 512)")
    p.add_argument("--save-steps", type=_whole(1), default=10, help="a checkpoint every N steps, which a re-run "
                                                                     "resumes from (default 10)")


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train a LoRA adapter on exported training data (TRL and PEFT on the CPU); run "
                                     "it afterwards with --model local+lora:DIR")
    p.add_argument("--data", type=Path, required=True, help="a JSONL file from looplab export --format sft|revisions|"
                                                            "dpo|kto")
    p.add_argument("--method", choices=METHODS, default="sft", help="sft (default; also for revisions), dpo or kto")
    _add_training_args(p)
    p.add_argument("--output", type=Path, required=True, help="where the adapter, its GGUF, the checkpoints and "
                                                              "training.json go (the same DIR again resumes)")

    p = sub.add_parser("cycle", help="expert iteration: sample on a train split, keep what its scorer passes, train "
                                     "a LoRA adapter, score the trained model on a test split; R rounds (resumable)")
    p.add_argument("--tasks", default="humaneval", help=TASKS_HELP)
    p.add_argument("--splits", required=True, metavar="TRAIN:TEST", help="task counts, seeded and stratified by "
                                                                         "difficulty or category (e.g. 60:30)")
    p.add_argument("--seed", type=_whole(0), default=0, help="for the split (default 0)")
    p.add_argument("--rounds", type=_whole(1), default=1, help="sample-train-score rounds (default 1)")
    p.add_argument("--samples", type=_whole(1), default=4, help="answers sampled per train task a round, or with "
                                                                "--revisions the revisions allowed (default 4)")
    p.add_argument("--revisions", action="store_true",
                   help="train on revisions instead of answers: refine on the train split, and each revision the "
                        "split's scorer passes after a failed parent (attempt, feedback, fix) is an example")
    p.add_argument("--temperature", type=_number(0, 2), default=0.8, help="of the samples (default 0.8)")
    p.add_argument("--max-tokens", type=_whole(16), default=768, help="per reply (default 768)")
    p.add_argument("--policies", default="single", help="what each model is scored with on the test split, "
                                                         "comma-separated (default single)")
    p.add_argument("--budget-tokens", type=_whole(1), help="token budget per test task and policy")
    p.add_argument("--threads", type=_whole(1), help="CPU threads for the model (default: all cores)")
    _add_training_args(p)
    _add_run_dir(p)
    _add_sandbox_args(p, 10.0)


def cmd_train(args) -> int:
    require_learn_extra()
    settings = TrainSettings(args.method, args.lora_r, args.epochs, args.lr, args.max_length, save_steps=args.save_steps)
    with console.status(f"training a rank-{args.lora_r} LoRA adapter ({args.method})"):
        record = train(args.data, gguf_file(args.base), args.output, settings)
    last = record["loss"][-1]["loss"] if record["loss"] else None
    console.print(f"Trained on {record['examples']} examples in {record['steps']} steps ({record['seconds']} s, "
                  f"{record['seconds_per_example']} s per example), last loss {last}. Run it with "
                  f"--model local+lora:{args.output}")
    return 0


def cmd_cycle(args) -> int:
    require_learn_extra()
    policies = tuple(_names(args.policies))
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise UsageError(f"unknown policy {unknown[0] if unknown else args.policies!r}; choose from "
                         f"{', '.join(POLICIES)}")
    try:
        train_size, test_size = (int(n) for n in args.splits.split(":"))
    except ValueError:
        raise UsageError(f"give --splits as TRAIN:TEST task counts, e.g. 60:30, not {args.splits!r}") from None
    family, problems = load_tasks(args.tasks, _sandbox(args))  # after the flags: a bad one fails at once
    if train_size < 1 or test_size < 1 or train_size + test_size > len(problems):
        raise UsageError(f"--splits {args.splits} asks for more tasks than the {len(problems)} there are, or none")
    splits = split_tasks(problems, (train_size, 0, test_size), args.seed)
    training = TrainSettings("sft", args.lora_r, args.epochs, args.lr, args.max_length, save_steps=args.save_steps)
    settings = CycleSettings(args.rounds, args.samples, args.temperature, args.max_tokens, policies,
                             args.budget_tokens, training, revisions=args.revisions)
    record = run_cycle(args.run_dir, family, splits.train, splits.test, model=load_model(args.base, threads=args.threads),
                       base_gguf=gguf_file(args.base), settings=settings, threads=args.threads,
                       on_stage=lambda text: console.print(text))
    table = Table(title=f"cycle on {family.name}: the test split ({test_size} tasks), hidden pass rate")
    for column in ("round", "examples", "sampling tokens", "training min", "policy", "base", "trained", "won/lost",
                   "p", "copy-back base → trained"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for row in record["rounds"]:
        for name, t in row.get("test", {}).items():
            table.add_row(str(row["round"]), str(row["examples"]), f"{row['sampling_tokens']:,}",
                          str(row["training_minutes"]), name, f"{100 * t['base']:.1f}%", f"{100 * t['trained']:.1f}%",
                          f"{t['won']}/{t['lost']}", f"{t['p']:.3f}", _copy_back(t))
        if row.get("stopped"):
            table.add_row(str(row["round"]), str(row["examples"]), f"{row['sampling_tokens']:,}", "-", row["stopped"],
                          "", "", "", "", "")
    out.print(table)
    console.print(f"Record: {args.run_dir}/cycle.json")
    return 0


def _copy_back(test: dict) -> str:
    """The share of revisions that handed the same answer back, before and after training ("-": none made)."""
    return f"{_percent(test.get('copy_back_base'))} → {_percent(test.get('copy_back_trained'))}"
