from __future__ import annotations

import os

from ._base import Model, ModelError


def load_model(spec: str = "local", *, base_url: str | None = None, api_key: str | None = None,
               timeouts=None, model_args: dict | None = None, threads: int | None = None) -> Model:
    """Build a model from a `--model` string.

    - ``local`` (default): embedded Qwen2.5-Coder-0.5B-Instruct; ``local:smollm2``; ``local:/path/model.gguf``
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
    raise ModelError(f"unknown model {spec!r}; use local, local:smollm2, local:PATH.gguf, openai:NAME or scripted:FILE")
