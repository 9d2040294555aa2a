"""Mistral: llama's block (sliding-window attention changes no parameter). transformers 5.x ``modeling_mistral.py``; peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.decoder import DecoderShape, build_decoder, decoder_heads
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch

SHAPE = DecoderShape()


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_decoder(cfg, name, head, shape=SHAPE)


FAMILY = Family("mistral", build, rms_norm=True, heads=decoder_heads("Mistral"), defaults={"lora": ('q_proj', 'v_proj'), "ia3": ('k_proj', 'v_proj', 'down_proj'), "ia3_feedforward": ('down_proj',), "ln_tuning": ('input_layernorm', 'post_attention_layernorm', 'norm')},
                summary="Mistral: llama's block (sliding-window attention changes no parameter)")
