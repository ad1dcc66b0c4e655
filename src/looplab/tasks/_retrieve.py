"""Search queries reformulated from retrieval feedback (after GenCRF and NExT-Search). A shopper states an
intent in their own words; the model rewrites it into keyword queries for a product catalogue searched by BM25
(`bm25s`). One query is searched as it is; several, one per line, are fused by reciprocal rank fusion (GenCRF's
several reformulations). Visible feedback: the top 10 results as the shopper sees them (titles and a line each)
with the shopper's clicks on those that meet their intent (NExT-Search's fine-grained user feedback), on the
visible catalogue. Hidden score: nDCG@10 on a second catalogue with the same schema and other items, so a
query that names the items it saw does not carry over; recall@10, MRR, the first query alone and the
shopper's own words (the floor) in the details. The candidate is text and is never executed."""
from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass, field

from .._text import fenced_blocks
from ..feedback import Feedback, FeedbackSource
from . import _retrieve_data as d
from ._family import Problem, TaskError, Voice

VERSION = 1
SEED = 11
ITEMS = 5000            # per catalogue
PER_LEVEL = 60
LEVELS = {"easy": 1, "medium": 2, "hard": 3}   # attributes an intent asks for, beside the category
MIN_RELEVANT = 3        # fully relevant items an intent has in each catalogue
K = 10
RRF_K = 60              # reciprocal rank fusion's constant (Cormack et al.)
DEPTH = 100             # results of each query that fusion reads
MAX_QUERIES = 5
MAX_QUERY_CHARS = 200
PASS_NDCG = 0.5         # a reformulation "passes" at this nDCG@10

VOICE = Voice(
    system=("You turn a shopper's request into keyword search queries for a product catalogue searched by "
            "BM25, which matches the words of product titles and descriptions. Use the words a product listing "
            "would use. Reply with one to three queries, one per line, in one ```text code block."),
    noun="queries", checked="I searched with your queries", block=", one per line, in one ```text code block",
    thinker="You are an expert at product search. Answer briefly, in plain sentences.")


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    text: str
    category: str
    attributes: frozenset[str]   # "feature:waterproof", "color:navy", "material:steel"


@dataclass(frozen=True)
class Intent:
    category: str
    attributes: tuple[str, ...]

    def grade(self, item: Item) -> int:
        """2: the category and every attribute; 1: the category and at least half of them; else 0."""
        if item.category != self.category:
            return 0
        held = sum(a in item.attributes for a in self.attributes)
        return 2 if held == len(self.attributes) else 1 if held >= len(self.attributes) // 2 else 0


@dataclass(frozen=True)
class RetrieveTask:
    id: str
    query: str          # the shopper's own words
    intent: Intent = field(repr=False)
    difficulty: str

    @property
    def category(self) -> str:
        return self.difficulty


class Catalogue:
    """Items and their BM25 index."""

    def __init__(self, items: list[Item]):
        import bm25s

        self.items = items
        self._grades: dict[Intent, list[int]] = {}
        self._bm25s = bm25s
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize([f"{i.title} {i.text}" for i in items], stopwords="en",
                                        show_progress=False), show_progress=False)

    def search(self, query: str, k: int = DEPTH) -> list[int]:
        """Item ids for one query, best first; items that match no word of it are left out."""
        tokens = self._bm25s.tokenize([query[:MAX_QUERY_CHARS]], stopwords="en", show_progress=False,
                                      return_ids=False)
        if not tokens[0]:
            return []
        found, scores = self.index.retrieve(tokens, k=min(k, len(self.items)), show_progress=False)
        return [int(i) for i, s in zip(found[0], scores[0]) if s > 0]

    def grades(self, intent: Intent) -> list[int]:
        """Each item's grade for `intent`, computed once: every score of a task reads them."""
        if intent not in self._grades:
            self._grades[intent] = [intent.grade(it) for it in self.items]
        return self._grades[intent]

    def rank(self, queries: list[str]) -> list[int]:
        """One query's ranking, or several fused by reciprocal rank fusion."""
        if len(queries) == 1:
            return self.search(queries[0])[:DEPTH]
        fused: dict[int, float] = {}
        for q in queries:
            for rank, item in enumerate(self.search(q), 1):
                fused[item] = fused.get(item, 0.0) + 1.0 / (RRF_K + rank)
        return sorted(fused, key=lambda i: (-fused[i], i))[:DEPTH]


def _words(rng: random.Random, table: dict, value: str) -> str:
    return rng.choice(table[value][0])


