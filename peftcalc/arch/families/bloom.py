"""BLOOM (transformers 5.x ``modeling_bloom.py``): ALiBi (no position parameters), a LayerNorm right after
the word embeddings, fused biased ``query_key_value``, biased 4h MLP, a tied head. Old configs name the
width ``n_embed`` and the depth ``n_layer``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden = rd.int("n_embed", "hidden_size")  # BloomConfig maps hidden_size onto n_embed, which wins
    heads = rd.int("n_head", "num_attention_heads")
    layers = rd.int("n_layer", "num_hidden_layers")
    vocab = rd.int("vocab_size")
    root = "" if head == "base" else "transformer."
    mods = Modules()
    mods.embedding(f"{root}word_embeddings", vocab, hidden)
    mods.norm(f"{root}word_embeddings_layernorm", hidden, bias=True)
    for i in range(layers):
        p = f"{root}h.{i}"
        mods.norm(f"{p}.input_layernorm", hidden, bias=True)
        mods.linear(f"{p}.self_attention.query_key_value", hidden, 3 * hidden, bias=True, role="qkv")
        mods.linear(f"{p}.self_attention.dense", hidden, hidden, bias=True, role="o")
        mods.norm(f"{p}.post_attention_layernorm", hidden, bias=True)
        mods.linear(f"{p}.mlp.dense_h_to_4h", hidden, 4 * hidden, bias=True, role="up")
        mods.linear(f"{p}.mlp.dense_4h_to_h", 4 * hidden, hidden, bias=True, role="down")
    mods.norm(f"{root}ln_f", hidden, bias=True)
    output_head = mods.lm_head(head, hidden, vocab, embedding=f"{root}word_embeddings",
                               tied=rd.bool("tie_word_embeddings", True))
    return Arch(name=name, model_type="bloom", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=4 * hidden,
                output_head=output_head, modules=tuple(mods.items), dropout=True)


FAMILY = Family("bloom", build, {"BloomForCausalLM": "causal_lm", "BloomModel": "base"}, dropout=True,
                summary="BLOOM", defaults={"lora": ('query_key_value',),
                          "adalora": ('query_key_value',),
                          "ia3": ('query_key_value', 'mlp.dense_4h_to_h'),
                          "ia3_feedforward": ('mlp.dense_4h_to_h',),
                          "ln_tuning": ('input_layernorm', 'post_attention_layernorm', 'ln_f')})
