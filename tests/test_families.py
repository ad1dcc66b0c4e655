"""Task families with the scripted model and the real parts: SQLite databases, reasoning-gym's
generators and scorers, JSONL code tasks in the sandbox; plain reward functions as sources."""
import csv
import hashlib
import json
import queue
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from solve_fakes import Counting

from looplab.cli import main
from looplab.models import ScriptedModel
from looplab.runs import RunError, RunStore
from looplab.solve import PolicyConfig, Prompts, solve_tasks
from looplab.tasks import (TaskError, extract_answer, extract_sql, load_tasks, QueryRunner,
                           same_result)
from looplab.tasks._math import _SCORER
from looplab.tasks._sql import QueryResult, database
from looplab.tasks._sql_data import DOMAINS
from looplab.tasks._sql_questions import QUESTIONS

def _readme_example() -> list[dict]:
    """docs/families.md's two-task example of the JSONL format, read from the page itself."""
    readme = (Path(__file__).parent.parent / "docs" / "families.md").read_text()
    block = readme.split("two-task file, one task of each form:")[1].split("```json\n")[1].split("```")[0]
    return [json.loads(line) for line in block.strip().splitlines()]


JSONL_EXAMPLE = _readme_example()


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def solve(tmp_path, family, problems, config, model, **kwargs):
    with RunStore(tmp_path / "run") as store:
        report = solve_tasks(problems, family, config, model=model, store=store, **kwargs)
        outcomes = store.outcomes(config.name)
        steps = store.steps(config.name)
        calls = [c for p in outcomes for c in store.calls(config.name, p)]
    return report, outcomes, steps, calls


# --- sql -----------------------------------------------------------------------------------------

def test_sql_databases_are_realistic_and_every_gold_query_answers_on_both_instances():
    assert len(QUESTIONS) >= 90 and len({q[0] for q in QUESTIONS}) == len(QUESTIONS)
    assert set(Counter(q[1] for q in QUESTIONS)) == {"easy", "medium", "hard"}
    assert {"joins", "aggregation", "nesting", "ordering", "null"} <= {q[2] for q in QUESTIONS}
    largest = 0
    for domain in DOMAINS:
        db = sqlite3.connect(database(domain, "visible"))
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert len(tables) >= 4
        largest = max(largest, *(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables))
        nulls = sum(db.execute(f"SELECT COUNT(*) FROM {t} WHERE {c[1]} IS NULL").fetchone()[0]
                    for t in tables for c in db.execute(f"PRAGMA table_info({t})"))
        assert nulls > 0
    assert largest >= 1000
    runner = QueryRunner()
    for task_id, _, _, ordered, _, gold in QUESTIONS:
        domain = task_id.split("/")[0]
        visible = runner.run(database(domain, "visible"), gold)
        hidden = runner.run(database(domain, "hidden"), gold)
        assert visible.rows and hidden.rows, task_id
        # a query that hard-codes what the visible database answers fails on the hidden one
        assert not same_result(visible, hidden, ordered), task_id


def test_sql_candidates_run_read_only_and_within_a_time_limit():
    path = database("shop", "visible")
    run_query = QueryRunner().run
    for statement in ("DELETE FROM orders", "INSERT INTO products VALUES (999, 'x', 'y', 1, 0)",
                      "DROP TABLE orders", f"ATTACH DATABASE '{path}' AS other", "PRAGMA writable_schema = 1"):
        assert run_query(path, statement).error, statement
    assert run_query(path, "SELECT COUNT(*) FROM orders").rows[0][0] == 900
    start = time.monotonic()
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
    assert "time limit" in run_query(path, endless, seconds=0.5).error
    assert time.monotonic() - start < 5
    assert "one statement" in run_query(path, "SELECT 1; SELECT 2").error
    assert "too big" in run_query(path, "SELECT zeroblob(50000000)").error  # no value past 10 MB


