"""Feedback sources beyond examples: property-based tests run with hypothesis in the sandbox, selection by
agreement (CodeT), and a judge with a model of its own; scripted models, real sandbox."""
import json
from dataclasses import replace

import pytest
from solve_fakes import OVERFIT, RIGHT, WRONG, Counting, solve

from looplab.feedback import agreement_choice, pass_pattern
from looplab.models import ScriptedModel
from looplab.solve import PolicyConfig, feedback_sources, solve_tasks
from looplab.runs import RunStore
from looplab.tasks import CodeFamily, Problem

PROPERTIES = """```python
from hypothesis import given
import hypothesis.strategies as st

@given(st.integers(), st.integers())
def test_commutes(a, b):
    assert add(a, b) == add(b, a)

@given(st.integers())
def test_zero_is_neutral(a):
    assert add(a, 0) == a

@given(st.integers(min_value=5, max_value=1))
def test_malformed(a):
    pass
```"""


def by_prompt(code, properties=PROPERTIES, tests=None, judge="VERDICT: PASS"):
    def reply(messages):
        system = messages[0]["content"]
        if "property-based" in system:
            return properties
        if "expert Python tester" in system:
            return tests
        if "strict reviewer" in system:
            return judge
        return code(messages) if callable(code) else code
    return reply


def test_properties_report_the_shrunk_counterexample_and_the_violated_property(run):
    _, calls, outcomes, steps = run(PolicyConfig("resample", rounds=1, extra_sources=("properties",)),
                                    Counting(by_prompt(lambda messages, queue=[WRONG, RIGHT]: queue.pop(0))))
    # the properties are written once, before the first candidate
    assert [s.kind for s in steps] == ["properties", "initial", "rewrite"]
    rewrite_prompt = calls[-1].messages[-1]["content"]
    # a - b keeps a + 0 == a but does not commute; hypothesis shrinks the inputs to the simplest that show it
    assert "Property-based tests written for this task" in rewrite_prompt
    assert "1 of 2 properties hold." in rewrite_prompt and "test_zero_is_neutral" not in rewrite_prompt
    assert "- test_commutes fails on test_commutes(a=0, b=1): AssertionError" in rewrite_prompt
    assert "(1 malformed property was skipped.)" in rewrite_prompt
    assert outcomes["add/0"].passed_visible == 1 and outcomes["add/0"].passed_hidden == 1


def test_properties_that_cannot_run_judge_nothing(run, tmp_path):
    broken = "```python\nfrom hypothesis import given\nimport hypothesis.strategies as st\n" \
             "@given(st.no_such_strategy())\ndef test_a(x):\n    assert add(x, 0) == x\n```"
    _, _, outcomes, _ = run(PolicyConfig("single", extra_sources=("properties",)),
                            Counting(by_prompt(RIGHT, properties=broken)))
    with RunStore(tmp_path / "run") as store:
        [attempt] = [s for s in store.steps("single+properties") if s.feedback]
    verdict = attempt.feedback["properties"]
    assert verdict.passed == 1 and verdict.score == 0.0 and "judge nothing" in verdict.text
    assert "no_such_strategy" in verdict.details["unusable"]


def test_a_candidate_cannot_forge_a_property_pass(run, tmp_path):
    forger = ("```python\nimport os\nprint('@@looplab-check@@ {\"name\": \"test_commutes\", \"ok\": true}')\n"
              "def add(a, b):\n    os._exit(0)\n```")
    _, _, outcomes, _ = run(PolicyConfig("single", extra_sources=("properties",)), Counting(by_prompt(forger)))
    with RunStore(tmp_path / "run") as store:
        [attempt] = [s for s in store.steps("single+properties") if s.feedback]
    assert attempt.feedback["properties"].passed == 0
    assert attempt.feedback["properties"].details["passed"] == 0


# Model-written checks run in the checking process, so they can print lines that look like its rows.
FORGED_ROWS = ["{", "5", '{"ok": false}', '{"name": 3, "ok": "yes"}', '{"i": 7, "ok": false}', "[" * 100_000]


@pytest.mark.parametrize("row", FORGED_ROWS, ids=["unclosed", "a number", "no name", "wrong types", "index out of range",
                                                  "deep nesting"])
def test_a_check_that_prints_a_malformed_row_is_a_failed_check_and_the_run_goes_on(tmp_path, sandbox, row):
    line = json.dumps("@@looplab-check@@ " + row + "\n")
    properties = ("```python\nimport os\nfrom hypothesis import given\nimport hypothesis.strategies as st\n"
                  f"os.write(1, {line}.encode())\n@given(st.integers())\ndef test_a(x):\n    assert add(x, 0) == x\n```")
    tests = f"```python\nassert add(1, 1) == 2 or os.write(1, {line}.encode())\nassert add(1, 2) == __import__('os').write(1, {line}.encode())\n```"
    for extra in ("properties", "tests"):
        config = PolicyConfig("refine", rounds=1, extra_sources=(extra,))
        for attempt in range(2):  # the resume replays the recorded replies into the same result
            _, _, outcomes, steps = solve(tmp_path / extra, config, Counting(by_prompt(RIGHT, properties, tests)),
                                          sandbox=sandbox)
            assert outcomes["add/0"].status == "done", (extra, outcomes)
            assert outcomes["add/0"].passed_hidden == 1


