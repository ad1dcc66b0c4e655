from __future__ import annotations

import time

import httpx

from ._base import Completion, Message, ModelError, ModelUnavailable, Usage

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def post_with_retries(http: httpx.Client, url: str, body: dict, *, max_retries: int = 5,
                      backoff: float = 1.0) -> httpx.Response:
    """POST JSON; retry transient failures (429, 5xx, timeouts, dropped connections) with
    exponential backoff, raise ModelUnavailable when they persist and ModelError on a refusal."""
    problem = ""
    for attempt in range(max_retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            response = http.post(url, json=body)
        except httpx.TimeoutException:
            problem = f"timed out after {http.timeout.read}s"
            continue
        except httpx.TransportError as e:
            problem = f"connection failed ({type(e).__name__}: {e})"
            continue
        if response.status_code in RETRY_STATUS:
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
            continue
        if response.status_code >= 400:
            raise ModelError(f"{url} refused the request with HTTP {response.status_code}: {response.text[:300]}")
        return response
    raise ModelUnavailable(f"{url} failed {max_retries + 1} times; last: {problem}")


class OpenAIModel:
    """Any server speaking the OpenAI chat-completions API (vLLM, llama.cpp server, Ollama, hosted APIs).

    Transient failures (429, 5xx, timeouts, dropped connections) are retried with exponential
    backoff up to `max_retries` times, then raised as ModelUnavailable.
    """

    def __init__(self, model: str, base_url: str, api_key: str | None = None, *,
                 timeout: float = 300.0, max_retries: int = 5, backoff: float = 1.0):
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.name = f"openai:{model}"
        self.max_retries = max_retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def count_tokens(self, messages: list[Message]) -> int:
        # No tokenizer for an arbitrary server: one token per two bytes is above what BPE
        # tokenizers produce for English and code, plus the chat template's per-message tokens.
        return sum(len(m["content"].encode()) // 2 + 8 for m in messages) + 8

    def complete(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 seed: int | None = None, json_schema: dict | None = None) -> Completion:
        body = {"model": self.model, "messages": messages, "temperature": temperature,
                "max_tokens": max_tokens}
        if seed is not None:
            body["seed"] = seed
        if json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": json_schema}}
        start = time.perf_counter()
        response = post_with_retries(self._http, f"{self.base_url}/chat/completions", body,
                                     max_retries=self.max_retries, backoff=self.backoff)
        return self._parse(response, time.perf_counter() - start)

    def _parse(self, response: httpx.Response, latency: float) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise ModelError(f"malformed reply from {self.base_url}: {response.text[:300]}") from e
        return Completion(text, Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
                          latency, choice.get("finish_reason") or "stop")
