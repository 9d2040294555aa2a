"""ModernBERT (transformers 5.x ``modeling_modernbert.py``): pre-LN encoder without positions (RoPE), one fused
``Wqkv``, a GLU MLP (``Wi`` is hidden → 2·intermediate), no attention norm in layer 0, biases by
``attention_bias``/``mlp_bias``/``norm_bias``; ``ModernBertForMaskedLM`` adds ``head`` (dense + norm) and a
``decoder`` tied to the embeddings with its own bias (``decoder_bias``). peft 0.21.2 has no defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden, heads, layers, vocab = rd.core()
    inter = rd.int("intermediate_size")
    attn_bias = rd.bool("attention_bias", False)
    mlp_bias = rd.bool("mlp_bias", False)
    norm_bias = rd.bool("norm_bias", False)
    root = "" if head == "base" else "model."
    mods = Modules()
    mods.embedding(f"{root}embeddings.tok_embeddings", vocab, hidden)
    mods.norm(f"{root}embeddings.norm", hidden, bias=norm_bias)
    for i in range(layers):
        p = f"{root}layers.{i}"
        if i:
            mods.norm(f"{p}.attn_norm", hidden, bias=norm_bias)
        mods.linear(f"{p}.attn.Wqkv", hidden, 3 * hidden, bias=attn_bias, role="qkv")
        mods.linear(f"{p}.attn.Wo", hidden, hidden, bias=attn_bias, role="o")
        mods.norm(f"{p}.mlp_norm", hidden, bias=norm_bias)
        mods.linear(f"{p}.mlp.Wi", hidden, 2 * inter, bias=mlp_bias, role="gate_up")
        mods.linear(f"{p}.mlp.Wo", inter, hidden, bias=mlp_bias, role="down")
    mods.norm(f"{root}final_norm", hidden, bias=norm_bias)
    output_head = None
    if head == "seq_cls":  # the prediction head (dense + norm) and a biased classifier
        from peftcalc.arch.encoder import num_labels

        mods.linear("head.dense", hidden, hidden, bias=rd.bool("classifier_bias", False), role="")
        mods.norm("head.norm", hidden, bias=norm_bias)
        mods.linear("classifier", hidden, num_labels(cfg), bias=True, role="classifier")
    if head == "masked_lm":
        mods.linear("head.dense", hidden, hidden, bias=rd.bool("classifier_bias", False), role="")
        mods.norm("head.norm", hidden, bias=norm_bias)
        tied = rd.bool("tie_word_embeddings", True)
        mods.head("decoder", hidden, vocab, tied_to=f"{root}embeddings.tok_embeddings" if tied else None)
        if rd.bool("decoder_bias", True):
            mods.parameters("decoder", {"bias": (vocab,)}, role="head")
        output_head = "decoder"
    return Arch(name=name, model_type="modernbert", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=inter,
                output_head=output_head, modules=tuple(mods.items), gated_mlp=True)


FAMILY = Family("modernbert", build, {"ModernBertForMaskedLM": "masked_lm", "ModernBertModel": "base",
                                      "ModernBertForSequenceClassification": "seq_cls"},
                summary="ModernBERT")