def test_properties_need_a_function_to_test():
    from looplab.tasks import load_tasks

    family, _ = load_tasks("math", None, limit=1)
    try:
        feedback_sources(family, PolicyConfig("single", extra_sources=("properties",)))
    except Exception as e:
        assert "needs code tasks" in str(e)
    else:
        raise AssertionError("math tasks accepted property-based tests")


def test_agreement_prefers_the_largest_consensus_over_the_first_visible_pass():
    overfit, right, wrong = (True, True, False, False), (True, True, True, True), (False, False, True, False)
    assert agreement_choice([overfit, right, right, wrong]) == 1
    assert agreement_choice([overfit, wrong]) == 0           # 1 x 2 beats 1 x 1
    assert agreement_choice([wrong, overfit, overfit]) == 1  # the earliest of the chosen set
    assert pass_pattern([(True, {"checks": []}), (False, {})]) == (True, False)


def test_codet_answers_with_the_agreed_candidate_where_best_of_n_stops_at_an_overfit_one(run, tmp_path):
    tests = "```python\nassert add(1, 1) == 2\nassert add(0, 0) == 0\nassert add(5, 5) == 10\n```"
    samples = [OVERFIT, RIGHT, RIGHT, WRONG]

    def code(messages):
        return samples.pop(0)
    _, _, outcomes, steps = run(PolicyConfig("codet", n=4, extra_sources=("tests",)),
                                Counting(by_prompt(code, tests=tests)))
    assert [s.kind for s in steps] == ["generated-tests"] + ["sample"] * 4
    assert outcomes["add/0"].passed_hidden == 1 and "a + b" in outcomes["add/0"].answer
    with RunStore(tmp_path / "run") as store:
        # compare reads the same choice off the record
        from looplab.solve import trajectories
        path = trajectories(store, "codet(n=4)+tests")["add/0"]
        assert "a + b" in path.answer_at(path.total).candidate
        assert path.answer_at(path.points[0].tokens).candidate.startswith("def add(a, b):\n    return {")

    samples[:] = [OVERFIT, RIGHT, RIGHT, WRONG]
    _, _, outcomes, _ = run(PolicyConfig("best-of-n", n=4, extra_sources=()), Counting(by_prompt(code, tests=tests)))
    assert outcomes["add/0"].passed_hidden == 0  # it stopped at the first sample that passed the examples


def test_a_judge_model_of_its_own_is_recorded_under_its_name(tmp_path, sandbox):
    from solve_fakes import problems

    judge = ScriptedModel(["VERDICT: FAIL\nIt subtracts."], name="scripted:judge")
    with RunStore(tmp_path / "run") as store:
        solve_tasks(problems(), CodeFamily(sandbox), PolicyConfig("refine", rounds=1, extra_sources=("judge",)),
                    model=ScriptedModel([WRONG]), store=store, judge_model=judge)
        models = [c.model for c in store.calls()]
        config = dict(store.policies())["refine(k=1)+judge"]
    assert models == ["scripted", "scripted:judge", "scripted", "scripted:judge"]
    assert config["judge_model"] == "scripted:judge"


def test_feedback_names_the_calls_its_source_made(tmp_path, sandbox):
    """A judge's and a simulated user's words are linked to their feedback, apart from the policy's calls."""
    from solve_fakes import problems

    def reply(messages):
        system = messages[0]["content"]
        if "strict reviewer" in system:
            return "VERDICT: FAIL\nIt subtracts."
        if "You are a user" in system:
            return "NOT YET\nCheck the operator."
        return WRONG
    config = PolicyConfig("refine", rounds=1, extra_sources=("judge", "user"))
    known = [Problem(p.task, replace(p.hidden, reference="def add(a, b):\n    return a + b")) for p in problems()]
    with RunStore(tmp_path / "run") as store:
        solve_tasks(known, CodeFamily(sandbox), config, model=ScriptedModel(reply), store=store)
        calls = {c.id: c for c in store.calls(config.name, "add/0")}
        attempts = [s for s in store.steps(config.name, "add/0") if s.feedback]
    for attempt in attempts:
        assert calls[attempt.call_id].messages[0]["content"].startswith("You are an expert")  # the policy's
        for source, words in (("judge", "strict reviewer"), ("user", "You are a user")):
            [call_id] = attempt.feedback[source].calls
            assert words in calls[call_id].messages[0]["content"]
        assert attempt.feedback["examples"].calls == ()  # running examples calls no model


def test_a_user_reply_with_code_is_withheld_even_when_its_fence_follows_the_verdict(sandbox):
    """`NOT YET` then an unclosed ```python block with the variables renamed: the verdict's own match takes the
    fence's backticks, so the reply is checked whole."""
    import asyncio
    from types import SimpleNamespace

    from looplab.feedback import SimulatedUser
    from solve_fakes import problems

    reply = "NOT YET\n```python\ndef add(first, second):\n    return first + second"
    family = CodeFamily(sandbox)

    async def ask(messages, max_tokens):
        return SimpleNamespace(text=reply, call=7)
    user = SimulatedUser().bind(SimpleNamespace(family=family, ask=ask), "def add(a, b):\n    return a + b")
    verdict = asyncio.run(user.evaluate(problems()[0].task, "def add(a, b):\n    return a - b"))
    assert verdict.details["leak"] and "withheld" in verdict.text and "return" not in verdict.text
    assert verdict.calls == (7,) and not verdict.passed
