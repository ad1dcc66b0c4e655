"""Control flow of the feedback-using policies (reflexion, try-again, iad, evolve, tree, mcts),
generated tests, budgets, reuse of greedy calls, trajectories and `compare`, with the scripted model."""
import asyncio
import csv
import json

import pytest
from solve_fakes import HIDDEN, OVERFIT, PROMPT, RIGHT, WRONG, Counting, problems, solve

from looplab.cli import main
from looplab.feedback import parse_generated_tests
from looplab.models import Budget
from looplab.runs import HiddenCache, RunStore
from looplab.solve import (
    POLICIES,
    Curve,
    PolicyConfig,
    against_reference,
    curve,
    trajectories,
)
from looplab.solve._compare import sign_test
from looplab.solve._prompts import numbered_items
from looplab.solve._search import Node, backpropagate, select
from looplab.tasks import CodeFamily, CodeTask, HiddenTest, Problem, extract_code, extract_examples

HALF = "```python\ndef add(a, b):\n    return 3\n```"    # passes add(1, 2) only
HALF2 = "```python\ndef add(a, b):\n    return 4\n```"   # passes add(2, 2) only
WRONG2 = "```python\ndef add(a, b):\n    return a - b + 0\n```"


def responder(code, **replies):
    """Replies by what a prompt asks for; `code` (a list used in order, or a function) for code."""
    defaults = {"tests": "```python\nassert add(1, 1) == 2\nassert add(0, 0) == 0\n```",
                "strategies": "1. Use the + operator.\n2. Use sum over a list.\n3. Count up in a loop.",
                "steps": "1. Add the two numbers.\n2. Return the result.", "critic": "REFINE: use a + b",
                "rating": "7", "rethink": "Return a + b.", "reflection": "It subtracts instead of adding."}
    defaults.update(replies)
    queue = list(code) if isinstance(code, list) else None

    def pick(value, messages):
        return value(messages) if callable(value) else value

    def reply(messages):
        system, last = messages[0]["content"], messages[-1]["content"]
        for marker, key in (("expert Python tester", "tests"), ("different strategies", "strategies"),
                            ("possible next steps", "steps"), ("Reply REFINE", "critic"), ("Reply ACCEPT", "critic"),
                            ("How likely", "rating"), ("Rewrite step", "rethink"), ("why is this", "reflection")):
            if marker in last or marker in system:
                return pick(defaults[key], messages)
        if queue is not None:
            return queue.pop(0) if len(queue) > 1 else queue[0]
        return pick(code, messages)
    return reply


def kinds(steps):
    return [s.kind for s in steps]


def prompts(calls):
    return [c.messages[-1]["content"] for c in calls]


def test_reflexion_keeps_a_bounded_memory_of_reflections(run):
    count = [0]

    def reflect(messages):
        count[0] += 1
        return f"Lesson {count[0]}."
    _, calls, outcomes, steps = run(PolicyConfig("reflexion", rounds=4), Counting(responder(WRONG, reflection=reflect)))
    assert kinds(steps) == ["initial"] + ["reflection", "attempt"] * 4
    attempts = [p for p in prompts(calls) if "Lessons from your earlier attempts" in p]
    assert len(attempts) == 4
    assert "Lesson 1." in attempts[0] and "Lesson 2." in attempts[1] and "Lesson 1." in attempts[1]
    assert "Lesson 1." not in attempts[3] and all(f"Lesson {i}." in attempts[3] for i in (2, 3, 4))
    assert "should return 3, but returned -1" in attempts[0]  # the feedback goes in too
    assert steps[1].parent == 0 and outcomes["add/0"].passed_visible == 0


def test_reflexion_stops_once_an_attempt_passes(run):
    _, calls, outcomes, steps = run(PolicyConfig("reflexion", rounds=4), Counting(responder([WRONG, RIGHT])))
    assert kinds(steps) == ["initial", "reflection", "attempt"] and outcomes["add/0"].passed_hidden == 1


