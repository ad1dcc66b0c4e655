"""A simulated user (after MINT): a model that knows the task's reference solution, says whether the
assistant's answer is right yet, and helps in plain language without handing the answer over. Every reply
is checked for leaks (a code block, a long run of the reference's tokens, or the gold answer itself); a
leaking reply is withheld (its verdict stays), and the record says so. The user's verdict is a model's
reading of the reference, not the hidden test, which stays with the scorer.
"""
from __future__ import annotations

import re
from typing import Any

from ._base import Feedback, FeedbackSource

USER = ("You are a user working with an assistant. You know the correct solution (below), but you must not reveal "
        "it: no code, no query, no final answer, no quotation from it. Write the first line as `CORRECT` if the "
        "assistant's answer does what the correct solution does, else `NOT YET`; then, in one or two sentences, "
        "tell the assistant what is wrong or what to check.")
USER_TOKENS = 120
LEAK_RUN = 8  # this many consecutive tokens of the reference in a reply give it away
_TOKEN = re.compile(r"\w+|[^\w\s]")
_VERDICT = re.compile(r"^\W*(CORRECT|NOT YET)\W*", re.I)


def leaks(reply: str, reference: str) -> bool:
    """Whether a reply gives the reference away: a code block, `LEAK_RUN` consecutive tokens of it, or (for a
    short reference such as a number) the reference itself as a token.

    >>> leaks("Try summing instead.", "return a + b"), leaks("Answer is 42!", "42")
    (False, True)
    """
    if "```" in reply:
        return True
    said, secret = _TOKEN.findall(reply.lower()), _TOKEN.findall(reference.lower())
    if len(secret) < LEAK_RUN:  # a short reference (a number, a fraction): the reference itself, standing alone
        short = re.escape(reference.lower().strip())
        return bool(secret) and re.search(rf"(?<![\w.]){short}(?!\w|\.\d)", reply.lower()) is not None
    runs = {tuple(secret[i:i + LEAK_RUN]) for i in range(len(secret) - LEAK_RUN + 1)}
    return any(tuple(said[i:i + LEAK_RUN]) in runs for i in range(len(said) - LEAK_RUN + 1))


class SimulatedUser(FeedbackSource):
    """Plain-language help from a user who knows the reference. Bound to a task with `bind(ctx,
    reference)` by the engine, which alone reads the reference (from the family); policies never see it."""

    heading = "The user says:"
    reads_reference = True

    def __init__(self, ctx: Any = None, reference: str | None = None):
        self.ctx = ctx
        self.reference = reference

    def bind(self, ctx: Any, reference: str | None = None) -> SimulatedUser:
        return SimulatedUser(ctx, reference)

    async def evaluate(self, task: Any, candidate: str) -> Feedback:
        if not self.reference:
            return Feedback(0.0, True, "The user has nothing to say about this task.", {"leak": False})
        family = self.ctx.family
        messages = [{"role": "system", "content": USER},
                    {"role": "user", "content": f"Task:\n{family.describe(task)}\n\nThe correct solution (secret):\n"
                                                f"{self.reference}\n\nThe assistant's {family.voice.noun}:\n"
                                                f"{family.show(candidate)}\n\nYour reply to the assistant:"}]
        reply = await self.ctx.ask(messages, max_tokens=USER_TOKENS)
        found = _VERDICT.match(reply.text)
        correct = bool(found) and found.group(1).upper() == "CORRECT"
        help_text = reply.text[found.end():].strip() if found else reply.text
        calls = (reply.call,) if reply.call is not None else ()
        if leaks(reply.text, self.reference):  # the whole reply: the verdict's match may swallow a fence's backticks
            return Feedback(float(correct), correct, "(The user's reply was withheld: it gave the answer away.)",
                            {"leak": True, "withheld": reply.text[:1000]}, calls)
        return Feedback(float(correct), correct, help_text or ("Looks right." if correct else "Not yet."),
                        {"leak": False}, calls)
