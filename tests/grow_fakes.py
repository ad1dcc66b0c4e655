"""A deterministic stand-in for a model in grow tests: varied local graphs from a fixed vocabulary."""
import hashlib
import json
import random
import re

VOCABULARY = [
    "spider silk", "nacre", "collagen", "keratin", "chitin", "cellulose", "lignin", "bone", "enamel", "silk fibroin",
    "hydrogel", "graphene", "carbon nanotubes", "toughness", "stiffness", "tensile strength", "self-assembly",
    "hierarchical structure", "crack deflection", "energy dissipation", "biomineralization", "calcium carbonate",
    "hydroxyapatite", "protein folding", "beta-sheet", "hydrogen bonds", "composite materials", "3D printing",
    "machine learning", "molecular dynamics", "finite element analysis", "lotus effect", "gecko adhesion",
    "mussel adhesion", "structural color", "photonic crystals", "self-healing", "biodegradability", "sustainability",
    "porosity", "auxetic materials", "metamaterials", "shape memory", "piezoelectricity", "wood", "bamboo",
    "sea sponge", "diatoms", "butterfly wings", "shark skin"]
RELATIONS = ["enables", "improves", "is part of", "inspires", "reduces", "relates to"]


def _rng(text: str) -> random.Random:
    return random.Random(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))


def fake_reply(messages) -> str:
    system = messages[0]["content"]
    last = messages[-1]["content"]
    if system.startswith("You turn"):
        if "BROKEN" in last and len(messages) <= 4:
            return "I think the graph is: nodes are silk and bone"  # no JSON: the retry gets feedback
        if any("HOPELESS" in m["content"] for m in messages):
            return "no graph here"
        rng = _rng(last)
        names = rng.sample(VOCABULARY, rng.randint(4, 7))
        if rng.random() < 0.5:
            names.append(names[0].title() + "s")  # a spelling variant the resolver must merge
        edges = [{"source": rng.choice(names), "target": rng.choice(names), "relation": rng.choice(RELATIONS)}
                 for _ in range(rng.randint(4, 9))]
        return "```json\n" + json.dumps({"nodes": [{"id": n} for n in names], "edges": edges}) + "\n```"
    if system.startswith("You ask"):
        concepts = re.search(r"Concepts: (.*?)\.\n", last).group(1).split(", ")
        return f"How could {_rng(last).choice(concepts)} lead to new materials?"
    return f"Reasoning about: {last}"


# Concept names no page may ever write as markup.
HOSTILE = ['<img src=x onerror="window.hacked=1">', "</script><script>window.hacked=2</script>",
           "a & b \"quoted\" 'single'", "\u202eRTL override", "x" * 300]


def hostile_reply(messages) -> str:
    """fake_reply, with every HOSTILE name added to each extracted graph (and a relation written as markup)."""
    reply = fake_reply(messages)
    if messages[0]["content"].startswith("You turn") and "```json" in reply:
        graph = json.loads(reply.split("```json\n")[1].split("\n```")[0])
        anchor = graph["nodes"][0]["id"]
        graph["nodes"] += [{"id": name} for name in HOSTILE]
        graph["edges"] += [{"source": anchor, "target": name, "relation": "<b>bold</b> relates"} for name in HOSTILE]
        return "```json\n" + json.dumps(graph) + "\n```"
    return reply
