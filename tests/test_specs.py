"""One spec per policy and checked prompts: a policy defined here, in one file, runs through the engine and
`compare` without touching another file; a template that cannot be filled is refused when it is built; a
template a policy never reads leaves its identity alone."""
import pytest
from solve_fakes import RIGHT, WRONG, Counting, problems

from looplab.models import Budget
from looplab.runs import RunStore
from looplab.sandbox import Sandbox
from looplab.solve import POLICIES, PolicyConfig, PromptError, Prompts, compare, policy, run_policies
from looplab.tasks import CodeFamily


@pytest.fixture
def second_chance():
    """A policy of this file: a greedy attempt, then one sample if it failed."""
    @policy("second-chance", knobs=("rounds",), templates=("system", "first"), help="a greedy attempt, then samples")
    async def second_chance(ctx, cfg):
        await ctx.attempt("initial", await ctx.propose(ctx.messages.first()))
        for round_ in range(cfg.rounds):
            if ctx.best.passed:
                return
            await ctx.attempt("sample", await ctx.propose(ctx.messages.first(), temperature=cfg.temperature,
                                                          sample=round_ + 1))
    yield "second-chance"
    POLICIES.pop("second-chance")


def test_a_policy_defined_in_one_file_runs_through_compare(tmp_path, second_chance, capsys):
    from looplab.cli import main

    configs = [PolicyConfig(second_chance, rounds=2), PolicyConfig("best-of-n", n=3)]
    assert configs[0].name == "second-chance(k=2)"
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "second-chance a greedy attempt, then samples (--rounds)" in " ".join(capsys.readouterr().out.split())
    replies = iter([WRONG, RIGHT] * 10)
    family = CodeFamily(Sandbox())
    with RunStore(tmp_path / "run") as store:
        run_policies(problems(), family, configs, model=Counting(lambda messages: next(replies)), store=store,
                     task_budget=Budget(tokens=3000))
        result = compare(store, family, problems(), [c.name for c in configs], 3000)
    rows = {r["policy"]: r for r in result.rows}
    assert rows["second-chance(k=2)"]["pass_at_1"] == 1.0 and result.reference == "best-of-n(n=3)"


@pytest.mark.parametrize("template, fragment", [
    ('Reply as {"answer": 1}', 'unknown field {"answer"}'),
    ("{feedback} and {answer}", "unknown field {answer}"),
    ("Fix it {", "stray brace"),
    ("Fix it }", "stray brace"),
    ("{task.__class__}", "unknown field {task.__class__}"),
    ("{feedback:>999999999}", "formats {feedback}"),
    ("{}", "unknown field {}"),
])
def test_a_template_that_cannot_be_filled_is_refused_when_built_with_one_sentence(template, fragment):
    with pytest.raises(PromptError) as refused:
        Prompts(revision=template)
    message = str(refused.value)
    assert message.startswith("the revision template") and fragment in message and "\n" not in message
    assert Prompts(revision="Literal braces: {{ and }}. {feedback}").revision  # escaped braces are fine


def test_only_the_templates_a_policy_reads_are_part_of_its_identity():
    crossover = Prompts(crossover="{candidate_a} + {candidate_b}")
    assert PolicyConfig("single", prompts=crossover).name == "single"  # single never sends a crossover
    assert PolicyConfig("evolve", prompts=crossover).name.startswith("evolve(n=4,k=3)@")
    revision = Prompts(revision="{checked}: {feedback}. Fix it.")
    assert PolicyConfig("single", prompts=revision).name == "single"
    assert PolicyConfig("refine", prompts=revision).name != PolicyConfig("refine").name


def test_the_system_prompt_is_part_of_the_prompts(tmp_path):
    terse = Prompts(system="Reply with code only.")
    config = PolicyConfig("single", prompts=terse)
    assert config.name.startswith("single@")
    model = Counting(lambda messages: RIGHT)
    with RunStore(tmp_path / "run") as store:
        run_policies(problems(), CodeFamily(Sandbox()), [config], model=model, store=store)
        [call] = store.calls(config.name, "add/0")
    assert call.messages[0] == {"role": "system", "content": "Reply with code only."}
    assert PolicyConfig.from_dict(config.as_dict()) == config


