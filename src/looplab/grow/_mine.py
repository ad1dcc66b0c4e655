"""MINE: how much of a text an extracted graph keeps. For each essay the graph is extracted (in one of the
extraction modes); for each of its 15 facts, the 8 concepts nearest the fact by embedding and everything within
two hops of them give a set of triples, and a judge model says whether the fact can be inferred from them. The
score is the share of facts recovered (KGGen's benchmark; published with large hosted models: KGGen 66.07%,
GraphRAG 47.80%, OpenIE 29.84%). Every call is recorded; a re-run resumes where it stopped.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np

from ..models import Embedder, Meter, Model
from ..runs import RunStore, TaskRecorder
from ._extract import extract

SCHEMA = """
CREATE TABLE IF NOT EXISTS mine_facts (
    mode TEXT NOT NULL, essay INTEGER NOT NULL, fact INTEGER NOT NULL, text TEXT NOT NULL, triples TEXT NOT NULL,
    recovered INTEGER NOT NULL, judge_reply TEXT NOT NULL, PRIMARY KEY (mode, essay, fact));
CREATE TABLE IF NOT EXISTS mine_graphs (
    mode TEXT NOT NULL, essay INTEGER NOT NULL, graph TEXT NOT NULL, failures INTEGER NOT NULL,
    truncated INTEGER NOT NULL, PRIMARY KEY (mode, essay));
"""
NEAREST = 8
HOPS = 2
MAX_TRIPLES = 60
JUDGE = ("You check whether a fact follows from a set of relations. Answer YES if the fact can be inferred from "
         "the relations alone, otherwise NO. Answer with one word.")
_ANSWER = re.compile(r"\b(YES|NO)\b", re.I)


def load_mine(folder: Path) -> list[tuple[str, list[str]]]:
    """(essay text, its facts) pairs of a MINE folder (essays.json and facts.json, same order)."""
    essays = json.loads((folder / "essays.json").read_text())
    facts = json.loads((folder / "facts.json").read_text())
    return [(e["content"], [f["answer"] for f in fs]) for e, fs in zip(essays, facts)]


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


def run_mine(store: RunStore, essays: list[tuple[str, list[str]]], model: Model, judge: Model, embedder: Embedder,
             mode: str, max_tokens: int = 800) -> dict:
    """Extract, retrieve and judge every essay not yet done in this mode; returns the mode's score so far."""
    store.require({"loop": "mine", "model": model.name, "judge": judge.name, "embedder": embedder.name})
    store.declare(SCHEMA)
    done = {r["essay"] for r in store.rows("mine_graphs", {"mode": mode})}
    for index, (text, facts) in enumerate(essays):
        if index in done:
            continue
        recorder = TaskRecorder(store, mode, f"essay-{index}", model, Meter())
        found = extract(text, lambda messages, limit, schema: recorder.generate(
            messages, temperature=0.0, max_tokens=limit, json_schema=schema), mode, max_tokens)
        graph = nx.DiGraph()
        for source, target, relation in (found.graph.edges if found.graph else []):
            graph.add_edge(source, target, relation=relation)
        names = list(graph)
        vectors = embedder.embed(names) if names else np.zeros((0, 0))
        rows = []
        for number, (fact, vector) in enumerate(zip(facts, embedder.embed(facts))):
            triples = subgraph_triples(graph, names, vectors, vector)
            if triples:
                reply = recorder.generate([{"role": "system", "content": JUDGE}, {"role": "user", "content": (
                    "Relations:\n" + "\n".join(triples) + f"\n\nFact: {fact}\nCan the fact be inferred from the "
                    "relations? YES or NO.")}], temperature=0.0, max_tokens=4, min_reply=1, model=judge).text
                found_answer = _ANSWER.search(reply)
                recovered = bool(found_answer) and found_answer.group(1).upper() == "YES"
            else:
                reply, recovered = "(no triples to judge)", False
            rows.append({"mode": mode, "essay": index, "fact": number, "text": fact, "triples": json.dumps(triples),
                         "recovered": int(recovered), "judge_reply": reply})
        with store.transaction():
            for row in rows:
                store.insert("mine_facts", row)
            store.insert("mine_graphs", {"mode": mode, "essay": index, "failures": found.failures,
                                         "truncated": found.truncated, "graph": json.dumps(
                                             found.graph.as_dict() if found.graph else {"error": found.reason})})
    return mine_score(store, mode)


def mine_score(store: RunStore, mode: str) -> dict:
    facts = store.rows("mine_facts", {"mode": mode})
    graphs = store.rows("mine_graphs", {"mode": mode})
    edges = [len(json.loads(g["graph"]).get("edges", [])) for g in graphs]
    return {"mode": mode, "essays": len(graphs), "facts": len(facts),
            "recovered": sum(f["recovered"] for f in facts),
            "score": round(sum(f["recovered"] for f in facts) / len(facts), 4) if facts else None,
            "mean_edges": round(sum(edges) / len(edges), 1) if edges else None,
            "truncated": sum(g["truncated"] for g in graphs), "failures": sum(g["failures"] for g in graphs)}