def test_resample_samples_from_the_feedback_on_the_best_attempt_never_its_code(run):
    _, calls, outcomes, steps = run(PolicyConfig("resample", rounds=3, temperature=0.7),
                                    Counting(responder([WRONG, HALF, WRONG2, RIGHT])))
    assert kinds(steps) == ["initial", "rewrite", "rewrite", "rewrite"]
    assert [s.parent for s in steps[1:]] == [0, 1, 1]  # the best so far: HALF once it came
    assert all(c.params["temperature"] == 0.7 for c in calls[1:])
    assert all("```python" not in p for p in prompts(calls)[1:])
    assert "add(2, 2) should return 4, but returned 3" in prompts(calls)[2]
    assert outcomes["add/0"].passed_hidden == 1


def test_try_again_gives_no_details_and_samples_once_it_repeats(run):
    _, calls, _, steps = run(PolicyConfig("try-again", rounds=3, temperature=0.6), Counting([WRONG]))
    assert kinds(steps) == ["initial", "retry", "retry", "retry"]
    assert all(p == "That is not right. Try again." for p in prompts(calls)[1:])
    assert "should return" not in json.dumps([c.messages for c in calls])
    assert [c.params["temperature"] for c in calls] == [0.0, 0.0, 0.6, 0.6]


def test_iad_refines_the_best_candidates_of_each_round(run):
    model = Counting(responder([WRONG, HALF, WRONG2, HALF2, WRONG, RIGHT]))
    _, calls, outcomes, steps = run(PolicyConfig("iad", n=4, rounds=2), model)
    assert kinds(steps) == ["sample"] * 4 + ["refinement"] * 2
    # selection by verifier score: the two half-right candidates (steps 1 and 3) are refined, in turn
    assert [s.parent for s in steps[4:]] == [1, 3]
    refined = [c.messages[2]["content"] for c in calls[4:]]
    assert "return 3" in refined[0] and "return 4" in refined[1]
    assert all(c.params["temperature"] == 0.8 for c in calls[1:])
    assert outcomes["add/0"].passed_hidden == 1


def test_iad_rewrites_from_feedback_a_candidate_the_model_copies(run):
    model = Counting(responder([WRONG, HALF, WRONG2, HALF2, HALF, HALF2, RIGHT]))
    _, calls, outcomes, steps = run(PolicyConfig("iad", n=4, rounds=2), model)
    # both parents came back unchanged once; their next refinements are rewrites without their code
    assert kinds(steps) == ["sample"] * 4 + ["refinement", "refinement", "rewrite"]
    assert "return 3" not in prompts(calls)[6] and "add(2, 2) should return 4, but returned 3" in prompts(calls)[6]
    assert outcomes["add/0"].passed_hidden == 1


def test_evolve_selects_the_fittest_and_reflects_on_past_changes(run):
    code = [WRONG, HALF, "Change: return a constant 4\n" + HALF2, "Change: mix A and B\n" + WRONG2, RIGHT]
    _, calls, outcomes, steps = run(PolicyConfig("evolve", n=2, rounds=3), Counting(responder(code)))
    assert kinds(steps) == ["sample", "sample", "mutation", "crossover", "mutation"]
    crossover = prompts(calls)[3]
    assert "Candidate A" in crossover and "Candidate B" in crossover
    last = prompts(calls)[4]
    # generation 2 starts from the fittest two (return 3 and return 4), never the 0-score ones
    assert "return a - b" not in last and ("return 3" in last or "return 4" in last)
    assert "return a constant 4" in last and "mix A and B" in last  # the model is told what earlier changes did
    assert outcomes["add/0"].passed_hidden == 1


