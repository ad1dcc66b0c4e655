"""Travel plans checked against constraints (after TravelPlanner; Xie et al., 2024). The model reads a request
and the reference data (hotels, restaurants, attractions, flights and distances of the cities involved) and
writes a day-by-day plan as JSON. A checker in code holds one function per constraint, each with its own
message. Visible feedback: the checker's verdict on the constraints the request states (its budget, room type,
house rule, cuisines, transport), which a user holding the same data could check. Hidden score: every
constraint holds, stated and commonsense (TravelPlanner's final pass rate); the details keep each constraint's
verdict, from which `plan_measures` gives the delivery rate and the micro and macro pass rates."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from .._text import fenced_blocks
from ..feedback import Feedback, FeedbackSource
from . import _plan_world as w
from ._family import Problem, TaskError, Voice

MEALS = ("breakfast", "lunch", "dinner")
MODES = ("flight", "taxi", "self-driving")
MAX_PLAN_CHARS = 20000
PLAN_FORM = """{"days": [{"day": 1, "city": "<where you sleep that night, or end the trip>",
  "travel": {"mode": "flight" | "taxi" | "self-driving", "from": "<city>", "to": "<city>", "flight": "<number, for a flight>"} or null,
  "breakfast": "<restaurant>" or null, "lunch": "<restaurant>" or null, "dinner": "<restaurant>" or null,
  "attractions": ["<attraction>", ...], "hotel": "<hotel you sleep in>" or null (the last day)}, ...]}"""

# Constrains decoding where the backend can: a reply is then always a plan in this shape.
SCHEMA = {"type": "object", "required": ["days"], "properties": {"days": {"type": "array", "items": {
    "type": "object", "required": ["day", "city", "travel", "breakfast", "lunch", "dinner", "attractions", "hotel"],
    "properties": {"day": {"type": "integer"}, "city": {"type": "string"},
                   "travel": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["mode", "from", "to"],
                              "properties": {"mode": {"enum": list(MODES)}, "from": {"type": "string"},
                                             "to": {"type": "string"}, "flight": {"type": "string"}}}]},
                   **{m: {"type": ["string", "null"]} for m in MEALS},
                   "attractions": {"type": "array", "items": {"type": "string"}},
                   "hotel": {"type": ["string", "null"]}}}}}}


VOICE = Voice(
    system=("You are a careful travel planner. Write a day-by-day plan that meets every requirement of the "
            "request, using only the hotels, restaurants, attractions and flights in the reference data. "
            "Reply with the plan as JSON in one ```json code block."),
    noun="plan", checked="I checked your plan", block=" as JSON in one ```json code block",
    thinker="You are a careful travel planner. Answer briefly, in plain sentences.", json_schema=SCHEMA)


@dataclass(frozen=True)
class PlanTask:
    id: str
    request: w.Request
    world: w.World = field(repr=False)
    difficulty: str

    @property
    def category(self) -> str:
        return self.difficulty


class PlanError(ValueError):
    """A reply that is not a plan in the documented form."""


def parse_plan(text: str) -> list[dict]:
    """The days of a plan in its JSON form, or a PlanError that says what is wrong with it.

    >>> parse_plan('{"days": [{"day": 1, "city": "A", "travel": null, "hotel": null}]}')[0]["city"]
    'A'
    >>> parse_plan('{"days": [{"day": "one"}]}')
    Traceback (most recent call last):
    looplab.tasks._plan.PlanError: day 1 of the plan: "day" must be a number
    """
    if not text.strip():
        raise PlanError("the reply holds no plan: give it as JSON in one ```json code block")
    if len(text) > MAX_PLAN_CHARS:
        raise PlanError(f"the plan is longer than {MAX_PLAN_CHARS} characters")
    try:
        data = json.loads(text)
    except ValueError as e:
        raise PlanError(f"the plan is not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("days"), list) or not data["days"]:
        raise PlanError('the plan must be a JSON object {"days": [...]} with one entry per day')
    days = []
    for i, day in enumerate(data["days"], 1):
        where = f"day {i} of the plan"
        if not isinstance(day, dict):
            raise PlanError(f"{where} is not a JSON object")
        if not isinstance(day.get("day"), int):
            raise PlanError(f'{where}: "day" must be a number')
        if not isinstance(day.get("city"), str):
            raise PlanError(f'{where}: "city" must name a city')
        move = day.get("travel")
        if move is not None and not (isinstance(move, dict) and move.get("mode") in MODES
                                     and isinstance(move.get("from"), str) and isinstance(move.get("to"), str)):
            raise PlanError(f'{where}: "travel" is null or {{"mode": one of {", ".join(MODES)}, "from", "to"}}')
        if move and move["mode"] == "flight" and not isinstance(move.get("flight"), str):
            raise PlanError(f'{where}: a flight names its number in "flight"')
        for key in (*MEALS, "hotel"):
            if day.get(key) is not None and not isinstance(day[key], str):
                raise PlanError(f'{where}: "{key}" is a name or null')
        sights = day.get("attractions", [])
        if not isinstance(sights, list) or not all(isinstance(s, str) for s in sights):
            raise PlanError(f'{where}: "attractions" is a list of names')
        days.append({"day": day["day"], "city": day["city"], "travel": move, "attractions": sights,
                     **{k: day.get(k) for k in (*MEALS, "hotel")}})
    return days


# ---- the constraints: each (world, request, days) -> None when it holds, else why not ----------------------

def _where_at(days: list[dict], i: int, origin: str) -> set[str]:
    """The cities a day's meals and sights may be in: where it starts and where it ends."""
    start = days[i - 1]["city"] if i else origin
    return {start, days[i]["city"]}


