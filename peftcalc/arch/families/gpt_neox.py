"""GPT-NeoX / Pythia (transformers 5.x ``modeling_gpt_neox.py``): a fused, biased ``query_key_value``,
biased MLP, two LayerNorms per block (parallel residual or not: the same parameters), an untied head by
default (``tie_word_embeddings`` false)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden, heads, layers, vocab = rd.core()
    inner = rd.int("intermediate_size")
    bias = rd.bool("attention_bias", True)
    root = "" if head == "base" else "gpt_neox."
    mods = Modules()
    mods.embedding(f"{root}embed_in", vocab, hidden)
    for i in range(layers):
        p = f"{root}layers.{i}"
        mods.norm(f"{p}.input_layernorm", hidden, bias=True)
        mods.norm(f"{p}.post_attention_layernorm", hidden, bias=True)
        mods.linear(f"{p}.attention.query_key_value", hidden, 3 * hidden, bias=bias, role="qkv")
        mods.linear(f"{p}.attention.dense", hidden, hidden, bias=bias, role="o")
        mods.linear(f"{p}.mlp.dense_h_to_4h", hidden, inner, bias=True, role="up")
        mods.linear(f"{p}.mlp.dense_4h_to_h", inner, hidden, bias=True, role="down")
    mods.norm(f"{root}final_layer_norm", hidden, bias=True)
    output_head = mods.lm_head(head, hidden, vocab, embedding=f"{root}embed_in",
                               tied=rd.bool("tie_word_embeddings", False))
    return Arch(name=name, model_type="gpt_neox", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=inner,
                output_head=output_head, modules=tuple(mods.items))


FAMILY = Family("gpt_neox", build, {"GPTNeoXForCausalLM": "causal_lm", "GPTNeoXModel": "base"},
                summary="GPT-NeoX / Pythia", defaults={"lora": ('query_key_value',),
                          "adalora": ('query_key_value',),
                          "ia3": ('query_key_value', 'dense_4h_to_h'),
                          "ia3_feedforward": ('dense_4h_to_h',)})