def test_tree_writes_a_solution_per_strategy_and_refines_the_best_with_the_critics_advice(run):
    def code(messages):
        last = messages[-1]["content"]
        if "Advice: use a + b" in last:
            return RIGHT
        return {"+ operator": WRONG, "sum over": HALF, "loop": WRONG2}[
            next(k for k in ("+ operator", "sum over", "loop") if k in last)]
    _, calls, outcomes, steps = run(PolicyConfig("tree", n=3, rounds=2), Counting(responder(code)))
    assert kinds(steps) == ["strategy", "solution"] * 3 + ["critique", "refinement"]
    assert steps[6].parent == 3  # the critic judged the best node first: the half-right one
    assert steps[7].parent == 3 and outcomes["add/0"].passed_hidden == 1


def test_tree_abandons_what_the_critic_rejects_and_stops_when_the_frontier_is_empty(run):
    _, calls, _, steps = run(PolicyConfig("tree", n=3, rounds=3),
                             Counting(responder(lambda m: WRONG, critic="ABANDON: wrong approach")))
    assert kinds(steps) == ["strategy", "solution"] * 3 + ["critique"] * 3


def test_tree_refines_to_its_depth_limit_then_stops(run):
    _, _, _, steps = run(PolicyConfig("tree", n=1, rounds=2),
                         Counting(responder([WRONG, WRONG2, "```python\ndef add(a, b):\n    return a - b - 0\n```"])))
    assert kinds(steps) == ["strategy", "solution", "critique", "refinement", "critique", "refinement", "critique"]


def test_tree_critic_may_accept_code_that_only_fails_the_models_own_tests(tmp_path, sandbox, run):
    reference = Problem(CodeTask("add/0", PROMPT, "add", tuple(extract_examples(PROMPT, "add"))),
                        HiddenTest(HIDDEN, "add", "def add(a, b):\n    return a + b\n"))
    tests = "```python\nassert add(1, 1) == 3\nassert add(0, 0) == 0\nassert add(0, 0) == 0\nprint('x')\n```"
    _, calls, outcomes, steps = run(PolicyConfig("tree", n=1, rounds=2, extra_sources=("tests",)),
                                    Counting(responder([RIGHT], tests=tests, critic="ACCEPT")), tasks=[reference])
    assert kinds(steps) == ["generated-tests", "strategy", "solution", "critique"]
    assert outcomes["add/0"].passed_hidden == 1
    generated = outcomes["add/0"].hidden_result["audits"]["tests"]
    # two distinct tests, one wrong; "passes every generated test" disagrees with the hidden verdict
    assert generated == {"count": 2, "correct": 1, "verdict_agrees": False}


def test_mcts_expands_simulates_rethinks_and_backs_up(run):
    _, calls, outcomes, steps = run(PolicyConfig("mcts", n=2, rounds=2), Counting(responder(WRONG)))
    assert kinds(steps) == ["problem", "thought", "thought", "code", "rethink", "code", "self-evaluation",
                            "code", "rethink", "code", "self-evaluation"]
    # the rethought step replaces the failing one in the plan the code is written from
    code_prompts = [p for p in prompts(calls) if "Follow this plan" in p]
    assert "1. Add the two numbers." in code_prompts[0] and "1. Return a + b." in code_prompts[1]
    # the second iteration visits the unvisited sibling rather than expanding again
    assert "1. Return the result." in code_prompts[2]
    assert sum("possible next steps" in p for p in prompts(calls)) == 1


def test_mcts_stops_when_a_rethought_plan_passes(run):
    def code(messages):
        return RIGHT if "Return a + b." in messages[-1]["content"] else WRONG
    _, _, outcomes, steps = run(PolicyConfig("mcts", n=2, rounds=5), Counting(responder(code)))
    assert kinds(steps) == ["problem", "thought", "thought", "code", "rethink", "code"]
    assert outcomes["add/0"].passed_hidden == 1


def test_uct_selection_and_backpropagation():
    root = Node("")
    a, b = Node("a", parent=root), Node("b", parent=root)
    root.children = [a, b]
    backpropagate(a, 0.2)
    assert select(root) is b  # unvisited first
    backpropagate(b, 0.9)
    assert (root.visits, root.value, b.visits) == (2, pytest.approx(1.1), 1)
    assert select(root) is b  # same visits: the higher mean value wins
    for _ in range(6):
        backpropagate(b, 0.5)
    assert select(root) is a  # exploration: a rarely visited child comes back