def complete(world, request, days):
    if len(days) != request.days:
        return f"the plan has {len(days)} days; the trip has {request.days}"
    if [d["day"] for d in days] != list(range(1, request.days + 1)):
        return f"the days must be numbered 1 to {request.days} in order"
    missing = [d["day"] for d in days[:-1] if not d["hotel"]]
    if missing:
        return f"no hotel for the night of day {missing[0]}"
    return None


def exists(world, request, days):
    hotels = {h.name: h.city for h in world.hotels}
    restaurants = {r.name: r.city for r in world.restaurants}
    flights = {f.number: f for f in world.flights}
    for i, day in enumerate(days):
        places = _where_at(days, i, request.origin)
        for city in places:
            if city not in world.cities:
                return f"day {day['day']}: {city} is not a city of the reference data"
        if day["hotel"] and hotels.get(day["hotel"]) != day["city"]:
            return f"day {day['day']}: there is no hotel {day['hotel']!r} in {day['city']}"
        for meal in MEALS:
            if day[meal] and restaurants.get(day[meal]) not in places:
                return f"day {day['day']}: there is no restaurant {day[meal]!r} in {' or '.join(sorted(places))}"
        for sight in day["attractions"]:
            if not any(sight in world.attractions.get(c, ()) for c in places):
                return f"day {day['day']}: there is no attraction {sight!r} in {' or '.join(sorted(places))}"
        move = day["travel"]
        if move and move["mode"] == "flight":
            flight = flights.get(move["flight"])
            if flight is None or (flight.origin, flight.destination) != (move["from"], move["to"]):
                return f"day {day['day']}: there is no flight {move['flight']} from {move['from']} to {move['to']}"
    return None


def route(world, request, days):
    here, seen = request.origin, []
    for day in days:
        move = day["travel"]
        if move:
            if move["from"] != here:
                return f"day {day['day']}: the trip leaves from {move['from']}, but you are in {here}"
            if move["to"] != day["city"]:
                return f"day {day['day']}: you travel to {move['to']} but the day ends in {day['city']}"
            here = move["to"]
        elif day["city"] != here:
            return f"day {day['day']}: you are in {here} and reach {day['city']} without travel"
        seen.append(here)
    if here != request.origin:
        return f"the trip ends in {here}, not back home in {request.origin}"
    missing = [c for c in request.destinations if c not in seen]
    if missing:
        return f"the plan never visits {missing[0]}"
    return None