def make_catalogue(instance: str, count: int = ITEMS) -> list[Item]:
    """`count` seeded items; `instance` ("visible" or "hidden") picks other items of the same schema."""
    rng = random.Random(f"{SEED}/{VERSION}/{instance}")
    items = []
    for i in range(count):
        category = rng.choice(sorted(d.CATEGORIES))
        features = rng.sample(sorted(d.FEATURES), rng.randint(1, 3))
        color, material = rng.choice(sorted(d.COLORS)), rng.choice(sorted(d.MATERIALS))
        feature_words = [_words(rng, d.FEATURES, f) for f in features]
        words = {"category": _words(rng, d.CATEGORIES, category), "features": " and ".join(feature_words),
                 "color": _words(rng, d.COLORS, color), "material": _words(rng, d.MATERIALS, material)}
        brand, model = rng.choice(d.BRANDS), f"{rng.choice('ABCDEFGHKMPRSTVXZ')}{rng.randint(10, 999)}"
        title = f"{brand} {model} {feature_words[0]} {words['category']}"
        text = rng.choice(d.TEMPLATES).format(**words)
        text = (text[0].upper() + text[1:] + " " + rng.choice(d.FILLER))
        attributes = frozenset([f"feature:{f}" for f in features] + [f"color:{color}", f"material:{material}"])
        items.append(Item(i, title, text, category, attributes))
    return items


@functools.cache
def catalogue(instance: str) -> Catalogue:
    return Catalogue(make_catalogue(instance))


def _intent(rng: random.Random, level: str) -> Intent:
    category = rng.choice(sorted(d.CATEGORIES))
    kinds = rng.sample(["feature", "feature", "color", "material"], LEVELS[level])
    attributes, features = [], rng.sample(sorted(d.FEATURES), 2)
    for kind in kinds:
        if kind == "feature":
            attributes.append(f"feature:{features.pop()}")
        elif kind == "color":
            attributes.append(f"color:{rng.choice(sorted(d.COLORS))}")
        else:
            attributes.append(f"material:{rng.choice(sorted(d.MATERIALS))}")
    return Intent(category, tuple(attributes))


def _shopper_words(rng: random.Random, intent: Intent) -> str:
    tables = {"feature": d.FEATURES, "color": d.COLORS, "material": d.MATERIALS}
    parts = [rng.choice(tables[a.split(":")[0]][a.split(":")[1]][1]) for a in intent.attributes]
    opening = rng.choice(("I'm looking for", "I need", "Can you find me", "I want"))
    return f"{opening} {rng.choice(d.CATEGORIES[intent.category][1])}, {', '.join(parts)}."


def load_retrieve(levels: list[str] | None = None, count: int = PER_LEVEL) -> list[Problem]:
    """`count` intents of each level (taken in turn), each with at least MIN_RELEVANT fully relevant items in
    both catalogues."""
    levels = levels or list(LEVELS)
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        raise TaskError(f"the retrieve family has no level {unknown[0]!r}; choose from {', '.join(LEVELS)}")
    both = [catalogue("visible").items, catalogue("hidden").items]
    problems, seen = [], set()
    for i in range(count):
        for level in levels:
            rng = random.Random(f"{SEED}/{VERSION}/{level}/{i}")
            while True:
                intent = _intent(rng, level)
                if intent not in seen and all(sum(intent.grade(it) == 2 for it in items) >= MIN_RELEVANT
                                              for items in both):
                    break
            seen.add(intent)
            problems.append(Problem(RetrieveTask(f"{level}/{i:02d}", _shopper_words(rng, intent), intent, level),
                                    intent))
    return problems


def extract_queries(reply: str) -> str:
    """The queries in a reply, one per line: the lines of its last fenced block, else its non-empty lines
    (a leading "Query:", a list number or quotes dropped); at most MAX_QUERIES, each cut to MAX_QUERY_CHARS.

    >>> extract_queries("Here:\\n```text\\n1. waterproof jacket\\n\\"navy parka\\"\\n```")
    'waterproof jacket\\nnavy parka'
    >>> extract_queries("Query: wireless headphones")
    'wireless headphones'
    """
    blocks = fenced_blocks(reply)
    lines = blocks[-1][1].splitlines() if blocks else reply.splitlines()
    queries = []
    for line in lines:
        line = re.sub(r"^\s*(?:query\s*\d*\s*:|[-*•]|\d+[.)])\s*", "", line, flags=re.I).strip().strip("\"'`")
        if line:
            queries.append(line[:MAX_QUERY_CHARS])
    return "\n".join(queries[:MAX_QUERIES])


def ndcg(ranking: list[int], catalog: Catalogue, intent: Intent, k: int = K) -> float:
    """nDCG@k with graded gains (2^grade - 1), against the best ranking the catalogue allows."""
    grades = catalog.grades(intent)
    dcg = sum((2 ** grades[i] - 1) / math.log2(r + 2) for r, i in enumerate(ranking[:k]))
    ideal = sorted((2 ** g - 1 for g in grades), reverse=True)[:k]
    best = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / best if best else 0.0


