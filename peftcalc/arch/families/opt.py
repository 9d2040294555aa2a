"""OPT (transformers 5.x ``modeling_opt.py``): learned positions with an offset of 2, biased q/k/v/out
projections and fc1/fc2 (``enable_bias``), embeddings of width ``word_embed_proj_dim`` projected in and out
when it differs from ``hidden_size`` (opt-350m), a final LayerNorm only for pre-LN models
(``do_layer_norm_before``), a head tied to the embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden, heads, layers, vocab = rd.core()
    ffn = rd.int("ffn_dim")
    proj = rd.int("word_embed_proj_dim", default=hidden)
    positions = rd.int("max_position_embeddings")
    bias = rd.bool("enable_bias", True)
    affine = rd.bool("layer_norm_elementwise_affine", True)
    pre_ln = rd.bool("do_layer_norm_before", True)
    root = "decoder." if head == "base" else "model.decoder."
    mods = Modules()
    mods.embedding(f"{root}embed_tokens", vocab, proj)
    mods.embedding(f"{root}embed_positions", positions + 2, hidden, role="position")
    if proj != hidden:
        mods.linear(f"{root}project_out", hidden, proj, bias=False, role="")
        mods.linear(f"{root}project_in", proj, hidden, bias=False, role="")
    if pre_ln and not cfg.get("_remove_final_layer_norm", False):
        mods.norm(f"{root}final_layer_norm", hidden, bias=affine, weight=affine)
    for i in range(layers):
        p = f"{root}layers.{i}"
        for proj_name, role in (("k_proj", "k"), ("v_proj", "v"), ("q_proj", "q"), ("out_proj", "o")):
            mods.linear(f"{p}.self_attn.{proj_name}", hidden, hidden, bias=bias, role=role)  # type: ignore[arg-type]
        mods.norm(f"{p}.self_attn_layer_norm", hidden, bias=affine, weight=affine)
        mods.linear(f"{p}.fc1", hidden, ffn, bias=bias, role="up")
        mods.linear(f"{p}.fc2", ffn, hidden, bias=bias, role="down")
        mods.norm(f"{p}.final_layer_norm", hidden, bias=affine, weight=affine)
    output_head = None
    if head == "causal_lm":
        mods.head("lm_head", proj, vocab, tied_to=f"{root}embed_tokens" if rd.bool("tie_word_embeddings", True) else None)
        output_head = "lm_head"
    return Arch(name=name, model_type="opt", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=ffn,
                output_head=output_head, modules=tuple(mods.items), dropout=True)


FAMILY = Family("opt", build, {"OPTForCausalLM": "causal_lm", "OPTModel": "base"}, dropout=True, summary="OPT",
                defaults={"lora": ('q_proj', 'v_proj'),
                          "adalora": ('q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'),
                          "ia3": ('q_proj', 'k_proj', 'fc2'),
                          "ia3_feedforward": ('fc2',)})
