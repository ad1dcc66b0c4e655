"""Policy control flow, honest scoring, budgets and resume, with the scripted model."""
import gc
import json
from pathlib import Path

import pytest
from solve_fakes import OVERFIT, PROMPT, RIGHT, WRONG, Counting, problems, solve

from looplab.models import Budget, Meter, ModelError, ModelUnavailable, ScriptedModel
from looplab.runs import RunError
from looplab.solve import PolicyConfig
from looplab.tasks import CodeFamily, build_program, extract_code, sanitize


def test_extract_code_prefers_the_block_defining_the_function():
    reply = "```python\nimport math\n```\ntext\n```python\ndef add(a, b):\n    return a + b\n```\n```\nadd(1, 2)\n```"
    assert extract_code(reply, "add") == "def add(a, b):\n    return a + b"
    assert extract_code("```python\ndef add(a, b):\n    return 1", "add") == "def add(a, b):\n    return 1"
    assert extract_code("    return a + b", "add") == "    return a + b"


def test_program_keeps_the_prompts_helpers_and_accepts_a_bare_body():
    task = problems()[0].task
    assert build_program(task, "def add(a, b):\n    return a + b").startswith(PROMPT.rstrip())
    assert build_program(task, "    return a + b").endswith('"""\n    return a + b\n')


def test_single_makes_one_greedy_call(run):
    report, calls, outcomes, steps = run(PolicyConfig("single"), Counting([RIGHT]))
    assert len(calls) == 1 and calls[0].params["temperature"] == 0.0
    assert outcomes["add/0"].passed_visible == 1 and outcomes["add/0"].passed_hidden == 1
    assert [s.kind for s in steps] == ["initial"]


def test_a_run_collects_cycles_less_often_while_it_runs_and_restores_the_collector_after(run):
    before = gc.get_threshold()
    during = []

    def reply(messages):
        during.append(gc.get_threshold())
        return RIGHT
    run(PolicyConfig("single"), Counting(reply))
    assert during[0][0] >= 20_000 and during[0][1:] == before[1:]
    assert gc.get_threshold() == before


def test_best_of_n_stops_at_the_first_sample_passing_all_visible_checks(run):
    model = Counting([WRONG, WRONG, RIGHT, RIGHT])
    _, calls, outcomes, steps = run(PolicyConfig("best-of-n", n=4), model)
    params = [c.params for c in calls]
    assert [p["temperature"] for p in params] == [0.0, 0.8, 0.8]
    assert [p["sample"] for p in params] == [0, 1, 2]
    assert len({kw["seed"] for _, kw in model.requests}) == 3  # samples stay distinct
    assert outcomes["add/0"].passed_hidden == 1


def test_best_of_n_keeps_the_sample_passing_most_checks(run):
    half = "```python\ndef add(a, b):\n    return 3\n```"  # passes add(1, 2) only
    _, calls, outcomes, _ = run(PolicyConfig("best-of-n", n=3), Counting([WRONG, half, WRONG]))
    assert len(calls) == 3
    assert outcomes["add/0"].visible_score == 0.5
    assert "return 3" in outcomes["add/0"].answer


def test_refine_feeds_back_the_failing_call_and_stops_when_visible_checks_pass(run):
    def reply(messages):
        return RIGHT if "add(1, 2) should return 3, but returned -1" in messages[-1]["content"] else WRONG
    _, calls, outcomes, steps = run(PolicyConfig("refine", rounds=3), Counting(reply))
    assert len(calls) == 2
    revision = calls[1].messages
    assert revision[2] == {"role": "assistant", "content": "```python\ndef add(a, b):\n    return a - b\n```"}
    assert [(s.kind, s.parent) for s in steps] == [("initial", None), ("revision", 0)]
    assert outcomes["add/0"].passed_hidden == 1


def test_refine_rewrites_from_the_feedback_alone_once_revisions_repeat(run):
    _, calls, outcomes, steps = run(PolicyConfig("refine", rounds=3, temperature=0.7), Counting([WRONG]))
    assert [c.params["temperature"] for c in calls] == [0.0, 0.0, 0.7, 0.7]
    assert [s.kind for s in steps] == ["initial", "revision", "rewrite", "rewrite"]
    rewrite = calls[2].messages
    assert len(rewrite) == 2 and "return a - b" not in rewrite[1]["content"]  # the failed code is not shown
    assert "add(1, 2) should return 3, but returned -1" in rewrite[1]["content"]
    assert outcomes["add/0"].passed_visible == 0


