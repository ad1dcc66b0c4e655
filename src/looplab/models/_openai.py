from __future__ import annotations

import asyncio
import json
import math
import random
import time
from dataclasses import dataclass, replace

import aiohttp

from ._base import (TOP_TOKENS, Completion, Message, ModelError, ModelUnavailable, Usage, choice_probabilities,
                    clean_text, cut_at_repeat, named_with_args)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# The request fields looplab sets itself; model arguments may not replace them.
OWN_FIELDS = {"model", "messages", "temperature", "max_tokens", "seed", "response_format", "logprobs", "top_logprobs",
              "stream", "n"}
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After counts as unavailable for now


@dataclass(frozen=True)
class Timeouts:
    """How long a request may take: to connect, between two bytes of the reply, and in all for one call
    (every retry included). A server that never answers costs at most `call` seconds per call."""

    connect: float = 10.0
    read: float = 300.0
    call: float = 900.0

    def __post_init__(self):
        for name in ("connect", "read", "call"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise ValueError(f"the {name} timeout must be a positive number of seconds, not {value!r}")


@dataclass(frozen=True)
class HttpReply:
    """A server's reply, read whole."""

    status: int
    text: str
    retry_after: float | None  # seconds, from a Retry-After header in seconds


def _retry_after(headers) -> float | None:
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None


def _session(headers: dict) -> aiohttp.ClientSession:
    # No connection limit of its own: the engine decides how many requests are in flight.
    return aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0))


async def request(http: aiohttp.ClientSession, method: str, url: str, body: dict | None,
                  timeout: aiohttp.ClientTimeout) -> HttpReply:
    async with http.request(method, url, json=body, timeout=timeout) as response:
        return HttpReply(response.status, await response.text(errors="replace"), _retry_after(response.headers))


async def post_with_retries(http: aiohttp.ClientSession, url: str, body: dict, *, timeouts: Timeouts = Timeouts(),
                            max_retries: int = 5, backoff: float = 1.0) -> HttpReply:
    """POST JSON; retry transient failures (429, 5xx, timeouts, dropped connections) with exponential
    backoff and jitter, or after the server's Retry-After; raise ModelUnavailable when they persist or
    the call's time (`timeouts.call`) is up, and ModelError on a refusal."""
    problem, deadline, wait = "", time.monotonic() + timeouts.call, 0.0
    for attempt in range(max_retries + 1):
        if attempt:
            wait = wait or backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            if time.monotonic() + wait >= deadline:
                break
            await asyncio.sleep(wait)
        wait = 0.0
        left = deadline - time.monotonic()
        timeout = aiohttp.ClientTimeout(total=left, connect=min(timeouts.connect, left),
                                        sock_read=min(timeouts.read, left))
        try:
            reply = await request(http, "POST", url, body, timeout)
        except asyncio.TimeoutError:
            problem = "timed out"
            continue
        except aiohttp.ClientError as e:
            problem = f"connection failed ({type(e).__name__}: {e})"
            continue
        if reply.status in RETRY_STATUS:
            problem = f"HTTP {reply.status}: {reply.text[:200]}"
            if reply.retry_after is not None and reply.retry_after > MAX_RETRY_AFTER:
                break
            wait = reply.retry_after or 0.0
            continue
        if reply.status >= 400:
            raise ModelError(f"{url} refused the request with HTTP {reply.status}: {reply.text[:300]}")
        return reply
    raise ModelUnavailable(f"{url} failed after {attempt + 1} tries; last: {problem}")


def post_blocking(url: str, body: dict, *, headers: dict, timeouts: Timeouts = Timeouts(), **retries) -> HttpReply:
    """`post_with_retries` for callers without an event loop."""
    async def post() -> HttpReply:
        async with _session(headers) as http:
            return await post_with_retries(http, url, body, timeouts=timeouts, **retries)
    return asyncio.run(post())


def get_blocking(url: str, *, headers: dict | None = None, seconds: float = 5.0) -> HttpReply:
    """One GET, for callers without an event loop; raises aiohttp.ClientError or asyncio.TimeoutError."""
    async def get() -> HttpReply:
        async with _session(headers or {}) as http:
            return await request(http, "GET", url, None, aiohttp.ClientTimeout(total=seconds))
    return asyncio.run(get())