def transport_conflict(world, request, days):
    modes = {d["travel"]["mode"] for d in days if d["travel"]}
    if {"flight", "self-driving"} <= modes:
        return "the plan both flies and drives its own car: the car would be left behind"
    return None


def distinct_restaurants(world, request, days):
    repeated = sorted(r for r, n in Counter(d[m] for d in days for m in MEALS if d[m]).items() if n > 1)
    return f"{repeated[0]} is visited more than once" if repeated else None


def distinct_attractions(world, request, days):
    repeated = sorted(s for s, n in Counter(s for d in days for s in d["attractions"]).items() if n > 1)
    return f"{repeated[0]} is visited more than once" if repeated else None


def minimum_nights(world, request, days):
    hotels = {h.name: h for h in world.hotels}
    nights = [d["hotel"] for d in days if d["hotel"]]
    i = 0
    while i < len(nights):
        j = i
        while j < len(nights) and nights[j] == nights[i]:
            j += 1
        hotel = hotels.get(nights[i])
        if hotel and j - i < hotel.minimum_nights:
            return f"{hotel.name} takes guests for {hotel.minimum_nights} nights or more; the plan stays {j - i}"
        i = j
    return None


def budget(world, request, days):
    try:
        cost = w.plan_cost(world, days, request.people)
    except KeyError as e:
        return f"the plan's cost cannot be known: {e.args[0]} is not in the reference data"
    if cost > request.budget:
        return f"the plan costs ${cost} for {request.people}, over the budget of ${request.budget}"
    return None


def _stays(world, days):
    hotels = {h.name: h for h in world.hotels}
    return [hotels[d["hotel"]] for d in days if d["hotel"] in hotels]


def room_type(world, request, days):
    wrong = [h for h in _stays(world, days) if h.room_type != request.room_type]
    return f"{wrong[0].name} is a {wrong[0].room_type}, not a {request.room_type}" if wrong else None


def house_rule(world, request, days):
    rule = w.NEEDS[request.need]
    wrong = [h for h in _stays(world, days) if rule in h.rules]
    return f"{wrong[0].name} has the rule {rule!r}, and {request.need}" if wrong else None


def cuisines(world, request, days):
    served = {c for d in days for m in MEALS if d[m] for r in world.restaurants if r.name == d[m]
              for c in r.cuisines if r.city != request.origin}
    missing = [c for c in request.cuisines if c not in served]
    return f"no meal of {missing[0]} cuisine" if missing else None


def transport(world, request, days):
    banned = "flight" if request.transport == "no flights" else "self-driving"
    used = [d["day"] for d in days if d["travel"] and d["travel"]["mode"] == banned]
    return f"day {used[0]} uses {banned}, and the request says {request.transport}" if used else None


COMMONSENSE = {"complete": complete, "exists": exists, "route": route, "transport_conflict": transport_conflict,
               "distinct_restaurants": distinct_restaurants, "distinct_attractions": distinct_attractions,
               "minimum_nights": minimum_nights}
HARD = {"budget": budget, "room_type": room_type, "house_rule": house_rule, "cuisines": cuisines,
        "transport": transport}


def check_plan(task: PlanTask, text: str, names: list[str]) -> tuple[list[dict] | None, dict[str, str | None]]:
    """The plan's days (None when it is not a plan) and each named constraint's verdict: None when it holds,
    else its message. A plan that cannot be read fails every constraint with the parse message."""
    try:
        days = parse_plan(text)
    except PlanError as e:
        return None, {name: str(e) for name in names}
    checks = {**COMMONSENSE, **HARD}
    return days, {name: checks[name](task.world, task.request, days) for name in names}


