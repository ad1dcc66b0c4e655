"""MINE: how much of a text an extracted graph keeps. For each essay the graph is extracted (in one of the
extraction modes); for each of its 15 facts, the 8 concepts nearest the fact by embedding and everything within
two hops of them give a set of triples, and a judge model says whether the fact can be inferred from them. The
score is the share of facts recovered (KGGen's benchmark; published with large hosted models: KGGen 66.07%,
GraphRAG 47.80%, OpenIE 29.84%). Every call is recorded; a re-run resumes where it stopped.

The judge is read by probability, not by its word: a small judge says YES to nearly everything (the embedded
model said YES to all 405 facts it was shown), but how sure it is still separates the facts it should accept.
The record keeps P(YES) for every fact; a fact counts as recovered at P(YES) >= the threshold, which
`judge_agreement` chooses on the tuning half of a hand-labelled set and tests on the other half.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import networkx as nx
import numpy as np

from ..models import Embedder, Meter, Model
from ..runs import RunStore, TaskRecorder
from ._extract import extract
from ._prompts import GrowPrompts

SCHEMA = """
CREATE TABLE IF NOT EXISTS mine_graphs (
    mode TEXT NOT NULL, essay INTEGER NOT NULL, graph TEXT NOT NULL, failures INTEGER NOT NULL,
    truncated INTEGER NOT NULL, PRIMARY KEY (mode, essay));
CREATE TABLE IF NOT EXISTS mine_facts (
    mode TEXT NOT NULL, essay INTEGER NOT NULL, fact INTEGER NOT NULL, text TEXT NOT NULL, triples TEXT NOT NULL,
    p_yes REAL NOT NULL, PRIMARY KEY (mode, essay, fact));
CREATE TABLE IF NOT EXISTS judge_labels (
    half TEXT NOT NULL, pair INTEGER NOT NULL, inferable INTEGER NOT NULL, p_yes REAL NOT NULL,
    PRIMARY KEY (pair));
