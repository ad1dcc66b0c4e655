from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ._base import (TOP_TOKENS, Completion, Message, ModelError, Usage, choice_probabilities, named_with_args,
                    repeat_start)

# For a model without a chat template of its own: tokens around each message (<|im_start|>role\n ...
# <|im_end|>\n) and the reply header.
TEMPLATE_TOKENS_PER_MESSAGE = 6
TEMPLATE_TOKENS_FIXED = 4


# The settings of llama.cpp's chat completion that `-M` may set (the rest are looplab's own: messages, the
# token limit, the seed, the temperature, the response format).
SAMPLING_ARGS = ("top_p", "top_k", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty",
                 "tfs_z", "mirostat_mode", "mirostat_tau", "mirostat_eta", "stop", "logit_bias")


def default_threads() -> int:
    """Threads for llama.cpp: LOOPLAB_THREADS when set, else the cores not already busy (the load average of the
    last minute, rounded), at least 1. llama.cpp's threads spin, so more threads than free cores slows everything
    to a crawl: measured on 2 cores with another model process generating on both, 2 threads gave 0.5 tokens/s
    and 1 thread 6.2 (alone: 25.4 and 18.2)."""
    if os.environ.get("LOOPLAB_THREADS"):
        return max(1, int(os.environ["LOOPLAB_THREADS"]))
    cores = len(os.sched_getaffinity(0))
    return max(1, cores - int(os.getloadavg()[0] + 0.5))