def measures(catalog: Catalogue, queries: list[str], intent: Intent) -> dict:
    ranking = catalog.rank(queries) if queries else []
    grades = catalog.grades(intent)
    relevant = [i for i, g in enumerate(grades) if g == 2]
    top = ranking[:K]
    first = next((r for r, i in enumerate(ranking, 1) if grades[i] == 2), None)
    return {"ndcg": round(ndcg(ranking, catalog, intent), 4),
            "recall": round(sum(i in set(relevant) for i in top) / min(K, len(relevant)), 4),
            "mrr": round(1 / first, 4) if first else 0.0}


class ShopperClicks(FeedbackSource):
    """The results on the visible catalogue as the shopper sees them, with their clicks: on what they want
    exactly, and on what fits part of it. Scored by nDCG@10 of those clicks."""

    def evaluate(self, task: RetrieveTask, candidate: str) -> Feedback:
        queries = candidate.splitlines()
        if not queries:
            return Feedback(0.0, False, "I found no query in your reply. Give one to three queries, one per line, "
                                        "in one ```text code block.")
        shown = catalogue("visible")
        ranking = shown.rank(queries)
        if not ranking:
            return Feedback(0.0, False, "Your queries found nothing: no product listing uses those words.")
        lines, clicks = [], 0
        for rank, i in enumerate(ranking[:K], 1):
            item, grade = shown.items[i], task.intent.grade(shown.items[i])
            mark = {2: "  [clicked: exactly what I want]", 1: "  [clicked: close, but not quite]", 0: ""}[grade]
            clicks += grade > 0
            lines.append(f"{rank}. {item.title}: {item.text}{mark}")
        score = ndcg(ranking, shown, task.intent)
        return Feedback(score, score >= PASS_NDCG, f"The top {len(lines)} results (I clicked {clicks}):\n"
                        + "\n".join(lines), {"ndcg": round(score, 4), "clicks": clicks})


class RetrieveFamily:
    """Shoppers' intents at three levels (a category and 1, 2 or 3 attributes) over a catalogue of 5,000
    products, scored on a second catalogue."""

    name = "retrieve"
    voice = VOICE

    def describe(self, task: RetrieveTask) -> str:
        return f"A shopper writes: \"{task.query}\"\nWrite search queries that find the products they mean."

    def extract(self, task: RetrieveTask, reply: str) -> str:
        return extract_queries(reply)

    def show(self, candidate: str) -> str:
        return f"```text\n{candidate}\n```" if candidate else "(no queries given)"

    def sources(self) -> dict[str, FeedbackSource]:
        return {"clicks": ShopperClicks()}

    def score(self, problem: Problem, candidate: str) -> Feedback:
        task: RetrieveTask = problem.task
        hidden = catalogue("hidden")
        queries = candidate.splitlines()
        got = measures(hidden, queries, task.intent)
        details = {**got, "queries": len(queries),
                   "ndcg_first": measures(hidden, queries[:1], task.intent)["ndcg"] if queries else 0.0,
                   "ndcg_raw": measures(hidden, [task.query], task.intent)["ndcg"]}
        passed = got["ndcg"] >= PASS_NDCG
        return Feedback(got["ndcg"], passed, f"nDCG@10 on the second catalogue is {got['ndcg']:.2f} (the "
                        f"shopper's own words: {details['ndcg_raw']:.2f}).", details)

    def reference(self, problem: Problem) -> str | None:
        """The intent in the catalogue's own words: what a simulated user knows they want."""
        intent: Intent = problem.hidden
        tables = {"feature": d.FEATURES, "color": d.COLORS, "material": d.MATERIALS}
        words = [tables[a.split(":")[0]][a.split(":")[1]][0][0] for a in intent.attributes]
        return " ".join(words + [d.CATEGORIES[intent.category][0][0]])

    def measures(self, details: list[dict]) -> dict:
        return retrieve_measures(details)

    def settings(self) -> dict:
        return {"retrieve_catalogue": {"version": VERSION, "seed": SEED, "items": ITEMS, "per_level": PER_LEVEL}}


def retrieve_measures(details: list[dict]) -> dict:
    """Mean nDCG@10 of the answers, of their first query alone, and of the shoppers' own words, with recall@10
    and MRR, over scored answers (one hidden `details` each).

    >>> retrieve_measures([{"ndcg": 0.5, "ndcg_first": 0.4, "ndcg_raw": 0.1, "recall": 0.3, "mrr": 1.0}])["ndcg"]
    0.5
    """
    if not details:
        return {}
    keys = ("ndcg", "ndcg_first", "ndcg_raw", "recall", "mrr")
    return {"answers": len(details), **{k: round(sum(x.get(k, 0.0) for x in details) / len(details), 4)
                                        for k in keys}}
