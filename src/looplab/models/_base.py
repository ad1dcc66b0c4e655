from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


class ModelError(Exception):
    """The model could not answer this request (bad request, context overflow, malformed reply)."""


class ModelUnavailable(ModelError):
    """The model server stayed unreachable or overloaded after every retry."""


class BudgetExceeded(Exception):
    """A call would exceed the call or token budget, so it was not made."""

    def __init__(self, message: str, meter: object = None):
        super().__init__(message)
        self.meter = meter  # the Meter whose budget refused the call


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    latency: float  # seconds spent waiting for the model
    finish_reason: str = "stop"
    usage_estimated: bool = False  # the server gave no usable token counts; they are an upper estimate
    call: int | None = None        # the id of its record, once recorded


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Model text as looplab keeps it: valid Unicode (a lone surrogate, which no file or database can
    hold, becomes U+FFFD); everything else, control characters included, is kept as it came.

    >>> clean_text("ok \\ud800")
    'ok \\ufffd'
    """
    return _SURROGATE.sub("\ufffd", text)


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*\s*")
REPEAT_WORDS = 4  # shorter sentences (list numbers, headings such as "Benefits:") may recur in a good answer


def repeat_start(text: str) -> int | None:
    """Where the first sentence of at least REPEAT_WORDS words that the text already said (compared without
    case, spacing or punctuation) begins; None when nothing repeats. A small model at temperature 0 often
    repeats itself until its token limit: what follows the first repeat adds nothing.

    >>> text = "Silk is very strong. It is light and tough. Silk is very strong! It is light and tough."
    >>> text[:repeat_start(text)]
    'Silk is very strong. It is light and tough. '
    """
    seen = set()
    for sentence in _SENTENCE.finditer(text):
        key = " ".join(re.sub(r"[^\w\s]", " ", sentence.group().lower()).split())
        if len(key.split()) < REPEAT_WORDS:
            continue
        if key in seen:
            return sentence.start()
        seen.add(key)
    return None


def cut_at_repeat(completion: Completion) -> Completion:
    """The completion up to its first repeated sentence, finished for reason "repeat" when cut: for a backend
    that cannot stop while it decodes, the same text a stopping one returns."""
    cut = repeat_start(completion.text)
    if cut is None:
        return completion
    return replace(completion, text=completion.text[:cut].rstrip(), finish_reason="repeat")


def parse_model_args(pairs: list[str] | None = None, as_json: str | None = None) -> dict:
    """Model arguments from `-M key=value` pairs (a value is read as JSON when it is JSON: numbers, booleans,
    null; else it is text) and from a JSON object (`--model-args`); a pair wins over the object.

    >>> parse_model_args(["repeat_penalty=1.0", "stop=END"], '{"top_k": 40}')
    {'top_k': 40, 'repeat_penalty': 1.0, 'stop': 'END'}
    """
    args: dict = {}
    if as_json:
        try:
            args = json.loads(as_json)
        except ValueError:
            raise ModelError(f"--model-args must be a JSON object, not {as_json[:80]!r}") from None
        if not isinstance(args, dict):
            raise ModelError(f"--model-args must be a JSON object, not {type(args).__name__}")
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ModelError(f"a model argument is KEY=VALUE, not {pair!r} (e.g. -M repeat_penalty=1.0)")
        try:
            args[key.strip()] = json.loads(value)
        except ValueError:
            args[key.strip()] = value
    return args


def named_with_args(name: str, model_args: dict) -> str:
    """A model's name with its arguments, so that a record made with other arguments is another model's.

    >>> named_with_args("openai:qwen", {"repeat_penalty": 1.0})
    'openai:qwen[repeat_penalty=1.0]'
    """
    if not model_args:
        return name
    return f"{name}[{','.join(f'{k}={json.dumps(v)}' for k, v in sorted(model_args.items()))}]"


@runtime_checkable
class Model(Protocol):
    """A chat model: messages in, text and usage out. A backend that can serve many requests at once also
    has `async acomplete(...)` with the same arguments (see `complete_async`). A backend that can say how
    likely each of a few one-word answers is has `probabilities(messages, choices)`: a Completion whose text
    is the JSON object `choice_probabilities` makes."""

    name: str

    def complete(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 seed: int | None = None, json_schema: dict | None = None,
                 stop_on_repeat: bool = False) -> Completion:
        """`json_schema` asks for JSON of that shape; backends that can constrain decoding do.
        `stop_on_repeat` ends the reply before its first repeated sentence (`repeat_start`), with finish
        reason "repeat"; backends that can stop while decoding do, so the repeats cost no time."""
        ...

    def count_tokens(self, messages: list[Message]) -> int:
        """An upper estimate of the prompt tokens these messages cost, used to enforce budgets."""
        ...


async def complete_async(model: Model, messages: list[Message], **kwargs) -> Completion:
    """`model.acomplete` when the backend has it; otherwise its blocking `complete` in a worker thread, so
    the event loop (and every other loop in flight) keeps going meanwhile."""
    acomplete = getattr(model, "acomplete", None)
    if acomplete is not None:
        return await acomplete(messages, **kwargs)
    return await asyncio.to_thread(model.complete, messages, **kwargs)


TOP_TOKENS = 20  # how many of the likeliest first tokens a probability answer looks at (OpenAI's maximum)


def choice_probabilities(top: dict[str, float], choices: list[str]) -> dict[str, float]:
    """How likely each choice is as the reply's first token, from the likeliest tokens and their
    probabilities: a token counts for a choice when it spells it in any case, with or without surrounding
    spaces ("YES", " yes", "Yes"). Normalized over the choices; all zero when none of them is among `top`.

    >>> choice_probabilities({"YES": 0.6, " yes": 0.2, "NO": 0.1, "Maybe": 0.1}, ["YES", "NO"])
    {'YES': 0.888889, 'NO': 0.111111}
    """
    mass = {c: 0.0 for c in choices}
    for token, p in top.items():
        for c in choices:
            if token.strip().lower() == c.lower():
                mass[c] += p
    total = sum(mass.values())
    return {c: round(m / total, 6) if total else 0.0 for c, m in mass.items()}


def probabilities_blocking(model: Model, messages: list[Message], choices: list[str]) -> Completion:
    """`model.probabilities`, or a clear error for a backend that gives none."""
    probabilities = getattr(model, "probabilities", None)
    if probabilities is None:
        raise ModelError(f"{model.name} cannot say how likely each answer is (it gives no probabilities)")
    return probabilities(messages, choices)
