"""The plan family: every request's reference plan meets every constraint, and each constraint function
refuses a plan broken in its own way, with its own message. Plans here are the reference plans of real
generated requests, changed by hand."""
import copy
import json
from dataclasses import replace

import pytest

from looplab.runs import RunStore
from looplab.solve import PolicyConfig, analyze
from looplab.tasks import load_tasks
from looplab.tasks._plan import COMMONSENSE, HARD, check_plan, plan_measures
from solve_fakes import Counting, solve


@pytest.fixture(scope="module")
def plans():
    return load_tasks("plan", None)


def test_every_request_is_satisfiable_and_the_levels_differ(plans):
    family, problems = plans
    assert len(problems) >= 150 and {p.task.difficulty for p in problems} == {"easy", "medium", "hard"}
    for p in problems:
        verdict = family.score(p, family.reference(p))
        assert verdict.passed, (p.task.id, verdict.text)
    days = {p.task.difficulty: p.task.request.days for p in problems}
    assert days == {"easy": 3, "medium": 5, "hard": 7}
    stated = {lv: sum(len(p.task.request.stated()) for p in problems if p.task.difficulty == lv) for lv in days}
    assert stated["easy"] < stated["medium"] < stated["hard"]


def _find(problems, level, *needs):
    return next(p for p in problems if p.task.difficulty == level and all(n in p.task.request.stated() for n in needs))


def _broken(problem, change):
    days = copy.deepcopy(problem.hidden["days"])
    change(days, problem.task)
    return json.dumps({"days": days})


def _other_city_restaurant(days, task):
    days[1]["lunch"] = next(r.name for r in task.world.restaurants if r.city == task.world.cities[-1])


def _repeat_meal(days, task):
    meals = [(i, m) for i, d in enumerate(days) for m in ("breakfast", "lunch", "dinner") if d[m]]
    (i, m), (j, n) = meals[0], meals[1]
    days[j][n] = days[i][m]


def _short_stay(days, task):
    one = next((h for h in task.world.hotels if h.city == days[0]["city"] and h.minimum_nights == 3), None)
    days[0]["hotel"] = one.name if one else days[0]["hotel"]


BREAKS = {
    "complete": lambda days, task: days.pop(),
    "exists": _other_city_restaurant,
    "route": lambda days, task: days[-1].update(travel=None, city=days[-2]["city"]),
    "transport_conflict": lambda days, task: (days[0].update(travel={**days[0]["travel"], "mode": "self-driving"}),
                                              days[-1].update(travel={**days[-1]["travel"], "mode": "flight",
                                                                      "flight": "F0000"})),
    "distinct_restaurants": _repeat_meal,
    "distinct_attractions": lambda days, task: days[1]["attractions"].append(days[1]["attractions"][0]),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_commonsense_constraint_refuses_its_own_break(plans, name):
    family, problems = plans
    problem = next(p for p in problems if p.task.difficulty == "medium"
                   and p.hidden["days"][0]["travel"]["mode"] == "flight" and p.hidden["days"][1]["attractions"])
    _, verdicts = check_plan(problem.task, _broken(problem, BREAKS[name]), list(COMMONSENSE))
    assert verdicts[name], name
    assert family.score(problem, _broken(problem, BREAKS[name])).passed is False


def test_minimum_nights_and_the_hard_constraints(plans):
    family, problems = plans
    p = _find(problems, "hard", "room_type", "house_rule")
    hotel = next(h for h in p.task.world.hotels if h.city == p.task.request.destinations[0]
                 and h.room_type != p.task.request.room_type)
    text = _broken(p, lambda days, task: days[0].update(hotel=hotel.name))
    _, verdicts = check_plan(p.task, text, list(HARD)[:2])
    assert f"{hotel.name} is a {hotel.room_type}" in verdicts["room_type"]
    p = _find(problems, "hard", "cuisines")
    _, verdicts = check_plan(p.task, _broken(p, lambda days, task: [d.update(breakfast=None, lunch=None, dinner=None)
                                                                     for d in days]), ["cuisines", "budget"])
    assert verdicts["cuisines"].startswith("no meal of") and verdicts["budget"] is None
    p = _find(problems, "easy")
    poor = replace(p.task, request=replace(p.task.request, budget=10))
    assert "over the budget of $10" in check_plan(poor, family.reference(p), ["budget"])[1]["budget"]
    stays = [p for p in problems if any(h.minimum_nights == 3 and h.city == p.hidden["days"][0]["city"]
                                        for h in p.task.world.hotels) and p.task.request.days == 3]
    _, verdicts = check_plan(stays[0].task, _broken(stays[0], _short_stay), ["minimum_nights"])
    assert "3 nights or more" in verdicts["minimum_nights"]


def test_a_reply_that_is_not_a_plan_gets_a_parse_message_and_the_measures_count_it(plans):
    family, problems = plans
    p = problems[0]
    seen = family.sources()["constraints"].evaluate(p.task, '{"days": [{"day": "one"}]}')
    assert not seen.passed and '"day" must be a number' in seen.text
    scored = [family.score(p, family.reference(p)).details, family.score(p, "not json").details]
    measures = plan_measures(scored)
    assert measures["delivery"] == 0.5 and measures["final"] == 0.5 and measures["commonsense_macro"] == 0.5
    assert measures["fails exists"] == 1


def test_a_loop_runs_on_plans_and_asks_for_the_schema(tmp_path, plans):
    family, problems = plans
    reference = family.reference(problems[0])
    model = Counting(lambda messages: reference)
    report, calls, outcomes, steps = solve(tmp_path, PolicyConfig("single"), model, tasks=problems[:1],
                                           family=family)
    assert outcomes[problems[0].task.id].passed_hidden
    assert model.requests[0][1]["json_schema"]["required"] == ["days"]
    with RunStore(tmp_path / "run") as store:  # analyze caches its hidden verdicts in the record
        [row] = analyze(store, family, problems[:1])
    assert row["family_measures"]["final"] == 1.0 and row["family_measures"]["delivery"] == 1.0
