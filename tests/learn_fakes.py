"""A tiny random Qwen2 written as a GGUF that both llama.cpp and transformers load: two layers, 32 wide, with the
embedded model's tokenizer (copied from its GGUF), so the learn path runs end to end in seconds."""
from pathlib import Path

import numpy as np

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 32, 2, 2, 1, 64
TOKENIZER_KEYS = ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
                  "tokenizer.ggml.merges", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id",
                  "tokenizer.ggml.bos_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.chat_template")


def tiny_qwen2(path: Path, seed: int = 0) -> Path:
    import gguf

    from looplab.models._weights import embedded_model_path

    source = gguf.GGUFReader(str(embedded_model_path()))
    tokens = source.fields["tokenizer.ggml.tokens"].contents()
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name("tiny random qwen2")
    writer.add_block_count(LAYERS)
    writer.add_context_length(2048)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(1e6)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model(source.fields["tokenizer.ggml.model"].contents())
    writer.add_tokenizer_pre(source.fields["tokenizer.ggml.pre"].contents())
    writer.add_token_list(tokens)
    writer.add_token_types(source.fields["tokenizer.ggml.token_type"].contents())
    writer.add_token_merges(source.fields["tokenizer.ggml.merges"].contents())
    writer.add_eos_token_id(source.fields["tokenizer.ggml.eos_token_id"].contents())
    writer.add_pad_token_id(source.fields["tokenizer.ggml.padding_token_id"].contents())
    writer.add_bos_token_id(source.fields["tokenizer.ggml.bos_token_id"].contents())
    writer.add_add_bos_token(source.fields["tokenizer.ggml.add_bos_token"].contents())
    writer.add_chat_template(source.fields["tokenizer.chat_template"].contents())
    vocab, kv = len(tokens), HIDDEN // HEADS * KV_HEADS

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)
    writer.add_tensor("token_embd.weight", weight(vocab, HIDDEN))
    writer.add_tensor("output.weight", weight(vocab, HIDDEN))  # apart from the embeddings, as in the embedded model
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, np.float32))
    for i in range(LAYERS):
        for name, shape in (("attn_q", (HIDDEN, HIDDEN)), ("attn_k", (kv, HIDDEN)), ("attn_v", (kv, HIDDEN))):
            writer.add_tensor(f"blk.{i}.{name}.weight", weight(*shape))
            writer.add_tensor(f"blk.{i}.{name}.bias", weight(shape[0]))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(HIDDEN, HIDDEN))
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(HIDDEN, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(HIDDEN, np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(FFN, HIDDEN))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(FFN, HIDDEN))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(HIDDEN, FFN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
