"""Training data from a recorded run: each export format holds what it should (and never a judge's words as the
policy's), loads with `datasets`, and goes through the matching TRL trainer's data preparation on a tiny random
Qwen2 model built here."""
import copy
import json

import pytest

from looplab.cli import main
from looplab.models import ScriptedModel
from looplab.runs import RunError, RunStore
from looplab.solve import PolicyConfig, run_policies
from looplab.tasks import load_tasks

WRONG = "```sql\nSELECT COUNT(*) FROM order\n```"      # a syntax error: the visible feedback says so
RIGHT = "```sql\nSELECT COUNT(*) FROM orders\n```"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """refine (a failed attempt, then a revision that passes) and best-of-n (samples right and wrong) on one SQL
    task, with a judge whose calls are recorded beside the policy's."""
    run_dir = tmp_path_factory.mktemp("learn") / "run"
    family, problems = load_tasks("sql", None, ids=["shop/01"])
    replies = iter([WRONG, RIGHT, WRONG, RIGHT, RIGHT, WRONG, WRONG, RIGHT] * 4)
    model = ScriptedModel(lambda messages: next(replies))
    judge = ScriptedModel(["VERDICT: PASS\nLooks right."], name="scripted:judge")
    with RunStore(run_dir) as store:
        run_policies(problems, family, [PolicyConfig("refine", rounds=1, extra_sources=("judge",)),
                                        PolicyConfig("best-of-n", n=4, batch=4)],
                     model=model, store=store, judge_model=judge)
    return run_dir


def export(run, form, *more):
    out = run.parent / f"{form}{'-'.join(more)}.jsonl"
    assert main(["export", "--run-dir", str(run), "--format", form, "--output", str(out), *more]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()], out


def test_each_format_holds_the_policys_attempts_with_their_provenance(run):
    sft, _ = export(run, "sft")
    kto, _ = export(run, "kto")
    dpo, _ = export(run, "dpo")
    revisions, _ = export(run, "revisions")
    replies = [r["messages"][-1]["content"] for r in sft]
    assert sft and all(r == RIGHT for r in replies) and len(set(map(json.dumps, sft))) == len(sft)
    assert {r["label"] for r in kto} == {True, False} and all(r["completion"][0]["role"] == "assistant" for r in kto)
    [pair] = [r for r in dpo if r["provenance"]["policy"].startswith("best-of-n")]
    assert pair["chosen"][0]["content"] == RIGHT and pair["rejected"][0]["content"] == WRONG
    [fix] = revisions
    assert fix["messages"][2]["role"] == "assistant" and "FROM order\n" in fix["messages"][2]["content"]
    assert "The query failed" in fix["feedback"] and fix["messages"][-1]["content"] == RIGHT
    assert fix["provenance"]["policy"] == "refine(k=1)+judge" and fix["provenance"]["steps"] == [0, 1]
    everything = json.dumps([sft, kto, dpo, revisions])
    assert "VERDICT" not in everything  # the judge's calls are its own, never the policy's
    with RunStore(run, read_only=True) as store:
        policy_calls = {c.id for name, _ in store.policies() for c in store.calls(name) if c.model == "scripted"}
    assert all(set(r["provenance"]["call_ids"]) <= policy_calls for r in sft + kto + dpo + revisions)


def test_hidden_scores_select_only_on_a_recorded_train_split(run, capsys):
    out = run.parent / "hidden.jsonl"
    assert main(["export", "--run-dir", str(run), "--format", "sft", "--select", "train-hidden",
                 "--output", str(out)]) == 2
    assert "marks no train split" in capsys.readouterr().err and not out.exists()


@pytest.fixture(scope="module")
def trl():
    return pytest.importorskip("trl", reason="the learn extra: pip install -e '.[learn]'")