def test_visible_and_hidden_results_are_recorded_apart(run):
    _, _, outcomes, _ = run(PolicyConfig("single"), Counting([OVERFIT]))
    outcome = outcomes["add/0"]
    assert outcome.passed_visible == 1 and outcome.passed_hidden == 0
    assert outcome.hidden_result["kind"] == "error"


def test_hidden_tests_never_reach_the_model(run):
    def reply(messages):
        assert "f(5, 7)" not in json.dumps(messages)
        return WRONG
    _, calls, _, _ = run(PolicyConfig("refine", rounds=2), Counting(reply))
    assert all("f(5, 7)" not in json.dumps(c.messages) for c in calls)


@pytest.mark.parametrize("strategy", ["single", "best-of-n", "refine"])
def test_these_policies_stop_at_their_task_token_budget(run, strategy):
    budget = 150
    _, calls, outcomes, _ = run(PolicyConfig(strategy, n=8, rounds=8), Counting([WRONG]), tasks=problems(3),
                                task_budget=Budget(tokens=budget))
    for outcome in outcomes.values():
        assert 0 < outcome.tokens <= budget
    if strategy != "single":
        assert len(calls) < 3 * 9  # the budget, not n or k, ended each task


def test_run_budget_stops_the_run_and_a_rerun_continues(tmp_path, sandbox):
    model = Counting([RIGHT])
    report, calls, outcomes, _ = solve(tmp_path, PolicyConfig("single"), model, tasks=problems(4),
                                       run_meter=Meter(Budget(calls=2)), sandbox=sandbox)
    assert len(outcomes) == 2 and "run budget" in report.stopped
    report, calls, outcomes, _ = solve(tmp_path, PolicyConfig("single"), model, tasks=problems(4),
                                       sandbox=sandbox)
    assert report.skipped == 2 and len(outcomes) == 4 and len(model.requests) == 4


def test_interrupted_task_resumes_without_repeating_finished_calls(tmp_path, sandbox):
    class Interrupting(Counting):
        def complete(self, messages, **kwargs):
            if len(self.requests) == 2:
                raise KeyboardInterrupt
            return super().complete(messages, **kwargs)

    config = PolicyConfig("refine", rounds=3)
    with pytest.raises(KeyboardInterrupt):
        solve(tmp_path, config, Interrupting([WRONG]), sandbox=sandbox)
    again = Counting([WRONG])
    _, calls, outcomes, steps = solve(tmp_path, config, again, sandbox=sandbox)
    assert len(again.requests) == 2  # calls 0 and 1 were replayed from the record
    assert len(calls) == 4 and [s.step for s in steps] == [0, 1, 2, 3]
    assert outcomes["add/0"].calls == 4


def test_resume_refuses_changed_settings(tmp_path, sandbox):
    solve(tmp_path, PolicyConfig("refine", rounds=1), Counting([WRONG]), sandbox=sandbox)
    with pytest.raises(RunError, match="other settings"):
        solve(tmp_path, PolicyConfig("refine", rounds=1, max_tokens=50), Counting([WRONG]),
              sandbox=sandbox)


def test_unreachable_model_stops_the_run_and_leaves_tasks_for_resume(tmp_path, sandbox):
    class Down(ScriptedModel):
        def complete(self, messages, **kwargs):
            raise ModelUnavailable("server down")

    report, _, outcomes, _ = solve(tmp_path, PolicyConfig("single"), Down([""]), tasks=problems(5),
                                   sandbox=sandbox)
    # the third failure in a row stops it; the task already in flight beside it (one more than the
    # connections) may still end, but no new one starts
    assert "unreachable" in report.stopped and 3 <= len(report.outcomes) <= 4 and outcomes == {}
    report, _, outcomes, _ = solve(tmp_path, PolicyConfig("single"), Counting([RIGHT]), tasks=problems(5),
                                   sandbox=sandbox)
    assert len(outcomes) == 5 and report.stopped is None