def test_a_loop_of_its_own_records_calls_and_a_table_and_its_calls_count_towards_a_run_budget(tmp_path):
    """A loop that is neither solve nor grow (a proposer, say) records its calls through a TaskRecorder and its
    rows in a table it declares; a resumed run's budget starts from every call on the record."""
    from looplab.models import Meter, ScriptedModel
    from looplab.runs import TaskRecorder

    def propose(store, rounds):
        store.declare("CREATE TABLE IF NOT EXISTS proposals (round INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        recorder = TaskRecorder(store, "proposer", "proposals", ScriptedModel(["a better prompt"]), Meter(Budget()))
        for round_ in range(rounds):
            reply = recorder.generate([{"role": "user", "content": f"Propose a prompt ({round_})."}], max_tokens=32)
            if not store.rows("proposals", {"round": round_}):
                store.insert("proposals", {"round": round_, "text": reply.text})
        return recorder

    with RunStore(tmp_path / "run") as store:
        first = propose(store, 2)
        assert store.used() == (first.meter.tokens, 2)
    with RunStore(tmp_path / "run") as store:  # resumed: the two calls are replayed, a third is new
        again = propose(store, 3)
        assert [r["text"] for r in store.rows("proposals")] == ["a better prompt"] * 3
        assert len(store.calls("proposer", "proposals")) == 3 and store.used() == (again.meter.tokens, 3)


def test_a_loop_holds_the_solve_runs_it_starts_and_they_read_as_solve_runs(tmp_path, sandbox):
    """One run directory holds a loop and the solve evaluations it starts (as an optimizer's candidates): the
    commands that read solve runs read them, every call counts, and a loop the run does not hold is refused."""
    from looplab.models import Meter, ScriptedModel
    from looplab.runs import RunError, TaskRecorder, loop_of, show_task, trajectories

    with RunStore(tmp_path / "run") as store:
        store.require({"loop": "tune", "holds": ["solve"]})
        proposer = TaskRecorder(store, "proposer", "round-0", ScriptedModel(["a prompt"]), Meter(Budget()))
        proposer.generate([{"role": "user", "content": "Propose."}], max_tokens=8)
        [report] = run_policies(problems(), CodeFamily(sandbox), [PolicyConfig("single")],
                                model=Counting([RIGHT]), store=store, task_budget=Budget(tokens=2000))
        assert loop_of(store).name == "tune" and store.holds("solve") and not store.holds("grow")
        assert store.used() == (proposer.meter.tokens + report.outcomes[0].tokens, 2)
        [line] = trajectories(store)
        assert line["policy"] == "single" and line["outcome"]["status"] == "done"
        with pytest.raises(RunError, match="holds a tune run, and this makes a grow run"):
            store.require({"loop": "grow"})
    assert "single add/0: hidden PASS" in str(show_task(tmp_path / "run", "add/0").renderables[0].label)


def test_a_refused_resume_names_each_setting_that_changed_and_unused_ones_do_not_block(tmp_path, capsys):
    from looplab.cli import main

    replies = tmp_path / "replies.json"
    replies.write_text('["```sql\\nSELECT 1\\n```"]')
    run = ["solve", "--tasks", "sql:shop", "--limit", "1", "--model", f"scripted:{replies}",
           "--run-dir", str(tmp_path / "run")]
    assert main(run + ["--strategy", "single"]) == 0
    assert main(run + ["--strategy", "single", "--temperature", "0.3"]) == 0  # single never samples
    assert main(run + ["--strategy", "resample", "--rounds", "1", "--budget-tokens", "2000"]) == 0
    capsys.readouterr()
    assert main(run + ["--strategy", "resample", "--rounds", "1", "--budget-tokens", "3000",
                       "--temperature", "0.5"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "temperature: 0.8, now 0.5" in err and "budget_tokens: 2000, now 3000" in err and "{" not in err


def test_report_only_and_analyze_read_what_was_run_from_the_record(tmp_path, capsys):
    import csv

    from looplab.cli import main

    replies = tmp_path / "replies.json"
    replies.write_text('["```sql\\nSELECT COUNT(*) FROM orders WHERE status = \'cancelled\'\\n```"]')
    run_dir = str(tmp_path / "run")
    assert main(["compare", "--tasks", "sql:shop", "--limit", "2", "--policies", "single,refine", "--rounds", "1",
                 "--budget-tokens", "2500", "--model", f"scripted:{replies}", "--run-dir", run_dir]) == 0
    ran = list(csv.DictReader(open(tmp_path / "run" / "comparison.csv")))
    capsys.readouterr()
    assert main(["compare", "--report-only", "--run-dir", run_dir]) == 0  # no family, tasks, policies or budget
    assert "2 sql tasks, budget 2500 tokens per task" in " ".join(capsys.readouterr().out.split())
    again = list(csv.DictReader(open(tmp_path / "run" / "comparison.csv")))
    assert [r["policy"] for r in again] == ["single", "refine(k=1)"]
    assert [(r["tasks"], r["pass_at_1"]) for r in again] == [(r["tasks"], r["pass_at_1"]) for r in ran]
    assert main(["compare", "--report-only", "--run-dir", run_dir, "--policies", "tree"]) == 2  # not in the record
    assert main(["analyze", "--run-dir", run_dir]) == 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "analysis.csv")))
    assert {r["policy"] for r in rows} == {"single", "refine(k=1)"} and {r["tasks"] for r in rows} == {"2"}
