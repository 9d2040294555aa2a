"""GPT-2 (transformers 5.x ``modeling_gpt2.py``): Conv1D layers (a fused c_attn), biases everywhere, learned
positions, dropout, a tied head; peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch
from peftcalc.arch.encoder import num_labels


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    cross = rd.bool("add_cross_attention", False)  # the decoder of an encoder-decoder pair
    hidden = rd.int("n_embd", "hidden_size")
    layers = rd.int("n_layer", "num_hidden_layers")
    heads = rd.int("n_head", "num_attention_heads")
    vocab = rd.int("vocab_size")
    positions = rd.int("n_positions", "max_position_embeddings")
    inner = rd.int("n_inner", default=4 * hidden)
    tied = rd.bool("tie_word_embeddings", True)
    root = "" if head == "base" else "transformer."
    mods = Modules()
    mods.embedding(f"{root}wte", vocab, hidden)
    mods.embedding(f"{root}wpe", positions, hidden, role="position")
    for i in range(layers):
        p = f"{root}h.{i}"
        mods.norm(f"{p}.ln_1", hidden, bias=True)
        mods.linear(f"{p}.attn.c_attn", hidden, 3 * hidden, bias=True, kind="conv1d", role="qkv")
        mods.linear(f"{p}.attn.c_proj", hidden, hidden, bias=True, kind="conv1d", role="o")
        if cross:  # q from the decoder, k and v (one fused c_attn) from the encoder's output
            mods.linear(f"{p}.crossattention.c_attn", hidden, 2 * hidden, bias=True, kind="conv1d", role="kv")
            mods.linear(f"{p}.crossattention.q_attn", hidden, hidden, bias=True, kind="conv1d", role="q")
            mods.linear(f"{p}.crossattention.c_proj", hidden, hidden, bias=True, kind="conv1d", role="o")
            mods.norm(f"{p}.ln_cross_attn", hidden, bias=True)
        mods.norm(f"{p}.ln_2", hidden, bias=True)
        mods.linear(f"{p}.mlp.c_fc", hidden, inner, bias=True, kind="conv1d", role="up")
        mods.linear(f"{p}.mlp.c_proj", inner, hidden, bias=True, kind="conv1d", role="down")
    mods.norm(f"{root}ln_f", hidden, bias=True)
    output_head = mods.lm_head(head, hidden, vocab, embedding=f"{root}wte", tied=tied)
    if head == "seq_cls":
        mods.linear("score", hidden, num_labels(cfg), bias=False, role="classifier")
    return Arch(
        name=name, model_type="gpt2", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
        num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=inner,
        output_head=output_head, modules=tuple(mods.items), dropout=True,
    )


FAMILY = Family("gpt2", build, {"GPT2LMHeadModel": "causal_lm", "GPT2Model": "base",
                                "GPT2ForSequenceClassification": "seq_cls"}, dropout=True, unfused_gelu=True, softmax_in_model_dtype=True, summary="GPT-2",
                defaults={"lora": ("c_attn",), "adalora": ("c_attn",), "ia3": ("c_attn", "mlp.c_proj"),
                          "ia3_feedforward": ("mlp.c_proj",), "ln_tuning": ("ln_1", "ln_2", "ln_f")})
