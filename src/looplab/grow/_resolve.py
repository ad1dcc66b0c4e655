"""Entity resolution: one node per concept, however the model spells it.

A name is first normalized (case, whitespace, punctuation, a plural last word); an exact hit on
the normalized key merges at once. Otherwise its embedding is compared with every node's in an
incremental index (a matrix that grows with the graph), one vectorized product per new name,
and it merges into the nearest node when the cosine similarity reaches the threshold, unless the two
names carry different numbers ("type I" / "type II collagen") or one refines the other: every word of
the shorter is in the longer ("biochar production" / "biochar", "marine biomaterials" / "biomaterials",
"silk toughness" / "silk"), which names a process, a kind, a part or a property of it, not the same thing.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..models import Embedder

# Chosen on the tuning half of data/concept_pairs*.tsv (409 labelled pairs; 205 to tune, 204 to test) with
# all-MiniLM-L6-v2 by `choose_threshold`: the best F1 among thresholds with precision >= 0.95 (tuning half:
# P 0.971, R 0.779). On the test half: P 0.953, R 0.762; without the refinement rule, the old 0.78 gives
# P 0.654 there (process/product, subtype/parent and property/material pairs embed close together).
DEFAULT_THRESHOLD = 0.75
PAIRS_FILES = [Path(__file__).with_name("data") / "concept_pairs.tsv",
               Path(__file__).with_name("data") / "concept_pairs_patterns.tsv"]
_FILLERS = {"a", "an", "the", "of", "and", "for", "in", "on", "to"}
_KEEP_S = ("ss", "us", "is", "as")


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def normalize_name(name: str) -> str:
    """The key two spellings of one concept share: `Bio-Inspired Materials (BIMs)` -> `bioinspiredmaterial`.

    Lower case; a trailing parenthetical dropped; the last word singular; punctuation, hyphens
    and spaces removed (so `self-assembly`, `self assembly` and `selfassembly` meet).
    """
    text = re.sub(r"\s*\([^)]*\)\s*$", "", name.lower()) or name.lower()
    words = re.sub(r"[^\w\s]", " ", text.replace("_", " ")).split()
    if words:
        words[-1] = _singular(words[-1])
    return "".join(words)


def _numbers(name: str) -> frozenset[str]:
    """Digits and roman numerals in a name: `type II collagen` and `type I collagen` embed close
    together but are different concepts."""
    return frozenset(re.findall(r"\d+", name) + re.findall(r"\b(?=[IVX]+\b)X{0,3}(?:IX|IV|V?I{0,3})\b", name))


def _content_words(name: str) -> frozenset[str]:
    words = re.sub(r"[^\w\s]", " ", re.sub(r"\s*\([^)]*\)\s*$", "", name.lower())).split()
    return frozenset(_singular(w) for w in words if w not in _FILLERS)


def refines(name: str, other: str) -> bool:
    """Whether `name` adds words to every word of `other`: a process, kind, part or property of it.

    >>> refines("biochar production", "biochar"), refines("strength of silk", "silk strength")
    (True, False)
    """
    mine, theirs = _content_words(name), _content_words(other)
    return bool(theirs) and theirs < mine


def abbreviation(name: str) -> str | None:
    """`atomic force microscopy (AFM)` -> `AFM`: a parenthetical that abbreviates the name."""
    match = re.search(r"\(([A-Za-z0-9]{2,8})\)\s*$", name)
    return match.group(1) if match and any(c.isupper() for c in match.group(1)) else None


@dataclass(frozen=True)
class Resolution:
    name: str            # as the model wrote it
    node: str            # the graph node it belongs to
    method: str          # "new", "name" (same normalized name) or "embedding"
    similarity: float    # 1.0 for "name"; cosine for "embedding"; best cosine seen for "new"


class EntityResolver:
    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_THRESHOLD):
        self.embedder = embedder
        self.threshold = threshold
        self.key_to_node: dict[str, str] = {}
        self.nodes: list[str] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.nodes)

    def vectors(self) -> np.ndarray:
        return self._vectors[:len(self.nodes)]

    def add(self, node: str, vector: np.ndarray) -> None:
        """Index a node (also used to restore a saved index)."""
        if self._vectors.shape[1] != vector.shape[0]:
            self._vectors = np.zeros((max(1024, len(self.nodes) * 2), vector.shape[0]), dtype=np.float32)
        if len(self.nodes) == len(self._vectors):  # grow by doubling: amortized O(1) per node
            grown = np.zeros((2 * len(self._vectors), self._vectors.shape[1]), dtype=np.float32)
            grown[:len(self.nodes)] = self._vectors[:len(self.nodes)]
            self._vectors = grown
        self._vectors[len(self.nodes)] = vector
        self.nodes.append(node)
        self.alias(node, node)

    def alias(self, name: str, node: str) -> None:
        """Let `name` (and an abbreviation it ends with) resolve to `node` from now on."""
        self.key_to_node.setdefault(normalize_name(name), node)
        short = abbreviation(name)
        if short:
            self.key_to_node.setdefault(normalize_name(short), node)

    def resolve(self, names: list[str]) -> tuple[list[Resolution], dict[str, np.ndarray]]:
        """Map each name to a node, adding new nodes to the index as it goes (so two new names in
        one batch can merge). Returns the resolutions and the vectors of the new nodes."""
        pending = [n for n in dict.fromkeys(names) if normalize_name(n) not in self.key_to_node]
        embedded = dict(zip(pending, self.embedder.embed(pending))) if pending else {}
        out, new_vectors = [], {}
        for name in dict.fromkeys(names):
            key = normalize_name(name)
            if key in self.key_to_node:
                node = self.key_to_node[key]
                out.append(Resolution(name, node, "name", 1.0))
                continue
            vector = embedded[name]
            best, similarity = None, -1.0
            if self.nodes:
                sims = self.vectors() @ vector
                i = int(np.argmax(sims))
                best, similarity = self.nodes[i], float(sims[i])
            numbers = _numbers(name)
            if best is not None and similarity >= self.threshold and not (
                    numbers and _numbers(best) and numbers != _numbers(best)) and not (
                    refines(name, best) or refines(best, name)):
                self.alias(name, best)
                out.append(Resolution(name, best, "embedding", round(similarity, 4)))
            else:
                self.add(name, vector)
                new_vectors[name] = vector
                out.append(Resolution(name, name, "new", round(max(similarity, 0.0), 4)))
        return out, new_vectors


def load_pairs(half: str | None = None) -> list[tuple[bool, str, str]]:
    """The labelled name pairs (same concept or not); `half` "tune" or "test" keeps one of two fixed halves
    (by a hash of the pair), so a threshold chosen on one is measured on the other."""
    pairs = []
    for path in PAIRS_FILES:
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                label, a, b = line.split("\t")
                if half is None or ("test" if zlib.crc32(f"{a}\t{b}".encode()) % 2 else "tune") == half:
                    pairs.append((label == "same", a, b))
    return pairs


def pair_scores(embedder: Embedder, pairs: list[tuple[bool, str, str]]) -> list[float]:
    """Similarity the resolver sees for each pair: 1.0 if normalization already matches them."""
    a = embedder.embed([p[1] for p in pairs])
    b = embedder.embed([p[2] for p in pairs])
    cosine = (a * b).sum(axis=1)
    def same_key(x: str, y: str) -> bool:
        keys = {normalize_name(x), *(normalize_name(s) for s in [abbreviation(x)] if s)}
        return normalize_name(y) in keys or bool(abbreviation(y) and normalize_name(abbreviation(y)) in keys)

    def numbers_clash(x: str, y: str) -> bool:
        return bool(_numbers(x) and _numbers(y) and _numbers(x) != _numbers(y))

    return [1.0 if same_key(x, y) else 0.0 if numbers_clash(x, y) or refines(x, y) or refines(y, x) else float(c)
            for (_, x, y), c in zip(pairs, cosine)]


def precision_recall(pairs: list[tuple[bool, str, str]], scores: list[float], threshold: float) -> tuple[float, float]:
    predicted = [s >= threshold for s in scores]
    tp = sum(p and same for p, (same, _, _) in zip(predicted, pairs))
    fp = sum(p and not same for p, (same, _, _) in zip(predicted, pairs))
    fn = sum(not p and same for p, (same, _, _) in zip(predicted, pairs))
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def choose_threshold(pairs: list[tuple[bool, str, str]], scores: list[float], *,
                     min_precision: float = 0.95) -> tuple[float, float, float]:
    """The threshold (in steps of 0.01) with the best F1 among those reaching `min_precision`:
    a wrong merge corrupts the graph, a missed one only leaves a duplicate. Returns (t, P, R)."""
    best = (1.0, 1.0, 0.0)
    best_f1 = -1.0
    for step in range(50, 100):
        threshold = step / 100
        precision, recall = precision_recall(pairs, scores, threshold)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if precision >= min_precision and f1 > best_f1:
            best, best_f1 = (threshold, precision, recall), f1
    return best
