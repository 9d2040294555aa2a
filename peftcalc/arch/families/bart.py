"""BART (transformers 5.x ``modeling_bart.py``): an encoder-decoder with one ``shared`` embedding (the encoder's
and decoder's ``embed_tokens`` and the head are tied to it), learned positions with BART's offset of 2 rows
in each stack, a LayerNorm after each stack's embeddings, post-LN blocks with biased q/k/v/out projections
and fc1/fc2, cross-attention in the decoder; ``final_logits_bias`` is a buffer, not a parameter. peft 0.21.2's
default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch

_ATTENTION = (("k_proj", "k"), ("v_proj", "v"), ("q_proj", "q"), ("out_proj", "o"))


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    d = rd.int("d_model")
    vocab = rd.int("vocab_size")
    positions = rd.int("max_position_embeddings")
    enc_layers, dec_layers = rd.int("encoder_layers"), rd.int("decoder_layers")
    enc_ffn, dec_ffn = rd.int("encoder_ffn_dim"), rd.int("decoder_ffn_dim")
    heads = rd.int("encoder_attention_heads")
    root = "" if head == "base" else "model."
    mods = Modules()
    mods.embedding(f"{root}shared", vocab, d)

    def attention(prefix: str) -> None:
        for proj, role in _ATTENTION:
            mods.linear(f"{prefix}.{proj}", d, d, bias=True, role=role)  # type: ignore[arg-type]

    for stack, layers, ffn in (("encoder", enc_layers, enc_ffn), ("decoder", dec_layers, dec_ffn)):
        s = f"{root}{stack}"
        mods.tied_embedding(f"{s}.embed_tokens", vocab, d, tied_to=f"{root}shared")  # the shared one, counted once
        mods.embedding(f"{s}.embed_positions", positions + 2, d, role="position")
        for i in range(layers):
            p = f"{s}.layers.{i}"
            attention(f"{p}.self_attn")
            mods.norm(f"{p}.self_attn_layer_norm", d, bias=True)
            if stack == "decoder":
                attention(f"{p}.encoder_attn")
                mods.norm(f"{p}.encoder_attn_layer_norm", d, bias=True)
            mods.linear(f"{p}.fc1", d, ffn, bias=True, role="up")
            mods.linear(f"{p}.fc2", ffn, d, bias=True, role="down")
            mods.norm(f"{p}.final_layer_norm", d, bias=True)
        mods.norm(f"{s}.layernorm_embedding", d, bias=True)
    output_head = None
    if head == "seq2seq":
        mods.head("lm_head", d, vocab, tied_to=f"{root}shared")
        output_head = "lm_head"
    return Arch(name=name, model_type="bart", hidden_size=d, num_layers=enc_layers, num_decoder_layers=dec_layers,
                num_attention_heads=heads, num_key_value_heads=heads, head_dim=d // heads, vocab_size=vocab,
                intermediate_size=enc_ffn, is_encoder_decoder=True, output_head=output_head,
                modules=tuple(mods.items), dropout=True)


FAMILY = Family("bart", build, {"BartForConditionalGeneration": "seq2seq", "BartModel": "base"}, dropout=True,
                summary="BART", defaults={"lora": ("q_proj", "v_proj"),
                                          "adalora": ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"),
                                          "ia3": ("q_proj", "v_proj", "fc2"), "ia3_feedforward": ("fc2",),
                                          "ln_tuning": ("self_attn_layer_norm", "encoder_attn_layer_norm",
                                                        "final_layer_norm")})