def extract_plan(reply: str) -> str:
    """The plan's JSON in a reply: the last ```json block, else the last block, else the outermost braces.

    >>> extract_plan('Here:\\n```json\\n{"days": []}\\n```'), extract_plan('so {"days": [1]} ok'), extract_plan("no")
    ('{"days": []}', '{"days": [1]}', '')
    """
    blocks = fenced_blocks(reply)
    tagged = [code for tag, code in blocks if tag == "json"]
    if tagged or blocks:
        return (tagged or [code for _, code in blocks])[-1].strip()
    match = re.search(r"\{.*\}", reply, re.S)
    return match.group(0) if match else ""


class StatedConstraints(FeedbackSource):
    """The request's own constraints, checked as its writer could: which fail, and why."""

    def evaluate(self, task: PlanTask, candidate: str) -> Feedback:
        stated = task.request.stated()
        days, verdicts = check_plan(task, candidate, stated)
        if days is None:
            return Feedback(0.0, False, f"I could not read your plan: {verdicts[stated[0]]}.",
                            {"delivered": False})
        failed = {n: m for n, m in verdicts.items() if m}
        held = len(stated) - len(failed)
        if not failed:
            return Feedback(1.0, True, f"Your plan meets all {len(stated)} requirements of the request.",
                            {"delivered": True, "failed": []})
        lines = "\n".join(f"- {n.replace('_', ' ')}: {m}" for n, m in failed.items())
        return Feedback(held / len(stated), False, f"Your plan meets {held} of {len(stated)} requirements of "
                        f"the request. These fail:\n{lines}", {"delivered": True, "failed": sorted(failed)})


class PlanFamily:
    """Seeded travel-planning requests at three levels (easy: 1 city and 3 days; medium: 2 and 5; hard: 3 and
    7, with more and tighter constraints)."""

    name = "plan"
    voice = VOICE

    def describe(self, task: PlanTask) -> str:
        return describe_request(task.request, task.world)

    def extract(self, task: PlanTask, reply: str) -> str:
        return extract_plan(reply)

    def show(self, candidate: str) -> str:
        return f"```json\n{candidate}\n```" if candidate else "(no plan given)"

    def sources(self) -> dict[str, FeedbackSource]:
        return {"constraints": StatedConstraints()}

    def score(self, problem: Problem, candidate: str) -> Feedback:
        task: PlanTask = problem.task
        names = [*COMMONSENSE, *task.request.stated()]
        days, verdicts = check_plan(task, candidate, names)
        commonsense = {n: verdicts[n] is None for n in COMMONSENSE}
        hard = {n: verdicts[n] is None for n in task.request.stated()}
        failed = {n: m for n, m in verdicts.items() if m}
        passed = days is not None and not failed
        details = {"delivered": days is not None, "commonsense": commonsense, "hard": hard,
                   "failed": {n: m for n, m in failed.items()} if days is not None else {}}
        if days is None:
            text = f"No plan could be read: {next(iter(verdicts.values()))}."
        elif passed:
            text = f"The plan meets all {len(names)} constraints."
        else:
            text = f"The plan fails {len(failed)} of {len(names)} constraints: {', '.join(failed)}."
        return Feedback((len(names) - len(failed)) / len(names), passed, text, details)

    def reference(self, problem: Problem) -> str | None:
        return json.dumps(problem.hidden)

    def measures(self, details: list[dict]) -> dict:
        return plan_measures(details)

    def settings(self) -> dict:
        return {"plan_world": {"version": w.VERSION, "seed": w.SEED, "per_level": w.PER_LEVEL}}