class LlamaModel:
    """A GGUF model run in-process by llama.cpp on the CPU. It serves one request at a time (its own
    worker thread); `busy_seconds` is the time spent generating, to show how busy a run kept it."""

    def __init__(self, path: str | Path, name: str, *, n_ctx: int = 4096, n_threads: int | None = None,
                 model_args: dict | None = None, lora_path: str | Path | None = None):
        """`model_args`: sampling settings llama.cpp's chat completion has (SAMPLING_ARGS), applied to every
        call, and `n_ctx`, the context window to load the model with; any other name is refused. `lora_path`:
        a LoRA adapter GGUF applied over the model."""
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise ModelError("llama-cpp-python is not installed; install it with: "
                             "pip install 'looplab[local]' (builds llama.cpp, about 12 minutes)") from e
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"no GGUF model file at {path}")
        given = dict(model_args or {})
        self.model_args = {k: v for k, v in given.items() if k != "n_ctx"}
        n_ctx = given.get("n_ctx", n_ctx)
        if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 512:
            raise ModelError(f"n_ctx is the context window in tokens, a whole number of at least 512, not {n_ctx!r}")
        unknown = sorted(set(self.model_args) - set(SAMPLING_ARGS))
        if unknown:
            raise ModelError(f"the embedded model has no setting {unknown[0]!r}; it takes n_ctx, "
                             f"{', '.join(SAMPLING_ARGS)}")
        self.name = named_with_args(name, given)  # a longer window lets prompts through a shorter one refuses
        self.path = path
        self.n_ctx = n_ctx
        threads = n_threads or default_threads()
        self.threads = threads
        try:
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0,
                              lora_path=str(lora_path) if lora_path else None)
        except ValueError as e:  # llama.cpp could not read the file as a model
            raise ModelError(f"{path} is not a GGUF model llama.cpp can load ({e})") from None
        self._template = self._own_template()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._lock = threading.Lock()  # llama.cpp's context is not thread-safe: one generation at a time
        self.busy_seconds = 0.0

    def _own_template(self):
        """The chat template the model's file carries, which llama.cpp formats every chat with; None without one."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template or self._llm.chat_format != "chat_template.default":
            return None

        def text(token: int) -> str:
            return self._llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""
        return Jinja2ChatFormatter(template=template, eos_token=text(self._llm.token_eos()),
                                   bos_token=text(self._llm.token_bos()))

    def count_tokens(self, messages: list[Message]) -> int:
        """The prompt's tokens exactly as llama.cpp will see them: the messages in the model's own chat
        template (which may add text, such as a default system message when there is none)."""
        # Tokenizing reads only the vocabulary, so it may run while another thread generates.
        if self._template is not None:
            prompt = self._template(messages=messages).prompt
            return len(self._llm.tokenize(prompt.encode(), add_bos=False, special=True))
        content = sum(len(self._llm.tokenize(m["content"].encode(), add_bos=False, special=True))
                      for m in messages)
        return content + TEMPLATE_TOKENS_PER_MESSAGE * len(messages) + TEMPLATE_TOKENS_FIXED

    def complete(self, messages: list[Message], *, temperature: float = 0.0, max_tokens: int = 512,
                 seed: int | None = None, json_schema: dict | None = None,
                 stop_on_repeat: bool = False) -> Completion:
        room = self._room(messages, least=16)
        # A JSON schema becomes a grammar that constrains decoding.
        response_format = {"type": "json_object", "schema": json_schema} if json_schema else None
        return self._chat(messages, self._until_repeat if stop_on_repeat else self._whole,
                          temperature=temperature, max_tokens=min(max_tokens, room),
                          seed=seed if seed is not None else 0, response_format=response_format, stream=stop_on_repeat)

    async def acomplete(self, messages: list[Message], **kwargs) -> Completion:
        return await asyncio.get_running_loop().run_in_executor(self._worker, lambda: self.complete(messages, **kwargs))

    def probabilities(self, messages: list[Message], choices: list[str]) -> Completion:
        """How likely each choice is as the first token of the reply (see `choice_probabilities`), read from
        the logits of the one token decoded."""
        from llama_cpp import LogitsProcessorList
        self._room(messages, least=2)
        seen = []

        def keep(_ids, logits):  # the first processor in the sampler chain sees the raw logits
            seen.append(np.array(logits, dtype=np.float64))
            return logits

        def read(out, start: float) -> Completion:
            shifted = np.exp(seen[0] - seen[0].max())
            p = shifted / shifted.sum()
            top = {}
            for token in np.argsort(-p)[:TOP_TOKENS]:
                text = self._llm.detokenize([int(token)]).decode("utf-8", "replace")
                top[text] = top.get(text, 0.0) + float(p[token])
            usage = out.get("usage") or {}
            return Completion(json.dumps(choice_probabilities(top, choices)),
                              Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 1)),
                              time.perf_counter() - start)
        return self._chat(messages, read, temperature=0.0, max_tokens=1, logits_processor=LogitsProcessorList([keep]))

    def _room(self, messages: list[Message], *, least: int) -> int:
        """Tokens the context has left after the prompt; an error when fewer than `least`."""
        room = self.n_ctx - self.count_tokens(messages)
        if room < least:
            raise ModelError(f"the prompt does not fit in the model's context window of {self.n_ctx} tokens")
        return room

    def _chat(self, messages: list[Message], read, **options) -> Completion:
        """One llama.cpp chat call at a time (its context is not thread-safe), read into a Completion by
        `read(output, start)` while the lock is held (a stream decodes as it is read); its time counts as busy."""
        with self._lock:
            start = time.perf_counter()
            try:
                return read(self._llm.create_chat_completion(messages=messages, **self.model_args, **options), start)
            except ValueError as e:  # llama.cpp reports context overflow this way
                raise ModelError(str(e)) from e
            finally:
                self.busy_seconds += time.perf_counter() - start

    @staticmethod
    def _whole(out: dict, start: float) -> Completion:
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(choice["message"]["content"] or "",
                          Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
                          time.perf_counter() - start, choice.get("finish_reason") or "stop")

    def _until_repeat(self, chunks, start: float) -> Completion:
        """Read a streamed reply and stop decoding at the first sentence it repeats. A stream reports no
        usage: the prompt is what the context holds when the first chunk arrives, the reply one token a chunk."""
        text, tokens, finish, prompt = "", 0, "stop", None
        for chunk in chunks:
            prompt = self._llm.n_tokens if prompt is None else prompt
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content") or ""
            text += piece
            tokens += bool(piece)
            finish = choice.get("finish_reason") or finish
            # only whole sentences are compared: the text up to its last sentence end
            if any(mark in piece for mark in ".!?\n") and (
                    cut := repeat_start(text[:max(text.rfind(m) for m in ".!?\n") + 1])) is not None:
                chunks.close()  # stops decoding
                text, finish = text[:cut].rstrip(), "repeat"
                break
        return Completion(text, Usage(prompt or 0, tokens), time.perf_counter() - start, finish)
