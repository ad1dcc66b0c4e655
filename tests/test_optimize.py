"""optimize on real SQL tasks and databases with scripted models: the student writes the right query only when
its system prompt carries advice the reflector can propose, so a search that selects well finds it. The
failure modes users of GEPA met are each a case here: unfenced, truncated, echoed, answer-copying and repeated
proposals are refused before they cost a metric call; a budget too small is refused up front; the stop is exact;
a re-run sends nothing twice; the test split is never seen by the search."""
import json

import pytest
from solve_fakes import Counting

from looplab.cli import main
from looplab.models import ModelUnavailable
from looplab.optimize import Optimizer, fenced_text, parse_sizes, split_tasks
from looplab.optimize._loop import DEMO_CHARS, DEMO_HEADER, DEMONSTRATIONS
from looplab.runs import RunError, RunStore
from looplab.solve import PolicyConfig
from looplab.tasks import load_tasks

ADVICE = "ADVICE: read the schema, then answer with one SQL query in a sql block."


@pytest.fixture(scope="module")
def sql():
    return load_tasks("sql", None)


def student(family, problems, solves=lambda gold: True):
    """The gold query for a task when the system prompt carries ADVICE (and the task is one it `solves`), else a
    query that is wrong."""
    gold = {family.describe(p.task): family.reference(p) for p in problems}

    def reply(messages):
        task = next(d for d in gold if d in messages[-1]["content"])
        if "ADVICE" not in messages[0]["content"] or not solves(gold[task]):
            return "```sql\nSELECT 1\n```"
        return "```sql\n" + gold[task] + "\n```"
    return reply


def reflector(copied: str):
    """Proposals in the order a weak reflector writes them: the ones a checker must refuse, then a good one,
    then the good one again."""
    replies = iter(["Think harder about the question.",            # no fence
                    "```\nReverse the inp",                        # cut before its closing fence
                    "```\n{current}\n```",                         # the current text echoed back
                    f"```\nAlways answer: {copied}\n```",          # a train-split answer copied
                    f"```\n{ADVICE}\n```"])

    def reply(messages):
        current = messages[0]["content"].split("````\n")[1].split("\n````")[0]
        text = next(replies, f"```\n{ADVICE}\n```")
        return text.replace("{current}", current)
    return reply


def optimize(tmp_path, sql, budget=40, student_model=None, reflect_model=None):
    family, problems = sql
    splits = split_tasks(problems, (10, 5, 5), seed=1)
    copied = family.reference(splits.train[0])
    student_model = student_model or Counting(student(family, problems))
    reflect_model = reflect_model or Counting(reflector(copied))
    with RunStore(tmp_path / "run") as store:
        optimizer = Optimizer(store, family, splits, PolicyConfig("single"), model=student_model,
                              reflector=reflect_model, budget_calls=budget, minibatch=2, seed=0)
        result = optimizer.run()
        best = optimizer.best_config(result)
    return splits, result, best, student_model, reflect_model


def test_the_search_refuses_bad_proposals_finds_the_advice_and_proves_it_on_the_test_split(tmp_path, sql):
    splits, result, best, student_model, reflect_model = optimize(tmp_path, sql)
    assert ADVICE in best.prompts.system and result.best != 0
    assert result.candidates[0]["val"] == 0.0 and result.candidates[result.best]["val"] == 1.0
    refused = {k: v for k, v in result.proposals.items() if k.startswith("rejected")}
    assert {"rejected: no complete ``` block", "rejected: the current text echoed back",
            "rejected: copies a train-split answer"} <= set(refused)
    assert refused["rejected: no complete ``` block"] == 2  # the unfenced reply and the one cut short
    assert result.proposals["accepted"] == 1 and result.metric_calls <= 40
    assert result.test == {"tasks": 5, "seed": 0.0, "best": 1.0, "won": 5, "lost": 0, "p": 0.0625}
    # the reflector read train tasks only, each example bounded
    val_test = {p.task.question for p in splits.val + splits.test}
    prompts = [m[0]["content"] for m, _ in reflect_model.requests]
    assert not any(q in prompt for prompt in prompts for q in val_test) and max(map(len, prompts)) < 12000
    # no candidate but the seed and the best ever ran a test task
    with RunStore(tmp_path / "run", read_only=True) as store:
        test_ids = {p.task.id for p in splits.test}
        ran_test = {name for name, _ in store.policies() if set(store.outcomes(name)) & test_ids}
        assert ran_test == {PolicyConfig("single").name, best.name}


