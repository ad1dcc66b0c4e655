"""Between llama.cpp's GGUF files and the trainable model: the base's weights read from its GGUF once (cached as a
transformers directory tied to the file's digest), and a trained LoRA adapter written as the LoRA GGUF llama.cpp
loads beside the base (`Llama(lora_path=...)`)."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..models import cache_root

# PEFT's module names and the GGUF tensor each one adapts (the seven projections of a Qwen2 or Llama block).
GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down"}
TARGET_MODULES = tuple(name.split(".")[1] for name in GGUF_NAMES)
_LORA_KEY = re.compile(r"layers\.(\d+)\.(self_attn\.\w+|mlp\.\w+)\.lora_([AB])\.(?:default\.)?weight$")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_lora_gguf(state: dict, alpha: float, architecture: str, path: Path) -> int:
    """Write a PEFT LoRA state dict (lora_A and lora_B of the seven projections) as a LoRA GGUF: each pair under
    its base tensor's GGUF name with `.lora_a` (r x in) and `.lora_b` (out x r), and the adapter's alpha.
    Returns the number of adapted tensors."""
    import gguf
    import numpy as np

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, tensor in state.items():
        found = _LORA_KEY.search(key)
        if found is None:
            raise ValueError(f"{key} is not a LoRA matrix of a projection llama.cpp can adapt")
        layer, module, which = found.groups()
        if module not in GGUF_NAMES:
            raise ValueError(f"llama.cpp has no LoRA target for {module}")
        name = f"blk.{layer}.{GGUF_NAMES[module]}.weight"
        pairs.setdefault(name, {})[which] = tensor.detach().float().cpu().numpy()
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for name in sorted(pairs):
        if set(pairs[name]) != {"A", "B"}:
            raise ValueError(f"{name} has lora_{'B' if 'A' in pairs[name] else 'A'} missing")
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(pairs[name]["A"]))
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(pairs[name]["B"]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)


def load_base(gguf_path: Path):
    """The model and tokenizer of a GGUF file as transformers objects, in float32: read from the GGUF once
    (dequantized; about 80 s for the embedded 0.5B) and kept in looplab's cache under the file's digest. Where the
    GGUF keeps an output matrix of its own beside the token embeddings (the embedded model does, where the
    transformers model ties them), the model's head is that matrix, so it computes what llama.cpp computes."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    digest = sha256_file(gguf_path)
    cached = cache_root() / "hf" / digest[:16]
    if (cached / "config.json").is_file():
        return (AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32),
                AutoTokenizer.from_pretrained(cached))
    loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # a plain float32 model of the same weights: transformers keeps one loaded from a GGUF marked as quantized,
    # which it will neither save nor train
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    output = _gguf_tensor(gguf_path, "output.weight")
    config.tie_word_embeddings = config.tie_word_embeddings and output is None
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    weights = loaded.state_dict()
    if output is not None:
        weights["lm_head.weight"] = torch.from_numpy(output.copy())
    model.load_state_dict(weights)
    partial = cached.with_name(cached.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(cached)
    return model, tokenizer


def _gguf_tensor(path: Path, name: str):
    """A tensor of a GGUF file, dequantized to float32 in the (out, in) layout transformers uses; None if absent."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(path))
    for tensor in reader.tensors:
        if tensor.name == name:
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
            return np.asarray(values, dtype=np.float32).reshape([int(d) for d in reversed(tensor.shape)])
    return None