def describe_request(request: w.Request, world: w.World) -> str:
    """The request in a traveller's words, then the reference data of every city involved."""
    stops = ", then ".join(request.destinations)
    wants = [f"My budget is ${request.budget} for everything (travel, hotels and meals for all of us)."]
    if request.room_type:
        article = "an" if request.room_type[0] in "aeiou" else "a"
        wants.append(f"We want to stay in {article} {request.room_type} every night.")
    if request.need:
        wants.append(f"Note that {request.need}, so the hotels must allow it.")
    if request.cuisines:
        wants.append(f"We want to eat {' and '.join(request.cuisines)} food at least once (away from home).")
    if request.transport:
        wants.append(f"Please, {request.transport}.")
    lines = [f"Plan a {request.days}-day trip for {request.people} {'person' if request.people == 1 else 'people'}"
             f" from {request.origin} to {stops}, and back to {request.origin} on day {request.days}. "
             + " ".join(wants), "",
             f"Rules: a flight costs its price per person; a taxi (up to {w.TAXI_SEATS} people) costs "
             f"${w.TAXI_RATE:g} per km and self-driving (a car for up to {w.CAR_SEATS}) ${w.DRIVE_RATE:g} per km; "
             "a hotel room sleeps its occupancy, and the party takes as many rooms as it needs each night; a "
             "meal costs its price per person. Do not both fly and drive your own car. Visit no restaurant or "
             "attraction twice. Stay at least a hotel's minimum nights.", "", "Reference data:"]
    for city in world.cities:
        lines.append(f"## {city}")
        for h in (h for h in world.hotels if h.city == city):
            rules = ", ".join(h.rules) or "no house rules"
            lines.append(f"hotel: {h.name} | {h.room_type}, sleeps {h.occupancy} | ${h.price} a night | "
                         f"{rules} | minimum {h.minimum_nights} night{'s' if h.minimum_nights > 1 else ''}")
        for r in (r for r in world.restaurants if r.city == city):
            lines.append(f"restaurant: {r.name} | {', '.join(r.cuisines)} | ${r.cost} per person")
        lines.append(f"attractions: {'; '.join(world.attractions[city])}")
    lines.append("## Flights (every day)")
    lines += [f"{f.number}: {f.origin} -> {f.destination}, {f.departs}-{f.arrives}, ${f.price} per person"
              for f in world.flights]
    lines.append("## Distances by road")
    cities = list(world.cities)
    lines += [f"{a} - {b}: {world.distance(a, b)} km" for i, a in enumerate(cities) for b in cities[i + 1:]]
    lines += ["", f"The plan's JSON form:\n{PLAN_FORM}"]
    return "\n".join(lines)


def load_plan(levels: list[str] | None = None, count: int = w.PER_LEVEL) -> list[Problem]:
    """`count` requests of each level, taken in turn (one of each level, then the next of each)."""
    levels = levels or list(w.LEVELS)
    unknown = [lv for lv in levels if lv not in w.LEVELS]
    if unknown:
        raise TaskError(f"the plan family has no level {unknown[0]!r}; choose from {', '.join(w.LEVELS)}")
    problems = []
    for i in range(count):
        for level in levels:
            world, request, plan = w.generate(level, i)
            problems.append(Problem(PlanTask(f"{level}/{i:02d}", request, world, level), plan))
    return problems


def plan_measures(details: list[dict]) -> dict:
    """TravelPlanner's measures over scored plans (one hidden `details` each): the delivery rate, commonsense
    and hard constraint pass rates (micro: of all constraints; macro: of plans meeting all of that kind), the
    final pass rate, and how many plans fail each constraint ("fails NAME").

    >>> plan_measures([{"delivered": True, "commonsense": {"route": True}, "hard": {"budget": False}}])["final"]
    0.0
    """
    n = len(details)
    if not n:
        return {}
    out = {"plans": n, "delivery": sum(d.get("delivered", False) for d in details) / n}
    for kind in ("commonsense", "hard"):
        verdicts = [v for d in details for v in d.get(kind, {}).values()]
        out[f"{kind}_micro"] = sum(verdicts) / len(verdicts) if verdicts else 0.0
        out[f"{kind}_macro"] = sum(bool(d.get(kind)) and all(d[kind].values()) for d in details) / n
    out["final"] = sum(d.get("delivered", False) and all(d.get("commonsense", {}).values())
                       and all(d.get("hard", {}).values()) for d in details) / n
    fails: dict[str, int] = {}
    for d in details:
        for kind in ("commonsense", "hard"):
            for name, ok in d.get(kind, {}).items():
                fails[name] = fails.get(name, 0) + (not ok)
    out.update({f"fails {name}": n for name, n in sorted(fails.items(), key=lambda kv: -kv[1])})
    return out