@pytest.mark.parametrize("strategy", list(POLICIES))
def test_no_policy_exceeds_its_token_budget(run, strategy):
    budget = 400
    _, calls, outcomes, _ = run(PolicyConfig(strategy, n=4, rounds=50), Counting(responder(WRONG)),
                                tasks=problems(2), task_budget=Budget(tokens=budget))
    for outcome in outcomes.values():
        assert 0 < outcome.tokens <= budget
    per_task = {}
    for c in calls:
        per_task[c.task_id] = per_task.get(c.task_id, 0) + 1
    assert all(n < 40 for n in per_task.values())  # the budget, not the round count, ended each task


def test_parse_generated_tests():
    reply = ("Tests:\n```python\nassert add(1, 1) == 2\nassert add(1, 1) == 2\nassert not add(0, 0)\n"
             "assert add(2, 2)\nassert other(1) == 2\nassert add(1 ==\nx = add(1, 2)\n```")
    tests = parse_generated_tests(extract_code(reply, "add"), "add")
    assert [(t.call, t.expected) for t in tests] == [("add(1, 1)", "2"), ("add(0, 0)", "False"), ("add(2, 2)", "True")]


def test_a_second_policy_reuses_identical_greedy_calls_and_is_still_charged(tmp_path, sandbox):
    model = Counting([WRONG])
    _, _, first, _ = solve(tmp_path, PolicyConfig("single"), model, sandbox=sandbox)
    _, calls, outcomes, _ = solve(tmp_path, PolicyConfig("refine", rounds=1), model, sandbox=sandbox)
    assert len(model.requests) == 2  # single's call, then only refine's revision
    reused = [c.params.get("reused") for c in calls]
    assert reused == [None, True, None]  # single's call, refine's reused first call, refine's revision
    assert outcomes["add/0"].tokens > first["add/0"].tokens
    assert outcomes["add/0"].calls == 2


def test_trajectories_give_the_final_answer_at_the_full_budget(tmp_path, sandbox, run):
    _, _, outcomes, _ = run(PolicyConfig("best-of-n", n=3), Counting([WRONG, HALF, RIGHT]), tasks=problems(2),
                            task_budget=Budget(tokens=1000))
    with RunStore(tmp_path / "run") as store:
        paths = trajectories(store, "best-of-n(n=3)")
        for task_id, outcome in outcomes.items():
            answer = paths[task_id].answer_at(1000)
            assert answer.candidate == outcome.answer
        points = paths["add/0"].points
        assert paths["add/0"].answer_at(points[1].tokens).candidate == points[1].candidate  # HALF beats WRONG
        assert paths["add/0"].answer_at(points[0].tokens - 1) is None
        c = curve(store, "best-of-n(n=3)", problems(2), 1000, HiddenCache(store, CodeFamily(sandbox)))
        assert c.pass_at_1[0] == 0 and c.pass_at_1[-1] == sum(o.passed_hidden for o in outcomes.values()) / 2
        assert c.mean_tokens[-1] == sum(o.tokens for o in outcomes.values()) / 2
        assert c.pass_at_1 == sorted(c.pass_at_1)


