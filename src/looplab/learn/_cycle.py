"""`looplab cycle`: expert iteration (after STaR and ReST-EM). Each round samples K answers per train-split task
from the current model, keeps the ones the train split's scorer passes, trains a fresh LoRA adapter on the base
with them, and scores the trained model on the test split beside the base. As in ReST-EM, every round trains
from the base (not from the last adapter) on data the last round's model sampled, so adapters never stack.

The run directory holds one solve record per stage (`round-0/test`: the base on the test split;
`round-N/sample`, `round-N/train`, `round-N/test`) and `cycle.json`, the split and settings a re-run must share;
every stage resumes from its own record. Training never sees a test-split task: the samples are the train
split's, the adapter's record names the tasks it was trained on, and a loop refuses to score it on them."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..models import Budget, Model, load_model
from ..runs import RunError, RunStore
from ..solve import PolicyConfig, analyze, run_policies, sign_test
from ..tasks import Family, Problem
from ._export import export_training
from ._train import TrainSettings, train

RECORD = "cycle.json"


@dataclass(frozen=True)
class CycleSettings:
    rounds: int = 1
    samples: int = 4                 # per train task, each round
    temperature: float = 0.8
    max_tokens: int = 768
    policies: tuple[str, ...] = ("single",)   # what each model is scored with on the test split
    budget_tokens: int | None = None          # per task, for every policy on the test split
    train: TrainSettings = field(default_factory=TrainSettings)
    revisions: bool = False  # train on revisions that feedback led to a fix (LeTI, ILF) instead of answers


def sampler(settings: CycleSettings) -> PolicyConfig:
    """The policy that draws a round's samples. For answers, codet: it draws all K (the first greedy) and never
    stops early, where best-of-n stops at the first answer its visible feedback passes (math's only checks an
    answer can be read): one sample, not K; which answer it then chooses does not matter, every attempt is
    exported and scored. For revisions, refine with K rounds: each failed attempt's visible feedback goes back
    to the model, and a revision the train split's scorer passes after a parent it failed is an example."""
    if settings.revisions:
        return PolicyConfig("refine", rounds=settings.samples, temperature=settings.temperature,
                            max_tokens=settings.max_tokens)
    return PolicyConfig("codet", n=settings.samples, batch=settings.samples, temperature=settings.temperature,
                        max_tokens=settings.max_tokens)


def _prepare(run_dir: Path, identity: dict) -> dict:
    record_path = run_dir / RECORD
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        if {k: record.get(k) for k in identity} != json.loads(json.dumps(identity)):
            raise RunError(f"{run_dir} holds a cycle with another split, model or settings; use a new --run-dir")
        return record
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} holds files looplab's cycle did not write; give --run-dir a new or empty folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {**identity, "rounds": []}
    record_path.write_text(json.dumps(record, indent=2))
    return record


def _score(run_dir: Path, family: Family, test: list[Problem], model: Model, settings: CycleSettings,
           splits: dict) -> tuple[dict[str, dict[str, bool]], dict[str, float | None]]:
    """Each policy's hidden verdict per test task, from the stage's own record (resumed when it is there), and
    its copy-back rate (the share of revisions after a failure that handed the same answer back: whether the
    model uses feedback; None for a policy that made none)."""
    configs = [PolicyConfig(p, max_tokens=settings.max_tokens) for p in settings.policies]
    with RunStore(run_dir) as store:
        store.require({"splits": splits})
        run_policies(test, family, configs, model=model, store=store,
                     task_budget=Budget(tokens=settings.budget_tokens))
        copy_back = {row["policy"]: row["copy_back"] for row in analyze(store, family, test)}
        return ({c.name: {t: o.passed_hidden for t, o in store.outcomes(c.name).items()} for c in configs},
                {c.name: copy_back.get(c.name) for c in configs})


def run_cycle(run_dir: Path, family: Family, train_tasks: list[Problem], test_tasks: list[Problem], *,
              model: Model, base_gguf: Path, settings: CycleSettings, threads: int | None = None,
              on_stage=lambda text: None) -> dict:
    """Every round of expert iteration (resuming each stage from its record); returns cycle.json's contents.
    `model` is the base as a loop runs it (round 1 samples from it, round 0 scores it); `base_gguf` holds the
    weights each round's adapter is trained on."""
    run_dir = Path(run_dir)
    splits = {"train": [p.task.id for p in train_tasks], "val": [], "test": [p.task.id for p in test_tasks]}
    if set(splits["train"]) & set(splits["test"]):
        raise RunError("the train and test splits share tasks")
    identity = {"family": family.name, "splits": splits, "model": model.name, "base_gguf": str(base_gguf),
                "settings": asdict(settings), "sampler": sampler(settings).strategy}
    record = _prepare(run_dir, identity)
    on_stage(f"round 0: the base model on the {len(test_tasks)} test tasks")
    base, base_copy_back = _score(run_dir / "round-0" / "test", family, test_tasks, model, settings, splits)
    rounds = []
    for r in range(1, settings.rounds + 1):
        stage = run_dir / f"round-{r}"
        sample = sampler(settings)
        on_stage(f"round {r}: {sample.name} on each of the {len(train_tasks)} train tasks")
        with RunStore(stage / "sample") as store:
            store.require({"splits": splits})  # marks the train split, whose hidden scores select the data
            run_policies(train_tasks, family, [sample], model=model, store=store)
            sampled_tokens = sum(o.tokens for o in store.outcomes(sample.name).values())
        form = "revisions" if settings.revisions else "sft"
        data = stage / f"{form}.jsonl"
        examples = export_training(stage / "sample", data, form, "train-hidden", family, train_tasks)
        row = {"round": r, "examples": examples, "sampling_tokens": sampled_tokens}
        if not examples:
            row["stopped"] = ("no revision passed the train split's scorer after a parent it failed" if
                              settings.revisions else "no sample passed the train split's scorer") + \
                             ": nothing to train on"
            rounds.append(row)
            break
        on_stage(f"round {r}: training on {examples} verified {'revisions' if settings.revisions else 'answers'}")
        trained = train(data, base_gguf, stage / "train", settings.train)
        row["training_minutes"] = round(trained["seconds"] / 60, 1)
        model = load_model(f"local+lora:{stage / 'train'}", threads=threads)
        on_stage(f"round {r}: the trained model on the test tasks")
        scored, copy_back = _score(stage / "test", family, test_tasks, model, settings, splits)
        row["test"] = {}
        for name, verdicts in scored.items():
            before = base[name]
            won = sum(verdicts[t] and not before.get(t, False) for t in verdicts)
            lost = sum(before.get(t, False) and not verdicts[t] for t in verdicts)
            row["test"][name] = {"base": sum(before.values()) / len(before), "trained": sum(verdicts.values()) /
                                 len(verdicts), "won": won, "lost": lost, "p": round(sign_test(won, lost), 4),
                                 "copy_back_base": base_copy_back[name], "copy_back_trained": copy_back[name]}
        rounds.append(row)
    record.update(identity, base_test={n: sum(v.values()) / len(v) for n, v in base.items()}, rounds=rounds)
    (run_dir / RECORD).write_text(json.dumps(record, indent=2))
    return record