def test_a_rerun_replays_the_search_and_sends_nothing_twice(tmp_path, sql):
    _, first, best, _, _ = optimize(tmp_path, sql)
    student_again, reflect_again = Counting(lambda m: "unused"), Counting(lambda m: "unused")
    _, again, best_again, _, _ = optimize(tmp_path, sql, student_model=student_again, reflect_model=reflect_again)
    assert student_again.requests == [] and reflect_again.requests == []
    assert again.candidates == first.candidates and best_again == best


def test_a_run_stopped_after_an_accepted_proposal_resumes_where_it_stopped(tmp_path, sql):
    """Killed on the test split, after the search found advice that helps on some tasks and tried more rounds
    from it: the re-run replays every round as it was (round 1's parent is the seed, not the candidate round 5
    added) and sends only what was never done."""
    family, problems = sql
    splits = split_tasks(problems, (10, 5, 5), seed=1)
    test_questions = {p.task.question for p in splits.test}
    script = student(family, problems, solves=lambda gold: len(gold) % 2 == 0)
    helped = [len(family.reference(p)) % 2 == 0 for p in splits.train + splits.val]
    assert any(helped[:10]) and not all(helped[:10]) and any(helped[10:])  # the case this test is about

    def dies_on_the_test_split(messages):
        if any(q in messages[-1]["content"] for q in test_questions):
            raise ModelUnavailable("the server went away")
        return script(messages)
    with pytest.raises(RunError, match="re-run"):
        optimize(tmp_path, sql, student_model=Counting(dies_on_the_test_split))
    student_again, reflect_again = Counting(script), Counting(lambda m: "unused")
    _, again, best, _, _ = optimize(tmp_path, sql, student_model=student_again, reflect_model=reflect_again)
    assert reflect_again.requests == [] and ADVICE in best.prompts.system and len(again.candidates) == 2
    asked = {q for m, _ in student_again.requests for q in test_questions if q in m[-1]["content"]}
    assert asked == test_questions and len(student_again.requests) == 10  # the seed's and the best's test tasks
    assert again.test["seed"] == 0.0 and again.proposals["accepted"] == 1


def test_demonstrations_of_solved_train_tasks_are_chosen_kept_by_acceptance_and_never_show_other_splits(
        tmp_path, sql):
    """A student that solves every task once the system prompt shows worked examples, and some without; a
    reflector that never writes a usable proposal: the search gains by demonstrations alone."""
    family, problems = sql
    gold = {family.describe(p.task): family.reference(p) for p in problems}

    def student_reply(messages):
        task = next(d for d in gold if d in messages[-1]["content"])
        if DEMO_HEADER in messages[0]["content"] or len(gold[task]) % 2 == 0:
            return "```sql\n" + gold[task] + "\n```"
        return "```sql\nSELECT 1\n```"
    splits, result, best, _, _ = optimize(tmp_path, sql, budget=60, student_model=Counting(student_reply),
                                          reflect_model=Counting(lambda m: "Think harder."))
    assert DEMO_HEADER in best.prompts.system and result.proposals["accepted"] >= 1
    demos = best.prompts.system.split(DEMO_HEADER)[1]
    assert len(demos) <= DEMO_CHARS and demos.count("Task: ") >= 1
    assert not any(family.describe(p.task) in demos for p in splits.val + splits.test)
    assert result.test["best"] >= result.test["seed"]


