"""The retrieve family on its real catalogues and BM25 index: the shopper's own words are a low floor, the
catalogue's words reach the items, fusion of several queries is measured beside the first alone, a query that
names the items it saw does not carry over to the second catalogue, and a loop runs on it."""
import pytest

from looplab.solve import PolicyConfig
from looplab.tasks import load_tasks
from looplab.tasks._retrieve import MAX_QUERIES, MAX_QUERY_CHARS, catalogue, extract_queries, retrieve_measures
from solve_fakes import Counting, solve


@pytest.fixture(scope="module")
def shop():
    return load_tasks("retrieve", None)


def test_the_catalogues_are_large_apart_and_every_intent_has_items_in_both(shop):
    family, problems = shop
    visible, hidden = catalogue("visible").items, catalogue("hidden").items
    assert len(visible) >= 5000 and len(hidden) >= 5000 and len(problems) >= 150
    assert {i.title for i in visible[:200]} != {i.title for i in hidden[:200]}
    for p in problems:
        assert sum(p.task.intent.grade(i) == 2 for i in hidden) >= 3


def test_the_shoppers_words_are_the_floor_and_the_catalogues_words_reach_the_items(shop):
    family, problems = shop
    raw = retrieve_measures([family.score(p, p.task.query).details for p in problems])
    catalogue_words = retrieve_measures([family.score(p, family.reference(p)).details for p in problems])
    assert raw["ndcg"] < 0.2 < 0.6 < catalogue_words["ndcg"]


def test_fusion_is_measured_beside_the_first_query_and_seen_items_do_not_carry_over(shop):
    family, problems = shop
    p = next(p for p in problems if p.task.difficulty == "hard")
    fused = family.score(p, f"{p.task.query}\n{family.reference(p)}").details
    assert fused["queries"] == 2 and fused["ndcg_first"] == fused["ndcg_raw"] and fused["ndcg"] > fused["ndcg_raw"]
    seen = catalogue("visible")
    clicked = [seen.items[i].title for i in seen.rank([family.reference(p)])[:10]
               if p.task.intent.grade(seen.items[i]) == 2]
    names = "\n".join(t.split()[0] + " " + t.split()[1] for t in clicked[:3])  # brand and model of what it saw
    assert family.sources()["clicks"].evaluate(p.task, names).score > family.score(p, names).score


def test_the_shopper_clicks_and_queries_are_bounded(shop):
    family, problems = shop
    p = problems[0]
    seen = family.sources()["clicks"].evaluate(p.task, family.reference(p))
    assert "[clicked: exactly what I want]" in seen.text and seen.details["clicks"] >= 1
    assert "found nothing" in family.sources()["clicks"].evaluate(p.task, "zzzz qqqq").text
    many = extract_queries("```text\n" + "\n".join("x" * 500 for _ in range(9)) + "\n```").splitlines()
    assert len(many) == MAX_QUERIES and all(len(q) == MAX_QUERY_CHARS for q in many)


def test_a_loop_runs_on_retrieval(tmp_path, shop):
    family, problems = shop
    reference = family.reference(problems[0])
    model = Counting(lambda messages: f"```text\n{reference}\n```")
    _, _, outcomes, steps = solve(tmp_path, PolicyConfig("refine", rounds=2), model, tasks=problems[:1],
                                  family=family)
    assert outcomes[problems[0].task.id].passed_hidden and steps[0].feedback["clicks"].passed
