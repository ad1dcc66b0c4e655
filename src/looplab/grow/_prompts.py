"""What the grow loop asks the model, and how its replies are trimmed."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields

from .._template import PromptError, check_fields

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

CONCEPT_SYSTEM = ("You list the scientific concepts of a text. Reply with JSON only: {\"concepts\": [...]}, each "
                  "concept a name of one to four words as the text writes it, the most important first.")
RELATION_SYSTEM = ("You turn scientific text into a knowledge graph. Reply with JSON only: {\"edges\": [{\"source\": "
                   "..., \"target\": ..., \"relation\": ...}]}, each edge between two of the given concepts, with a "
                   "short verb phrase saying how the text relates them. No edge from a concept to itself.")


REASON = "{context}{question}"
EXTRACT = "Text:\n{text}\n\nExtract the concepts and their relations as JSON."
RETRY = ("That reply could not be used: {error}. Reply again with only the JSON object, with \"nodes\" and \"edges\" "
         "lists as described.")
CONCEPT = "Text:\n{text}"
RELATION = "Text:\n{text}\n\nConcepts: {concepts}\n\nWrite the relations the text states between these concepts as JSON."
REFLECT = ("Checks on that graph found:\n{findings}\nCheck it against the text: every concept a short name, every "
           "relation a short verb phrase the text supports, no concept linked to itself, no relation missing that the "
           "text states. Reply with the corrected JSON only.")
NEXT = ("Concepts: {concepts}.\nWrite one creative follow-up question that explores a new idea about at least one of "
        "these concepts{about}. Name the concept in the question. Reply with the question only.")
FALLBACK = "Discuss an interesting new idea about {concept}{about}."

# The fields each template is filled with; the system prompts and the worked example are plain text.
FIELDS = {"reason": ("context", "question"), "extract": ("text",), "retry": ("error",), "concept": ("text",),
          "relation": ("text", "concepts"), "reflect": ("findings",), "next": ("concepts", "about"),
          "fallback": ("concept", "about")}


@dataclass(frozen=True)
class GrowPrompts:
    """What grow asks the model, as data: part of a grow run's recorded settings (a run resumes only under the
    prompts it was made with), and what an optimizer rewrites. Templates are checked when built (`check_fields`;
    the fields each may use are in FIELDS).

    >>> GrowPrompts(retry="Unreadable: {error}.").retry_messages("Silk is tough.", "{", "no JSON")[-1]["content"]
    'Unreadable: no JSON.'
    >>> GrowPrompts(extract="Text: {txt}")
    Traceback (most recent call last):
    looplab._template.PromptError: the extract template uses the unknown field {txt}; it may use {text} (write literal braces as {{ and }})
    """
    reason_system: str = REASON_SYSTEM
    reason: str = REASON
    extract_system: str = EXTRACT_SYSTEM
    example_text: str = EXAMPLE_TEXT
    example_graph: str = EXAMPLE_GRAPH
    extract: str = EXTRACT
    retry: str = RETRY
    concept_system: str = CONCEPT_SYSTEM
    concept: str = CONCEPT
    relation_system: str = RELATION_SYSTEM
    relation: str = RELATION
    reflect: str = REFLECT
    next_system: str = NEXT_SYSTEM
    next: str = NEXT
    fallback: str = FALLBACK

    def __post_init__(self):
        for name in fields(self):
            if name.name in FIELDS:
                check_fields(name.name, getattr(self, name.name), FIELDS[name.name])
            elif not isinstance(getattr(self, name.name), str):
                raise PromptError(f"the {name.name} prompt must be text, not {type(getattr(self, name.name)).__name__}")

    def reason_messages(self, question: str, topic: str | None) -> list[dict]:
        context = f"Broad topic: {topic}.\n\n" if topic else ""
        return [{"role": "system", "content": self.reason_system},
                {"role": "user", "content": self.reason.format(context=context, question=question)}]

    def extract_messages(self, text: str) -> list[dict]:
        return [{"role": "system", "content": self.extract_system},
                {"role": "user", "content": self.extract.format(text=self.example_text)},
                {"role": "assistant", "content": self.example_graph},
                {"role": "user", "content": self.extract.format(text=text)}]

    def retry_messages(self, text: str, reply: str, error: str) -> list[dict]:
        """The extraction's own feedback loop: show the model why its reply could not be read."""
        return self.extract_messages(text) + [{"role": "assistant", "content": reply},
                                              {"role": "user", "content": self.retry.format(error=error)}]

    def concept_messages(self, text: str) -> list[dict]:
        return [{"role": "system", "content": self.concept_system},
                {"role": "user", "content": self.concept.format(text=text)}]

    def relation_messages(self, text: str, concepts: list[str]) -> list[dict]:
        return [{"role": "system", "content": self.relation_system},
                {"role": "user", "content": self.relation.format(text=text, concepts="; ".join(concepts))}]

    def reflect_messages(self, text: str, graph: str, findings: list[str]) -> list[dict]:
        """The extraction, what the rules found wrong with it, and a request to critique and fix it."""
        found = "\n".join(f"- {f}" for f in findings[:12])
        return self.extract_messages(text) + [{"role": "assistant", "content": graph},
                                              {"role": "user", "content": self.reflect.format(findings=found)}]

    def next_question_messages(self, focus: list[str], topic: str | None) -> list[dict]:
        about = f" within the broad topic of {topic}" if topic else ""
        return [{"role": "system", "content": self.next_system},
                {"role": "user", "content": self.next.format(concepts=", ".join(focus), about=about)}]

    def fallback_question(self, focus: list[str], topic: str | None) -> str:
        return self.fallback.format(concept=focus[0], about=f" in {topic}" if topic else "")


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