def test_the_budget_stops_exactly_and_a_budget_too_small_is_refused(tmp_path, sql):
    _, result, _, student_model, _ = optimize(tmp_path / "exact", sql, budget=13)
    assert result.metric_calls <= 13
    with pytest.raises(RunError, match="give --budget-calls 9 or more"):
        optimize(tmp_path / "small", sql, budget=8)


def test_fences_and_sizes():
    assert fenced_text("```text\nBe brief.\n```") == "Be brief." and fenced_text("") is None
    assert fenced_text("```\n\n```") == ""
    with pytest.raises(ValueError, match="train:val:test"):
        parse_sizes("30:30", 90)


def optimize_command(tmp_path, *more) -> tuple[int, list]:
    """`looplab optimize` on 13 SQL tasks with a student that always writes `SELECT 1` and a reflector that
    always proposes ADVICE; the exit status and the replies' files."""
    student_replies = tmp_path / "student.json"
    student_replies.write_text(json.dumps(["```sql\nSELECT 1\n```"]))
    reflect_replies = tmp_path / "reflect.json"
    reflect_replies.write_text(json.dumps([f"```\n{ADVICE}\n```"]))
    code = main(["optimize", "--tasks", "sql", "--splits", "6:4:3", "--budget-calls", "20", "--minibatch", "2",
                 "--model", f"scripted:{student_replies}", "--reflect-model", f"scripted:{reflect_replies}",
                 *more, "--run-dir", str(tmp_path / "run")])
    return code, student_replies


def test_the_command_writes_a_best_policy_that_solve_reads(tmp_path, sql, capsys):
    code, student_replies = optimize_command(tmp_path)
    run = tmp_path / "run"
    printed = capsys.readouterr()
    assert code == 0 and "Test split (3 tasks" in printed.out and "solve --policy-config" in printed.err
    # every third round offers demonstrations, and there is no solved train task to show; after 20 refusals in a
    # row the search stopped paying the reflector
    said = " ".join(printed.err.split())
    assert "rejected: no train task solved yet to show 7, rejected: proposed before 13" in said
    # a line as each round ends, also when the output is not a terminal
    assert "search: round 1 (system, from candidate 0): not better, 0 of 2 on the minibatch" in said and "of 20 metric calls" in said
    saved = json.loads((run / "best_policy.json").read_text())
    assert saved["policy"]["strategy"] == "single" and saved["split_sizes"] == {"train": 6, "val": 4, "test": 3}
    assert main(["solve", "--tasks", "sql", "--limit", "1", "--policy-config", str(run / "best_policy.json"),
                 "--model", f"scripted:{student_replies}", "--run-dir", str(tmp_path / "later")]) in (0, 1)
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    assert main(["solve", "--policy-config", str(broken), "--run-dir", str(tmp_path / "x")]) == 2
    assert "holds no policy configuration" in " ".join(capsys.readouterr().err.split())


def baseline(tmp_path, sql, variant, reflect_model, budget=40):
    family, problems = sql
    splits = split_tasks(problems, (10, 5, 5), seed=1)
    student_model = Counting(student(family, problems))
    with RunStore(tmp_path / variant) as store:
        optimizer = Optimizer(store, family, splits, PolicyConfig("single"), model=student_model,
                              reflector=reflect_model, budget_calls=budget, minibatch=2, seed=0, variant=variant)
        result = optimizer.run()
        proposals = store.rows("optimize_proposals")
        best = optimizer.best_config(result)
    return result, best, proposals, student_model


