"""`looplab train`: a LoRA adapter trained on an export (sft, revisions, dpo or kto) with TRL and PEFT on the CPU,
written both as a PEFT directory and as the LoRA GGUF llama.cpp runs beside the base (model spec
`local+lora:DIR`). A re-run resumes from the last checkpoint; the output directory keeps a training record."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..runs import RunError
from ._gguf import TARGET_MODULES, load_base, sha256_file, write_lora_gguf

METHODS = ("sft", "dpo", "kto")
RECORD = "training.json"
ADAPTER_GGUF = "adapter.gguf"
LEARN_INSTALL = "pip install -e '.[learn]'"


@dataclass(frozen=True)
class TrainSettings:
    method: str = "sft"
    lora_r: int = 16
    epochs: float = 1.0
    lr: float = 2e-4
    max_length: int = 512
    seed: int = 0
    save_steps: int = 10


def require_learn_extra() -> None:
    """One sentence saying what to install when the learn extra is missing."""
    import importlib.util

    missing = [m for m in ("torch", "transformers", "peft", "trl", "datasets", "gguf") if importlib.util.find_spec(m) is None]
    if missing:
        raise RunError(f"training needs {', '.join(missing)}: {LEARN_INSTALL}")


def _dataset(data: Path, method: str):
    from datasets import load_dataset

    rows = load_dataset("json", data_files=str(data), split="train")
    needed = {"sft": {"messages"}, "dpo": {"prompt", "chosen", "rejected"}, "kto": {"prompt", "completion", "label"}}
    if not needed[method] <= set(rows.column_names):
        raise RunError(f"{data} is not {method} data (it has {', '.join(rows.column_names)}; {method} needs "
                       f"{', '.join(sorted(needed[method]))}); write it with looplab export --format")
    return rows.remove_columns([c for c in rows.column_names if c not in needed[method]])


def train(data: Path, base_gguf: Path, output: Path, settings: TrainSettings = TrainSettings()) -> dict:
    """Train, resume where a killed run stopped, and write `adapter/` (PEFT), `adapter.gguf` and `training.json`
    (the data's digest, the base's, the settings, the loss at every step, time per example). Returns the record."""
    require_learn_extra()
    import torch
    import trl
    from peft import LoraConfig

    if settings.method not in METHODS:
        raise RunError(f"--method is one of {', '.join(METHODS)}, not {settings.method!r}")
    data, base_gguf, output = Path(data), Path(base_gguf), Path(output)
    if not data.is_file():
        raise RunError(f"no training data at {data}; write it with looplab export --format {settings.method}")
    record_path = output / RECORD
    if output.is_dir() and any(output.iterdir()) and not record_path.is_file():
        raise RunError(f"{output} holds files looplab's training did not write; give --output a new or empty folder")
    output.mkdir(parents=True, exist_ok=True)
    identity = {"data_sha256": sha256_file(data), "base": str(base_gguf), "base_sha256": sha256_file(base_gguf),
                "settings": asdict(settings)}
    if record_path.is_file():
        old = json.loads(record_path.read_text())
        if {k: old.get(k) for k in identity} != identity:
            raise RunError(f"{output} holds training of other data, base or settings; give a new --output")
        if old.get("finished"):
            return old
    record_path.write_text(json.dumps({**identity, "finished": False}, indent=2))
    torch.manual_seed(settings.seed)
    rows = _dataset(data, settings.method)
    model, tokenizer = load_base(base_gguf)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=2 * settings.lora_r, target_modules=list(TARGET_MODULES),
                      lora_dropout=0.0, task_type="CAUSAL_LM")
    common = dict(output_dir=str(output / "checkpoints"), use_cpu=True, bf16=False, report_to=[], logging_steps=1,
                  save_steps=settings.save_steps, num_train_epochs=settings.epochs, learning_rate=settings.lr,
                  per_device_train_batch_size=1, max_length=settings.max_length, seed=settings.seed)
    trainer_class, config_class = {"sft": (trl.SFTTrainer, trl.SFTConfig), "dpo": (trl.DPOTrainer, trl.DPOConfig),
                                   "kto": (trl.KTOTrainer, trl.KTOConfig)}[settings.method]
    trainer = trainer_class(model=model, args=config_class(**common), train_dataset=rows, processing_class=tokenizer,
                            peft_config=lora)
    checkpoints = sorted((output / "checkpoints").glob("checkpoint-*"))
    start = time.monotonic()
    trainer.train(resume_from_checkpoint=bool(checkpoints))
    seconds = time.monotonic() - start
    trainer.model.save_pretrained(output / "adapter")
    state = {k: v for k, v in trainer.model.state_dict().items() if "lora_" in k}
    adapted = write_lora_gguf(state, lora.lora_alpha, _architecture(base_gguf), output / ADAPTER_GGUF)
    losses = [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]
    examples = len(rows) * settings.epochs
    record = {**identity, "finished": True, "trained_on": _trained_on(data), "examples": len(rows),
              "steps": trainer.state.global_step,
              "adapted_tensors": adapted, "loss": losses, "seconds": round(seconds, 1),
              "seconds_per_example": round(seconds / examples, 2) if examples else None,
              "adapter_gguf_sha256": sha256_file(output / ADAPTER_GGUF)}
    record_path.write_text(json.dumps(record, indent=2))
    return record


def _trained_on(data: Path) -> dict[str, list[str]]:
    """The tasks the data came from, by family (from each row's provenance): a loop refuses to score the
    trained model on them."""
    tasks: dict[str, set[str]] = {}
    with open(data) as f:
        for line in f:
            origin = json.loads(line).get("provenance") or {}
            if origin.get("task_id"):
                tasks.setdefault(origin.get("family") or "", set()).add(origin["task_id"])
    return {family: sorted(ids) for family, ids in tasks.items()}


def _architecture(gguf_path: Path) -> str:
    import gguf

    field = gguf.GGUFReader(str(gguf_path)).fields["general.architecture"]
    return field.contents()
