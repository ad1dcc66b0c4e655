"""The plan family's seeded travel worlds and requests (after TravelPlanner's sole-planning setting: the
reference information sits in the prompt, no tools). Each request gets a world of its own: an origin, the
cities to visit and one city it does not need, with hotels, restaurants, attractions, flights and distances.
The generator first builds a plan that works, then states the request's constraints so that plan meets them:
every request is satisfiable by construction, and its reference plan is kept for the tests."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

VERSION = 1
SEED = 7
PER_LEVEL = 60
LEVELS = {"easy": (1, 3), "medium": (2, 5), "hard": (3, 7)}  # destinations, days
HOTELS, RESTAURANTS, ATTRACTIONS = 4, 6, 5
CITIES = ("Ashford", "Brookville", "Cedar Bay", "Dunmore", "Elmira", "Fairhaven", "Glenrock", "Harbor City",
          "Ironwood", "Juniper", "Kingsport", "Lakeside", "Millbrook", "Northgate", "Oakridge", "Pinecrest")
ROOM_TYPES = ("entire home", "private room", "shared room")
RULES = ("no smoking", "no parties", "no pets", "no children under 10", "no visitors")
# what a traveller says, and the house rule a hotel must not have for them
NEEDS = {"we travel with a pet": "no pets", "we bring a child under 10": "no children under 10",
         "we want to host a small party": "no parties", "friends will visit us": "no visitors",
         "one of us smokes": "no smoking"}
CUISINES = ("Chinese", "Italian", "Indian", "Mexican", "French", "Japanese", "Thai", "American", "Mediterranean",
            "BBQ")
HOTEL_WORDS = ("Grand Hotel", "Riverside Lodge", "Garden Inn", "City Suites", "Harbor View", "Old Town B&B",
               "Hilltop Cabins", "Station Hostel")
RESTAURANT_WORDS = ("Copper Pot", "Blue Door", "Golden Spoon", "Olive Tree", "Red Lantern", "Salt & Pepper",
                    "Corner Kitchen", "Little Bistro", "Sunset Grill", "Green Leaf")
ATTRACTION_WORDS = ("Museum of Art", "Botanical Garden", "Old Fort", "Science Center", "Lighthouse",
                    "Central Park", "History Museum", "Aquarium", "Cathedral", "Market Hall")
TAXI_RATE, DRIVE_RATE = 1.0, 0.25          # dollars per km, per taxi (4 seats) and per car (5 seats)
TAXI_SEATS, CAR_SEATS = 4, 5


@dataclass(frozen=True)
class Hotel:
    name: str
    city: str
    price: int          # a night, per room
    room_type: str
    occupancy: int      # people per room
    rules: tuple[str, ...]
    minimum_nights: int


@dataclass(frozen=True)
class Restaurant:
    name: str
    city: str
    cuisines: tuple[str, ...]
    cost: int           # per person


@dataclass(frozen=True)
class Flight:
    number: str
    origin: str
    destination: str
    departs: str
    arrives: str
    price: int          # per person


@dataclass(frozen=True)
class World:
    cities: tuple[str, ...]
    hotels: tuple[Hotel, ...]
    restaurants: tuple[Restaurant, ...]
    attractions: dict[str, tuple[str, ...]]   # by city
    flights: tuple[Flight, ...]
    distances: dict[tuple[str, str], int]     # km, both orders

    def distance(self, a: str, b: str) -> int:
        return self.distances[(a, b)]


@dataclass(frozen=True)
class Request:
    origin: str
    destinations: tuple[str, ...]   # in the order to visit
    days: int
    people: int
    budget: int
    room_type: str | None = None
    need: str | None = None         # a NEEDS key
    cuisines: tuple[str, ...] = ()
    transport: str | None = None    # "no flights" or "no self-driving"

    def stated(self) -> list[str]:
        """The hard constraints this request states, by checker name."""
        return ["budget"] + [name for name, value in (("room_type", self.room_type), ("house_rule", self.need),
                                                        ("cuisines", self.cuisines), ("transport", self.transport))
                             if value]


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _world(rng: random.Random, cities: list[str]) -> World:
    places = {c: (rng.uniform(0, 900), rng.uniform(0, 900)) for c in cities}
    distances = {}
    for a in cities:
        for b in cities:
            if a != b:
                (x1, y1), (x2, y2) = places[a], places[b]
                distances[(a, b)] = max(40, round(math.hypot(x1 - x2, y1 - y2)))
    hotels, restaurants, attractions = [], [], {}
    for city in cities:
        for word in rng.sample(HOTEL_WORDS, HOTELS):
            room = rng.choice(ROOM_TYPES)
            occupancy = {"entire home": rng.randint(2, 6), "private room": 2, "shared room": 1}[room]
            price = {"entire home": rng.randint(150, 420), "private room": rng.randint(70, 180),
                     "shared room": rng.randint(30, 80)}[room]
            rules = tuple(r for r in RULES if rng.random() < 0.35)
            hotels.append(Hotel(f"{city} {word}", city, price, room, occupancy, rules, rng.choice((1, 1, 2, 3))))
        for word in rng.sample(RESTAURANT_WORDS, RESTAURANTS):
            restaurants.append(Restaurant(f"{word} {city}", city, tuple(sorted(rng.sample(CUISINES, 2))),
                                          rng.randint(12, 70)))
        attractions[city] = tuple(f"{city} {w}" for w in rng.sample(ATTRACTION_WORDS, ATTRACTIONS))
    flights = []
    for a in cities:
        for b in cities:
            if a != b and rng.random() < 0.6:
                hour = rng.randint(6, 20)
                length = max(1, round(distances[(a, b)] / 600))
                flights.append(Flight(f"F{rng.randint(1000, 9999)}", a, b, f"{hour:02d}:{rng.choice(('00', '30'))}",
                                      f"{min(23, hour + length):02d}:{rng.choice(('15', '45'))}",
                                      round(40 + distances[(a, b)] * rng.uniform(0.15, 0.35))))
    return World(tuple(cities), tuple(hotels), tuple(restaurants), attractions, tuple(flights), distances)


def _legs(request_days: int, destinations: list[str], origin: str) -> list[tuple[int, str, str]]:
    """(day, from, to) of each move: the stays split the nights as evenly as they can."""
    nights = request_days - 1
    stays = [nights // len(destinations) + (i < nights % len(destinations)) for i in range(len(destinations))]
    legs, day, here = [], 1, origin
    for city, stay in zip(destinations, stays):
        legs.append((day, here, city))
        day, here = day + stay, city
    legs.append((request_days, here, origin))
    return legs


def generate(level: str, index: int) -> tuple[World, Request, dict]:
    """The world, the request and a reference plan (the plan's JSON form, see _plan) for one task."""
    count, days = LEVELS[level]
    rng = random.Random(f"{SEED}/{VERSION}/{level}/{index}")
    while True:
        cities = rng.sample(CITIES, count + 2)   # origin, destinations, one city the trip does not need
        world = _world(rng, cities)
        people = {"easy": rng.randint(1, 2), "medium": rng.randint(2, 4), "hard": rng.randint(2, 6)}[level]
        found = _reference(rng, world, cities[0], cities[1:count + 1], days, people, level)
        if found:
            return (world, *found)


def _reference(rng, world: World, origin: str, destinations: list[str], days: int, people: int, level: str):
    """A plan for this world and the request it satisfies, or None when this world cannot host one."""
    legs = _legs(days, destinations, origin)
    driving = rng.random() < 0.3
    moves = {}
    for day, a, b in legs:
        flights = [f for f in world.flights if f.origin == a and f.destination == b]
        if driving:
            moves[day] = {"mode": "self-driving", "from": a, "to": b}
        elif flights:
            moves[day] = {"mode": "flight", "from": a, "to": b, "flight": min(flights, key=lambda f: f.price).number}
        else:
            moves[day] = {"mode": "taxi", "from": a, "to": b}
    room_type = rng.choice(ROOM_TYPES)
    need = rng.choice(sorted(NEEDS))
    stays = {}
    for (day, _, city), (next_day, _, _) in zip(legs, legs[1:]):
        fits = [h for h in world.hotels if h.city == city and h.room_type == room_type
                and NEEDS[need] not in h.rules and h.minimum_nights <= next_day - day]
        if not fits:
            return None
        stays[city] = min(fits, key=lambda h: h.price * ceil_div(people, h.occupancy))
    plan, used, city = [], set(), origin
    for day in range(1, days + 1):
        move = moves.get(day)
        start, city = city, (move["to"] if move else city)
        entry = {"day": day, "city": city, "travel": move, "breakfast": None, "lunch": None, "dinner": None,
                 "attractions": [], "hotel": stays[city].name if day < days else None}
        meals = ["breakfast"] if move and day == days else ["dinner"] if move else ["lunch", "dinner"]
        if move and day not in (1, days):
            meals = ["breakfast", "dinner"]
        for meal in meals:
            where = start if meal == "breakfast" and move else city
            free = [r for r in world.restaurants if r.city == where and r.name not in used]
            if not free or where == origin:
                continue
            chosen = rng.choice(free)
            used.add(chosen.name)
            entry[meal] = chosen.name
        if city != origin and not (move and day == days):
            sights = [a for a in world.attractions[city] if a not in used]
            entry["attractions"] = sights[:1] if move else sights[:2]
            used.update(entry["attractions"])
        plan.append(entry)
    cost = plan_cost(world, plan, people)
    slack = {"easy": 1.35, "medium": 1.2, "hard": 1.1}[level]
    eaten = sorted({c for e in plan for m in ("breakfast", "lunch", "dinner") if e[m]
                    for r in world.restaurants if r.name == e[m] for c in r.cuisines})
    if not eaten:
        return None
    options = ["room_type", "house_rule", "cuisines", "transport"]
    stated = set(rng.sample(options, {"easy": 1, "medium": 2, "hard": rng.choice((3, 4))}[level]))
    request = Request(origin, tuple(destinations), days, people, int(math.ceil(cost * slack / 50.0) * 50),
                      room_type if "room_type" in stated else None, need if "house_rule" in stated else None,
                      tuple(rng.sample(eaten, min(len(eaten), 2 if level == "hard" else 1)))
                      if "cuisines" in stated else (),
                      ("no flights" if driving or not any(m["mode"] == "flight" for m in moves.values())
                       else "no self-driving") if "transport" in stated else None)
    return request, {"days": plan}


def plan_cost(world: World, days: list[dict], people: int) -> int:
    """What a plan costs the party: flights per person, a taxi per 4 and a car per 5 by distance, hotel rooms
    for everyone each night, meals per person. A KeyError names an item the world does not have."""
    hotels = {h.name: h for h in world.hotels}
    meals = {r.name: r for r in world.restaurants}
    flights = {f.number: f for f in world.flights}
    cost = 0
    for day in days:
        move = day.get("travel")
        if move:
            if move["mode"] == "flight":
                cost += flights[move["flight"]].price * people
            elif move["mode"] == "taxi":
                cost += ceil_div(people, TAXI_SEATS) * round(world.distance(move["from"], move["to"]) * TAXI_RATE)
            else:
                cost += ceil_div(people, CAR_SEATS) * round(world.distance(move["from"], move["to"]) * DRIVE_RATE)
        if day.get("hotel"):
            hotel = hotels[day["hotel"]]
            cost += hotel.price * ceil_div(people, hotel.occupancy)
        for meal in ("breakfast", "lunch", "dinner"):
            if day.get(meal):
                cost += meals[day[meal]].cost * people
    return cost
