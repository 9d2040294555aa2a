"""Falcon (transformers 5.x ``modeling_falcon.py``): a fused ``query_key_value`` whose width depends on the
attention layout — ``new_decoder_architecture`` (grouped: (heads + 2·kv heads)·head_dim), ``multi_query``
(one shared K and V head: hidden + 2·head_dim) or neither (3·hidden) — LayerNorms by layout (``ln_attn``
and ``ln_mlp``; or ``input_layernorm`` alone when attention and MLP run in parallel; or both usual norms),
``bias`` on every linear, a tied head by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden, heads, layers, vocab = rd.core()
    head_dim = hidden // heads
    new_arch = rd.bool("new_decoder_architecture", False)
    multi_query = rd.bool("multi_query", True)
    parallel = rd.bool("parallel_attn", True)
    bias = rd.bool("bias", False)
    inner = rd.int("ffn_hidden_size", default=4 * hidden)
    if new_arch:
        kv_heads = rd.int("num_kv_heads", default=heads)
        qkv = (heads + 2 * kv_heads) * head_dim
    elif multi_query:
        kv_heads, qkv = 1, hidden + 2 * head_dim
    else:
        kv_heads, qkv = heads, 3 * hidden
    norms_in_parallel = rd.int("num_ln_in_parallel_attn", default=2) if new_arch else 0
    root = "" if head == "base" else "transformer."
    mods = Modules()
    mods.embedding(f"{root}word_embeddings", vocab, hidden)
    for i in range(layers):
        p = f"{root}h.{i}"
        mods.linear(f"{p}.self_attention.query_key_value", hidden, qkv, bias=bias, role="qkv")
        mods.linear(f"{p}.self_attention.dense", hidden, hidden, bias=bias, role="o")
        mods.linear(f"{p}.mlp.dense_h_to_4h", hidden, inner, bias=bias, role="up")
        mods.linear(f"{p}.mlp.dense_4h_to_h", inner, hidden, bias=bias, role="down")
        if new_arch and norms_in_parallel == 2:
            mods.norm(f"{p}.ln_attn", hidden, bias=True)
            mods.norm(f"{p}.ln_mlp", hidden, bias=True)
        else:
            mods.norm(f"{p}.input_layernorm", hidden, bias=True)
            if not parallel and not new_arch:
                mods.norm(f"{p}.post_attention_layernorm", hidden, bias=True)
    mods.norm(f"{root}ln_f", hidden, bias=True)
    output_head = mods.lm_head(head, hidden, vocab, embedding=f"{root}word_embeddings",
                               tied=rd.bool("tie_word_embeddings", True))
    return Arch(name=name, model_type="falcon", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=kv_heads, head_dim=head_dim, vocab_size=vocab, intermediate_size=inner,
                output_head=output_head, modules=tuple(mods.items),
                prefix_width=hidden)  # FalconConfig says num_kv_heads, so peft's prefix is hidden_size wide


FAMILY = Family("falcon", build, {"FalconForCausalLM": "causal_lm", "FalconModel": "base"}, summary="Falcon",
                defaults={"lora": ('query_key_value',),
                          "ia3": ('query_key_value', 'dense_4h_to_h'),
                          "ia3_feedforward": ('dense_4h_to_h',),
                          "ln_tuning": ('input_layernorm', 'post_attention_layernorm', 'ln_f')})