def test_sign_test_matches_the_binomial_tail():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == sign_test(0, 5) == 2 / 32
    assert sign_test(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert sign_test(7, 7) == 1.0


def test_a_policy_is_paired_with_the_reference_at_no_more_tokens_than_it_spent():
    reference = Curve("best-of-n", [0, 500, 1000], [0.0, 400.0, 900.0], [0.0, 0.5, 0.25],
                      [frozenset(), frozenset({"a", "b"}), frozenset({"a"})])
    policy = Curve("evolve", [0, 1000], [0.0, 950.0], [0.0, 0.5], [frozenset(), frozenset({"b", "c"})])
    paired = against_reference(policy, reference)
    # best-of-n's best within 950 tokens is the 400-token point (0.5, tasks a and b), not the later 0.25
    assert (paired.reference_pass_at_1, paired.wins, paired.losses) == (0.5, 1, 1)
    assert paired.p_value == 1.0
    cheap = Curve("single", [0, 1000], [0.0, 300.0], [0.0, 0.25], [frozenset(), frozenset({"c"})])
    # within 300 tokens best-of-n has only its cap-0 point, where no task has an answer yet
    assert against_reference(cheap, reference).reference_pass_at_1 == 0.0


def test_compare_and_show_from_the_command_line(tmp_path, capsys):
    replies = tmp_path / "replies.json"
    # one reply that serves every kind of prompt: a plan, code, and a test
    replies.write_text(json.dumps(["1. Loop.\n2. Sort.\n```python\ndef has_close_elements(numbers, threshold):\n"
                                   "    return False\nassert has_close_elements([1.0, 1.1], 0.5) == True\n```"]))
    run_dir = tmp_path / "cmp"
    args = ["compare", "--ids", "0", "--policies", "single,best-of-n,refine,tree+tests", "--budget-tokens", "1500",
            "--model", f"scripted:{replies}", "--run-dir", str(run_dir)]
    assert main(args) == 0
    rows = list(csv.DictReader(open(run_dir / "comparison.csv")))
    assert [r["policy"] for r in rows] == ["single", "best-of-n(n=64)", "refine(k=8)", "tree(n=4,k=8)+tests"]
    assert all(0 < float(r["mean_tokens"]) <= 1500 for r in rows)
    assert rows[3]["generated_verdict_agreement"] != "" and rows[0]["generated_verdict_agreement"] == ""
    assert rows[1]["wins_vs_best_of_n"] == rows[1]["losses_vs_best_of_n"] == "0" and rows[1]["sign_test_p"] == "1.0"
    assert "best-of-n(n=64) (reference)" in (run_dir / "comparison.html").read_text()
    assert main(args) == 0  # a re-run resumes: everything was finished, nothing is asked again
    capsys.readouterr()
    assert main(["show", "--run-dir", str(run_dir), "0", "--policy", "tree(n=4,k=8)+tests"]) == 0
    out = capsys.readouterr().out
    assert "#0 generated-tests" in out and "#1 strategy" in out and "critique" in out
    assert main(["show", "--run-dir", str(run_dir), "5"]) == 2


def test_numbered_items_keep_bold_titles_and_skip_duplicates():
    reply = "Here:\n1. **Reverse and append**: simple.\n2) Loop over suffixes\n- Loop over suffixes\n3. ab\nend"
    assert numbered_items(reply, 5) == ["Reverse and append: simple.", "Loop over suffixes"]
    assert numbered_items(reply, 1) == ["Reverse and append: simple."]


def test_chart_ticks_read_as_plain_numbers():
    from looplab.report._svg import _fmt
    assert [_fmt(v) for v in (0, 72.6, 421.2, 1263.7)] == ["0", "72.6", "421", "1,264"]
    assert _fmt(0.005) == "5.0e-03" and _fmt(2e7) == "2.0e+07"


def test_analyze_reads_friction_copy_back_flips_rounds_and_the_gap_off_the_record(tmp_path, sandbox, run):
    from looplab.solve import analyze

    # refine: a wrong attempt, the same code handed back, then a rewrite that is right
    run(PolicyConfig("refine", rounds=3), Counting([WRONG, WRONG, RIGHT]))
    run(PolicyConfig("single"), Counting([OVERFIT]), tasks=[problems(2)[1]])  # passes the examples only
    with RunStore(tmp_path / "run", read_only=True) as store:  # as a record another process may be writing
        read_only = analyze(store, CodeFamily(sandbox), problems(2))
    with RunStore(tmp_path / "run") as store:
        rows = {r["policy"]: r for r in analyze(store, CodeFamily(sandbox), problems(2))}
    assert read_only == list(rows.values())
    refine = rows["refine(k=3)"]
    assert refine["tasks"] == 1 and refine["pass_at_1"] == 1.0
    assert refine["revisions_after_failure"] == 2 and refine["friction"] == 0.5 and refine["copy_back"] == 0.5
    assert (refine["wrong_to_right"], refine["right_to_wrong"]) == (1, 0)
    assert refine["pass_at_1_by_attempts"][:4] == [0.0, 0.0, 1.0, 1.0]
    assert refine["passed_visible_failed_hidden"] == 0 and refine["category_pass_at_1"] == {"all": 1.0}
    single = rows["single"]
    assert single["revisions_after_failure"] == 0 and single["friction"] is None
    assert single["passed_visible_failed_hidden"] == 1 and single["pass_at_1"] == 0.0


def test_a_judge_is_a_recorded_charged_source_and_its_critique_reaches_the_model(run):
    def reply(messages):
        if "strict reviewer" in messages[0]["content"]:
            return "VERDICT: FAIL\nIt subtracts; it should add." if "a - b" in messages[-1]["content"] else "VERDICT: PASS"
        return RIGHT if "it should add" in messages[-1]["content"] else WRONG
    _, calls, outcomes, steps = run(PolicyConfig("refine", rounds=2, extra_sources=("judge",)), Counting(reply))
    assert kinds(steps) == ["initial", "revision"]
    assert len(calls) == 4  # attempt, judgement, revision, judgement: all on the record
    assert "A reviewer's critique:" in prompts(calls)[2] and "it should add" in prompts(calls)[2]
    assert outcomes["add/0"].passed_hidden == 1


def test_a_deceptive_judge_argues_against_its_own_verdict_and_says_so_in_the_record(tmp_path, sandbox):
    from looplab.feedback import Judge
    from looplab.models import Meter
    from looplab.runs import TaskRecorder
    from looplab.solve import Prompts, SolveContext

    def reply(messages):
        last = messages[-1]["content"]
        return "It is wrong: it fails on negatives." if "Argue convincingly" in last else "VERDICT: PASS\nFine."
    with RunStore(tmp_path / "run") as store:
        problem = problems()[0]
        recorder = TaskRecorder(store, "p", problem.task.id, Counting(reply), Meter())
        ctx = SolveContext(CodeFamily(sandbox), problem.task, recorder, {}, 256, Prompts())
        judge = Judge(deceive=1.0).bind(ctx)
        feedback = asyncio.run(judge.evaluate(problem.task, "def add(a, b):\n    return a + b"))
    assert not feedback.passed and feedback.details == {"verdict": "fail", "parsed": True, "deceptive": True}
    assert "fails on negatives" in feedback.text
    assert PolicyConfig("refine", extra_sources=("deceptive-judge",)).name == "refine(k=3)+deceptive-judge"


def test_analyze_gives_flip_rates_apart_under_honest_and_deceptive_feedback(tmp_path, sandbox, run):
    from looplab.feedback import Judge
    from looplab.solve import analyze

    code = [RIGHT, WRONG]

    def reply(messages):
        if "strict reviewer" in messages[0]["content"]:
            return "It is wrong: it mishandles negative numbers." if "Argue" in messages[-1]["content"] \
                else "VERDICT: PASS"
        return code.pop(0) if len(code) > 1 else code[0]
    family = CodeFamily(sandbox)
    run(PolicyConfig("refine", rounds=1), Counting(reply),
        sources={"examples": family.checks, "deceptive-judge": Judge(deceive=1.0)})
    with RunStore(tmp_path / "run") as store:
        [row] = analyze(store, family, problems(1))
    # the right answer was told it was wrong, and the revision made it wrong
    assert (row["right_to_wrong_deceived"], row["flip_rate_deceived"]) == (1, 1.0)
    assert (row["right_to_wrong"], row["flip_rate"]) == (0, None)
