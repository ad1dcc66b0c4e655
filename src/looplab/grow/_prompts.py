"""What the grow loop asks the model, and how its replies are trimmed."""
from __future__ import annotations

import re

REASON_SYSTEM = ("You are a creative scientist. Think the question through step by step, then write a clear "
                 "answer. End with the key concepts you used and how each relates to the others.")

EXTRACT_SYSTEM = ("You turn scientific text into a knowledge graph. Reply with JSON only, of exactly this shape: "
                  '{"nodes": [{"id": ..., "type": ...}], "edges": [{"source": ..., "target": ..., "relation": ...}]}. '
                  "Node ids are the concepts of the text, one to four words each. Every edge links two node ids "
                  "with a short verb phrase saying how they relate.")

# A worked example from another field, so the model copies the form and not the content.
EXAMPLE_TEXT = ("Volcanic ash weathers into fertile soil rich in minerals such as potassium, which raises crop "
                "yields on the slopes of volcanoes.")
EXAMPLE_GRAPH = (
    '{"nodes": [{"id": "volcanic ash", "type": "material"}, {"id": "fertile soil", "type": "material"}, '
    '{"id": "potassium", "type": "element"}, {"id": "crop yields", "type": "outcome"}], '
    '"edges": [{"source": "volcanic ash", "target": "fertile soil", "relation": "weathers into"}, '
    '{"source": "fertile soil", "target": "potassium", "relation": "is rich in"}, '
    '{"source": "potassium", "target": "crop yields", "relation": "raises"}]}')

NEXT_SYSTEM = "You ask one creative, specific follow-up research question."


def reason_messages(question: str, topic: str | None) -> list[dict]:
    context = f"Broad topic: {topic}.\n\n" if topic else ""
    return [{"role": "system", "content": REASON_SYSTEM}, {"role": "user", "content": context + question}]


def extract_messages(answer: str) -> list[dict]:
    ask = "\n\nExtract the concepts and their relations as JSON."
    return [{"role": "system", "content": EXTRACT_SYSTEM},
            {"role": "user", "content": f"Text:\n{EXAMPLE_TEXT}{ask}"},
            {"role": "assistant", "content": EXAMPLE_GRAPH},
            {"role": "user", "content": f"Text:\n{answer}{ask}"}]


def retry_messages(answer: str, reply: str, error: str) -> list[dict]:
    """The extraction's own feedback loop: show the model why its reply could not be read."""
    return extract_messages(answer) + [
        {"role": "assistant", "content": reply},
        {"role": "user", "content": f"That reply could not be used: {error}. Reply again with only the JSON "
                                    'object, with "nodes" and "edges" lists as described.'}]


CONCEPT_SYSTEM = ("You list the scientific concepts of a text. Reply with JSON only: {\"concepts\": [...]}, each "
                  "concept a name of one to four words as the text writes it, the most important first.")
RELATION_SYSTEM = ("You turn scientific text into a knowledge graph. Reply with JSON only: {\"edges\": [{\"source\": "
                   "..., \"target\": ..., \"relation\": ...}]}, each edge between two of the given concepts, with a "
                   "short verb phrase saying how the text relates them. No edge from a concept to itself.")


def concept_messages(text: str) -> list[dict]:
    return [{"role": "system", "content": CONCEPT_SYSTEM}, {"role": "user", "content": f"Text:\n{text}"}]


def relation_messages(text: str, concepts: list[str]) -> list[dict]:
    return [{"role": "system", "content": RELATION_SYSTEM},
            {"role": "user", "content": f"Text:\n{text}\n\nConcepts: {'; '.join(concepts)}\n\nWrite the relations "
                                        "the text states between these concepts as JSON."}]


def reflect_messages(text: str, graph: str, findings: list[str]) -> list[dict]:
    """The extraction, what the rules found wrong with it, and a request to critique and fix it."""
    found = "\n".join(f"- {f}" for f in findings[:12])
    return extract_messages(text) + [
        {"role": "assistant", "content": graph},
        {"role": "user", "content": f"Checks on that graph found:\n{found}\nCheck it against the text: every concept a "
                                    "short name, every relation a short verb phrase the text supports, no concept "
                                    "linked to itself, no relation missing that the text states. Reply with the "
                                    "corrected JSON only."}]


def next_question_messages(focus: list[str], topic: str | None) -> list[dict]:
    about = f" within the broad topic of {topic}" if topic else ""
    return [{"role": "system", "content": NEXT_SYSTEM},
            {"role": "user", "content": f"Concepts: {', '.join(focus)}.\nWrite one creative follow-up question that "
                                        f"explores a new idea about at least one of these concepts{about}. Name the "
                                        "concept in the question. Reply with the question only."}]


def fallback_question(focus: list[str], topic: str | None) -> str:
    about = f" in {topic}" if topic else ""
    return f"Discuss an interesting new idea about {focus[0]}{about}."


def only_the_question(reply: str) -> str:
    """The question of a reply, without the commentary a model adds around it ("This question explores...").

    >>> only_the_question('Question: "How could silk fibres heal cracks in bone?" This question links two ideas.')
    'How could silk fibres heal cracks in bone?'
    """
    text = " ".join(reply.split())
    text = re.sub(r"^[\s*]*(?:follow-up\s+)?question[\s*]*:\s*", "", text, flags=re.I)
    end = text.find("?")
    question = text[:end + 1] if end >= 0 else text
    return question.strip().strip('"*').strip()
