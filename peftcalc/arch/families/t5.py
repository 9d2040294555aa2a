"""T5 / Flan-T5 (transformers 5.x ``modeling_t5.py``): a shared embedding, relative position bias in block 0
of each stack, no biases, RMS-style norms, ReLU (wi, wo) or gated-GELU (wi_0, wi_1, wo) feed-forward.

transformers 5.x always ties T5's head to the shared embedding: ``T5Config.__post_init__`` moves
``tie_word_embeddings: false`` (Flan-T5's configs) into ``scale_decoder_outputs`` (the rescaling before
the head), so the head is counted once whatever the flag says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    if head != "seq2seq":
        raise InputError(f"{name}: architectures", head, "T5ForConditionalGeneration")
    rd = Reader(cfg, name)
    d_model = rd.int("d_model")
    d_kv = rd.int("d_kv")
    d_ff = rd.int("d_ff")
    heads = rd.int("num_heads")
    enc_layers = rd.int("num_layers")
    dec_layers = rd.int("num_decoder_layers", default=enc_layers)
    vocab = rd.int("vocab_size")
    buckets = rd.int("relative_attention_num_buckets", default=32)
    ff_proj = rd.str("feed_forward_proj", "relu")
    gated = bool(cfg.get("is_gated_act", ff_proj.startswith("gated-")))
    inner = heads * d_kv
    mods = Modules()
    mods.embedding("shared", vocab, d_model)

    def attention(prefix: str, *, relative_bias: bool) -> None:
        for proj in ("q", "k", "v"):
            mods.linear(f"{prefix}.{proj}", d_model, inner, bias=False, role=proj)  # type: ignore[arg-type]
        mods.linear(f"{prefix}.o", inner, d_model, bias=False, role="o")
        if relative_bias:
            mods.embedding(f"{prefix}.relative_attention_bias", buckets, heads, role="position")

    def feed_forward(prefix: str) -> None:
        if gated:
            mods.linear(f"{prefix}.DenseReluDense.wi_0", d_model, d_ff, bias=False, role="gate")
            mods.linear(f"{prefix}.DenseReluDense.wi_1", d_model, d_ff, bias=False, role="up")
        else:
            mods.linear(f"{prefix}.DenseReluDense.wi", d_model, d_ff, bias=False, role="up")
        mods.linear(f"{prefix}.DenseReluDense.wo", d_ff, d_model, bias=False, role="down")
        mods.norm(f"{prefix}.layer_norm", d_model, bias=False)

    for i in range(enc_layers):
        p = f"encoder.block.{i}.layer"
        attention(f"{p}.0.SelfAttention", relative_bias=i == 0)
        mods.norm(f"{p}.0.layer_norm", d_model, bias=False)
        feed_forward(f"{p}.1")
    mods.norm("encoder.final_layer_norm", d_model, bias=False)
    for i in range(dec_layers):
        p = f"decoder.block.{i}.layer"
        attention(f"{p}.0.SelfAttention", relative_bias=i == 0)
        mods.norm(f"{p}.0.layer_norm", d_model, bias=False)
        attention(f"{p}.1.EncDecAttention", relative_bias=False)
        mods.norm(f"{p}.1.layer_norm", d_model, bias=False)
        feed_forward(f"{p}.2")
    mods.norm("decoder.final_layer_norm", d_model, bias=False)
    mods.head("lm_head", d_model, vocab, tied_to="shared")
    return Arch(
        name=name, model_type="t5", hidden_size=d_model, num_layers=enc_layers, num_decoder_layers=dec_layers,
        num_attention_heads=heads, num_key_value_heads=heads, head_dim=d_kv, vocab_size=vocab,
        intermediate_size=d_ff, is_encoder_decoder=True, output_head="lm_head", modules=tuple(mods.items),
        dropout=True, gated_mlp=gated,
        prefix_width=d_model,  # T5Config has no num_key_value_heads: peft's prefix is d_model wide (t5-3b: 4096 ≠ 32·128)
    )


FAMILY = Family("t5", build, rms_norm=True, softmax_in_model_dtype=True, heads={"T5ForConditionalGeneration": "seq2seq"}, dropout=True, summary="T5 / Flan-T5",
                defaults={"lora": ("q", "v"), "adalora": ("q", "k", "v", "o", "wi", "wo"), "ia3": ("k", "v", "wo"),
                          "ia3_feedforward": ("wo",), "ln_tuning": ("layer_norm", "final_layer_norm")})
