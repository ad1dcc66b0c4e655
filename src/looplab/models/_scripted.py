from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ._base import Completion, Message, ModelError, Usage, choice_probabilities, cut_at_repeat


def _words(text: str) -> int:
    return len(text.split())


class ScriptedModel:
    """Deterministic replies for tests: a list used in order (cycling), or a function of the messages.

    Tokens are counted as whitespace-separated words so budgets behave like a real model's.
    """

    def __init__(self, replies: Sequence[str] | Callable[[list[Message]], str], name: str = "scripted"):
        self.name = name
        self._replies = replies
        self._next = 0

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedModel:
        try:
            replies = json.loads(Path(path).read_text())
        except OSError as e:
            raise ModelError(f"cannot read scripted replies from {path}: {e.strerror}") from None
        except ValueError:
            raise ModelError(f"{path} is not a JSON list of replies") from None
        if not (isinstance(replies, list) and replies and all(isinstance(r, str) for r in replies)):
            raise ModelError(f"{path} must hold a non-empty JSON list of strings")
        return cls(replies, name=f"scripted:{path}")

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(_words(m["content"]) + 2 for m in messages)

    def complete(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 seed: int | None = None, json_schema: dict | None = None,
                 stop_on_repeat: bool = False) -> Completion:
        start = time.perf_counter()
        if callable(self._replies):
            text = self._replies(messages)
        else:
            text = self._replies[self._next % len(self._replies)]
            self._next += 1
        words = text.split()
        if len(words) > max_tokens:
            text, reason = " ".join(words[:max_tokens]), "length"
        else:
            reason = "stop"
        completion = Completion(text, Usage(self.count_tokens(messages), min(len(words), max_tokens)),
                                time.perf_counter() - start, reason)
        if stop_on_repeat:  # as a model that stops while decoding: the words after the cut are never written
            completion = cut_at_repeat(completion)
            completion = replace(completion, usage=Usage(completion.usage.prompt_tokens, len(completion.text.split())))
        return completion

    def probabilities(self, messages: list[Message], choices: list[str]) -> Completion:
        """The next reply read as the answer's probabilities: a JSON object such as {"YES": 0.8, "NO": 0.2},
        or one word, which gets all of it."""
        completion = self.complete(messages, max_tokens=1_000)
        try:
            given = json.loads(completion.text)
        except ValueError:
            given = {completion.text.strip(): 1.0}
        if not (isinstance(given, dict) and all(isinstance(p, (int, float)) for p in given.values())):
            raise ModelError(f"scripted probabilities must be a JSON object of numbers: {completion.text[:80]}")
        return replace(completion, text=json.dumps(choice_probabilities(given, choices)),
                       usage=Usage(completion.usage.prompt_tokens, 1))

    async def acomplete(self, messages: list[Message], **kwargs) -> Completion:
        await asyncio.sleep(0)  # let other loops in flight run between requests, as a server would
        return self.complete(messages, **kwargs)