def test_each_baseline_changes_only_its_own_part(tmp_path, sql):
    """Instructions only: the advice is found and no round shows demonstrations. Demonstrations only: the
    reflector is never asked. Random: every proposal that may be tried is validated with no minibatch trial,
    each from the seed."""
    family, problems = sql
    copied = family.reference(split_tasks(problems, (10, 5, 5), seed=1).train[0])
    result, best, proposals, _ = baseline(tmp_path, sql, "instructions", Counting(reflector(copied)))
    assert ADVICE in best.prompts.system and DEMO_HEADER not in best.prompts.system
    assert DEMONSTRATIONS not in {p["component"] for p in proposals}

    never = Counting(lambda m: "unused")
    result, best, proposals, _ = baseline(tmp_path, sql, "demonstrations", never)
    assert never.requests == [] and {p["component"] for p in proposals} == {"demonstrations"}
    assert best.prompts.first == PolicyConfig("single").prompts.first

    result, best, proposals, student_model = baseline(tmp_path, sql, "random", Counting(reflector(copied)))
    accepted = [p for p in proposals if p["status"] == "accepted"]
    assert accepted and {p["parent"] for p in proposals} == {0}
    assert all(p["reason"] == "no minibatch acceptance in this search" for p in accepted)
    assert ADVICE in best.prompts.system and result.metric_calls <= 40


def test_the_gepa_baseline_runs_gepa_through_the_record_and_resumes_sending_nothing_twice(tmp_path, sql):
    pytest.importorskip("gepa")
    advice = Counting(lambda m: f"Here it is:\n```\n{ADVICE}\n```")
    result, best, _, _ = baseline(tmp_path, sql, "gepa", advice)
    assert ADVICE in best.prompts.system or ADVICE in best.prompts.task
    assert len(result.candidates) >= 2 and result.candidates[result.best]["parent"] == 0
    assert result.test["best"] == 1.0 and result.test["seed"] == 0.0 and advice.requests
    with RunStore(tmp_path / "gepa", read_only=True) as store:
        assert store.meta("gepa")["total_metric_calls"] >= result.metric_calls
        # gepa read the train split's feedback, never a validation or test task's
        splits = split_tasks(sql[1], (10, 5, 5), seed=1)
        others = {p.task.question for p in splits.val + splits.test}
        assert not any(q in c.messages[-1]["content"] for c in store.calls("reflector") for q in others)
    again = Counting(lambda m: "unused")
    result_again, best_again, _, student_again = baseline(tmp_path, sql, "gepa", again)
    assert again.requests == [] and student_again.requests == [] and best_again == best


def test_the_command_runs_the_baselines_beside_the_search_and_tables_them(tmp_path, capsys):
    code, _ = optimize_command(tmp_path, "--baselines", "instructions,random")
    run = tmp_path / "run"
    printed = capsys.readouterr()
    assert code == 0 and (run / "baseline-instructions" / "run.sqlite").is_file()
    kept = json.loads((run / "baselines.json").read_text())
    assert [r["search"] for r in kept] == ["search", "instructions", "random"]
    assert all(r["seed"] == kept[0]["seed"] and r["metric_calls"] <= 20 for r in kept)
    table = " ".join(printed.out.split())
    assert "never seen by any search" in table and "reference" in table
    assert all(name in table for name in ("seed", "search", "instructions", "random"))
    with pytest.raises(SystemExit) as refused:
        main(["optimize", "--tasks", "sql", "--splits", "6:4:3", "--budget-calls", "20",
              "--baselines", "bogus", "--run-dir", str(tmp_path / "x")])
    assert refused.value.code == 2
    assert "unknown baseline 'bogus'" in capsys.readouterr().err