def test_sql_queries_that_one_call_makes_slow_or_huge_are_stopped_and_the_runner_goes_on():
    path = database("shop", "visible")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    runner = QueryRunner(memory_mb=512)
    start = time.monotonic()
    # one function call of quadratic cost: SQLite's progress handler never runs inside it
    slow = runner.run(path, "SELECT instr(hex(zeroblob(1200000)), hex(zeroblob(600000))||'1')", seconds=1)
    assert "time limit" in slow.error and time.monotonic() - start < 10
    wide = "SELECT " + ", ".join(["zeroblob(9000000)"] * 400)
    assert runner.run(path, wide).error  # out of memory in the worker, not in looplab
    assert "not authorized" in runner.run(path, "SELECT fts3_tokenizer('simple')").error
    assert runner.run(path, "SELECT COUNT(*) FROM orders").rows == ((900,),)  # the next query runs as before
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_sql_result_comparison_ignores_column_order_and_row_order_unless_asked():
    want = QueryResult(("name", "n"), (("a", 2), ("b", 1)))
    assert same_result(QueryResult(("n", "name"), ((1, "b"), (2, "a"))), want, ordered=False)
    assert not same_result(QueryResult(("name", "n"), (("b", 1), ("a", 2))), want, ordered=True)
    assert same_result(QueryResult(("x", "y"), (("a", "2.0"), ("b", 1.001))), want, ordered=True)
    assert not same_result(QueryResult(("name",), (("a",), ("b",))), want, ordered=False)
    assert extract_sql("Try:\n```sql\nSELECT 1;\n```\nor\n```sql\nSELECT 2\n```") == "SELECT 2"
    assert extract_sql("The query is SELECT name FROM t;") == "SELECT name FROM t"


def test_sql_refine_shows_the_error_and_rows_never_the_gold(tmp_path):
    family, problems = load_tasks("sql", None, ids=["shop/01"])
    bad = "```sql\nSELECT COUNT(*) FROM order WHERE status = 'cancelled'\n```"
    right = "```sql\nSELECT COUNT(*) FROM orders WHERE status = 'cancelled'\n```"
    model = Counting(lambda messages: right if "The query failed" in messages[-1]["content"] else bad)
    _, outcomes, steps, calls = solve(tmp_path, family, problems, PolicyConfig("refine", rounds=2), model)
    assert [s.kind for s in steps] == ["initial", "revision"]
    assert steps[0].feedback["execution"].passed == 0 and steps[1].feedback["execution"].passed == 1
    assert "The query ran and returned 1 rows" in steps[1].feedback["execution"].text
    assert outcomes["shop/01"].passed_hidden == 1 and outcomes["shop/01"].passed_visible == 1
    gold = [q[5] for q in QUESTIONS if q[0] == "shop/01"][0]
    seen = json.dumps([c.messages for c in calls])
    assert gold not in seen and "hidden" not in seen
    assert "CREATE TABLE orders" in calls[0].messages[1]["content"]  # the schema is in the prompt


def test_sql_hard_coded_visible_answer_fails_the_hidden_score():
    family, problems = load_tasks("sql", None, ids=["shop/01"])
    visible = family.runner.run(problems[0].task.database, problems[0].hidden.gold).rows[0][0]
    assert not family.score(problems[0], f"SELECT {visible}").passed
    assert family.score(problems[0], problems[0].hidden.gold).passed


# --- math ----------------------------------------------------------------------------------------

def test_math_answers_are_read_and_scored_by_the_generator(tmp_path, sandbox):
    family, problems = load_tasks("math", sandbox, limit=3)
    assert [p.task.category for p in problems] == ["gsm_symbolic", "basic_arithmetic", "fraction_simplification"]
    problem = problems[1]
    answer = problem.hidden.entry["answer"]
    assert family.score(problem, answer).passed and not family.score(problem, answer + "1").passed
    assert not family.score(problem, "").passed
    fraction = problems[2]  # a plain number (3/4 too) is scored in the scorer's sandbox without a fork of its own
    assert family.score(fraction, fraction.hidden.entry["answer"]).passed
    assert not family.score(fraction, "-1/2").passed and not family.score(fraction, "0.5").passed
    assert extract_answer("Work.\nAnswer: 42") == "42" and extract_answer("so \\boxed{\\frac{3}{4}}.") == "3/4"
    assert extract_answer("I think it is 42") == ""

    def reply(messages):  # no answer line first; the format check asks for one
        return f"Answer: {answer}" if "could not find your final answer" in messages[-1]["content"] else "Hmm."
    _, outcomes, steps, _ = solve(tmp_path, family, [problem], PolicyConfig("refine", rounds=2), Counting(reply))
    assert [s.kind for s in steps] == ["initial", "revision"]
    assert outcomes[problem.task.id].passed_hidden == 1


