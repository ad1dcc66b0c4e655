"""The grow loop: reason -> extract a local graph -> merge and resolve -> next question, resumable."""
from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import networkx as nx
import numpy as np

from ..models import Embedder, Meter, Model
from ..runs import RunError, RunStore, TaskRecorder, require_loop
from ._prompts import GrowPrompts, only_the_question
from ._graph import load_graphml, merge_local, save_graphml
from ._metrics import COLUMNS, LARGE_LIMIT, WINDOW, GrowthState, communities, measure, sample, simple_igraph, state_of
from ._extract import MODES, extract
from ._parse import LocalGraph
from ._resolve import DEFAULT_THRESHOLD, EntityResolver, Resolution, normalize_name

NEXT_POLICIES = ("newest", "frontier", "bridge", "random")
SCHEMA = """
CREATE TABLE IF NOT EXISTS grow_iterations (
    iteration INTEGER PRIMARY KEY, question TEXT NOT NULL, answer TEXT, local_graph TEXT, status TEXT NOT NULL,
    reason TEXT, parse_failures INTEGER NOT NULL, first_try_parsed INTEGER NOT NULL, added TEXT NOT NULL,
    next_question TEXT NOT NULL, question_source TEXT NOT NULL, metrics TEXT NOT NULL, seconds REAL NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS grow_resolutions (
    iteration INTEGER NOT NULL, name TEXT NOT NULL, node TEXT NOT NULL, method TEXT NOT NULL, similarity REAL NOT NULL);
CREATE TABLE IF NOT EXISTS grow_vectors (node TEXT PRIMARY KEY, iteration INTEGER NOT NULL, vector BLOB NOT NULL);
"""