def test_a_merge_joins_two_lines_changes_and_is_kept_only_when_it_beats_both_on_the_tasks_they_differ_on(
        tmp_path, sql):
    """Two children of the seed, one with advice in the system prompt (which helps on some tasks), one with
    advice in the task template (which helps on the others): the merge takes each one's change, is tried on
    the validation tasks the two differ on, passes more of them than either, and joins the pool."""
    import random

    from looplab.optimize._loop import MERGE
    family, problems = sql
    gold = {family.describe(p.task): family.reference(p) for p in problems}

    def reply(messages):
        task = next(d for d in gold if d in messages[-1]["content"])
        even = len(gold[task]) % 2 == 0
        if ("SYSTEM-ADVICE" in messages[0]["content"] and even) or ("TASK-ADVICE" in messages[-1]["content"]
                                                                    and not even):
            return "```sql\n" + gold[task] + "\n```"
        return "```sql\nSELECT 1\n```"
    splits = split_tasks(problems, (10, 5, 5), seed=1)
    with RunStore(tmp_path / "run") as store:
        optimizer = Optimizer(store, family, splits, PolicyConfig("single"), model=Counting(reply),
                              reflector=Counting(lambda m: "unused"), budget_calls=60, minibatch=2)
        base = PolicyConfig("single")
        seed = optimizer._add_candidate(None, base, None, None)
        system = optimizer._child(base, "system", "SYSTEM-ADVICE: answer in a sql block.")
        task = optimizer._child(base, "first", base.prompts.first + "\nTASK-ADVICE")
        for config in (system, task):
            optimizer._add_candidate(seed.id, config, "x", None)
        pool = [optimizer._candidate(i) for i in range(3)]
        scores = optimizer._val_scores(pool)
        assert 0 < sum(scores[1].values()) < 5 and 0 < sum(scores[2].values()) < 5
        pair = optimizer._merge_pair(pool, random.Random(0))
        assert (pair["parent"], pair["with"]) == (1, 2) and pair["before"] < len(pair["tasks"])
        assert "SYSTEM-ADVICE" in pair["texts"]["system"] and "TASK-ADVICE" in pair["texts"]["first"]
        assert optimizer._merge(1, pair)[0] == "accepted"
        merged = optimizer._candidate(3)
        assert store.rows("optimize_candidates", {"id": 3})[0]["component"] == MERGE
        assert all(optimizer.evaluate(merged.config, splits.val).values())


def test_tuned_knobs_move_a_step_at_a_time_and_are_kept_by_the_same_acceptance(tmp_path, sql):
    """refine that needs two revisions to reach the right query (the database refuses the first query, the
    second returns nothing), from a seed that allows one, and a reflector that never writes a usable text: only opening
    `rounds` finds the fix."""
    from looplab.optimize._loop import KNOBS
    family, problems = sql
    gold = {family.describe(p.task): family.reference(p) for p in problems}

    def reply(messages):
        said = " ".join(m["content"] for m in messages)
        task = next(d for d in gold if d in said)
        if "WHERE 1 = 0" in said:
            return "```sql\n" + gold[task] + "\n```"
        if "FROM first_try" in said:
            return "```sql\nSELECT 1 WHERE 1 = 0\n```"
        return "```sql\nSELECT * FROM first_try\n```"
    splits = split_tasks(problems, (10, 5, 5), seed=1)
    base = PolicyConfig("refine", rounds=1)
    with RunStore(tmp_path / "run") as store:
        optimizer = Optimizer(store, family, splits, base, model=Counting(reply),
                              reflector=Counting(lambda m: "Think harder."), budget_calls=80, minibatch=2,
                              tune=("rounds",))
        result = optimizer.run()
        best = optimizer.best_config(result)
        knob_rounds = store.rows("optimize_proposals", {"component": KNOBS})
    assert best.rounds == 2 and result.candidates[result.best]["val"] == 1.0
    assert result.candidates[result.best]["texts"][KNOBS] == {"rounds": 2}
    assert any(r["status"] == "accepted" and json.loads(r["text"]) == {"rounds": 2} for r in knob_rounds)
    assert result.test["best"] == 1.0 and result.test["seed"] == 0.0
    for knobs, why in ((("temperature",), "not part of its name"), (("n",), "refine does not read n")):
        with RunStore(tmp_path / "other") as store, pytest.raises(RunError, match=why):
            Optimizer(store, family, splits, base, model=Counting(reply), reflector=Counting(reply),
                      budget_calls=80, tune=knobs)
