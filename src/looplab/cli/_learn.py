"""train: a LoRA adapter on an export, for the embedded model or any local GGUF, run in every loop afterwards."""
from __future__ import annotations

from pathlib import Path

from ..learn import METHODS, TrainSettings, require_learn_extra, train
from ..models import gguf_file
from ._common import _number, _whole, console


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train a LoRA adapter on exported training data (TRL and PEFT on the CPU); run "
                                     "it afterwards with --model local+lora:DIR")
    p.add_argument("--data", type=Path, required=True, help="a JSONL file from looplab export --format sft|revisions|"
                                                            "dpo|kto")
    p.add_argument("--method", choices=METHODS, default="sft", help="sft (default; also for revisions), dpo or kto")
    p.add_argument("--base", default="local", help="the model to adapt: local (default, the embedded model), "
                                                   "local:smollm2 or local:PATH.gguf")
    p.add_argument("--lora-r", type=_whole(1), default=16, help="the adapter's rank (default 16; alpha is twice it)")
    p.add_argument("--epochs", type=_number(0, low_open=True), default=1.0, help="passes over the data (default 1)")
    p.add_argument("--lr", type=_number(0, 1, low_open=True), default=2e-4, help="learning rate (default 2e-4)")
    p.add_argument("--max-length", type=_whole(16), default=512, help="tokens per example (default 512)")
    p.add_argument("--save-steps", type=_whole(1), default=10, help="a checkpoint every N steps, which a re-run "
                                                                     "resumes from (default 10)")
    p.add_argument("--output", type=Path, required=True, help="where the adapter, its GGUF, the checkpoints and "
                                                              "training.json go (the same DIR again resumes)")


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