# Generators whose scorers evaluate the answer (eval, sympy's parse_expr): the answers that ran as root in
# looplab's process before the scorer moved to the sandbox.
EVALUATING = "math:spiral_matrix,countdown,string_insertion,binary_matrix"
HOSTILE_ANSWERS = [
    "__import__('os').system('touch PWNED')",
    "open('PWNED', 'w').write('x')",
    "[__import__('reasoning_gym').__dict__.update(x=1), 1][1]",  # rewrite the scorer's module
    "(lambda: __import__('sys').stdout.write('@@looplab-check@@ {\\\"score\\\": 1.0, \\\"error\\\": \\\"\\\"}\\\\n'))()",
    "__builtins__",
    "Integer(1).__class__.__init__.__globals__",
]


def test_answers_that_are_code_never_run_and_cannot_forge_a_score(tmp_path, sandbox, monkeypatch):
    monkeypatch.chdir(tmp_path)
    family, problems = load_tasks(EVALUATING, sandbox, limit=4)
    assert {p.task.category for p in problems} == {"spiral_matrix", "countdown", "string_insertion", "binary_matrix"}
    for problem in problems:
        assert family.score(problem, family.reference(problem)).passed, problem.task.id
        for answer in HOSTILE_ANSWERS:
            verdict = family.score(problem, answer)
            assert not verdict.passed and verdict.details["score"] < 1.0, (problem.task.id, answer)
        assert family.score(problem, family.reference(problem)).passed  # nothing an answer did lasts
    assert not list(tmp_path.iterdir()) and not Path("/tmp/PWNED").exists()


def test_a_scorer_that_hangs_or_crashes_is_a_failed_score(sandbox):
    family, problems = load_tasks("math:basic_arithmetic", sandbox, limit=1)
    family.scorers = queue.SimpleQueue()
    family.scorers.put(sandbox.with_limits(timeout=0.5).service(_SCORER))  # too short to import reasoning-gym
    verdict = family.score(problems[0], problems[0].hidden.entry["answer"])
    assert not verdict.passed and "did not answer" in verdict.details["error"]


def test_unknown_families_and_generators_get_one_sentence(sandbox):
    with pytest.raises(TaskError, match="unknown --tasks"):
        load_tasks("chess", None)
    with pytest.raises(TaskError, match="no generator"):
        load_tasks("math:no_such_generator", None)
    with pytest.raises(TaskError, match="unknown sql domain"):
        load_tasks("sql:zoo", None)
    with pytest.raises(TaskError, match="ambiguous"):
        load_tasks("math", sandbox, ids=["3"])


# --- JSONL code tasks ----------------------------------------------------------------------------