def test_a_failing_request_is_recorded_and_the_run_goes_on(run):
    class Refusing(Counting):
        def complete(self, messages, **kwargs):
            if len(self.requests) == 0:
                self.requests.append(None)
                raise ModelError("prompt too long")
            return super().complete(messages, **kwargs)

    report, _, outcomes, _ = run(PolicyConfig("single"), Refusing([RIGHT]), tasks=problems(2))
    assert outcomes["add/0"].error == "prompt too long" and outcomes["add/0"].passed_hidden == 0
    assert outcomes["add/1"].passed_hidden == 1 and report.stopped is None


def test_a_hidden_pass_needs_the_check_to_finish(sandbox):
    problem = problems()[0]
    family = CodeFamily(sandbox)
    assert family.score(problem, "    return a + b").passed
    # exits cleanly before the check can run: not a pass (sanitizing drops the module-level exit
    # when the function is defined, so the exit hides inside a default argument here)
    sneaky = "import os\ndef add(a, b, _=os._exit(0)):\n    return a + b"
    assert not family.score(problem, sneaky).passed


def test_sanitize_drops_demo_code_and_keeps_what_the_function_needs():
    code = ("import math\nLIMIT = 10\nunused = 3\n\ndef helper(x):\n    return x * LIMIT\n\n"
            "def add(a, b):\n    return helper(a) // LIMIT + b\n\nprint(add(1, 2))\nassert add(1, 1) == 2\n"
            "if __name__ == '__main__':\n    add(0, 0)\nresult = add(2, 2)\n")
    kept = sanitize(code, "add")
    assert "print" not in kept and "assert" not in kept and "__main__" not in kept and "result" not in kept
    assert "unused" not in kept
    assert "import math" in kept and "LIMIT = 10" in kept and "def helper" in kept and "def add" in kept
    namespace = {}
    exec(kept, namespace)
    assert namespace["add"](1, 2) == 3
    assert sanitize("def add(a, b):\n    return (", "add") == "def add(a, b):\n    return ("  # does not parse
    assert sanitize("def other():\n    pass\nprint(1)", "add") == "def other():\n    pass\nprint(1)"


def test_demo_code_that_crashes_at_import_no_longer_fails_the_attempt(run):
    crashing = "```python\ndef add(a, b):\n    return a + b\n\nprint(add(undefined_name, 2))\n```"
    _, _, outcomes, _ = run(PolicyConfig("single"), Counting([crashing]))
    assert outcomes["add/0"].passed_visible == 1 and outcomes["add/0"].passed_hidden == 1


def test_export_writes_one_json_line_per_policy_and_task(tmp_path):
    import json

    from looplab.cli import main

    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"]))
    run_dir = tmp_path / "run"
    assert main(["compare", "--limit", "2", "--policies", "single,refine", "--budget-tokens", "1500",
                 "--model", f"scripted:{replies}", "--run-dir", str(run_dir)]) == 0
    assert main(["export", "--run-dir", str(run_dir)]) == 0
    rows = [json.loads(line) for line in open(run_dir / "trajectories.jsonl")]
    assert sorted((r["policy"], r["task_id"]) for r in rows) == [
        (p, t) for p in ("refine(k=8)", "single") for t in ("HumanEval/0", "HumanEval/1")]
    refine = next(r for r in rows if r["policy"] == "refine(k=8)" and r["task_id"] == "HumanEval/0")
    assert len(refine["steps"]) == len(refine["calls"]) > 1 and refine["steps"][0]["feedback"]["examples"]["text"]
    assert refine["calls"][0]["messages"][0]["role"] == "system" and refine["format"] == "looplab.trajectory/1"
    assert "passed_hidden" not in refine["outcome"] and refine["hidden"]["passed"] in (True, False)  # kept apart
    calls = {c["id"] for c in refine["calls"]}
    assert all(s["call"] in calls and s["feedback"]["examples"]["calls"] == [] for s in refine["steps"])


def test_the_demo_command_runs_and_its_next_step_can_be_typed_as_it_is(tmp_path):
    import subprocess
    import sys

    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(["```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"]))
    command = Path(sys.executable).with_name("looplab")  # the venv's, which need not be on PATH (make demo)
    done = subprocess.run([str(command), "demo", "--limit", "1", "--model", f"scripted:{replies}", "--run-dir",
                           str(tmp_path / "demo")], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOOPLAB_CACHE": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert set(summary["policies"]) == {"single", "refine(k=3)"}
    told = " ".join(done.stderr.split())
    assert f"{command} show --run-dir" in told