def _json_safe(row: dict) -> dict:
    """NaN (a metric undefined on this graph) as null, so the record stays standard JSON."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


# The cosine with the topic (MiniLM) above which a concept counts as on topic. Chosen on the 55 concepts of a
# 30-iteration embedded-model run labelled by hand on/off "bio-inspired materials science": the cosine ranks an
# on-topic concept above an off-topic one with probability 0.93, and 0.33 keeps 10 of the 11 on-topic concepts
# and 2 of the 44 off-topic ones.
DEFAULT_TOPIC_FLOOR = 0.33


def iteration_scope(iteration: int) -> tuple[str, str]:
    """The scope and item grow records an iteration's model calls under (`RunStore.calls(*iteration_scope(3))`).

    >>> iteration_scope(3)
    ('grow', 'iteration-3')
    """
    return "grow", f"iteration-{iteration}"


@dataclass(frozen=True)
class GrowConfig:
    question: str
    topic: str | None = None
    next_policy: str = "newest"
    threshold: float = DEFAULT_THRESHOLD
    seed: int = 0
    reason_tokens: int = 600
    extract_tokens: int = 800
    extract_mode: str = "single"   # single, multi or reflect (see grow/_extract.py)
    topic_floor: float = DEFAULT_TOPIC_FLOOR  # with a topic, next questions are about concepts this close to it
    prompts: GrowPrompts = GrowPrompts()


@dataclass
class IterationResult:
    iteration: int
    status: str                # "ok" or "skipped"
    added: list[str]
    metrics: dict
    seconds: float
    reason: str | None = None


class GrowRun:
    """One grow run in a run directory. Iterations are atomic: each commits its record, graph,
    snapshot and metrics together, and a re-run rebuilds the graph from the record exactly."""

    def __init__(self, store: RunStore, config: GrowConfig, model: Model, embedder: Embedder, *,
                 snapshot_every: int = 1, run_meter: Meter | None = None):
        if config.next_policy not in NEXT_POLICIES:
            raise RunError(f"unknown --next {config.next_policy!r}; choose from {', '.join(NEXT_POLICIES)}")
        if config.extract_mode not in MODES:
            raise RunError(f"unknown --extract-mode {config.extract_mode!r}; choose from {', '.join(MODES)}")
        self.store = store
        self.config = config
        self.model = model
        self.embedder = embedder
        self.snapshot_every = snapshot_every
        self.run_meter = run_meter or Meter()
        settings = {**asdict(config), "model": model.name, "embedder": embedder.name}
        recorded = store.meta("grow")
        if recorded and "prompts" not in recorded and config.prompts == GrowPrompts():
            store.set_meta("grow", {**recorded, "prompts": settings["prompts"]})  # made before prompts were data
        store.require({"loop": "grow", "model": model.name, "grow": settings})
        store.declare(SCHEMA)
        (store.dir / "graphs").mkdir(exist_ok=True)
        self.graph = nx.DiGraph()
        self.resolver = EntityResolver(embedder, config.threshold)
        # Drift is measured against the topic (or, without one, the seed question).
        self.topic_vector = embedder.embed([config.topic or config.question])[0]
        self.community: dict = {}
        self.state = GrowthState()
        self._rebuild()

    # ---- state ---------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Replay finished iterations: the same local graphs through the same resolutions; and the state the next
        row is measured against (on a large graph the window's samples are drawn again on their own graphs)."""
        for row in self.store.rows("grow_vectors"):
            self.resolver.add(row["node"], np.frombuffer(row["vector"], dtype=np.float32))
        rows, samples = self._iterations(), []
        finished = rows[-1]["iteration"] if rows else 0
        for row in rows:
            if row["status"] == "ok":
                data = json.loads(row["local_graph"])
                local = LocalGraph({n["id"]: n["type"] for n in data["nodes"]},
                                   [(e["source"], e["target"], e["relation"]) for e in data["edges"]])
                resolutions = [Resolution(r["name"], r["node"], r["method"], r["similarity"])
                               for r in self.store.rows("grow_resolutions", {"iteration": row["iteration"]})]
                for r in resolutions:
                    if r.method == "embedding":
                        self.resolver.alias(r.name, r.node)
                merge_local(self.graph, local, resolutions, row["iteration"])
            # a skipped iteration was measured too, so it drew its share of the window
            if row["iteration"] > finished - WINDOW + 1 and len(self.graph) > LARGE_LIMIT:
                samples.append(sample(simple_igraph(self.graph)[0], row["iteration"], self.config.seed))
        # above LARGE_LIMIT the partition was updated from iteration to iteration: read back, not recomputed
        self.community = ((len(self.graph) > LARGE_LIMIT and self._saved_partition())
                          or communities(self.graph, self.config.seed))
        last = json.loads(rows[-1]["metrics"]) if rows else None
        powerlaw = () if last is None or last.get("powerlaw_fitted_at") is None else (
            last["powerlaw_fitted_at"], *(math.nan if last[k] is None else last[k]
                                          for k in ("powerlaw_alpha", "powerlaw_xmin", "powerlaw_llr", "powerlaw_p")))
        self.state = state_of(self.graph, self.community, samples, powerlaw)

    def _saved_partition(self) -> dict:
        """The communities graph.graphml was saved with, when it holds this graph (a large graph's partition is
        updated from the previous one, so a resumed run continues from it); else nothing."""
        path = self.store.dir / "graph.graphml"
        if not path.exists():
            return {}
        saved = dict(load_graphml(path).nodes(data="community"))
        return saved if set(saved) == set(self.graph) and None not in saved.values() else {}

    def _iterations(self) -> list[dict]:
        return self.store.rows("grow_iterations", order_by="iteration")

    def finished(self) -> int:
        rows = self.store.rows("grow_iterations", order_by="iteration DESC")
        return rows[0]["iteration"] if rows else 0

    def next_question(self) -> str:
        rows = self.store.rows("grow_iterations", order_by="iteration DESC")
        return rows[0]["next_question"] if rows else self.config.question

    # ---- one iteration -------------------------------------------------------------------------
    def run(self, iterations: int, on_iteration: Callable[[IterationResult], None] | None = None) -> list[IterationResult]:
        results = []
        if self.finished():
            # A process killed between an iteration's commit and its files left them behind the record.
            self._save(self.finished())
        while self.finished() < iterations:
            result, self.state = self._iterate(self.finished() + 1, self.state)
            results.append(result)
            if on_iteration:
                on_iteration(result)
        return results

    def _iterate(self, iteration: int, before: GrowthState) -> tuple[IterationResult, GrowthState]:
        start = time.monotonic()
        question = self.next_question()
        recorder = TaskRecorder(self.store, *iteration_scope(iteration), self.model, Meter(parent=self.run_meter))
        cfg = self.config
        # A small model at temperature 0 often repeats itself until the limit: decoding stops at the first
        # repeated sentence, which would add nothing but time and tokens to extract from.
        reasoning = recorder.generate(cfg.prompts.reason_messages(question, cfg.topic), temperature=0.0,
                                      max_tokens=cfg.reason_tokens, stop_on_repeat=True)
        answer = reasoning.text
        truncated = int(reasoning.finish_reason == "length")
        extraction = extract(answer, lambda messages, limit, schema: recorder.generate(
            messages, temperature=0.0, max_tokens=limit, json_schema=schema), cfg.extract_mode, cfg.extract_tokens,
            cfg.prompts)
        local, failures, reason = extraction.graph, extraction.failures, extraction.reason
        truncated += extraction.truncated
        resolutions, new_vectors, added = [], {}, []
        if local is not None:
            names = list(local.nodes)
            resolutions, new_vectors = self.resolver.resolve(names)
            added = merge_local(self.graph, local, resolutions, iteration)
        # A merge joins two different spellings; the same name again is reuse, counted apart.
        merges = sum(1 for r in resolutions if r.method != "new" and r.name != r.node)
        reused = sum(1 for r in resolutions if r.method != "new" and r.name == r.node)
        row, after, community = measure(self.graph, iteration, before, merges=merges, reused=reused,
                                        parse_failures=failures, truncated=truncated,
                                        topic_similarity=self._topic_similarity(new_vectors), seed=cfg.seed)
        self.community = community
        focus = self._focus(added, iteration)
        next_question, source = question, "repeat"
        if focus:
            proposed = only_the_question(
                recorder.generate(cfg.prompts.next_question_messages(focus, cfg.topic), temperature=0.7,
                                  max_tokens=120).text)
            if proposed and any(f.lower() in proposed.lower() for f in focus):
                next_question, source = proposed, "model"
            else:
                next_question, source = cfg.prompts.fallback_question(focus, cfg.topic), "template"
        seconds = time.monotonic() - start
        status = "ok" if local is not None else "skipped"
        with self.store.transaction():  # the iteration is recorded whole or not at all
            self.store.insert("grow_iterations", {
                "iteration": iteration, "question": question, "answer": answer,
                "local_graph": json.dumps(local.as_dict()) if local else None, "status": status,
                "reason": None if local else reason, "parse_failures": failures,
                "first_try_parsed": int(failures == 0), "added": json.dumps(added), "next_question": next_question,
                "question_source": source, "metrics": json.dumps(_json_safe(row)), "seconds": round(seconds, 3),
                "created": time.time()})
            for r in resolutions:
                self.store.insert("grow_resolutions", {"iteration": iteration, "name": r.name, "node": r.node,
                                                       "method": r.method, "similarity": r.similarity})
            for node, v in new_vectors.items():
                self.store.insert("grow_vectors", {"node": node, "iteration": iteration,
                                                   "vector": np.asarray(v, dtype=np.float32).tobytes()})
        self._save(iteration)
        return IterationResult(iteration, status, added, row, seconds, None if local else reason), after

    def _topic_similarity(self, new_vectors: dict) -> float:
        """How close this iteration's new concepts stay to the topic: their mean cosine with it."""
        if not new_vectors:
            return math.nan
        return round(float(np.mean(np.stack(list(new_vectors.values())) @ self.topic_vector)), 4)

    def _focus(self, added: list[str], iteration: int) -> list[str]:
        """The concepts the next question is about, by the configured policy, among the concepts on topic
        (cosine with the topic at least `topic_floor`) when there is a topic and any concept is on it."""
        if not len(self.graph):
            return []
        rng = random.Random(self.config.seed * 1_000_003 + iteration)
        pool = self._on_topic() or set(self.graph)
        policy = self.config.next_policy
        if policy == "newest":
            newest = [n for n in added if n in pool]
            if newest:
                return newest[:5]
            # Nothing new (on topic) this time: asking about the same concepts again would repeat the same
            # question forever, so move to the least-connected concepts instead.
            policy = "frontier"
        if policy == "frontier":
            degrees = {n: d for n, d in self.graph.degree() if n in pool}
            low = min(degrees.values())
            return rng.sample(sorted(n for n, d in degrees.items() if d == low), 1)
        if policy == "bridge":
            view = self.graph.to_undirected(as_view=True)
            spread = {n: len({self.community[m] for m in view.neighbors(n)}) for n in pool}
            best = max(spread.values())
            if best < 2:
                return rng.sample(sorted(pool), 1)
            bridge = rng.choice(sorted(n for n, s in spread.items() if s == best))
            other = sorted(m for m in view.neighbors(bridge) if self.community[m] != self.community[bridge])
            return [bridge, rng.choice(other)]
        return rng.sample(sorted(pool), 1)

    def _on_topic(self) -> set[str]:
        """The concepts whose cosine with the topic reaches the floor (none without a topic)."""
        if not self.config.topic or self.config.topic_floor <= 0:
            return set()
        similarity = self.resolver.vectors() @ self.topic_vector
        return {n for n, s in zip(self.resolver.nodes, similarity) if s >= self.config.topic_floor and n in self.graph}

    # ---- files ---------------------------------------------------------------------------------
    def _save(self, iteration: int) -> None:
        save_graphml(self.graph, self.store.dir / "graph.graphml", self.community)
        if iteration % self.snapshot_every == 0:
            save_graphml(self.graph, self.store.dir / "graphs" / f"graph_{iteration:04d}.graphml", self.community)
        self.write_metrics_csv()

    def write_metrics_csv(self) -> Path:
        return write_metrics_csv(self.store)

    def summary(self) -> dict:
        rows = self._iterations()
        if not rows:
            return {"iterations": 0}
        return {"question": self.config.question, "model": self.model.name, "iterations": len(rows),
                "skipped": sum(r["status"] != "ok" for r in rows),
                "first_try_parse_rate": round(sum(r["first_try_parsed"] for r in rows) / len(rows), 4),
                # answers and extractions cut at their token limit (an extraction cut short is a parse failure)
                "truncated_replies": sum(json.loads(r["metrics"]).get("truncated", 0) for r in rows),
                "seconds_per_iteration": round(sum(r["seconds"] for r in rows) / len(rows), 2),
                "final": json.loads(rows[-1]["metrics"])}


