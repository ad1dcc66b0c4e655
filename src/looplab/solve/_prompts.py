"""The prompts the solve policies send, as data. One set of templates serves every task family: a
family lends its words (`Voice`: what a candidate is called, how a reply is shaped, the system
prompt). A policy's prompts are part of its configuration and of its recorded identity, so an
optimizer can vary them and the record keeps variants apart."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from .._template import PromptError, check_fields
from ..models import Message
from ..tasks import Family


COMMON_FIELDS = ("task", "noun", "Noun", "block", "checked")  # every template may use these
# What each template adds to the common fields; `system` and `thinker` are plain text, not templates.
TEMPLATE_FIELDS = {
    "first": (), "revision": ("feedback", "advice"), "advice": ("advice",), "rewrite": ("feedback",), "try_again": (),
    "reflection": ("candidate", "feedback"), "reflexion": ("candidate", "feedback", "lessons"),
    "strategies": ("count",), "strategy": ("strategy",), "critic_passed": ("candidate", "feedback"),
    "critic_failed": ("candidate", "feedback"), "next_steps": ("plan", "count"), "plan_code": ("plan",),
    "self_evaluation": ("plan",), "rethink": ("plan", "candidate", "feedback", "step"),
    "mutation": ("candidate", "feedback", "lessons"),
    "crossover": ("candidate_a", "feedback_a", "candidate_b", "feedback_b", "lessons"),
}


def check_template(name: str, template: str) -> None:
    """Refuse, with one sentence naming the template and the field, a template that `str.format` could not
    fill with the fields `name` gets (literal braces are written `{{` and `}}`).

    >>> check_template("revision", "{checked}. {feedback}\\nFix the {noun}.")
    >>> check_template("revision", 'Reply as {"answer": 1}')
    Traceback (most recent call last):
    looplab._template.PromptError: the revision template uses the unknown field {"answer"}; it may use {task}, {noun}, {Noun}, {block}, {checked}, {feedback}, {advice} (write literal braces as {{ and }})
    """
    check_fields(name, template, COMMON_FIELDS + TEMPLATE_FIELDS[name])


@dataclass(frozen=True)
class Prompts:
    """The prompts a policy sends: templates filled with `str.format`, checked when built (`check_template`).
    Every template may use {task}, {noun}, {Noun}, {block}, {checked}; the others name what they add:
    {candidate}, {feedback}, {advice}, {lessons}, {plan}, {count}, {strategy}, {step}, {candidate_a},
    {feedback_a}, {candidate_b}, {feedback_b} (see TEMPLATE_FIELDS). Templates for proposals go out under
    `system`, the others (`reflection`, `strategies`, `critic_*`, `next_steps`, `self_evaluation`, `rethink`)
    under `thinker`; empty, each is the family's own (its `Voice`).

    >>> Prompts(first="{task}\\n\\nThink first.").identity() != Prompts().identity()
    True
    """

    system: str = ""
    thinker: str = ""
    first: str = "{task}"
    revision: str = ("{checked} and it is not right yet.\n{feedback}\n{advice}\nFix the {noun}. Reply with the "
                     "complete corrected {noun}{block}.")
    advice: str = "\nAdvice: {advice}\n"
    rewrite: str = ("{task}\n\nAn earlier {noun} for this task was wrong:\n{feedback}\n\nWrite a new {noun} that "
                    "gets these cases right.")
    try_again: str = "That is not right. Try again."
    reflection: str = ("Task:\n{task}\nA {noun}:\n{candidate}\nResults:\n{feedback}\n\nIn two or three sentences: "
                       "why is this {noun} wrong, and what must the next one do differently?")
    reflexion: str = ("{task}\n\nYour last {noun}:\n{candidate}\nResults:\n{feedback}\n\nLessons from your earlier "
                      "attempts:\n{lessons}\n\nWrite a corrected {noun} that follows the lessons.")
    strategies: str = ("{task}\n\nPropose {count} different strategies to write the {noun}, as a numbered list, "
                       "one sentence each.")
    strategy: str = "{task}\n\nWrite the {noun} with this strategy: {strategy}"
    critic_passed: str = ("Task:\n{task}\n{Noun}:\n{candidate}\nResults:\n{feedback}\n\nThe task's own checks pass, "
                          "but other checks fail. Decide whether the {noun} is right. Reply ACCEPT if the failing "
                          "checks are wrong, or REFINE: <what to change> if the {noun} is wrong.")
    critic_failed: str = ("Task:\n{task}\n{Noun}:\n{candidate}\nResults:\n{feedback}\n\nDecide what to do with this "
                          "{noun}. Reply REFINE: <what to change> if it is close, or ABANDON: <why> if its approach "
                          "cannot work.")
    next_steps: str = ("{task}\n\nPlan so far:\n{plan}\n\nPropose {count} different possible next steps of the plan, "
                       "as a numbered list, one sentence each.")
    plan_code: str = "{task}\n\nFollow this plan:\n{plan}"
    self_evaluation: str = ("{task}\n\nPlan:\n{plan}\n\nHow likely is this plan to give a correct {noun}? Reply with "
                            "one number from 0 to 10.")
    rethink: str = ("{task}\n\nPlan:\n{plan}\n\n{Noun} written from this plan:\n{candidate}\nResults:\n{feedback}\n\n"
                    "The last step of the plan led to this error. Rewrite step {step} so that it is correct. Reply "
                    "with the new step only, in one sentence.")
    mutation: str = ("{task}\n\nA candidate {noun}:\n{candidate}\nResults:\n{feedback}\n{lessons}\nChange the "
                     "candidate to fix it. First write one line `Change: <what you change>`, then the complete "
                     "{noun}{block}.")
    crossover: str = ("{task}\n\nCandidate A:\n{candidate_a}\nResults of A:\n{feedback_a}\n\nCandidate B:\n"
                      "{candidate_b}\nResults of B:\n{feedback_b}\n{lessons}\nCombine what each does right into one "
                      "{noun}. First write one line `Change: <what you combine>`, then the complete {noun}{block}.")

    def __post_init__(self):
        for name in TEMPLATE_FIELDS:
            check_template(name, getattr(self, name))
        for name in ("system", "thinker"):
            if not isinstance(getattr(self, name), str):
                raise PromptError(f"the {name} prompt must be text, not {type(getattr(self, name)).__name__}")

    def identity(self, templates: dict[str, str] | None = None) -> str:
        """A short digest of `templates` (by default every one): equal digests, equal prompts."""
        return hashlib.sha256(json.dumps(templates or asdict(self), sort_keys=True).encode()).hexdigest()[:8]


class Messages:
    """The chat messages of each prompt for one task of one family."""

    def __init__(self, prompts: Prompts, family: Family, task: Any):
        self.prompts = prompts
        self.family = family
        voice = family.voice
        self.task_text = family.describe(task)
        self.words = {"task": self.task_text, "noun": voice.noun, "Noun": voice.noun[:1].upper() + voice.noun[1:],
                      "block": voice.block, "checked": voice.checked}

    def _fill(self, template: str, **values: Any) -> str:
        return template.format(**self.words, **values)

    def _propose(self, template: str, **values: Any) -> list[Message]:
        return [{"role": "system", "content": self.prompts.system or self.family.voice.system},
                {"role": "user", "content": self._fill(template, **values)}]

    def _think(self, template: str, **values: Any) -> list[Message]:
        return [{"role": "system", "content": self.prompts.thinker or self.family.voice.thinker},
                {"role": "user", "content": self._fill(template, **values)}]

    def _answer_to(self, candidate: str, reply: str) -> list[Message]:
        """The candidate as the model's own turn, then the user's reply to it."""
        return self.first() + [{"role": "assistant", "content": self.family.show(candidate)},
                               {"role": "user", "content": reply}]

    def first(self) -> list[Message]:
        return self._propose(self.prompts.first)

    def revision(self, candidate: str, feedback: str, advice: str = "") -> list[Message]:
        advice = self._fill(self.prompts.advice, advice=advice) if advice else ""
        return self._answer_to(candidate, self._fill(self.prompts.revision, feedback=feedback, advice=advice))

    def rewrite(self, feedback: str) -> list[Message]:
        """A fresh start that knows what went wrong, without the failed candidate to copy from."""
        return self._propose(self.prompts.rewrite, feedback=feedback)

    def try_again(self, candidate: str) -> list[Message]:
        return self._answer_to(candidate, self._fill(self.prompts.try_again))

    def reflection(self, candidate: str, feedback: str) -> list[Message]:
        return self._think(self.prompts.reflection, candidate=self.family.show(candidate), feedback=feedback)

    def reflexion(self, candidate: str, feedback: str, lessons: list[str]) -> list[Message]:
        notes = "\n".join(f"{i}. {lesson}" for i, lesson in enumerate(lessons, 1))
        return self._propose(self.prompts.reflexion, candidate=self.family.show(candidate), feedback=feedback,
                             lessons=notes)

    def strategies(self, count: int) -> list[Message]:
        return self._think(self.prompts.strategies, count=count)

    def strategy(self, strategy: str) -> list[Message]:
        return self._propose(self.prompts.strategy, strategy=strategy)

    def critic(self, candidate: str, feedback: str, deciding_passed: bool) -> list[Message]:
        template = self.prompts.critic_passed if deciding_passed else self.prompts.critic_failed
        return self._think(template, candidate=self.family.show(candidate), feedback=feedback)

    def next_steps(self, thoughts: list[str], count: int) -> list[Message]:
        return self._think(self.prompts.next_steps, plan=_plan(thoughts) or "(no steps yet)", count=count)

    def plan_code(self, thoughts: list[str]) -> list[Message]:
        return self._propose(self.prompts.plan_code, plan=_plan(thoughts))

    def self_evaluation(self, thoughts: list[str]) -> list[Message]:
        return self._think(self.prompts.self_evaluation, plan=_plan(thoughts))

    def rethink(self, thoughts: list[str], candidate: str, feedback: str) -> list[Message]:
        return self._think(self.prompts.rethink, plan=_plan(thoughts), candidate=self.family.show(candidate),
                           feedback=feedback, step=len(thoughts))

    def mutation(self, candidate: str, feedback: str, lessons: str) -> list[Message]:
        return self._propose(self.prompts.mutation, candidate=self.family.show(candidate), feedback=feedback,
                             lessons=lessons)

    def crossover(self, first: tuple[str, str], second: tuple[str, str], lessons: str) -> list[Message]:
        (a, feedback_a), (b, feedback_b) = first, second
        return self._propose(self.prompts.crossover, candidate_a=self.family.show(a), feedback_a=feedback_a,
                             candidate_b=self.family.show(b), feedback_b=feedback_b, lessons=lessons)


def _plan(thoughts: list[str]) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(thoughts, 1))


_ITEM = re.compile(r"[ \t]*(?:\d+[.)]|[-*])[ \t]+(\S.*)")


def numbered_items(reply: str, limit: int) -> list[str]:
    """The items of a numbered or bulleted list in a reply, at most `limit`, without duplicates.

    >>> numbered_items("1. **Sort** first\\n2. Use a set\\n2. Use a set", 5)
    ['Sort first', 'Use a set']
    """
    items = []
    for line in reply.splitlines():
        match = _ITEM.match(line)
        item = match.group(1).rstrip().replace("**", "") if match else ""
        if len(item) > 3 and item not in items:
            items.append(item)
    return items[:limit]