@pytest.fixture(scope="module")
def tiny(trl):
    """A random two-layer Qwen2 and a character-level tokenizer with a chat template, both built here (no hub)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    words = ["<pad>", "<eos>", "<unk>", "<|im_start|>", "<|im_end|>"] + [chr(c) for c in range(32, 127)] + ["\n"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("<\\|im_(?:start|end)\\|>|."), "isolated")
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
                          "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")
    config = Qwen2Config(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32768)
    return Qwen2ForCausalLM(config), fast


@pytest.mark.parametrize("form", ["sft", "revisions", "dpo", "kto"])
def test_each_file_loads_with_datasets_and_through_its_trl_trainer(run, trl, tiny, form, tmp_path):
    from datasets import load_dataset

    _, path = export(run, form)
    data = load_dataset("json", data_files=str(path), split="train").remove_columns(
        ["provenance"] + (["feedback"] if form == "revisions" else []))
    model, tokenizer = tiny
    common = dict(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to=[], max_steps=1, max_length=None)
    if form in ("sft", "revisions"):
        trainer = trl.SFTTrainer(model=model, args=trl.SFTConfig(**common), train_dataset=data,
                                 processing_class=tokenizer)
        assert len(trainer.train_dataset[0]["input_ids"]) > 10
    elif form == "dpo":
        trainer = trl.DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=trl.DPOConfig(**common),
                                 train_dataset=data, processing_class=tokenizer)
        row = trainer.train_dataset[0]
        assert row["prompt_ids"] and row["chosen_ids"] != row["rejected_ids"]
    else:
        trainer = trl.KTOTrainer(model=model, ref_model=copy.deepcopy(model), args=trl.KTOConfig(**common),
                                 train_dataset=data, processing_class=tokenizer)
        assert {"prompt_ids", "completion_ids", "label"} <= set(trainer.train_dataset.column_names)


@pytest.fixture(scope="module")
def tiny_gguf(trl, tmp_path_factory):
    from learn_fakes import tiny_qwen2

    return tiny_qwen2(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


def _logits(gguf, tokens, lora=None):
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), lora_path=str(lora) if lora else None, n_ctx=256, logits_all=True,
                verbose=False, n_threads=1)
    llm.eval(tokens)
    out = [float(x) for x in llm.scores[llm.n_tokens - 1]]
    llm.close()
    return out


def test_train_writes_an_adapter_llama_cpp_runs_in_a_loop_and_agrees_with_transformers(run, tiny_gguf, tmp_path,
                                                                                        monkeypatch):
    """export -> train (TRL, PEFT) -> LoRA GGUF -> llama.cpp loads it -> a loop runs with it; the adapter's logits in
    llama.cpp and in transformers agree; a zero adapter gives the base exactly; a re-run trains nothing again."""
    import numpy as np
    import torch
    from peft import PeftModel

    from looplab.learn import load_base, write_lora_gguf
    from looplab.models import load_model
    from looplab.solve import solve_tasks

    monkeypatch.setenv("LOOPLAB_CACHE", str(tmp_path / "cache"))  # the base's transformers copy goes here
    _, data = export(run, "sft")
    out = tmp_path / "trained"
    command = ["train", "--data", str(data), "--base", f"local:{tiny_gguf}", "--lora-r", "4", "--lr", "0.05",
               "--epochs", "3", "--max-length", "256", "--save-steps", "1", "--output", str(out)]
    assert main(command) == 0
    record = json.loads((out / "training.json").read_text())
    assert record["finished"] and record["adapted_tensors"] == 14 and len(record["loss"]) == record["steps"] > 1
    assert record["base_sha256"] and record["data_sha256"] and (out / "adapter.gguf").is_file()

    base, tokenizer = load_base(tiny_gguf)
    tokens = tokenizer("SELECT COUNT(*) FROM orders")["input_ids"]
    with torch.no_grad():
        plain = base(torch.tensor([tokens])).logits[0, -1].numpy()
        tuned = PeftModel.from_pretrained(base, out / "adapter")(torch.tensor([tokens])).logits[0, -1].numpy()
    served, served_base = np.array(_logits(tiny_gguf, tokens, out / "adapter.gguf")), np.array(_logits(tiny_gguf, tokens))
    assert np.abs(tuned - plain).max() > 1e-3  # training changed the model
    assert np.abs(served - tuned).max() < 1e-2 and served.argmax() == tuned.argmax()  # llama.cpp agrees with it
    assert np.abs(served_base - plain).max() < 1e-2
    # an adapter of zeros reproduces the base exactly
    zero = {k.replace("lora_B", "lora_B"): (torch.zeros_like(v) if "lora_B" in k else v)
            for k, v in PeftModel.from_pretrained(load_base(tiny_gguf)[0], out / "adapter").state_dict().items()
            if "lora_" in k}
    write_lora_gguf(zero, 8.0, "qwen2", tmp_path / "zero.gguf")
    assert _logits(tiny_gguf, tokens, tmp_path / "zero.gguf") == _logits(tiny_gguf, tokens)

    model = load_model(f"local+lora:{out}", threads=1)
    assert record["trained_on"] == {"sql": ["shop/01"]}
    family, problems = load_tasks("sql", None, ids=["shop/01", "shop/02"])
    with RunStore(tmp_path / "seen") as store, pytest.raises(RunError, match="trained on 1 of these tasks"):
        solve_tasks(problems, family, PolicyConfig("single", max_tokens=16), model=model, store=store)
    with RunStore(tmp_path / "loop") as store:
        report = solve_tasks(problems[1:], family, PolicyConfig("single", max_tokens=16), model=model, store=store)
        assert report.outcomes[0].status == "done" and store.meta("model").startswith("local+lora:tiny+")
    mtime = (out / "adapter.gguf").stat().st_mtime
    assert main(command) == 0 and (out / "adapter.gguf").stat().st_mtime == mtime  # finished: nothing trained again


def test_train_without_the_extra_says_what_to_install(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trl" else real(name, *a))
    assert main(["train", "--data", str(tmp_path / "x.jsonl"), "--output", str(tmp_path / "out")]) == 2
    assert "training needs trl: pip install -e '.[learn]'" in " ".join(capsys.readouterr().err.split())


def test_export_and_train_leave_what_looplab_did_not_write(run, tmp_path, capsys):
    mine = tmp_path / "notes.jsonl"
    mine.write_text("my own notes\n")
    assert main(["export", "--run-dir", str(run), "--format", "sft", "--output", str(mine)]) == 2
    assert "is not a looplab export" in capsys.readouterr().err and mine.read_text() == "my own notes\n"
    out = tmp_path / "sft.jsonl"
    assert main(["export", "--run-dir", str(run), "--format", "sft", "--output", str(out)]) == 0
    assert main(["export", "--run-dir", str(run), "--format", "dpo", "--output", str(out)]) == 0  # its own: rewritten
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter.gguf").write_text("the user's adapter")
    assert main(["train", "--data", str(out), "--output", str(folder)]) == 2
    assert "did not write" in capsys.readouterr().err and (folder / "adapter.gguf").read_text() == "the user's adapter"


def test_a_cycle_samples_trains_scores_and_resumes_without_sending_again(tiny_gguf, tmp_path, monkeypatch):
    """Round 1 samples from the base (a scripted stand-in that writes each train task's gold query), keeps the
    verified answers, trains the tiny model on them and scores it on the test split; round 2 samples from the
    trained model, which writes nothing that passes, and the cycle stops there. A re-run sends nothing."""
    from solve_fakes import Counting

    from looplab.learn import CycleSettings, TrainSettings, run_cycle

    monkeypatch.setenv("LOOPLAB_CACHE", str(tmp_path / "cache"))
    family, problems = load_tasks("sql", None, ids=["shop/01", "shop/02", "shop/03", "shop/04"])
    gold = {family.describe(p.task): family.reference(p) for p in problems}

    def base_reply(messages):
        return "```sql\n" + next(g for q, g in gold.items() if q in messages[-1]["content"]) + "\n```"
    settings = CycleSettings(rounds=2, samples=2, max_tokens=16,
                             train=TrainSettings(lora_r=4, lr=0.05, max_length=256, save_steps=1))
    train, test = problems[:2], problems[2:]
    base = Counting(base_reply)
    record = run_cycle(tmp_path / "cycle", family, train, test, model=base, base_gguf=tiny_gguf, settings=settings,
                       threads=1)
    first, second = record["rounds"]
    assert record["base_test"] == {"single": 1.0} and first["examples"] == 2  # two tasks, the greedy-equal samples deduplicated
    # the tiny random model writes no query that passes: the base's two test tasks are lost, paired and counted
    assert first["test"]["single"] == {"base": 1.0, "trained": 0.0, "won": 0, "lost": 2, "p": 0.5,
                                       "copy_back_base": None, "copy_back_trained": None}  # single revises nothing
    assert second["examples"] == 0 and "nothing to train on" in second["stopped"]
    sampled = [m for m, _ in base.requests if any(family.describe(p.task) in m[-1]["content"] for p in train)]
    assert len(sampled) == 4  # every one of the K samples of each train task, not the first that passes
    asked = {q for m, _ in base.requests for q in gold if q in m[-1]["content"]}
    assert asked == set(gold)  # the base saw the test tasks only to be scored on them
    trained = json.loads((tmp_path / "cycle" / "round-1" / "train" / "training.json").read_text())
    assert trained["trained_on"] == {"sql": sorted(p.task.id for p in train)}
    again = Counting(base_reply)
    assert run_cycle(tmp_path / "cycle", family, train, test, model=again, base_gguf=tiny_gguf,
                     settings=settings, threads=1)["rounds"] == record["rounds"] and again.requests == []
    with pytest.raises(RunError, match="another split"):
        run_cycle(tmp_path / "cycle", family, test, train, model=again, base_gguf=tiny_gguf, settings=settings)


def test_a_revisions_cycle_trains_on_fixes_that_feedback_led_to(tiny_gguf, tmp_path, monkeypatch):
    """With --revisions the samples are refine's: the base's first query fails on the visible database, its
    revision (asked with that feedback) is the gold query, and each such fix is one training conversation:
    attempt, feedback, corrected attempt."""
    from solve_fakes import Counting

    from looplab.learn import CycleSettings, TrainSettings, run_cycle

    monkeypatch.setenv("LOOPLAB_CACHE", str(tmp_path / "cache"))
    family, problems = load_tasks("sql", None, ids=["shop/01", "shop/02", "shop/03"])
    gold = {family.describe(p.task): family.reference(p) for p in problems}

    def base_reply(messages):
        if len(messages) <= 2:  # a first attempt: a query the visible database refuses
            return "```sql\nSELECT * FROM no_such_table\n```"
        return "```sql\n" + next(g for q, g in gold.items() if q in messages[1]["content"]) + "\n```"
    settings = CycleSettings(rounds=1, samples=2, max_tokens=16, revisions=True, policies=("refine",),
                             train=TrainSettings(lora_r=4, lr=0.05, max_length=384, save_steps=1))
    record = run_cycle(tmp_path / "cycle", family, problems[:2], problems[2:], model=Counting(base_reply),
                       base_gguf=tiny_gguf, settings=settings, threads=1)
    [first] = record["rounds"]
    assert record["sampler"] == "refine" and first["examples"] == 2
    # the base, scored with refine on the test task, revised its failed query and did not hand it back
    assert first["test"]["refine(k=3)"]["copy_back_base"] == 0.0
    rows = [json.loads(line) for line in (tmp_path / "cycle" / "round-1" / "revisions.jsonl").read_text().splitlines()]
    assert all([m["role"] for m in r["messages"]][-3:] == ["assistant", "user", "assistant"] for r in rows)
    assert all("no_such_table" in r["feedback"] and "no_such_table" in r["messages"][-3]["content"] for r in rows)
    assert {r["provenance"]["task_id"] for r in rows} == {p.task.id for p in problems[:2]}


@pytest.mark.slow
def test_a_real_training_step_on_the_embedded_model_runs_back_in_llama_cpp(run, trl, tmp_path):
    """The embedded 0.5B itself: its weights read from the GGUF, one LoRA step (rank 16, the seven projections),
    the adapter written as a GGUF that llama.cpp loads beside the quantized base; the trained model's next-token
    logits in transformers (float32) and in llama.cpp (Q4_K_M weights) agree on the greedy token."""
    import numpy as np
    import torch
    from peft import PeftModel

    from looplab.learn import TrainSettings, load_base, train
    from looplab.models import gguf_file

    _, data = export(run, "sft")
    base_gguf = gguf_file("local")
    record = train(data, base_gguf, tmp_path / "trained", TrainSettings(max_length=256, save_steps=10))
    assert record["finished"] and record["steps"] >= 1 and np.isfinite(record["loss"][-1]["loss"])
    assert record["adapted_tensors"] == 24 * 7  # the seven projections of each of the 24 blocks
    base, tokenizer = load_base(base_gguf)
    tokens = tokenizer("SELECT COUNT(*) FROM orders WHERE")["input_ids"]
    with torch.no_grad():
        tuned = PeftModel.from_pretrained(base, tmp_path / "trained" / "adapter")(torch.tensor([tokens])).logits[0, -1]
    served = np.array(_logits(base_gguf, tokens, tmp_path / "trained" / "adapter.gguf"))
    assert served.argmax() == int(tuned.argmax())