def write_metrics_csv(store: RunStore) -> Path:
    path = store.dir / "metrics.csv"
    partial = path.with_suffix(".partial")
    with open(partial, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in store.rows("grow_iterations", order_by="iteration"):
            writer.writerow({k: "" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                             for k, v in json.loads(row["metrics"]).items()})
    partial.replace(path)
    return path


def unmerge(store: RunStore, embedder: Embedder, name: str) -> dict:
    """Undo the merge of `name` into another concept, from the record: its resolutions (and the later ones that
    reached the same node through its spelling) now make it a concept of its own, its embedding joins the index,
    and every iteration's graph, snapshot and metrics are replayed from the record. Returns what changed."""
    grow = store.meta("grow") or {}
    require_loop(store, "grow", "looplab graph unmerge")
    if grow.get("embedder") != embedder.name:
        raise RunError(f"the run embedded names with {grow.get('embedder')}; give the same --embedder")
    # Only a merge by embedding is a judgement to undo; one by spelling (the same normalized name) is not.
    merged = [r for r in store.rows("grow_resolutions") if r["name"] == name and r["method"] == "embedding"]
    if not merged:
        joined = sorted({r["name"] for r in store.rows("grow_resolutions") if r["method"] == "embedding"})
        raise RunError(f"no merge of {name!r} by embedding is on the record; merged names: "
                       f"{', '.join(joined[:20]) or 'none'}")
    node, key = merged[0]["node"], normalize_name(name)
    first = min(r["iteration"] for r in merged)
    with store.transaction():
        changed = 0
        for r in store.rows("grow_resolutions", {"node": node}):
            if r["name"] == name or (r["method"] == "name" and normalize_name(r["name"]) == key):
                changed += store.update("grow_resolutions", {"node": name, "method": "unmerged"},
                                        {"iteration": r["iteration"], "name": r["name"], "node": node})
        store.insert("grow_vectors", {"node": name, "iteration": first,
                                      "vector": np.asarray(embedder.embed([name])[0], dtype=np.float32).tobytes()})
        graph, state, community = nx.DiGraph(), state_of(nx.DiGraph()), {}
        for row in store.rows("grow_iterations", order_by="iteration"):
            resolutions = [Resolution(r["name"], r["node"], r["method"], r["similarity"])
                           for r in store.rows("grow_resolutions", {"iteration": row["iteration"]})]
            if row["status"] == "ok":
                data = json.loads(row["local_graph"])
                merge_local(graph, LocalGraph({n["id"]: n["type"] for n in data["nodes"]},
                                              [(e["source"], e["target"], e["relation"]) for e in data["edges"]]),
                            resolutions, row["iteration"])
            old = json.loads(row["metrics"])
            metrics, state, community = measure(
                graph, row["iteration"], state, seed=grow.get("seed", 0), parse_failures=old.get("parse_failures", 0),
                merges=sum(1 for r in resolutions if r.method not in ("new", "unmerged") and r.name != r.node),
                reused=sum(1 for r in resolutions if r.method not in ("new", "unmerged") and r.name == r.node),
                truncated=old.get("truncated", 0),
                topic_similarity=math.nan if old.get("topic_similarity") is None else old["topic_similarity"])
            store.update("grow_iterations", {"metrics": json.dumps(_json_safe(metrics))}, {"iteration": row["iteration"]})
            snapshot = store.dir / "graphs" / f"graph_{row['iteration']:04d}.graphml"
            if row["iteration"] >= first and snapshot.exists():
                save_graphml(graph, snapshot, community)
    save_graphml(graph, store.dir / "graph.graphml", community)
    write_metrics_csv(store)
    return {"name": name, "was_merged_into": node, "resolutions_changed": changed, "from_iteration": first,
            "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()}