"""
NEAREST = 8
HOPS = 2
MAX_TRIPLES = 60
JUDGE = ("You check whether a fact follows from a set of relations. Answer YES if the fact can be inferred from "
         "the relations alone, otherwise NO. Answer with one word.")
ANSWERS = ["YES", "NO"]
# P(YES) at or above which the embedded model's judgement counts as YES: chosen by `judge_agreement` on the
# tuning half of the hand-labelled pairs (see docs/grow.md for its agreement on the test half).
DEFAULT_JUDGE_THRESHOLD = 0.832


def load_mine(folder: Path) -> list[tuple[str, list[str]]]:
    """(essay text, its facts) pairs of a MINE folder (essays.json and facts.json, same order)."""
    essays = json.loads((folder / "essays.json").read_text())
    facts = json.loads((folder / "facts.json").read_text())
    return [(e["content"], [f["answer"] for f in fs]) for e, fs in zip(essays, facts)]


def load_judge_labels() -> list[dict]:
    """Hand-labelled fact/triples pairs (from the first MINE essays, as the embedded model extracted them):
    `half` is tune or test, `inferable` 1 when the fact's main claim is stated by a triple or a chain of them."""
    text = resources.files("looplab.grow").joinpath("data/mine_judge_labels.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def subgraph_triples(graph: nx.DiGraph, names: list[str], vectors: np.ndarray, fact_vector: np.ndarray) -> list[str]:
    """The triples among the NEAREST concepts to the fact and everything within HOPS of them."""
    if not names:
        return []
    nearest = [names[i] for i in np.argsort(-(vectors @ fact_vector))[:NEAREST]]
    view = graph.to_undirected(as_view=True)
    keep = set()
    for node in nearest:
        keep |= set(nx.single_source_shortest_path_length(view, node, cutoff=HOPS))
    triples = [f"{u} {d['relation']} {v}" for u, v, d in graph.edges(data=True) if u in keep and v in keep]
    return triples[:MAX_TRIPLES]


def judge_yes(recorder: TaskRecorder, judge: Model, fact: str, triples: list[str]) -> float:
    """The judge's P(YES) that the fact can be inferred from the triples (0 when there are none)."""
    if not triples:
        return 0.0
    return recorder.probabilities([{"role": "system", "content": JUDGE}, {"role": "user", "content": (
        "Relations:\n" + "\n".join(triples) + f"\n\nFact: {fact}\nCan the fact be inferred from the relations? "
        "YES or NO.")}], ANSWERS, model=judge)["YES"]


def run_mine(store: RunStore, essays: list[tuple[str, list[str]]], model: Model, judge: Model, embedder: Embedder,
             mode: str, threshold: float = DEFAULT_JUDGE_THRESHOLD, max_tokens: int = 800,
             prompts: GrowPrompts = GrowPrompts()) -> dict:
    """Extract, retrieve and judge every essay not yet done in this mode; returns the mode's score so far.
    An essay's graph is stored before its facts are judged, so a stop between the two loses no extraction."""
    store.require({"loop": "mine", "model": model.name, "judge": judge.name, "embedder": embedder.name,
                   "prompts": asdict(prompts)})
    store.declare(SCHEMA)
    graphs = {r["essay"]: r for r in store.rows("mine_graphs", {"mode": mode})}
    judged = {r["essay"] for r in store.rows("mine_facts", {"mode": mode})}
    for index, (text, facts) in enumerate(essays):
        if index not in graphs:
            recorder = TaskRecorder(store, mode, f"essay-{index}", model, Meter())
            found = extract(text, lambda messages, limit, schema: recorder.generate(
                messages, temperature=0.0, max_tokens=limit, json_schema=schema), mode, max_tokens, prompts)
            graphs[index] = {"mode": mode, "essay": index, "failures": found.failures, "truncated": found.truncated,
                             "graph": json.dumps(found.graph.as_dict() if found.graph else {"error": found.reason})}
            store.insert("mine_graphs", graphs[index])
        if index in judged:
            continue
        graph = nx.DiGraph()
        for edge in json.loads(graphs[index]["graph"]).get("edges", []):
            graph.add_edge(edge["source"], edge["target"], relation=edge["relation"])
        names = list(graph)
        vectors = embedder.embed(names) if names else np.zeros((0, 0))
        recorder = TaskRecorder(store, mode, f"judge-essay-{index}", judge, Meter())
        rows = []
        for number, (fact, vector) in enumerate(zip(facts, embedder.embed(facts))):
            triples = subgraph_triples(graph, names, vectors, vector)
            rows.append({"mode": mode, "essay": index, "fact": number, "text": fact, "triples": json.dumps(triples),
                         "p_yes": judge_yes(recorder, judge, fact, triples)})
        with store.transaction():
            for row in rows:
                store.insert("mine_facts", row)
    return mine_score(store, mode, threshold)


def mine_score(store: RunStore, mode: str, threshold: float = DEFAULT_JUDGE_THRESHOLD) -> dict:
    """The share of facts whose P(YES) reaches the threshold (any threshold: the record keeps P(YES))."""
    facts = store.rows("mine_facts", {"mode": mode})
    graphs = store.rows("mine_graphs", {"mode": mode})
    edges = [len(json.loads(g["graph"]).get("edges", [])) for g in graphs]
    recovered = sum(f["p_yes"] >= threshold for f in facts)
    return {"mode": mode, "essays": len(graphs), "facts": len(facts), "recovered": recovered,
            "score": round(recovered / len(facts), 4) if facts else None,
            "mean_edges": round(sum(edges) / len(edges), 1) if edges else None,
            "truncated": sum(g["truncated"] for g in graphs), "failures": sum(g["failures"] for g in graphs)}


def judge_agreement(store: RunStore, judge: Model, pairs: list[dict]) -> dict:
    """How well a judge agrees with hand labels: P(YES) for every pair (recorded, resumable), the threshold
    that maximises Cohen's kappa on the tuning half, and agreement and kappa at that threshold on the test
    half, with the area under the ROC curve of each half (how well P(YES) ranks the facts at all)."""
    store.require({"loop": "mine-judge", "judge": judge.name})
    store.declare(SCHEMA)
    done = {r["pair"]: r["p_yes"] for r in store.rows("judge_labels")}
    for number, pair in enumerate(pairs):
        if number not in done:
            recorder = TaskRecorder(store, "judge", f"pair-{number}", judge, Meter())
            done[number] = judge_yes(recorder, judge, pair["text"], pair["triples"])
            store.insert("judge_labels", {"half": pair["half"], "pair": number, "inferable": pair["inferable"],
                                          "p_yes": done[number]})
    halves = {half: [(done[i], p["inferable"]) for i, p in enumerate(pairs) if p["half"] == half]
              for half in ("tune", "test")}
    scores = sorted({p for p, _ in halves["tune"]})
    candidates = [(a + b) / 2 for a, b in zip(scores, scores[1:])] or scores
    threshold = max(candidates, key=lambda t: (_kappa(halves["tune"], t), -t))
    return {"threshold": round(threshold, 4), "pairs": {h: len(v) for h, v in halves.items()},
            **{f"{h}_{name}": value for h, v in halves.items() for name, value in (
                ("auc", _auc(v)), ("agreement", _agreement(v, threshold)), ("kappa", _kappa(v, threshold)),
                ("says_yes", sum(p >= threshold for p, _ in v)), ("inferable", sum(g for _, g in v)))}}


def _agreement(scored: list[tuple[float, int]], threshold: float) -> float:
    return round(sum((p >= threshold) == bool(g) for p, g in scored) / len(scored), 4) if scored else 0.0


def _kappa(scored: list[tuple[float, int]], threshold: float) -> float:
    """Cohen's kappa between the judge at this threshold and the labels (0 when either is constant)."""
    n = len(scored)
    if not n:
        return 0.0
    said = sum(p >= threshold for p, _ in scored) / n
    true = sum(g for _, g in scored) / n
    chance = said * true + (1 - said) * (1 - true)
    return round((_agreement(scored, threshold) - chance) / (1 - chance), 4) if chance < 1 else 0.0


def _auc(scored: list[tuple[float, int]]) -> float | None:
    """The chance that a labelled-inferable fact gets a higher P(YES) than a non-inferable one."""
    yes = [p for p, g in scored if g]
    no = [p for p, g in scored if not g]
    if not yes or not no:
        return None
    return round(sum((a > b) + 0.5 * (a == b) for a in yes for b in no) / (len(yes) * len(no)), 4)