def _content(message: dict) -> str:
    """The reply text: a string, or the text parts of a list of content parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(p["text"] for p in content if isinstance(p.get("text"), str))
    raise TypeError(f"content is a {type(content).__name__}")


def _count(usage: object, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        return None
    return int(value)


DEFAULT_SERVER_CONNECTIONS = 16  # requests in flight to a server unless told otherwise


class OpenAIModel:
    """Any server speaking the OpenAI chat-completions API (vLLM, llama.cpp server, Ollama, hosted APIs).

    `acomplete` serves many requests at once over one connection pool (the engine bounds how many with
    `max_connections`); `complete` is the same request for a caller without an event loop. Transient failures (429, 5xx, timeouts, dropped connections) are retried with backoff up to
    `max_retries` times within the call's time, then raised as ModelUnavailable. A reply without a
    usable `usage` is charged by the same upper estimate the budget uses, so budgets still hold.
    """

    default_connections = DEFAULT_SERVER_CONNECTIONS

    def __init__(self, model: str, base_url: str, api_key: str | None = None, *,
                 timeouts: Timeouts = Timeouts(), max_retries: int = 5, backoff: float = 1.0,
                 model_args: dict | None = None):
        """`model_args` go into every request's body as they are (`repeat_penalty`, `top_k`, a server's own
        settings), beside looplab's fields, which they may not replace."""
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.model_args = dict(model_args or {})
        taken = sorted(set(self.model_args) & OWN_FIELDS)
        if taken:
            raise ModelError(f"-M {taken[0]} is looplab's own field of the request; set it with looplab's option")
        self.name = named_with_args(f"openai:{model}", self.model_args)
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeouts = timeouts
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http: aiohttp.ClientSession | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The connection pool of the running event loop (a pool cannot move between loops)."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._http.closed or self._http_loop is not loop:
            self._http, self._http_loop = _session(self._headers), loop
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool of the running loop (the engine does, at the end of a run)."""
        if self._http is not None and not self._http.closed and self._http_loop is asyncio.get_running_loop():
            await self._http.close()

    def check(self, seconds: float = 5.0) -> None:
        """Fail within seconds, with one sentence, when no server answers at the base URL."""
        try:
            get_blocking(f"{self.base_url}/models", headers=self._headers, seconds=seconds)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise ModelUnavailable(f"no server answers at {self.base_url} ({type(e).__name__}); start it, or fix "
                                   "--base-url (e.g. http://127.0.0.1:8000/v1)") from None

    def count_tokens(self, messages: list[Message]) -> int:
        # No tokenizer for an arbitrary server: one token per two bytes is above what BPE
        # tokenizers produce for English and code, plus the chat template's per-message tokens.
        return sum(len(m["content"].encode("utf-8", "replace")) // 2 + 8 for m in messages) + 8

    def complete(self, messages: list[Message], **kwargs) -> Completion:
        async def once() -> Completion:
            try:
                return await self.acomplete(messages, **kwargs)
            finally:
                await self.aclose()
        return asyncio.run(once())

    async def acomplete(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                        seed: int | None = None, json_schema: dict | None = None,
                        stop_on_repeat: bool = False) -> Completion:
        """`stop_on_repeat` cuts the reply once it is back (the server decodes to the end: its time, not ours)."""
        body = {**self.model_args, "model": self.model, "messages": messages, "temperature": temperature,
                "max_tokens": max_tokens}
        if seed is not None:
            body["seed"] = seed
        if json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": json_schema}}
        start = time.perf_counter()
        response = await post_with_retries(self._client(), f"{self.base_url}/chat/completions", body,
                                           timeouts=self.timeouts, max_retries=self.max_retries, backoff=self.backoff)
        completion = self._parse(response, messages, time.perf_counter() - start)
        return cut_at_repeat(completion) if stop_on_repeat else completion

    def probabilities(self, messages: list[Message], choices: list[str]) -> Completion:
        async def once() -> Completion:
            try:
                return await self.aprobabilities(messages, choices)
            finally:
                await self.aclose()
        return asyncio.run(once())

    async def aprobabilities(self, messages: list[Message], choices: list[str]) -> Completion:
        """How likely each choice is as the reply's first token, from the server's top log-probabilities."""
        body = {**self.model_args, "model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": 1,
                "logprobs": True, "top_logprobs": TOP_TOKENS}
        start = time.perf_counter()
        response = await post_with_retries(self._client(), f"{self.base_url}/chat/completions", body,
                                           timeouts=self.timeouts, max_retries=self.max_retries, backoff=self.backoff)
        completion = self._parse(response, messages, time.perf_counter() - start)
        try:
            top = json.loads(response.text)["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            probabilities = {}
            for entry in top:
                probabilities[entry["token"]] = probabilities.get(entry["token"], 0.0) + math.exp(entry["logprob"])
        except (KeyError, IndexError, TypeError) as e:
            raise ModelError(f"{self.base_url} gave no log-probabilities ({type(e).__name__}: {e}); a judge that "
                             "scores by probability needs a server that returns them") from None
        return replace(completion, text=json.dumps(choice_probabilities(probabilities, choices)))

    def _parse(self, response: HttpReply, messages: list[Message], latency: float) -> Completion:
        try:
            data = json.loads(response.text)
            choice = data["choices"][0]
            text = clean_text(_content(choice["message"]))
            finish = choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            raise ModelError(f"malformed reply from {self.base_url} ({type(e).__name__}: {e}): "
                             f"{clean_text(response.text[:300])}") from None
        usage = data.get("usage")
        prompt, completion = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
        estimated = prompt is None or completion is None
        if estimated:
            prompt = self.count_tokens(messages)
            completion = len(text.encode()) // 2 + 1
        return Completion(text, Usage(prompt, completion), latency,
                          finish if isinstance(finish, str) else "stop", usage_estimated=estimated)