def test_the_readme_jsonl_example_runs_in_the_sandbox(tmp_path, sandbox):
    path = write_jsonl(tmp_path / "tasks.jsonl", JSONL_EXAMPLE)
    family, problems = load_tasks(str(path), sandbox)
    assert [p.task.id for p in problems] == ["double", "he/first_word"]
    assert [e.call for e in problems[0].task.examples] == ["double(2)"]
    assert [e.call for e in problems[1].task.examples] == ["first_word('a b')"]  # from the docstring
    assert problems[0].task.category == "arithmetic"
    for problem in problems:
        assert family.score(problem, problem.hidden.reference).passed
    assert not family.score(problems[0], "def double(x):\n    return 4").passed  # fits the visible test only
    replies = ["```python\ndef double(x):\n    return 2 * x\n```", "```python\ndef first_word(s):\n    return s.split()[0]\n```"]
    _, outcomes, _, _ = solve(tmp_path, family, problems, PolicyConfig("single"), ScriptedModel(replies))
    assert all(o.passed_hidden == 1 and o.passed_visible == 1 for o in outcomes.values())


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 2: not valid JSON"),
    ('{"id": "x", "prompt": "def f():\\n", "entry_point": "f"}', "line 2: missing field 'hidden_tests'"),
    ('{"id": "x", "prompt": "def g():\\n", "entry_point": "f", "hidden_tests": "assert f()"}', "line 2: field 'prompt'"),
    ('{"id": "x", "prompt": "def f():\\n", "entry_point": "f", "hidden_tests": "assert f(",}', "line 2: not valid JSON"),
    ('{"id": "x", "prompt": "def f():\\n", "entry_point": "f", "hidden_tests": "assert f("}', "line 2: field 'hidden_tests'"),
    ('{"id": "x", "prompt": "def f():\\n", "entry_point": "f", "hidden_tests": "assert f() == 1", "visible_tests": ["f()"]}',
     "line 2: field 'visible_tests'"),
    ('{"id": "double", "prompt": "def f():\\n", "entry_point": "f", "hidden_tests": "assert f() == 1"}', "line 2: field 'id'"),
    ('{"id": 3, "prompt": "def f():\\n", "entry_point": "f", "hidden_tests": "assert f() == 1"}', "line 2: field 'id'"),
])
def test_a_bad_task_file_names_the_line_and_field_and_nothing_runs(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(JSONL_EXAMPLE[0]) + "\n" + line + "\n")
    with pytest.raises(TaskError, match=message):
        load_tasks(str(path), None)
    assert main(["solve", "--tasks", str(path), "--model", "scripted:none.json", "--run-dir", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


# --- sources, store, identity ----------------------------------------------------------------------

def test_a_plain_reward_function_is_a_feedback_source(tmp_path, sandbox):
    family, problems = load_tasks("math", sandbox, ids=["basic_arithmetic/0"])

    def reward(task, candidate):  # a user's own check: an integer answer
        return (1.0, "fine") if candidate.lstrip("-").isdigit() else (0.0, "Give a whole number.")
    replies = ["Answer: 1.5", "Answer: 7"]
    _, outcomes, steps, calls = solve(tmp_path, family, problems, PolicyConfig("refine", rounds=2),
                                      ScriptedModel(replies), sources={"integer": reward})
    assert [list(s.feedback) for s in steps] == [["integer"], ["integer"]]
    assert "Give a whole number." in calls[1].messages[-1]["content"]
    assert outcomes["basic_arithmetic/0"].answer == "7"


def test_every_step_records_the_call_that_produced_it(tmp_path, sandbox):
    family, problems = load_tasks("math", sandbox, ids=["basic_arithmetic/0"])
    with RunStore(tmp_path / "run") as store:
        solve_tasks(problems, family, PolicyConfig("reflexion", rounds=1), model=ScriptedModel(["Answer: x", "why"]),
                    store=store, sources={"never": lambda task, candidate: 0.0})
        steps = store.steps("reflexion(k=1)")
        calls = {c.id: c for c in store.calls("reflexion(k=1)", "basic_arithmetic/0")}
    assert [s.kind for s in steps] == ["initial", "reflection", "attempt"]
    assert all(s.call_id in calls for s in steps)
    assert calls[steps[1].call_id].seq == 1 and calls[steps[2].call_id].seq == 2


def test_a_library_call_cannot_mix_models_families_or_loops_in_one_record(tmp_path, sandbox):
    family, problems = load_tasks("math", sandbox, limit=1)
    solve(tmp_path, family, problems, PolicyConfig("single"), ScriptedModel(["Answer: 1"]))
    other = ScriptedModel(["Answer: 1"])
    other.name = "another-model"
    with pytest.raises(RunError, match="model"):
        solve(tmp_path, family, problems, PolicyConfig("single"), other)
    sql, sql_problems = load_tasks("sql", None, limit=1)
    with pytest.raises(RunError, match="family"):
        solve(tmp_path, sql, sql_problems, PolicyConfig("single"), ScriptedModel(["SELECT 1"]))
    with RunStore(tmp_path / "run") as store, pytest.raises(RunError, match="solve run"):
        store.require({"loop": "grow"})


def test_prompt_variants_are_separate_policies_in_the_record(tmp_path, sandbox):
    family, problems = load_tasks("math", sandbox, limit=1)
    plain, variant = PolicyConfig("single"), PolicyConfig("single", prompts=Prompts(first="{task}\n\nBe brief."))
    assert plain.name == "single" and variant.name.startswith("single@") and variant.name != plain.name
    model = Counting(["Answer: 1"])
    solve(tmp_path, family, problems, plain, model)
    solve(tmp_path, family, problems, variant, model)
    assert model.requests[1][0][-1]["content"].endswith("Be brief.")
    with RunStore(tmp_path / "run") as store:
        assert [name for name, _ in store.policies()] == ["single", variant.name]


def test_every_policy_runs_on_sql_and_math(tmp_path, sandbox):
    from looplab.solve import POLICIES

    for spec, reply in (("sql:shop", "1. Count.\n```sql\nSELECT name FROM products WHERE 0\n```"),
                        ("math:basic_arithmetic", "1. Add.\nAnswer: 12345")):
        family, problems = load_tasks(spec, sandbox, limit=1)
        for strategy in POLICIES:
            report, outcomes, steps, _ = solve(tmp_path / spec / strategy, family, problems,
                                               PolicyConfig(strategy, n=2, rounds=2), ScriptedModel([reply]))
            assert len(outcomes) == 1 and report.stopped is None, (spec, strategy)
            assert any(s.feedback for s in steps)


def test_show_diffs_an_attempt_against_its_parent_and_sends_grow_runs_elsewhere(tmp_path, capsys):
    from looplab.runs import show_task
    from rich.console import Console

    family, problems = load_tasks("sql", None, ids=["shop/01"])
    replies = ["```sql\nSELECT COUNT(*) FROM order\n```", "```sql\nSELECT COUNT(*) FROM orders\n```"]
    solve(tmp_path, family, problems, PolicyConfig("refine", rounds=1), ScriptedModel(replies))
    console = Console(record=True, width=120)
    console.print(show_task(tmp_path / "run", "shop/01"))
    out = console.export_text()
    assert "-SELECT COUNT(*) FROM order" in out and "+SELECT COUNT(*) FROM orders" in out
    # a policy named by its strategy, when the run holds one of it; else the run's policies are listed
    assert main(["show", "--run-dir", str(tmp_path / "run"), "shop/01", "--policy", "refine"]) == 0
    assert "refine(k=1) shop/01" in capsys.readouterr().out
    assert main(["show", "--run-dir", str(tmp_path / "run"), "shop/01", "--policy", "tree"]) == 2
    assert "no policy 'tree'; name one of: refine(k=1)" in " ".join(capsys.readouterr().err.split())
    with RunStore(tmp_path / "grown") as store:
        store.require({"loop": "grow"})
    assert main(["show", "--run-dir", str(tmp_path / "grown"), "x"]) == 2
    assert "graph report" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["humaneval", "jsonl", "sql:clinic", "math:gsm_symbolic"])
def test_every_policy_runs_through_compare(tmp_path, spec):
    from looplab.solve import POLICIES

    if spec == "jsonl":
        spec = str(write_jsonl(tmp_path / "tasks.jsonl", JSONL_EXAMPLE))
    replies = tmp_path / "replies.json"
    # one reply that serves every kind of prompt: a plan, a candidate of each family, a test
    replies.write_text(json.dumps(["1. Think.\n2. Answer.\n```python\ndef double(x):\n    return 2 * x\n"
                                   "assert double(1) == 2\n```\n```sql\nSELECT COUNT(*) FROM patients\n```\nAnswer: 3"]))
    run_dir = tmp_path / "cmp"
    assert main(["compare", "--tasks", spec, "--limit", "2", "--policies", ",".join(POLICIES), "--budget-tokens",
                 "2500", "--model", f"scripted:{replies}", "--run-dir", str(run_dir)]) == 0
    rows = {r["policy"]: r for r in csv.DictReader(open(run_dir / "comparison.csv"))}
    assert len(rows) == len(POLICIES) and all(r["tasks"] == "2" for r in rows.values())
    assert all(0 < float(r["mean_tokens"]) <= 2500 for r in rows.values())
    # re-reading the record gives the same table
    before = (run_dir / "comparison.csv").read_text()
    assert main(["compare", "--tasks", spec, "--limit", "2", "--policies", ",".join(POLICIES), "--budget-tokens",
                 "2500", "--model", f"scripted:{replies}", "--run-dir", str(run_dir), "--report-only"]) == 0
    assert (run_dir / "comparison.csv").read_text() == before
    assert main(["analyze", "--tasks", spec, "--limit", "2", "--run-dir", str(run_dir)]) == 0
    analysis = list(csv.DictReader(open(run_dir / "analysis.csv")))
    assert len(analysis) == len(POLICIES) and (run_dir / "analysis.html").exists()


def test_show_never_sends_control_characters_to_the_terminal(tmp_path, sandbox):
    from rich.console import Console

    from looplab.runs import show_task

    family, problems = load_tasks("math", sandbox, limit=1)
    solve(tmp_path, family, problems, PolicyConfig("single"), ScriptedModel(["Answer: 4\x1b[2J\x07"]))
    console = Console(record=True, width=120)
    console.print(show_task(tmp_path / "run", problems[0].task.id, full=True))
    out = console.export_text()
    assert "\x1b" not in out and "\x07" not in out and "4\ufffd[2J" in out


def test_a_simulated_user_helps_without_the_answer_and_leaks_are_withheld(tmp_path):
    from looplab.feedback import leaks

    family, problems = load_tasks("sql", None, ids=["shop/01"])
    gold = problems[0].hidden.gold
    bad = "```sql\nSELECT COUNT(*) FROM orders\n```"
    right = "```sql\nSELECT COUNT(*) FROM orders WHERE status = 'cancelled'\n```"

    def model(user_says):
        said = iter(user_says)

        def reply(messages):
            if "You are a user" in messages[0]["content"]:
                return next(said)
            return right if "orders that were cancelled" in messages[-1]["content"] else bad
        return Counting(reply)

    # the wrong count runs and returns a row, so execution passes it: only the user can say it is wrong
    helpful = model(["NOT YET\nCount only the orders that were cancelled.", "CORRECT\nThat is it."])
    _, outcomes, steps, _ = solve(tmp_path / "help", family, problems,
                                  PolicyConfig("refine", rounds=3, extra_sources=("user",)), helpful)
    assert [s.feedback["user"].passed for s in steps] == [0, 1]
    assert outcomes["shop/01"].passed_hidden == 1
    # a user who gives the answer away is withheld; the model never sees the gold query
    leaky = model([f"NOT YET\nJust write {gold}"] * 4)
    _, outcomes, steps, calls = solve(tmp_path / "leak", family, problems,
                                      PolicyConfig("refine", rounds=1, extra_sources=("user",)), leaky)
    assert all(s.feedback["user"].details["leak"] for s in steps)
    model_side = [c.messages for c in calls if "You are a user" not in c.messages[0]["content"]]
    assert gold not in json.dumps(model_side) and "withheld" in model_side[-1][-1]["content"]
    assert leaks(f"Just write {gold}", gold) and not leaks("Count only the cancelled orders.", gold)
    from looplab.solve import analyze
    with RunStore(tmp_path / "leak" / "run") as store:
        assert analyze(store, family, problems)[0]["leaks_withheld"] == len(steps) == 2
